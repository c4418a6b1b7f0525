"""Administration of API tokens: list, issue (the plain token shown once), revoke. Permission user.manage,
with jurisdiction over the token's user (core.accounts.tokens)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import Blueprint, flash, redirect, render_template, session, url_for

from core import hooks
from core.accounts import tokens
from core.accounts.models import User
from core.accounts.queries import users_query
from core.auth.decorators import permission
from core.crypto import provider
from core.db import db, utcnow
from core.errors import ValidationFailed
from core.schemas import BaseSchema, EmptyArgs, fields, length
from core.timefmt import SHANGHAI
from core.web import current_actor, submit

bp = Blueprint("api_tokens", __name__, url_prefix="/admin/api-tokens", template_folder="templates")
TEMPLATE = "api_tokens/index.html"
#: Session key of the one-time slot carrying a just-issued token to its page.
SHOWN = "api_token_shown"

hooks.register_admin_link("user.manage", "接口令牌", "api_tokens.index")


class TokenIssueArgs(BaseSchema):
    username = fields.String(required=True, validate=length(max=64))
    label = fields.String(required=True, validate=length(1, tokens.LABEL_MAX))
    expires_on = fields.Date(load_default=None)


def _context():
    actor = current_actor()
    return {"tokens": tokens.list_tokens(actor), "now": utcnow()}


def _expires_at(day) -> datetime | None:
    """Valid through the chosen day (Asia/Shanghai): it expires at the start of the next one."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


@bp.route("")
@permission("user.manage")
def index():
    return render_template(TEMPLATE, form={}, errors={}, **_context())


@bp.route("", methods=["POST"])
@permission("user.manage")
def issue():
    actor = current_actor()

    def perform(args):
        user = _managed_user(args["username"], actor)
        token, plain = tokens.issue_token(user, label=args["label"], expires_at=_expires_at(args["expires_on"]),
                                          actor=actor)
        # Post/redirect/get, so a reload cannot mint a second token. The plain token crosses the redirect in a
        # one-time slot of the server-side session, encrypted; the page below empties the slot when it shows it.
        session[SHOWN] = {"id": token.id, "enc": provider().encrypt(plain)}
        return redirect(url_for("api_tokens.issued", token_id=token.id))

    return submit(TokenIssueArgs(), perform, TEMPLATE, context_fn=_context)


@bp.route("/<int:token_id>/issued")
@permission("user.manage")
def issued(token_id: int):
    token = tokens.get_token_or_404(token_id, actor=current_actor())
    slot = session.pop(SHOWN, None)
    plain = provider().decrypt(slot["enc"]) if isinstance(slot, dict) and slot.get("id") == token.id else None
    page = render_template("api_tokens/issued.html", token=token, plain=plain, user=token.user)
    return page, 200, {"Cache-Control": "no-store"}


def _managed_user(username: str, actor) -> User:
    user = db.session.scalar(users_query(actor, "user.manage").where(User.username == username.strip().lower()))
    if user is None:
        raise ValidationFailed({"username": ["用户不存在或不在您的管辖范围内"]})
    return user


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@permission("user.manage")
def revoke(token_id: int):
    actor = current_actor()
    token = tokens.get_token_or_404(token_id, actor=actor)

    def perform(args):
        if tokens.revoke_token(token, actor=actor):
            flash(f"已撤销令牌 {token.prefix}…", "success")
        else:
            flash("该令牌此前已撤销", "warning")
        return redirect(url_for("api_tokens.index"))

    return submit(EmptyArgs(), perform, TEMPLATE, context_fn=_context)
