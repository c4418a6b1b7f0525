"""API token pages (core.accounts.tokens): a person's own tokens under their account (issue, the plain token
shown once, revoke); the administrators' list of every token in their jurisdiction (revoke any), and the
security administrator's issuing of scoped tokens to service accounts. Nobody issues a token in a person's name.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import Blueprint, flash, redirect, render_template, session, url_for

from core import hooks
from core.accounts import tokens
from core.accounts.models import AccountKind, User
from core.accounts.queries import users_query
from core.accounts.schemas import OwnTokenArgs, ServiceTokenArgs
from core.auth.decorators import permission
from core.crypto import provider
from core.db import db, utcnow
from core.errors import ValidationFailed
from core.schemas import EmptyArgs
from core.timefmt import SHANGHAI
from core.web import current_actor, submit

bp = Blueprint("api_tokens", __name__, url_prefix="/admin/api-tokens", template_folder="templates")
own_bp = Blueprint("own_tokens", __name__, url_prefix="/account/api-tokens", template_folder="templates")
TEMPLATE = "api_tokens/index.html"
OWN_TEMPLATE = "api_tokens/own.html"
#: Session key of the one-time slot carrying a just-issued token to its page.
SHOWN = "api_token_shown"

hooks.register_admin_link(tokens.REVOKE, "接口令牌", "api_tokens.index")
hooks.register_account_link("我的接口令牌", "own_tokens.index")


def _expires_at(day) -> datetime | None:
    """Valid through the chosen day (Asia/Shanghai): it expires at the start of the next one."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def _show_once(token, plain: str, endpoint: str):
    # Post/redirect/get, so a reload cannot mint a second token. The plain token crosses the redirect in a
    # one-time slot of the server-side session, encrypted; the page below empties the slot when it shows it.
    session[SHOWN] = {"id": token.id, "enc": provider().encrypt(plain)}
    return redirect(url_for(endpoint, token_id=token.id))


def _issued_page(token, back: str):
    slot = session.pop(SHOWN, None)
    plain = provider().decrypt(slot["enc"]) if isinstance(slot, dict) and slot.get("id") == token.id else None
    page = render_template("api_tokens/issued.html", token=token, plain=plain, user=token.user, back=back,
                           scopes=hooks.api_scopes)
    return page, 200, {"Cache-Control": "no-store"}


# --- a person's own tokens -----------------------------------------------------------------------------------


def _own_context():
    return {"tokens": tokens.list_own_tokens(current_actor()), "now": utcnow(), "days": tokens.token_days(),
            "reasons": tokens.REVOKED_REASONS}


@own_bp.route("")
@permission("account.self")
def index():
    return render_template(OWN_TEMPLATE, form={}, errors={}, **_own_context())


@own_bp.route("", methods=["POST"])
@permission("account.self")
def issue():
    actor = current_actor()

    def perform(args):
        token, plain = tokens.issue_token(actor.user, label=args["label"], actor=actor,
                                          expires_at=_expires_at(args["expires_on"]))
        return _show_once(token, plain, "own_tokens.issued")

    return submit(OwnTokenArgs(), perform, OWN_TEMPLATE, context_fn=_own_context)


@own_bp.route("/<int:token_id>/issued")
@permission("account.self")
def issued(token_id: int):
    return _issued_page(tokens.get_own_token_or_404(token_id, actor=current_actor()), "own_tokens.index")


@own_bp.route("/<int:token_id>/revoke", methods=["POST"])
@permission("account.self")
def revoke(token_id: int):
    actor = current_actor()
    token = tokens.get_own_token_or_404(token_id, actor=actor)
    return _revoke(token, actor, "own_tokens.index", OWN_TEMPLATE, _own_context)


def _revoke(token, actor, back: str, template: str, context_fn):
    def perform(args):
        if tokens.revoke_token(token, actor=actor):
            flash(f"已撤销令牌 {token.prefix}…", "success")
        else:
            flash("该令牌此前已撤销", "warning")
        return redirect(url_for(back))

    return submit(EmptyArgs(), perform, template, context_fn=context_fn)


# --- the administrators' list; service accounts' tokens ---------------------------------------------------------


def _admin_context():
    actor = current_actor()
    service_accounts = db.session.scalars(users_query(actor, tokens.ISSUE_SERVICE).where(
        User.kind == AccountKind.service, User.is_active.is_(True)).order_by(User.username)).all()
    return {"tokens": tokens.list_tokens(actor), "now": utcnow(), "scopes": hooks.api_scopes,
            "service_accounts": service_accounts, "days": tokens.token_days(), "reasons": tokens.REVOKED_REASONS}


@bp.route("", endpoint="index")
@permission(tokens.REVOKE)
def admin_index():
    return render_template(TEMPLATE, form={}, errors={}, **_admin_context())


@bp.route("", methods=["POST"], endpoint="issue")
@permission(tokens.ISSUE_SERVICE)
def admin_issue():
    actor = current_actor()

    def perform(args):
        from core.org.queries import unit_by_code

        account = _service_account(args["username"], actor)
        token, plain = tokens.issue_service_token(account, label=args["label"], actions=args["actions"],
                                                  unit=unit_by_code(args["unit_code"]), actor=actor,
                                                  expires_at=_expires_at(args["expires_on"]))
        return _show_once(token, plain, "api_tokens.issued")

    return submit(ServiceTokenArgs(), perform, TEMPLATE, context_fn=_admin_context)


@bp.route("/<int:token_id>/issued", endpoint="issued")
@permission(tokens.ISSUE_SERVICE)
def admin_issued(token_id: int):
    return _issued_page(tokens.get_token_or_404(token_id, actor=current_actor()), "api_tokens.index")


def _service_account(username: str, actor) -> User:
    user = db.session.scalar(users_query(actor, tokens.ISSUE_SERVICE).where(
        User.username == username.strip().lower()))
    if user is None:
        raise ValidationFailed({"username": ["用户不存在或不在您的管辖范围内"]})
    return user


@bp.route("/<int:token_id>/revoke", methods=["POST"], endpoint="revoke")
@permission(tokens.REVOKE)
def admin_revoke(token_id: int):
    actor = current_actor()
    token = tokens.get_token_or_404(token_id, actor=actor)
    return _revoke(token, actor, "api_tokens.index", TEMPLATE, _admin_context)
