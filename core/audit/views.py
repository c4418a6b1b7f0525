"""The auditor's read-only view of the audit log. No route updates or deletes an entry."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request

from core.audit.queries import PAGE_SIZE, list_entries
from core.auth.decorators import permission
from core.web import current_actor

bp = Blueprint("audit", __name__, url_prefix="/admin")

RESULTS = {"ok": "成功", "denied": "拒绝", "failed": "失败", "locked": "锁定"}


@bp.route("/audit")
@permission("audit.read")
def index():
    args = request.args
    day = None
    error = None
    if args.get("day"):
        try:
            day = date.fromisoformat(args["day"])
        except ValueError:
            error = "日期格式无效，请按 2026-11-23 的格式填写"
    before = args.get("before", type=int)
    result = args.get("result") if args.get("result") in RESULTS else None
    entries = list_entries(current_actor(), action=args.get("action", "").strip()[:64] or None,
                           actor_name=args.get("actor", "").strip()[:64] or None, result=result, day=day,
                           before_id=before)
    return render_template("core/audit.html", entries=entries, args=args, results=RESULTS, error=error,
                           next_before=entries[-1].id if len(entries) == PAGE_SIZE else None)
