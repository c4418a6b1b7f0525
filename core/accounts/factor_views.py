"""The second step of signing in (a TOTP or recovery code), enrolment of an authenticator, and step-up: a fresh
second factor before a sensitive act (issuing an API token: the operation refuses with FactorRequired, and the
web is sent here and back to its form).

Between the password and the code nothing is signed in: the visitor's sealed session cookie holds only
who passed the password, and when (``PENDING``, five minutes). Wrong codes count per account
(core.ratelimit ``factor.account``), so a stolen password does not buy unlimited guesses at six digits.
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user

from core import ratelimit
from core.accounts import factors
from core.accounts.models import User
from core.actor import Actor
from core.auth.decorators import permission, public
from core.db import db, write_intent
from core.errors import ValidationFailed
from core.qr import qr_svg
from core.schemas import BaseSchema, fields, length
from core.web import commit, form_data, load_form, request_id, safe_next

bp = Blueprint("factor", __name__)

PENDING = "factor_pending"
PENDING_SECONDS = 300
CODES_SHOWN = "factor_codes"


class CodeArgs(BaseSchema):
    code = fields.String(required=True, validate=length(min=6, max=16),
                         error_messages={"required": "请输入 6 位动态口令或恢复码"})
    next = fields.String(load_default=None, validate=length(max=2000))  # step-up's hidden field (safe_next reads it)


def begin_second_step(user: User, next_url: str | None):
    session.clear()
    session[PENDING] = {"u": user.id, "at": int(time.time()), "next": safe_next(next_url, "")}
    return redirect(url_for("factor.second_step"))


def _pending_user() -> User | None:
    state = session.get(PENDING)
    if not isinstance(state, dict) or int(time.time()) - int(state.get("at", 0)) > PENDING_SECONDS:
        return None
    from core.accounts.queries import person_who_may_sign_in

    return person_who_may_sign_in(state.get("u"))


def _actor(user: User) -> Actor:
    from core.web import client_ip, client_request_id

    return Actor.for_user(user, ip=client_ip(), request_id=request_id(), client_request_id=client_request_id())


def _demo_hint(user: User) -> str | None:
    """Development only: the current code of a demo account's published demo secret, so a newcomer trying
    `make run` can sign in as every role without an authenticator app (production never shows it)."""
    from core.demo import DEMO_FACTOR_SECRET

    if current_app.config.get("MEDIATION_ENV") != "development":
        return None
    if factors.enrolment_secret(user) is not None or not factors.is_enrolled(user):
        return None
    import base64

    factor = factors.factor_of(user)
    if factors._provider().decrypt(factor.secret) != DEMO_FACTOR_SECRET:
        return None
    return factors.code_at(base64.b32decode(DEMO_FACTOR_SECRET), factors.current_step())


def _check_code(user: User, code: str) -> str:
    """The code (TOTP or recovery) checked under the account's rate limit; what was used."""
    subject, actor = str(user.id), _actor(user)  # read now: after the rollback below the user is expired
    ratelimit.check("factor.account", subject)
    try:
        return factors.verify(user, code, actor=actor)
    except ValidationFailed:
        # Release the request's transaction (on SQLite its write lock) before counting on a connection of
        # its own, which would otherwise wait for it; touch no ORM object until the count is written.
        db.session.rollback()
        ratelimit.hit("factor.account", subject, raise_over=False)
        from core.audit.operations import record_security_event

        record_security_event(actor, "factor.failed", result="failed", actor_name=actor.name)
        raise


def _render(template: str, user: User, errors=None, status=200, **ctx):
    form = form_data() if request.method == "POST" else {}
    return (render_template(template, user=user, errors=errors or {}, hint=_demo_hint(user), form=form, **ctx),
            status)


def _submitted_code(user: User, **ctx):
    """The posted code checked (``_check_code``): (what was used, None), or (None, the code page again with
    the refusal — 422 for a wrong or malformed code, 429 with Retry-After over the limit)."""
    try:
        return _check_code(user, load_form(CodeArgs())["code"]), None
    except ValidationFailed as exc:
        db.session.rollback()
        return None, _render("core/factor_step.html", user, exc.errors, 422, **ctx)
    except ratelimit.RateLimited as exc:
        db.session.rollback()
        page, _ = _render("core/factor_step.html", user, {"code": [exc.message]}, **ctx)
        return None, (page, 429, {"Retry-After": str(exc.retry_after)})


@bp.route("/login/factor", methods=["GET", "POST"])
@public
def second_step():
    from core.accounts.views import complete_sign_in

    user = _pending_user()
    if user is None:
        return redirect(url_for("accounts.login", expired_step=1))
    if not factors.is_enrolled(user):
        return redirect(url_for("factor.enrol"))
    if request.method == "GET":
        return _render("core/factor_step.html", user)
    used, refused = _submitted_code(user)
    if refused is not None:
        return refused
    next_url = session.get(PENDING, {}).get("next")
    return complete_sign_in(user, next_url, factor=used)


@bp.route("/login/factor/enrol", methods=["GET", "POST"])
@public
def enrol():
    """First sign-in of a user who must have a factor and has none: bind an authenticator now."""
    user = _pending_user()
    if user is None:
        return redirect(url_for("accounts.login", expired_step=1))
    if factors.is_enrolled(user):
        return redirect(url_for("factor.second_step"))
    return _enrol_page(user, done=_finish_pending)


def _finish_pending(user: User, codes: list[str]):
    from core.accounts.views import complete_sign_in

    next_url = session.get(PENDING, {}).get("next")
    response = complete_sign_in(user, url_for("factor.recovery_codes", next=next_url or None), factor="totp")
    session[CODES_SHOWN] = codes  # shown once on the next page, then gone
    return response


def _enrol_page(user: User, *, done):
    secret = factors.enrolment_secret(user)
    if secret is None:
        # Drawing the first QR writes the new secret, on a GET too: begin a write transaction for it (SQLite
        # refuses a read transaction that turns into a write when another writer got in between).
        db.session.rollback()
        with write_intent():
            secret = factors.start_enrolment(user, actor=_actor(user))
            commit()
    ctx = {"secret": secret, "qr": qr_svg(factors.otpauth_uri(user, secret))}
    if request.method == "GET":
        return render_template("core/factor_enrol.html", user=user, errors={}, form={}, **ctx)
    subject = str(user.id)
    try:
        args = load_form(CodeArgs())
    except ValidationFailed as exc:  # malformed: refused before any code is tried, nothing counted
        db.session.rollback()
        return render_template("core/factor_enrol.html", user=user, errors=exc.errors, form=form_data(), **ctx), 422
    try:
        ratelimit.check("factor.account", subject)
        codes = factors.confirm_enrolment(user, args["code"], actor=_actor(user))
    except ValidationFailed as exc:
        db.session.rollback()
        ratelimit.hit("factor.account", subject, raise_over=False)
        return render_template("core/factor_enrol.html", user=user, errors=exc.errors, form=form_data(), **ctx), 422
    except ratelimit.RateLimited as exc:
        db.session.rollback()
        return (render_template("core/factor_enrol.html", user=user, errors={"code": [exc.message]},
                                form=form_data(), **ctx), 429, {"Retry-After": str(exc.retry_after)})
    return done(user, codes)


@bp.route("/account/factor", methods=["GET", "POST"])
@permission("account.self")
def account_factor():
    """A signed-in user's own authenticator: bind one (if the policy does not yet require it of them)."""
    user = current_user._get_current_object()
    if factors.is_enrolled(user):
        return render_template("core/factor_status.html", user=user, required=factors.is_required(user))

    def done(user, codes):
        commit()
        session["factor_at"] = int(time.time())
        session[CODES_SHOWN] = codes
        return redirect(url_for("factor.recovery_codes"))

    return _enrol_page(user, done=done)


@bp.route("/account/factor/codes")
@permission("account.self")
def recovery_codes():
    codes = session.pop(CODES_SHOWN, None)
    if not codes:
        return redirect(url_for("factor.account_factor"))
    return render_template("core/factor_codes.html", codes=codes,
                           next=safe_next(request.args.get("next"), url_for("home.index")))


@bp.route("/account/factor/confirm", methods=["GET", "POST"])
@permission("account.self")
def step_up():
    """Step-up: type a fresh code to go on with a sensitive act (``next``)."""
    user = current_user._get_current_object()
    target = safe_next(request.args.get("next") or request.form.get("next"), url_for("home.index"))
    if not factors.is_enrolled(user):
        return redirect(url_for("factor.account_factor"))
    if request.method == "GET":
        return _render("core/factor_step.html", user, step_up=True, next=target)
    _used, refused = _submitted_code(user, step_up=True, next=target)
    if refused is not None:
        return refused
    commit()
    session["factor_at"] = int(time.time())
    return redirect(target)


def init_app(app) -> None:
    app.register_blueprint(bp)
    from core.accounts.tokens import FactorRequired

    @app.errorhandler(FactorRequired)
    def _step_up(exc):
        # The operation refused for want of a fresh factor: on the web, ask for it and come back to the form.
        from core.auth.decorators import is_api_request
        from core.error_pages import api_error

        db.session.rollback()
        if is_api_request() or not current_user.is_authenticated:
            return api_error(403, exc.message, code="factor_required")
        return redirect(url_for("factor.step_up", next=request.path))
