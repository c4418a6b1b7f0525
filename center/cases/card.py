"""A case's WeChat card: the signed single-action link (core.links) a notification carries. Whoever opens it
sees that one case read-only — number, kind and category, state, handling unit, the next deadline; never the
summary (summaries name the parties as a rule) nor any party — and signs in (with the second factor) to act on
it. Every opening re-checks that the addressee still holds a post and may still see the case: a link never
outlives the right it was issued under (a filer's or assignee's personal relation alone is not enough)."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import render_template, url_for
from sqlalchemy import select

from core.links import LinkAction, LinkRefused, issue, register_link_action

ACTION = "case.card"
#: A card is read for a few days after its message; then the case is opened from the desk.
CARD_DAYS = 7


def card_link(case, user) -> str:
    """The path of a new card link to ``case`` for ``user`` (the caller commits with the message)."""
    return issue(ACTION, case.id, user=user, ttl=timedelta(days=CARD_DAYS))


_CASE_PATH = re.compile(r"/cases/([A-Za-z0-9-]{1,32})")


def message_link(user, payload: dict) -> str | None:
    """core.hooks message link: a message about a case, to someone who signs in with a second factor, opens the
    case's card (read-only, no sign-in) instead of the case page, which would ask for password and code before
    showing anything. Grid workers keep the full page: WeChat signs them in silently."""
    from center.cases.models import Case
    from core.accounts import factors
    from core.db import db

    match = _CASE_PATH.fullmatch(str(payload.get("url") or ""))
    if match is None or not factors.is_required(user):
        return None
    case = db.session.scalar(select(Case).where(Case.number == match.group(1)))
    return card_link(case, user) if case is not None else None


def _show(link, user):
    from center.cases.models import Case
    from center.cases.presenters import next_deadlines
    from center.cases.queries import can_see
    from core.actor import Actor
    from core.db import db

    case = db.session.get(Case, link.subject_id)
    if case is None or user is None or not any(m.is_effective for m in user.memberships):
        raise LinkRefused()
    if not can_see(Actor.for_user(user, channel="wechat"), case):
        raise LinkRefused()
    upcoming = next_deadlines([case]).get(case.id)
    return render_template("cases/card.html", case=case, deadline=upcoming,
                           sign_in=url_for("accounts.login", next=url_for("cases.detail", number=case.number)))


def init_app(app) -> None:
    from core import hooks

    register_link_action(LinkAction(ACTION, "case", _show, once=False, max_ttl=timedelta(days=CARD_DAYS)))
    hooks.register_message_link(message_link)
