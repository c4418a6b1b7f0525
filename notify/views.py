"""Notification admin pages: deliveries, dead letters with requeue, channel status, bindings, test send."""

from __future__ import annotations

import re

from flask import Blueprint, render_template, request, url_for

from core.accounts.queries import get_user_or_404
from core.auth.decorators import permission
from core.db import utcnow
from core.web import act, current_actor
from notify import operations, queries
from notify.models import CHANNEL_LABELS, Channel, DeliveryStatus, NotificationStatus

bp = Blueprint("notify_admin", __name__, url_prefix="/admin/notify", template_folder="templates")

STATUS_LABELS = DeliveryStatus.labels()
NOTIFICATION_STATUS_LABELS = NotificationStatus.labels()
#: A delivery in one of these states went out: whatever the platform said with it ("0 ok") is not an error.
SUCCESS_STATUSES = {DeliveryStatus.sent, DeliveryStatus.delivered, DeliveryStatus.coalesced}

#: What the notification was about, for admins (the code stays in the page as a tooltip).
EVENT_LABELS = {
    "case.agent_filed": "网格员代办新事项", "case.escalation_requested": "网格员申请上报",
    "case.owner_assigned": "包案与承办指定", "case.transferred": "转送办理", "case.registered_elsewhere": "异地登记告知",
    "case.supervision": "督办", "case.handed_down": "交办事项", "case.escalated": "上报事项",
    "case.dispatched": "部门派单", "case.assignment_taken": "部门已接单", "case.assignment_done": "部门办结反馈",
    "case.assignment_withdrawn": "派单撤回", "case.department_arrived": "部门人员到场", "case.summoned": "召集通知",
    "case.summons_acknowledged": "召集已确认", "grid.todo": "网格员待办", "grid.follow_up_due": "回访提醒",
    "grid.deadline_near": "期限临近提醒", "notify.test": "测试消息", "notify.digest": "待办汇总",
    "notify.channel_paused": "通道暂停告警", "wechat.bind_proof_code": "微信绑定验证码",
    "wechat.new_binding": "新的微信绑定", "demo.welcome": "系统欢迎与使用提示",
}
EVENT_PREFIX_LABELS = {"case": "事项消息", "grid": "网格员消息", "notify": "系统消息", "wechat": "微信绑定消息",
                       "dept": "部门派单消息", "department": "部门派单消息", "demo": "演示消息"}

#: Platform error codes (DESIGN.md §5), said in Chinese.
ERRCODE_LABELS = {
    "-1": "平台系统繁忙，稍后重试", "40001": "访问令牌无效", "40014": "访问令牌无效", "42001": "访问令牌已过期",
    "45009": "超过接口调用次数限额，已顺延", "40003": "接收人账号无效", "43004": "接收人未关注公众号",
    "43101": "接收人拒收消息", "81013": "接收人不在企业微信应用可见范围内", "47001": "消息格式错误",
    "47003": "模板参数不正确", "40164": "调用 IP 不在白名单（请检查通道配置）",
    "60020": "不可信的访问 IP（请检查企业微信可信 IP 配置）", "invaliduser": "接收人账号无效",
}
_ERRCODE_IN_TEXT = re.compile(r"errcode\s+(-?\w+)")


def event_label(event: str) -> str:
    if event in EVENT_LABELS:
        return EVENT_LABELS[event]
    prefix = event.split(".", 1)[0]
    return EVENT_PREFIX_LABELS.get(prefix, "其他消息")


def errcode_label(code: str | None, message: str | None = None) -> str:
    """A platform error in Chinese: a known code's meaning; no code at all is a transport failure."""
    if code is None or code == "":
        return "网络或平台故障（超时、连接失败或无法识别的应答）" if message else ""
    return ERRCODE_LABELS.get(str(code), f"平台返回错误（错误码 {code}）")


def delivery_error(d) -> dict | None:
    """The error column of a delivery: None when it went out (an errcode 0 "ok" is a success, not an error);
    else {"label": Chinese meaning, "detail": the platform's own code and message}."""
    if d.status in SUCCESS_STATUSES or d.last_errcode == "0" or not (d.last_errcode or d.last_error):
        return None
    detail = " ".join(x for x in (f"错误码 {d.last_errcode}" if d.last_errcode else "", d.last_error or "") if x)
    return {"label": errcode_label(d.last_errcode, d.last_error) or "发送未完成", "detail": detail}


def reason_label(reason: str | None) -> str:
    """A channel pause or a stale binding's stored reason ("errcode 40164: …") in Chinese."""
    if not reason:
        return ""
    found = _ERRCODE_IN_TEXT.search(reason)
    return errcode_label(found.group(1)) if found else reason


def _labels() -> dict:
    return {"status_labels": STATUS_LABELS, "channel_labels": CHANNEL_LABELS, "error_of": delivery_error,
            "event_label": event_label, "reason_label": reason_label,
            "notification_status_labels": NOTIFICATION_STATUS_LABELS}


@bp.route("/")
@permission("notify.manage")
def index():
    args = request.args
    status = args.get("status") if args.get("status") in STATUS_LABELS else None
    channel = args.get("channel") if args.get("channel") in {c.value for c in Channel} else None
    rows = queries.list_deliveries(current_actor(), status=status, channel=channel,
                                   user_q=args.get("q", "").strip()[:64] or None)
    return render_template("notify/deliveries.html", rows=rows, status=status or "", channel=channel or "",
                           q=args.get("q", ""), **_labels())


@bp.route("/notifications/<int:notification_id>")
@permission("notify.manage")
def notification(notification_id: int):
    n = queries.get_notification_or_404(notification_id, actor=current_actor())
    return render_template("notify/notification.html", n=n, **_labels())


@bp.route("/deliveries/<int:delivery_id>/requeue", methods=["POST"])
@permission("notify.manage")
def requeue(delivery_id: int):
    actor = current_actor()
    d = queries.get_delivery_or_404(delivery_id, actor=actor)

    return act(lambda: operations.requeue(d, actor=actor), done="已重新排队发送",
               to=url_for("notify_admin.notification", notification_id=d.notification_id))


@bp.route("/channels")
@permission("notify.manage")
def channels():
    return render_template("notify/channels.html", states=queries.channel_states(), now=utcnow(), **_labels())


@bp.route("/channels/<channel>/resume", methods=["POST"])
@permission("notify.manage")
def resume(channel: str):
    if channel not in {c.value for c in Channel}:
        from core.errors import NotFound

        raise NotFound()

    return act(lambda: operations.resume_channel(channel, actor=current_actor()), done="通道已恢复",
               to=url_for("notify_admin.channels"))


@bp.route("/bindings")
@permission("notify.manage")
def bindings():
    return render_template("notify/bindings.html", rows=queries.list_bindings(current_actor()), **_labels())


@bp.route("/test/<int:user_id>", methods=["POST"])
@permission("notify.manage")
def send_test(user_id: int):
    actor = current_actor()
    user = get_user_or_404(user_id, actor=actor, action="notify.manage")

    return act(lambda: operations.send_test(user, actor=actor), done="测试消息已排队",
               to=lambda n: url_for("notify_admin.notification", notification_id=n.id))


__all__ = ["bp", "DeliveryStatus"]
