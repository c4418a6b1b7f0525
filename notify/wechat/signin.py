"""Silent sign-in inside WeChat/WeCom, and binding a grid worker's WeChat identity with a one-time code.

- Any protected page opened anonymously inside the WeChat browser goes through web authorisation
  (``core.hooks.sign_in_entries``) and comes back signed in as the user the identity is bound to — unless this
  device signed out (the ``mdt_signed_out`` cookie core sets on logout): then the password page, until someone
  signs in there explicitly. Unbound identities, outside WeCom users and snapshot (virtual) users get nothing.
- ``/wechat/bind/<code>`` opened inside WeChat binds the identity to the code's user, spends the code, and
  signs in (binding is an explicit act of the owner of the phone).
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import login_user

from core.accounts.views import SIGNED_OUT_COOKIE
from core.actor import Actor
from core.audit.operations import record, record_security_event
from core.auth.decorators import public
from core.db import db, write_intent
from core.web import commit, current_actor, safe_next
from notify.bindings import normalise_code, redeem_binding_code
from notify.models import Platform
from notify.wechat import oauth

logger = logging.getLogger(__name__)

bp = Blueprint("wechat_signin", __name__, url_prefix="/wechat")

PLATFORMS = {"work": Platform.wecom, "mp": Platform.mp}


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


@bp.route("/bind/<code>")
@public
def bind(code: str):
    platform = oauth.platform_of(request.headers.get("User-Agent"))
    code = normalise_code(code)
    if platform is None:
        return render_template("notify/wechat_bind_outside.html", code=code), 200
    state = oauth.begin(session, platform, next_url=url_for("home.index"), bind_code=code)
    return redirect(oauth.authorize_url(current_app.config, platform,
                                        url_for("wechat_signin.callback", _external=True), state))


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
        user = redeem_binding_code(pending["bind"], platform, identity.external_id, actor=actor)
        if user is None:
            commit()  # a code found but its user disabled was still spent
            record_security_event(actor, "wechat.bind", result="code_refused")
            return _refuse("绑定码无效、已使用或已过期，请联系村（社区）干部重新生成。")
    else:
        from notify.wechat.events import user_for

        user = user_for(identity.platform, identity.external_id)
        if user is None or request.cookies.get(SIGNED_OUT_COOKIE):
            record_security_event(actor, "wechat.signin", result="unbound_identity")
            return _refuse("此微信身份尚未绑定账号。请使用账号密码登录，或请村（社区）干部为您生成绑定码。")
    if not any(m.is_effective for m in user.memberships):
        return _refuse("您的账号没有有效岗位，无法登录。")
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
