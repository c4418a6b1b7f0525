"""An unmasked .xlsx export is a bulk reveal (等保三级 item 8): the person says why, the file is limited in rows
per export and per day, the audit row keeps the reason, and above a threshold the security administrators are
told. The masked export stays one click (center.cases.listing.views.export).

One operation for every channel (``unmasked_export``); the view only gathers the reason.
"""

from __future__ import annotations

from flask import current_app

from center.cases.listing.export import REVEAL, export_details, export_rows
from center.cases.listing.search import Filters
from core import hooks, ratelimit
from core.actor import Actor
from core.auth.permissions import granting
from core.errors import PermissionDenied, ValidationFailed
from core.schemas import BaseSchema, fields, length

REASON_MIN, REASON_MAX = 4, 200
NO_REVEAL = "您的岗位不能查看完整个人信息，只能导出脱敏清单"
REASON_MESSAGE = f"请填写导出完整个人信息的理由（{REASON_MIN}–{REASON_MAX} 字），将记入审计日志"


class ReasonArgs(BaseSchema):
    reason = fields.String(required=True, validate=length(min=REASON_MIN, max=REASON_MAX),
                           error_messages={"required": REASON_MESSAGE})


def may_export_unmasked(actor: Actor) -> bool:
    return actor.is_system or bool(granting(actor, REVEAL))


def max_rows() -> int:
    return int(current_app.config["EXPORT_UNMASKED_MAX_ROWS"])


def unmasked_export(actor: Actor, filters: Filters, *, reason: str) -> tuple[list, int]:
    """(rows, how many went out unmasked) of the filtered list, applicants' phones and ID numbers plain where
    the actor may reveal the case; refused without a reason, over the per-export cap (the filter must be
    narrowed: a reveal is never silently cut short) or over the person's daily rows. The audit row, the daily
    count and the notices are written in the caller's transaction (the view commits before the file leaves)."""
    from core.audit.operations import record, record_security_event
    from core.db import db

    if not may_export_unmasked(actor):
        raise PermissionDenied(NO_REVEAL, action=REVEAL)
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise ValidationFailed({"reason": [REASON_MESSAGE]})
    cap = max_rows()
    rows, truncated, plain = export_rows(actor, filters, cap=cap, unmasked=True)
    if truncated:
        raise ValidationFailed({"reason": [f"含完整个人信息的导出每次不超过 {cap} 件，请缩小筛选范围后再导出"]})
    if plain and actor.user_id is not None:
        try:
            ratelimit.hit("export.unmasked_rows", str(actor.user_id), amount=plain, session=db.session)
        except ratelimit.RateLimited:
            # Refused: nothing of this export stands, but the refusal is kept (its own transaction, once the
            # request's — and on SQLite its write lock — is released).
            db.session.rollback()
            record_security_event(actor, "case.exported_unmasked", result="denied", object_type="cases",
                                  object_id=str(plain), changed=["daily_limit"])
            raise
    record(actor, "case.exported_unmasked", object_type="cases", object_id=str(len(rows)),
           changed=[*export_details(filters, len(rows), False, plain), f"reason={reason}"])
    if plain >= int(current_app.config["EXPORT_UNMASKED_NOTIFY_ROWS"]):
        _tell_security_administrators(actor, plain, reason)
    return rows, plain


def _tell_security_administrators(actor: Actor, plain: int, reason: str) -> None:
    from core.accounts.models import Role
    from core.accounts.queries import users_holding

    # The security administrators placed at any unit above the exporter's posts (a path names its ancestors).
    units = {int(part) for m in actor.own_memberships for part in (m.place_path or "").strip("/").split("/")
             if part.isdigit()}
    for admin in users_holding([Role.security_admin], unit_ids=units):
        hooks.announce("cases.unmasked_export", admin, {
            "title": "大批量导出完整个人信息",
            "body": f"{actor.name} 导出了含完整证件号码和电话的事项清单 {plain} 行。理由：{reason}",
            "url": "/admin/audit?action=case.exported_unmasked", "status": "需关注"},
            key=f"unmasked-export:{actor.user_id}:{actor.request_id}:{admin.id}")
