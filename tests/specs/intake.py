"""Specs of the intake and triage routes (center/cases/intake/views.py) for the shared registry tests."""

from __future__ import annotations

from tests.browser.screens import Screen
from tests.specs.base import FormSpec


def _case_number(demo) -> str:
    """A fresh registered yellow petition handled at 青石镇 (qs.staff's township), made once per test."""
    number = getattr(demo, "_intake_spec_case", None)
    if number is None:
        from tests.factories import make_case

        case = make_case(demo, "qs.staff", "青石镇", "petition", summary="表单测试：反映镇区道路雨后积水",
                         colour="yellow", applicant="表单测试人", repeat_of=None, commit=True)
        number = demo._intake_spec_case = case.number
    return number


def _case_page(demo) -> str:
    return f"/cases/{_case_number(demo)}"


def _intake(demo) -> dict:
    return {"kind": "petition", "petition_class": "appeal", "category": "其他", "channel": "visit",
            "origin_unit_id": str(demo.unit("青石镇").id), "summary": "坏输入测试：反映路灯长期不亮",
            "people_count": "1", "risk_colour": "yellow", "applicant_name": "坏输入测试人",
            "applicant_phone": "13800001234", "repeat_of": "none"}


FORM_SPECS = {
    "case_intake.new": FormSpec("qs.staff", page=lambda demo: "/cases/new", schema="center.cases.intake.schemas.IntakeArgs",
                                valid=_intake),
    "case_intake.transition": FormSpec(
        "qs.staff", lambda demo: {"number": _case_number(demo), "action": "accept"}, _case_page,
        schema="center.cases.intake.schemas.TransitionArgs", valid=lambda demo: {"remark": "符合受理条件"}),
    "case_intake.owner": FormSpec(
        "qs.staff", lambda demo: {"number": _case_number(demo)}, _case_page, schema="center.cases.intake.schemas.OwnerArgs",
        valid=lambda demo: {"owner_leader_id": str(demo.user("qs.leader").id),
                            "assignee_id": str(demo.user("qs.staff").id)}),
    "case_intake.regrade": FormSpec(
        "qs.staff", lambda demo: {"number": _case_number(demo)}, _case_page,
        schema="center.cases.intake.schemas.RegradeArgs",
        valid=lambda demo: {"new_colour": "orange", "regrade_reason": "涉及人数增加，可能激化"}),
}

URL_PARAMS = {"action": lambda j: "accept"}

SCREENS = [
    Screen("case-new", "qs.staff", "/cases/new", "登记事项"),
    Screen("case-new-grid", "qs01.g1", "/cases/new", "登记事项"),
]
