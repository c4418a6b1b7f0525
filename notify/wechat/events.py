"""Platform events: subscribe / unsubscribe (binding state), template receipts (delivered / failed)."""

from __future__ import annotations

import logging

from core.db import db
from notify.models import BindingState, Platform

logger = logging.getLogger(__name__)


def user_for(platform: str, external_id: str):
    """The user bound to this WeChat identity, or None (unbound identities get nothing)."""
    from notify.bindings import find_by_identity

    if not external_id:
        return None
    binding = find_by_identity(Platform.mp if platform == "mp" else Platform.wecom, external_id)
    if binding is None or binding.state != BindingState.verified:
        return None
    from core.accounts.models import User

    user = db.session.get(User, binding.user_id)
    # A service account never signs in interactively, WeChat included.
    return user if user is not None and user.is_active and not user.is_service else None


def handle_event(platform: str, message: dict[str, str]) -> str | None:
    """Apply a platform event to the session; the callback route commits (or rolls back) it."""
    from notify.bindings import find_by_identity, mark_stale
    from notify.operations import mark_receipt

    event = (message.get("Event") or "").lower()
    if event == "templatesendjobfinish":
        status = message.get("Status", "")
        mark_receipt(message.get("MsgID") or message.get("MsgId") or "", success=status == "success",
                     reason=status)
    elif event in ("subscribe", "unsubscribe") and platform == "mp":
        binding = find_by_identity(Platform.mp, message.get("FromUserName", ""))
        if binding is not None:
            if event == "subscribe":
                binding.state, binding.stale_reason = BindingState.verified, None
            else:
                mark_stale(binding, "unsubscribed")
    else:
        return None
    logger.info("wechat event %s on %s", event, platform)
    return None
