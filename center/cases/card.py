"""A case's WeChat card: the signed single-action link (core.links) a notification carries. Whoever opens it
sees that one case read-only — number, kind and category, state, handling unit, the next deadline; never the
summary (summaries name the parties as a rule) nor any party — and signs in (with the second factor) to act on
it. Every opening re-checks that the addressee still holds a post and may still see the case: a link never
outlives the right it was issued under (a filer's or assignee's personal relation alone is not enough)."""

from __future__ import annotations

from datetime import timedelta

from flask import render_template, url_for

from core.links import LinkAction, LinkRefused, issue, register_link_action

ACTION = "case.card"
#: A card is read for a few days after its message; then the case is opened from the desk.
CARD_DAYS = 7


def card_link(case, user) -> str:
    """The path of a new card link to ``case`` for ``user`` (the caller commits with the message)."""
    return issue(ACTION, case.id, user=user, ttl=timedelta(days=CARD_DAYS))


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
    register_link_action(LinkAction(ACTION, "case", _show, once=False, max_ttl=timedelta(days=CARD_DAYS)))
