"""Housekeeping of the tables that only grow (等保三级 item 3): ended web sessions, old login throttles, rate-limit
windows that have closed, spent or expired single-action links — and, through ``hooks.housekeepers``, the
features' own (notify: WeChat callback receipts past the replay window). One job, hourly; each step deletes
only what can never matter again, so running it twice, or late, changes nothing.

Audit rows are not here: only the retention job removes them, after archiving (DOMAIN.md, 等保 item 2).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_

from core import hooks
from core.db import db, utcnow

#: Throttle rows kept this long after their last failure (a lock lasts at most the policy's lockout minutes).
THROTTLE_DAYS = 1
#: Links kept this long after they expired or were spent (so "已失效" is still answered, not "not found").
LINK_DAYS = 30


def sweep(actor) -> str:
    from core.accounts.models import LoginThrottle, WebSession
    from core.accounts.policy import current_policy
    from core.link_models import ActionLink
    from core.ratelimit import remove_expired

    now = utcnow()
    policy = current_policy()
    counts = {}
    counts["会话"] = db.session.execute(delete(WebSession).where(or_(
        WebSession.last_seen_at < now - timedelta(minutes=policy.idle_minutes),
        WebSession.created_at < now - timedelta(hours=policy.absolute_hours)))).rowcount
    counts["登录失败计数"] = db.session.execute(delete(LoginThrottle).where(
        LoginThrottle.last_failure_at < now - timedelta(days=THROTTLE_DAYS),
        or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now))).rowcount
    counts["限流窗口"] = remove_expired(db.session)
    counts["单次链接"] = db.session.execute(delete(ActionLink).where(or_(
        ActionLink.expires_at < now - timedelta(days=LINK_DAYS),
        ActionLink.revoked_at < now - timedelta(days=LINK_DAYS),
        ActionLink.used_at < now - timedelta(days=LINK_DAYS)))).rowcount
    for label, keeper in hooks.housekeepers:
        counts[label] = keeper(now)
    return "，".join(f"{k} {v or 0} 条" for k, v in counts.items())


def init_app(app) -> None:
    from core.scheduler.registry import register_job

    register_job("core.housekeeping", sweep, trigger="interval", hours=1,
                 description="清理已结束的会话、过期的登录失败计数、限流窗口和已失效的单次链接")
