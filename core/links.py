"""Signed single-action links: a link in a message (a WeChat card, a brief, a swap request, an offer, a leader's
private calendar feed) that does one thing for one person and creates no general session.

A link is a random token (only its SHA-256 is stored) bound to an *action* registered by a feature, one
*subject* (type and id) and the addressee. Opening it runs that action's handler on that subject and nothing
else: no URL parameter names another subject, and the handler re-checks that the addressee may still see it.
A ``once`` action (accept this swap) is shown on GET and done on POST, and its link is spent by the first
POST (a conditional UPDATE, so two clicks at once do it once); a read-only action may be opened until the
link expires or is revoked. Anything more asks for a normal sign-in with the second factor (step-up).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select, update

from core.db import db, utcnow
from core.errors import DomainError
from core.link_models import ActionLink


@dataclass(frozen=True)
class LinkAction:
    name: str
    subject_type: str
    #: handler(link, user) -> response; for a ``once`` action it is called on POST only
    handler: Callable
    once: bool
    #: what the confirmation page asks (``once`` actions), e.g. "接受这次换班"
    confirm: str = ""
    #: the longest a link of this action may live
    max_ttl: timedelta = timedelta(days=7)


_ACTIONS: dict[str, LinkAction] = {}
GONE = "该链接已失效（已过期、已使用或已撤销）。请登录后在系统中查看。"


class LinkRefused(DomainError):
    status = 410
    default_message = GONE


def register_link_action(action: LinkAction) -> None:
    """Features register the one thing each of their links does (at init_app)."""
    known = _ACTIONS.get(action.name)
    if known is not None and known != action:
        raise RuntimeError(f"link action {action.name!r} registered twice with different handlers")
    _ACTIONS[action.name] = action


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def issue(action: str, subject_id: int, *, user, ttl: timedelta, now: datetime | None = None) -> str:
    """A new link for ``user`` to do ``action`` on subject ``subject_id``: its path (``/l/<token>``). The caller
    commits (the row is written with the message that carries it)."""
    spec = _ACTIONS[action]
    if ttl <= timedelta(0) or ttl > spec.max_ttl:
        raise ValueError(f"a {action} link lives at most {spec.max_ttl}")
    token = secrets.token_urlsafe(24)
    now = now or utcnow()
    db.session.add(ActionLink(token_hash=_hash(token), action=action, subject_type=spec.subject_type,
                              subject_id=subject_id, user_id=getattr(user, "id", None), once=spec.once,
                              created_at=now, expires_at=now + ttl))
    return f"/l/{token}"


def revoke(link_id: int, *, user_id: int | None = None, now: datetime | None = None) -> bool:
    """End a link (a leader revokes a calendar feed). ``user_id``: only if it is that user's."""
    stmt = update(ActionLink).where(ActionLink.id == link_id, ActionLink.revoked_at.is_(None))
    if user_id is not None:
        stmt = stmt.where(ActionLink.user_id == user_id)
    return db.session.execute(stmt.values(revoked_at=now or utcnow())).rowcount == 1


def live(token: str, *, now: datetime | None = None) -> ActionLink:
    """The link of ``token`` if it may still be opened; LinkRefused (410) otherwise, whatever the reason, so
    a guesser learns nothing."""
    now = now or utcnow()
    if not token or len(token) > 64:
        raise LinkRefused()
    link = db.session.scalar(select(ActionLink).where(ActionLink.token_hash == _hash(token)))
    if (link is None or link.revoked_at is not None or link.expires_at <= now
            or (link.once and link.used_at is not None) or link.action not in _ACTIONS):
        raise LinkRefused()
    return link


def spend(link: ActionLink, *, now: datetime | None = None) -> None:
    """Mark a ``once`` link used; refused if another request spent it first."""
    done = db.session.execute(update(ActionLink).where(ActionLink.id == link.id, ActionLink.used_at.is_(None))
                              .values(used_at=now or utcnow())).rowcount
    if done != 1:
        raise LinkRefused()


def addressee(link: ActionLink):
    from core.accounts.models import User

    user = db.session.get(User, link.user_id) if link.user_id is not None else None
    if link.user_id is not None and (user is None or not user.is_active):
        raise LinkRefused()
    return user


bp = Blueprint("links", __name__)


@bp.route("/l/<token>", methods=["GET", "POST"])
def open_link(token: str):
    from core.web import commit

    link = live(token)
    spec = _ACTIONS[link.action]
    user = addressee(link)
    if spec.once and request.method == "GET":
        return render_template("core/link_confirm.html", spec=spec, token=token)
    if request.method == "POST" and not spec.once:
        abort(405)
    if spec.once:
        spend(link)
    response = spec.handler(link, user)
    commit()
    return response


def init_app(app) -> None:
    from core.auth.decorators import public

    public(open_link)
    app.register_blueprint(bp)

    @app.after_request
    def _no_referrer_on_links(response):
        if request.endpoint == "links.open_link":
            response.headers["Referrer-Policy"] = "no-referrer"  # the token must not leak onward
        return response
