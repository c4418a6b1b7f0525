"""Silent sign-in inside WeChat/WeCom, and binding a grid worker's WeChat identity with a one-time code.

- Any protected page opened anonymously inside the WeChat browser goes through web authorisation
  (``core.hooks.sign_in_entries``) and comes back signed in as the user the identity is bound to — unless this
  device signed out (the ``mdt_signed_out`` cookie core sets on logout): then the password page, until someone
  signs in there explicitly. Unbound identities, outside WeCom users and snapshot (virtual) users get nothing.
- ``/wechat/bind/<code>`` opened inside WeChat first asks the holder of the phone to prove they are the code's
  user (their password, or a one-time code sent to a channel they already have: notify.binding_proof); only
  then does it start the web authorisation, and the callback binds the identity, spends the code, announces
  the binding on the user's other channels and signs in. A code alone — issued by a cadre or an administrator —
  never turns into a session: the callback refuses a binding without the proof kept in this phone's session.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import login_user

from core.accounts.views import SIGNED_OUT_COOKIE
from core.actor import Actor
from core.audit.operations import record, record_security_event
from core.auth.decorators import public
from core.db import db, write_intent
from core.errors import ValidationFailed
from core.schemas import BaseSchema, EmptyArgs, fields, length, regexp
from core.web import commit, current_actor, form_data, load_form, request_id, safe_next
from notify import binding_proof
from notify.bindings import normalise_code, redeem_binding_code
from notify.models import Platform
from notify.wechat import oauth

logger = logging.getLogger(__name__)

bp = Blueprint("wechat_signin", __name__, url_prefix="/wechat")

PLATFORMS = {"work": Platform.wecom, "mp": Platform.mp}
#: Session keys: the proof given on this phone for a binding code, and a one-time code sent for it.
PROOF_KEY = "wx_bind_proof"
OTP_KEY = "wx_bind_otp"
PROOF_PAGE = "notify/wechat_bind_proof.html"
UNPROVEN = "请先在绑定页面输入您的登录密码或验证码，证明是您本人，再完成绑定。"


class BindProofArgs(BaseSchema):
    password = fields.String(load_default=None, validate=length(max=256))
    otp = fields.String(load_default=None, validate=regexp(r"^\d{6}$", "验证码为 6 位数字"))


def silent_entry(req, next_path: str) -> str | None:
    """core.hooks sign-in entry: inside WeChat, and this device did not sign out → web authorisation."""
    if oauth.platform_of(req.headers.get("User-Agent")) is None or req.cookies.get(SIGNED_OUT_COOKIE):
        return None
    return url_for("wechat_signin.start", next=next_path)


def _refuse(message: str, status: int = 403):
    return render_template("notify/wechat_refused.html", message=message), status


@bp.route("/signin")
@public
def start():
    platform = oauth.platform_of(request.headers.get("User-Agent"))
    target = safe_next(request.args.get("next"), url_for("home.index"))
    if platform is None or request.cookies.get(SIGNED_OUT_COOKIE):
        return redirect(url_for("accounts.login", next=target))
    state = oauth.begin(session, platform, next_url=target)
    return redirect(oauth.authorize_url(current_app.config, platform,
                                        url_for("wechat_signin.callback", _external=True), state))


def _visitor() -> Actor:
    # Never current_actor(): loading a signed-in user would begin the request's transaction, and the proof's
    # failure counters are written on a transaction of their own (SQLite has one writer).
    return Actor.visitor(ip=request.remote_addr, request_id=request_id(), channel="wechat")


def _proof_page(code: str, *, errors=None, form=None, status: int = 200):
    owner = binding_proof.code_owner(code)
    if owner is None:
        return _refuse(binding_proof.CODE_DEAD)
    from notify.bindings import usable_channels

    channels = [c for c, _b in usable_channels(owner.user_id)]
    return _uncached(render_template(
        PROOF_PAGE, code=code, owner=owner, channels=channels, errors=errors or {}, form=form or {},
        otp_sent=(session.get(OTP_KEY) or {}).get("code_id") == owner.code_id), status)


def _uncached(body: str, status: int = 200):
    """Binding pages are never cached: they carry a one-time code's state."""
    response = current_app.make_response((body, status))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/bind/<code>")
@public
def bind(code: str):
    code = normalise_code(code)
    if oauth.platform_of(request.headers.get("User-Agent")) is None:
        return render_template("notify/wechat_bind_outside.html", code=code), 200
    return _proof_page(code)


@bp.route("/bind/<code>", methods=["POST"])
@public
def prove(code: str):
    """The holder of the phone proves they are the code's user; then the web authorisation starts."""
    code = normalise_code(code)
    db.session.rollback()  # release the request's transaction: failures are counted on their own (see _visitor)
    try:
        args = load_form(BindProofArgs())
        owner = binding_proof.prove(code, actor=_visitor(), password=args.get("password"), otp=args.get("otp"),
                                    otp_state=session.get(OTP_KEY))
    except ValidationFailed as exc:
        db.session.rollback()
        if "code" in exc.errors:
            return _refuse(binding_proof.CODE_DEAD)
        typed = {k: v for k, v in form_data().items() if k != "password"}
        return _proof_page(code, errors=exc.errors, form=typed, status=422)
    session.pop(OTP_KEY, None)
    session[PROOF_KEY] = {"code_id": owner.code_id, "user": owner.user_id, "code": code, "at": int(time.time())}
    # A page of our own, not a redirect: the CSP's form-action 'self' covers every redirect of a form's
    # navigation, so WeChat's authorisation must start from a fresh navigation (a refresh or the link).
    return _uncached(render_template("notify/wechat_bind_continue.html",
                                     url=url_for("wechat_signin.authorize", code=code)))


@bp.route("/bind/<code>/authorize")
@public
def authorize(code: str):
    """After the proof: start WeChat's web authorisation for this phone (the callback checks the proof)."""
    code = normalise_code(code)
    proof = session.get(PROOF_KEY) or {}
    platform = oauth.platform_of(request.headers.get("User-Agent"))
    if proof.get("code") != code or platform is None:
        # no proof in this browser's session, or outside WeChat: back to the page that asks for it
        return redirect(url_for("wechat_signin.bind", code=code))
    state = oauth.begin(session, platform, next_url=url_for("home.index"), bind_code=code)
    return redirect(oauth.authorize_url(current_app.config, platform,
                                        url_for("wechat_signin.callback", _external=True), state))


@bp.route("/bind/<code>/otp", methods=["POST"])
@public
def send_otp(code: str):
    """Send a one-time code to the code's user on a channel they already have."""
    code = normalise_code(code)
    try:
        load_form(EmptyArgs())
        state, names = binding_proof.send_proof_code(code, actor=_visitor(), minutes=int(
            current_app.config["BINDING_PROOF_CODE_MINUTES"]))
    except ValidationFailed as exc:
        db.session.rollback()
        if "code" in exc.errors:
            return _refuse(binding_proof.CODE_DEAD)
        return _proof_page(code, errors=exc.errors, status=422)
    commit()
    session[OTP_KEY] = state
    flash(f"验证码已发送到您的{'、'.join(names)}，请查收后填写", "success")
    return redirect(url_for("wechat_signin.bind", code=code))


def _proof_for(code: str) -> dict | None:
    """The proof kept in this phone's session for ``code``, if fresh; spent either way."""
    proof = session.pop(PROOF_KEY, None)
    max_age = int(current_app.config["BINDING_PROOF_CODE_MINUTES"]) * 60
    if not isinstance(proof, dict) or proof.get("code") != code or time.time() - int(proof.get("at", 0)) > max_age:
        return None
    return proof


@bp.route("/oauth/callback")
@public
def callback():
    max_age = int(current_app.config["WECHAT_OAUTH_STATE_MINUTES"]) * 60
    pending = oauth.take(session, request.args.get("state"), max_age_seconds=max_age)
    if pending is None:
        record_security_event(current_actor(), "wechat.signin", result="state_refused")
        return _refuse("登录请求已失效或不是从本页面发起的，请重新打开链接。", 400)
    try:
        identity = oauth.exchange(current_app.config, pending["platform"], request.args.get("code", ""))
    except oauth.OAuthFailed:
        return _refuse("微信授权未成功，请稍后重新打开链接。", 502)
    if identity.snapshot:
        return _refuse("请在微信中打开完整页面后再登录（快照页不能登录）。")
    if not identity.member:
        return _refuse("您不是本单位企业微信成员，无法登录。")
    # A GET that writes (the binding, the code spent, the login audit row): end the request's read and write in
    # a BEGIN IMMEDIATE transaction, as DESIGN §4 asks of OAuth sign-in (SQLite would refuse a read turned write).
    db.session.rollback()
    with write_intent():
        return _complete(pending, identity)


def _complete(pending: dict, identity: oauth.Identity):
    actor = Actor.visitor(ip=request.remote_addr, request_id=current_actor().request_id, channel="wechat")
    platform = PLATFORMS[identity.platform]
    if pending.get("bind"):
        proof = _proof_for(pending["bind"])
        if proof is None:
            db.session.rollback()
            record_security_event(actor, "wechat.bind", result="unproven")
            return _refuse(UNPROVEN)
        user = redeem_binding_code(pending["bind"], platform, identity.external_id, actor=actor,
                                   proven_user_id=proof["user"])
        if user is None:
            commit()  # a code found but its user disabled was still spent
            record_security_event(actor, "wechat.bind", result="code_refused")
            return _refuse(binding_proof.CODE_DEAD)
    else:
        from notify.wechat.events import user_for

        user = user_for(identity.platform, identity.external_id)
        if user is None or user.is_service or request.cookies.get(SIGNED_OUT_COOKIE):
            record_security_event(actor, "wechat.signin", result="unbound_identity")
            return _refuse("此微信身份尚未绑定账号。请使用账号密码登录，或请村（社区）干部为您生成绑定码。")
    if not any(m.is_effective for m in user.memberships):
        return _refuse("您的账号没有有效岗位，无法登录。")
    from core.accounts import factors

    if factors.is_required(user):
        # Grid workers' bound identity is their factor on the phone; anyone whose role requires the second
        # factor (a cadre, a village head) gives it here too: the identity stands for the password only.
        from core.accounts.factor_views import begin_second_step

        commit()  # a binding made on this callback stays made
        return begin_second_step(user, pending.get("next"))
    session.clear()
    session.regenerate()  # a fresh id: nothing from before sign-in carries over
    login_user(user)
    record(Actor.for_user(user, ip=request.remote_addr, request_id=actor.request_id, channel="wechat"),
           "login", user, changed=["wechat"])
    commit()
    logger.info("user %s signed in through %s", user.id, identity.platform)
    response = redirect(safe_next(pending.get("next"), url_for("home.index")))
    if pending.get("bind"):
        response.delete_cookie(SIGNED_OUT_COOKIE)
    return response
