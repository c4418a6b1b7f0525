"""Outbox tables: a notification per (event, recipient), deliveries per channel attempt chain, recipient
bindings and preferences, channel state, shared WeChat tokens, the SMS stub's store, callback replay keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin, UTCDateTime, utcnow
from core.enums import LabelledEnum, enum_column


class Channel(LabelledEnum):
    wecom = "wecom", "企业微信"
    mp_template = "mp_template", "公众号模板消息"
    sms = "sms", "短信"
    log = "log", "日志(开发)"


CHANNEL_LABELS = Channel.labels()


class Platform(LabelledEnum):
    """Identity kinds a binding holds."""

    wecom = "wecom", "企业微信（政务微信）"
    mp = "mp", "微信"
    phone = "phone", "手机"


#: Which binding a channel needs.
CHANNEL_PLATFORM = {Channel.wecom: Platform.wecom, Channel.mp_template: Platform.mp, Channel.sms: Platform.phone}


class NotificationStatus(LabelledEnum):
    pending = "pending", "待发送"          # a delivery is queued or in flight
    sent = "sent", "已发送"                # accepted by the platform
    delivered = "delivered", "已送达"      # receipt confirmed (template receipt)
    failed = "failed", "发送失败"            # no channel could deliver it
    expired = "expired", "已过期"          # past expires_at before it could go out
    coalesced = "coalesced", "已并入汇总"      # merged into a digest notification
    muted = "muted", "接收人已屏蔽此类消息"              # the recipient muted this event type (kept, visible to admins)


class DeliveryStatus(LabelledEnum):
    queued = "queued", "排队中"
    sending = "sending", "发送中"
    sent = "sent", "已发送"
    delivered = "delivered", "已送达"
    failed = "failed", "已转其他通道"            # this channel failed for the recipient; a fallback delivery follows
    dead = "dead", "死信"                # dead letter: needs an admin
    expired = "expired", "已过期"
    coalesced = "coalesced", "已合并"


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[NotificationStatus] = mapped_column(enum_column(NotificationStatus, "notification_status"),
                                                      default=NotificationStatus.pending)
    coalesced_into_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    is_digest: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    deliveries: Mapped[list[Delivery]] = relationship(back_populates="notification", order_by="Delivery.id")

    @property
    def is_urgent(self) -> bool:
        return self.priority == "urgent"

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.event} u{self.user_id} {self.status}>"


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "delivery_channel"))
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus, "delivery_status"),
                                                  default=DeliveryStatus.queued)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    #: The request body, rendered once when the delivery is created, so every retry is byte-identical.
    request: Mapped[dict] = mapped_column(JSON, default=dict)
    binding_id: Mapped[int | None] = mapped_column(ForeignKey("notify_bindings.id"))
    last_errcode: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider_msgid: Mapped[str | None] = mapped_column(String(64), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    notification: Mapped[Notification] = relationship(back_populates="deliveries")

    def __repr__(self) -> str:
        return f"<Delivery {self.id} {self.channel} {self.status} a{self.attempts}>"


class BindingState(StrEnum):
    verified = "verified"
    stale = "stale"


class Binding(TimestampMixin, Base):
    """A user's identity on a platform: WeCom userid, Official Account OpenID, or a phone (encrypted)."""

    __tablename__ = "notify_bindings"
    __table_args__ = (UniqueConstraint("platform", "external_index", name="uq_notify_bindings_identity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    platform: Mapped[Platform] = mapped_column(enum_column(Platform, "binding_platform"))
    #: Ciphertext (core.crypto) for phones; the platform id as is for WeCom userids and OpenIDs.
    external_id: Mapped[str] = mapped_column(String(255))
    #: Exact-match lookup: blind index for phones, the id itself otherwise.
    external_index: Mapped[str] = mapped_column(String(128))
    state: Mapped[BindingState] = mapped_column(enum_column(BindingState, "binding_state"),
                                               default=BindingState.verified)
    stale_reason: Mapped[str | None] = mapped_column(String(100))


class Preference(Base):
    __tablename__ = "notify_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    channels: Mapped[list] = mapped_column(JSON, default=lambda: ["wecom", "mp_template", "sms"])
    quiet_start: Mapped[str] = mapped_column(String(5), default="21:30")
    quiet_end: Mapped[str] = mapped_column(String(5), default="07:30")
    muted_events: Mapped[list] = mapped_column(JSON, default=list)
    digest_hour: Mapped[int | None] = mapped_column(Integer)


class ChannelState(Base):
    __tablename__ = "notify_channel_states"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class WeChatToken(Base):
    """Access tokens shared by every process (wechatpy SessionStorage backed by this table)."""

    __tablename__ = "notify_wechat_tokens"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SmsMessage(Base):
    """The SMS stub provider's store: what would have been sent, de-duplicated by our key."""

    __tablename__ = "notify_sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    phone_enc: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CallbackReceipt(Base):
    """Replay protection for WeChat callbacks: (timestamp, nonce, signature) and MsgId seen before."""

    __tablename__ = "notify_callback_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    replay_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class BindingCode(Base):
    """A one-time code (and its QR) that lets ``user_id`` bind the WeChat/WeCom identity opening it.

    Issued by an admin or the village cadre for a grid worker. The code alone binds nothing: the person on the
    phone must prove once that they are the user (their password, or a one-time code sent to a channel they
    already have — notify.binding_proof). Only a keyed hash of the code is stored; it is spent on first use,
    expires (``BINDING_CODE_TTL_HOURS``) and dies after ``MAX_PROOF_FAILURES`` wrong proofs, so a photographed
    QR is worth nothing later.
    """

    __tablename__ = "notify_binding_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_platform: Mapped[str | None] = mapped_column(String(8))
    #: wrong passwords or one-time codes given with this binding code (counted on their own transaction)
    proof_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<BindingCode {self.id} user {self.user_id} used={self.used_at is not None}>"
