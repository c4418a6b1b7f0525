"""Notification admin pages: deliveries, dead letters with requeue, channel status, bindings, test send."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from core.accounts.queries import get_user_or_404
from core.auth.decorators import permission
from core.db import utcnow
from core.schemas import EmptyArgs
from core.web import current_actor, submit
from notify import operations, queries
from notify.models import CHANNEL_LABELS, Channel, DeliveryStatus

bp = Blueprint("notify_admin", __name__, url_prefix="/admin/notify", template_folder="templates")

STATUS_LABELS = {"queued": "排队中", "sending": "发送中", "sent": "已发送", "delivered": "已送达", "failed": "已转其他通道",
                 "dead": "死信", "expired": "已过期", "coalesced": "已合并"}


@bp.route("/")
@permission("notify.manage")
def index():
    args = request.args
    status = args.get("status") if args.get("status") in STATUS_LABELS else None
    channel = args.get("channel") if args.get("channel") in {c.value for c in Channel} else None
    rows = queries.list_deliveries(current_actor(), status=status, channel=channel,
                                   user_q=args.get("q", "").strip()[:64] or None)
    return render_template("notify/deliveries.html", rows=rows, status=status or "", channel=channel or "",
                           q=args.get("q", ""), status_labels=STATUS_LABELS, channel_labels=CHANNEL_LABELS)


@bp.route("/notifications/<int:notification_id>")
@permission("notify.manage")
def notification(notification_id: int):
    n = queries.get_notification_or_404(notification_id, actor=current_actor())
    return render_template("notify/notification.html", n=n, status_labels=STATUS_LABELS,
                           channel_labels=CHANNEL_LABELS)


@bp.route("/deliveries/<int:delivery_id>/requeue", methods=["POST"])
@permission("notify.manage")
def requeue(delivery_id: int):
    actor = current_actor()
    d = queries.get_delivery_or_404(delivery_id, actor=actor)

    def perform(args):
        operations.requeue(d, actor=actor)
        flash("已重新排队发送", "success")
        return redirect(url_for("notify_admin.notification", notification_id=d.notification_id))

    return submit(EmptyArgs(), perform, "core/error.html", code=422, message="操作未完成")


@bp.route("/channels")
@permission("notify.manage")
def channels():
    return render_template("notify/channels.html", states=queries.channel_states(), now=utcnow(),
                           channel_labels=CHANNEL_LABELS)


@bp.route("/channels/<channel>/resume", methods=["POST"])
@permission("notify.manage")
def resume(channel: str):
    if channel not in {c.value for c in Channel}:
        from core.errors import NotFound

        raise NotFound()

    def perform(args):
        operations.resume_channel(channel, actor=current_actor())
        flash("通道已恢复", "success")
        return redirect(url_for("notify_admin.channels"))

    return submit(EmptyArgs(), perform, "core/error.html", code=422, message="操作未完成")


@bp.route("/bindings")
@permission("notify.manage")
def bindings():
    return render_template("notify/bindings.html", rows=queries.list_bindings(current_actor()))


@bp.route("/test/<int:user_id>", methods=["POST"])
@permission("notify.manage")
def send_test(user_id: int):
    actor = current_actor()
    user = get_user_or_404(user_id, actor=actor, action="notify.manage")

    def perform(args):
        n = operations.send_test(user, actor=actor)
        flash("测试消息已排队", "success")
        return redirect(url_for("notify_admin.notification", notification_id=n.id))

    return submit(EmptyArgs(), perform, "core/error.html", code=422, message="操作未完成")


__all__ = ["bp", "DeliveryStatus"]
