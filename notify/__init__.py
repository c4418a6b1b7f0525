"""Notifications: outbox, channels (WeCom, Official Account, SMS, log), dispatcher, callback gateway.

The only package that imports wechatpy. Features call ``notify.outbox.enqueue`` and nothing else.
"""


def init_app(app):
    from core import hooks
    from notify import cli, models, permissions, views  # noqa: F401 - models register their tables
    from notify.wechat import callback

    permissions.init_app(app)
    hooks.register_audit_labels({
        "notify.bound": "绑定消息账号", "notify.requeued": "重发消息", "notify.channel_resumed": "恢复消息通道",
        "notify.test_sent": "发送测试消息", "notify.preferences_updated": "修改消息设置",
        "notify.binding_code_issued": "生成微信绑定码", "wechat.signin": "微信登录", "wechat.bind": "微信绑定",
        "wechat.bind_proof": "微信绑定身份验证失败", "wechat.bind_proof_code_sent": "发送微信绑定验证码",
    }, {
        "deliveries": "消息投递", "notifications": "消息", "notify_bindings": "消息绑定",
        "notify_channel_states": "消息通道", "notify_binding_codes": "微信绑定码",
    })
    app.register_blueprint(views.bp)
    app.register_blueprint(callback.bp)
    from notify.wechat import binding_views, signin

    app.register_blueprint(signin.bp)
    app.register_blueprint(binding_views.bp)
    hooks.register_sign_in_entry(signin.silent_entry)
    hooks.register_user_link("grid.bind", "微信绑定码", "wechat_binding.issue", "worker_id")
    hooks.register_device_binding_page("wechat_binding.issue", "worker_id")
    hooks.register_announcer(_announce)
    hooks.register_housekeeper("微信回调记录", _old_receipts)
    from notify import preferences

    app.register_blueprint(preferences.bp)
    hooks.register_account_link("消息设置", "notify_prefs.edit")
    cli.init_app(app)
    hooks.register_admin_link("notify.manage", "消息通知", "notify_admin.index")
    hooks.register_banner(_paused_channel_banner)
    hooks.register_process("dispatcher", ["notify", "dispatch"])
    from notify import demo

    hooks.register_demo_seeder("notify", demo.load)
    import importlib.util

    if app.config["MEDIATION_ENV"] in ("development", "test") and importlib.util.find_spec("notify.fake"):
        hooks.register_process("fake-wechat", ["notify", "fake-wechat"])


def _announce(event, user, payload, *, key):
    """The kernel's security announcements (core.hooks.announce) go out like any message, urgently: a break-glass
    recovery or a request about one's account must not wait for the end of quiet hours."""
    from notify.outbox import enqueue

    enqueue(event, user, payload, key=key, priority="urgent")


def _paused_channel_banner(actor):
    from core.auth.permissions import has_permission
    from core.db import utcnow
    from notify.models import CHANNEL_LABELS, Channel
    from notify.operations import paused_channels

    if actor.is_system or not has_permission(actor, "notify.manage"):
        return []
    paused = paused_channels(utcnow())
    return [("error", f"{CHANNEL_LABELS[Channel(c)]}通道已暂停发送（配置错误），请到「消息通知 → 通道状态」检查后恢复。")
            for c in sorted(paused)]


#: Callback receipts kept a day: far beyond the 300 s timestamp window and WeChat's retries of a MsgId.
RECEIPT_DAYS = 1


def _old_receipts(now) -> int:
    from datetime import timedelta

    from sqlalchemy import delete

    from core.db import db
    from notify.models import CallbackReceipt

    return db.session.execute(delete(CallbackReceipt).where(
        CallbackReceipt.created_at < now - timedelta(days=RECEIPT_DAYS))).rowcount
