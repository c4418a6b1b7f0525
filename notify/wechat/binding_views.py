"""Issuing a grid worker's one-time WeChat binding code and its QR (admin, or the village cadre/head)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, url_for
from sqlalchemy import select

from core.accounts.models import User
from core.auth.decorators import permission
from core.db import db
from core.errors import NotFound, as_id
from core.qr import qr_svg
from core.schemas import EmptyArgs
from core.web import commit, current_actor, load_form
from notify.bindings import may_issue_code
from notify.models import Binding, BindingState

bp = Blueprint("wechat_binding", __name__, url_prefix="/wechat/binding-codes")


def _user_or_404(user_id, *, just_issued: bool = False) -> User:
    user = db.session.get(User, as_id(user_id))
    # A code this session has just issued is shown once even where issuing another is no longer allowed (an
    # administrator's dual-control approval is spent by the issue).
    if user is None or not (just_issued or may_issue_code(current_actor(), user)):
        raise NotFound()  # outside the issuer's reach: as if it did not exist
    return user


def _bindings(user: User) -> list[Binding]:
    return list(db.session.scalars(select(Binding).where(Binding.user_id == user.id,
                                                         Binding.state == BindingState.verified)))


@bp.route("/<int:worker_id>", methods=["GET", "POST"])
@permission("grid.bind")  # and per target user (may_issue_code): anyone else's id answers 404
def issue(worker_id: int):
    from flask import redirect, request, session

    from notify.bindings import issue_binding_code

    slot = session.get("binding_code")
    user = _user_or_404(worker_id, just_issued=request.method == "GET" and isinstance(slot, dict)
                        and slot.get("worker") == as_id(worker_id))
    if request.method == "POST":
        load_form(EmptyArgs())
        code = issue_binding_code(user, actor=current_actor(),
                                  ttl_hours=int(current_app.config["BINDING_CODE_TTL_HOURS"]))
        commit()
        # Post/redirect/get: the code rides in the server-side session to the next page view and is shown once.
        session["binding_code"] = {"worker": user.id, "code": code}
        return redirect(url_for("wechat_binding.issue", worker_id=user.id))
    code = link = svg = None
    shown = session.pop("binding_code", None)
    if shown and shown.get("worker") == user.id:
        code = shown["code"]
        link = url_for("wechat_signin.bind", code=code, _external=True)
        svg = qr_svg(link)
    response = current_app.make_response(render_template(
        "notify/binding_code.html", user=user, bindings=_bindings(user), code=code, link=link, svg=svg,
        ttl=current_app.config["BINDING_CODE_TTL_HOURS"]))
    response.headers["Cache-Control"] = "no-store"  # a code is shown once and never cached
    return response
