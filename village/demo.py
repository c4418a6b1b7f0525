"""Demo: a grid worker's 代办 filing with a photo and the resident's consent, and an escalation request, so the
phone desk, the village desk and the township desk show the grid worker's side working. Through the real
operations; the notices go out to the local WeChat stand-in."""

from __future__ import annotations

import io

from sqlalchemy import select

from core.accounts.models import User
from core.actor import Actor
from core.db import db
from core.org.models import OrgUnit


def _photo() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (120, 150, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 300, 600, 360), fill=(90, 80, 70))  # the blocked drain, more or less
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def load(_system_actor, context: dict) -> None:
    from center.cases.attachments.operations import check_files
    from village.operations import file_for_resident, request_escalation

    worker = db.session.scalar(select(User).where(User.username == "qs01.g1"))
    grid = db.session.scalar(select(OrgUnit).where(OrgUnit.name == "青石村第1网格"))
    actor = Actor.for_user(worker, channel="cli")
    case, _ = file_for_resident(
        actor, grid=grid, kind="dispute", resident={"name": "孙玉珍", "phone": "13901019876"},
        summary="邻居在院墙外堆放建筑垃圾，雨后积水倒灌进屋", demands="请求清理建筑垃圾、疏通排水沟",
        category="邻里纠纷", place="3组村口", people_count=2, consent=True,
        photos=check_files([("现场.jpg", _photo())], field="photos", images_only=True),
        intake_key="demo-agent-filing-1")
    context.setdefault("cases", {})["g-agent"] = case
    earlier = context.get("cases", {}).get("d-new")
    if earlier is not None:
        request_escalation(earlier, actor=actor, reason="排水沟涉及相邻两个组，村里协调未果，请镇里出面")
