"""Scoped reads for the notification admin pages: only recipients inside the actor's jurisdiction."""

from __future__ import annotations

from sqlalchemy import select

from core.accounts.models import User
from core.accounts.queries import users_query
from core.actor import Actor
from core.db import db, get_or_404
from notify.models import Binding, ChannelState, Delivery, Notification


def _visible_user_ids(actor: Actor):
    return users_query(actor, "notify.manage").with_only_columns(User.id)


def list_deliveries(actor: Actor, *, status: str | None = None, channel: str | None = None,
                    user_q: str | None = None, limit: int = 200):
    stmt = (select(Delivery, Notification, User).join(Notification, Delivery.notification_id == Notification.id)
            .join(User, Notification.user_id == User.id)
            .where(Notification.user_id.in_(_visible_user_ids(actor))))
    if status:
        stmt = stmt.where(Delivery.status == status)
    if channel:
        stmt = stmt.where(Delivery.channel == channel)
    if user_q:
        stmt = stmt.where(User.username.contains(user_q) | User.display_name.contains(user_q))
    return db.session.execute(stmt.order_by(Delivery.id.desc()).limit(limit)).all()


def get_notification_or_404(notification_id: int, *, actor: Actor) -> Notification:
    return get_or_404(select(Notification).where(Notification.user_id.in_(_visible_user_ids(actor))),
                      notification_id)


def get_delivery_or_404(delivery_id: int, *, actor: Actor) -> Delivery:
    return get_or_404(select(Delivery).join(Notification).where(
        Notification.user_id.in_(_visible_user_ids(actor))), delivery_id)


def list_bindings(actor: Actor, limit: int = 500):
    return db.session.execute(select(Binding, User).join(User, Binding.user_id == User.id)
                              .where(Binding.user_id.in_(_visible_user_ids(actor)))
                              .order_by(User.username).limit(limit)).all()


def channel_states():
    return {row.channel: row for row in db.session.scalars(select(ChannelState))}
