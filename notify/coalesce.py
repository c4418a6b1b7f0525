"""Bursts become digests: when one person has many messages due at once, they get one ("您有 N 条新待办"),
rendered at dispatch with a key derived from the merged notifications, which are marked coalesced."""

from __future__ import annotations

import hashlib

from flask import current_app
from sqlalchemy import func, select

from core.db import db
from notify.models import Delivery, DeliveryStatus, Notification, NotificationStatus


def coalesce_bursts(now) -> int:
    threshold = current_app.config["NOTIFY_COALESCE_THRESHOLD"]
    due = (select(Notification.user_id).join(Delivery)
           .where(Delivery.status == DeliveryStatus.queued, Delivery.next_attempt_at <= now,
                  Notification.priority == "normal", Notification.is_digest.is_(False))
           .group_by(Notification.user_id).having(func.count(Delivery.id) >= threshold))
    merged = 0
    for user_id in list(db.session.scalars(due)):
        merged += _merge_for(user_id, now)
    return merged


def _merge_for(user_id: int, now) -> int:
    from core.accounts.models import User
    from notify.outbox import enqueue

    rows = list(db.session.execute(
        select(Delivery, Notification).join(Notification)
        .where(Notification.user_id == user_id, Delivery.status == DeliveryStatus.queued,
               Delivery.next_attempt_at <= now, Notification.priority == "normal",
               Notification.is_digest.is_(False)).order_by(Notification.id)))
    if not rows:
        return 0
    notifications = [n for _, n in rows]
    ids = ",".join(str(n.id) for n in notifications)
    key = "digest:" + hashlib.sha256(ids.encode()).hexdigest()[:40]
    titles = "；".join(n.payload.get("title", "") for n in notifications[:3])
    digest = enqueue("notify.digest", db.session.get(User, user_id),
                     {"title": f"您有 {len(notifications)} 条新待办", "body": titles + ("等" if len(notifications) > 3 else ""),
                      "url": "/", "status": "待处理"}, key=key)
    digest.is_digest = True
    for delivery, notification in rows:
        delivery.status = DeliveryStatus.coalesced
        notification.status = NotificationStatus.coalesced
        notification.coalesced_into_id = digest.id
    return len(rows)
