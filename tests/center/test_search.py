"""The shared case list /cases/: every filter, the search box (number, summary, party name; wildcards typed by
the user match themselves), paging, bad filters refused in Chinese, and never a row outside the jurisdiction."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from center.cases.models import Case
from center.cases.presenters import today_shanghai
from center.cases.queries import cases_query
from center.cases.search import Filters, parse_filters, search_cases
from core.actor import Actor
from tests.core.forms_spec import FormPage, assert_no_english


def text(response) -> str:
    return response.get_data(as_text=True)


def numbers(response) -> set[str]:
    return set(re.findall(r'href="/cases/([A-Z]+-\d{4}-\d{6})"', text(response)))


def visible_numbers(db, actor, **where) -> set[str]:
    stmt = cases_query(actor).with_only_columns(Case.number)
    for key, value in where.items():
        stmt = stmt.where(getattr(Case, key) == value)
    return set(db.session.scalars(stmt))


def register(db, summary, *, unit, name="测试人", kind="dispute", **kw):
    from center.cases.operations import register_case

    case = register_case(Actor.system("test"), kind=kind, summary=summary, category=kw.pop("category", "其他"),
                         channel=kw.pop("channel", "visit"), origin_unit=unit,
                         parties=[{"role": "applicant", "kind": "person", "name": name}],
                         petition_class="appeal" if kind == "petition" else None, **kw)
    db.session.commit()
    return case


def by_summary(db, summary) -> Case:
    return db.session.scalar(select(Case).where(Case.summary == summary))


FILTERS = [
    ({"status": "in_progress"}, {"status": "in_progress"}),
    ({"kind": "dispute"}, {"kind": "dispute"}),
    ({"category": "劳资/欠薪"}, {"category": "劳资/欠薪"}),
    ({"risk": "orange"}, {"risk_colour": "orange"}),
    ({"channel": "hotline"}, {"channel": "hotline"}),
]


@pytest.mark.parametrize(("args", "where"), FILTERS, ids=[next(iter(a)) for a, _ in FILTERS])
def test_simple_filters(signed_in, demo, db, args, where):
    response = signed_in("qs.staff").get("/cases/", query_string=args)
    assert response.status_code == 200
    expected = visible_numbers(db, demo.actor("qs.staff"), **where)
    assert expected, args
    assert numbers(response) == expected


def test_unit_filter_covers_the_subtree_on_handling_or_origin(signed_in, demo, db):
    client = signed_in("qs.staff")
    village = demo.unit("青石村")
    shown = numbers(client.get("/cases/", query_string={"unit": village.id}))
    escalated = by_summary(db, "二十余名务工人员讨要工程款")   # origin 青石村, handled at 青石镇 now
    grid = by_summary(db, "邻里因排水沟堵塞发生争执")           # origin 青石村第1网格 (below the village)
    elsewhere = by_summary(db, "兄弟二人因赡养老人费用分担发生纠纷")  # 上坝村
    assert {escalated.number, grid.number} <= shown and elsewhere.number not in shown
    # a unit outside the jurisdiction is refused (not silently ignored, not revealed)
    foreign = client.get("/cases/", query_string={"unit": demo.unit("城关街道").id})
    assert foreign.status_code == 422 and "请从列表中选择" in text(foreign)
    page = FormPage(text(client.get("/cases/")))
    options = page.selects["unit"]["options"]
    assert str(village.id) in options and str(demo.unit("城关街道").id) not in options


def test_date_range_overdue_and_repeat(signed_in, demo, db):
    client = signed_in("qs.staff")
    actor = demo.actor("qs.staff")
    today = today_shanghai()
    recent = numbers(client.get("/cases/", query_string={"received_from": (today - timedelta(days=6)).isoformat(),
                                                         "received_to": today.isoformat()}))
    assert by_summary(db, "再次反映征收补偿款未足额发放").number in recent
    assert by_summary(db, "反映养殖场污水排入灌溉渠").number not in recent      # 75 days ago
    old = numbers(client.get("/cases/", query_string={"received_to": (today - timedelta(days=60)).isoformat()}))
    assert by_summary(db, "反映养殖场污水排入灌溉渠").number in old and by_summary(db, "再次反映征收补偿款未足额发放").number not in old
    overdue = numbers(client.get("/cases/", query_string={"overdue": "1"}))
    assert overdue and overdue == numbers(client.get("/cases/", query_string={"queue": "overdue"}))
    repeats = numbers(client.get("/cases/", query_string={"repeat": "1"}))
    assert repeats == set(db.session.scalars(cases_query(actor).with_only_columns(Case.number)
                                             .where(Case.repeat_of_case_id.is_not(None))))
    assert repeats
    reversed_range = client.get("/cases/", query_string={"received_from": today.isoformat(),
                                                          "received_to": (today - timedelta(days=1)).isoformat()})
    assert reversed_range.status_code == 422 and "结束日期不能早于开始日期" in text(reversed_range)


def test_search_by_number_summary_and_party_name(signed_in, demo, db):
    client = signed_in("qs.staff")
    case = by_summary(db, "反映镇中心小学周边交通安全隐患")
    assert numbers(client.get("/cases/", query_string={"q": case.number})) == {case.number}
    assert numbers(client.get("/cases/", query_string={"q": case.number.lower()})) == {case.number}
    prefix = case.number[:-2]
    by_prefix = numbers(client.get("/cases/", query_string={"q": prefix}))
    assert case.number in by_prefix and all(n.startswith(prefix) for n in by_prefix)
    assert numbers(client.get("/cases/", query_string={"q": "交通安全"})) == {case.number}
    applicant = case.parties[0].name
    assert case.number in numbers(client.get("/cases/", query_string={"q": applicant}))
    assert case.number in numbers(client.get("/cases/", query_string={"q": applicant[1:]}))
    nothing = client.get("/cases/", query_string={"q": "不存在的事项内容"})
    assert numbers(nothing) == set() and "暂无事项" in text(nothing)


@pytest.mark.parametrize("q", ["%", "_", "100%", "\\", "%%", "_%_", "/", "'", '"'])
def test_wildcards_typed_by_the_user_match_only_themselves(signed_in, demo, db, q):
    unit = demo.unit("青石镇")
    literal = register(db, "补偿款仅到位100%%承诺的一半_%_另附\\说明/备注'\"", unit=unit)
    plain = register(db, "补偿款仅到位一半", unit=unit)
    shown = numbers(signed_in("qs.staff").get("/cases/", query_string={"q": q}))
    assert shown == {literal.number}, q
    assert plain.number not in shown


def test_search_never_finds_what_the_actor_cannot_see(signed_in, demo, db):
    elevator = by_summary(db, "反映老旧小区加装电梯意见分歧")  # 城关街道
    accusation = by_summary(db, "举报上坝村村务公开不实、账目不清")
    for q in ("加装电梯", elevator.number, elevator.parties[0].name):
        assert elevator.number not in numbers(signed_in("qs.staff").get("/cases/", query_string={"q": q}))
        assert elevator.number in numbers(signed_in("cg.staff").get("/cases/", query_string={"q": q}))
    for user in ("qs02.head", "qs02.cadre"):
        client = signed_in(user)
        for q in ("举报", accusation.number, accusation.parties[0].name):
            response = client.get("/cases/", query_string={"q": q})
            assert accusation.number not in numbers(response) and "村务公开" not in text(response)
            assert "共 0 件" in text(response) or q == "举报"
        assert "村务公开" not in text(client.get("/cases/"))
    assert accusation.number in numbers(signed_in("qs.staff").get("/cases/", query_string={"q": "举报"}))


def test_bad_filters_are_refused_in_chinese_and_keep_the_form(signed_in):
    client = signed_in("qs.staff")
    for args, field in [({"status": "bogus"}, "status"), ({"risk": "purple"}, "risk"), ({"unit": "abc"}, "unit"),
                        ({"received_from": "2026-13-45"}, "received_from"), ({"q": "长" * 51}, "q"),
                        ({"page": "0"}, "page"), ({"queue": "all"}, "queue"), ({"is_admin": "1"}, "is_admin")]:
        response = client.get("/cases/", query_string={**args, "kind": "dispute"})
        body = text(response)
        assert response.status_code == 422, args
        assert_no_english(body, str(args))
        page = FormPage(body)
        assert page.errors and all(re.search(r"[\u4e00-\u9fff]", m) for m in page.errors), args
        assert page.selects["kind"]["selected"] == ["dispute"], args


def test_paging_and_the_filter_form_keeps_its_values(signed_in, demo, db):
    actor = demo.actor("center.li")
    filters = parse_filters(actor, {"kind": "petition"})
    everything = search_cases(actor, filters, per_page=1000)
    pages = [search_cases(actor, filters, page=p, per_page=4) for p in range(1, 20)]
    assert pages[0].total == everything.total > 8
    collected = [c.number for p in pages[:pages[0].pages] for c in p.cases]
    assert collected == [c.number for c in everything.cases]  # no case twice, none skipped
    assert pages[0].has_next and not pages[0].has_prev and pages[-1].page == pages[0].pages  # clamped
    assert Filters({"kind": "petition", "q": "x", "page": 3}).query_args(page=4) == {"kind": "petition", "q": "x",
                                                                                    "page": 4}

    unit = demo.unit("青石镇")
    for i in range(52):
        register(db, f"分页测试事项{i:02d}", unit=unit)
    client = signed_in("qs.staff")
    first = client.get("/cases/", query_string={"q": "分页测试", "kind": "dispute"})
    body = text(first)
    assert "共 52 件" in body and len(numbers(first)) == 50
    assert 'rel="next"' in body and 'rel="prev"' not in body
    nxt = re.search(r'href="([^"]+)" rel="next"|rel="next" href="([^"]+)"', body)
    second = client.get((nxt.group(1) or nxt.group(2)).replace("&amp;", "&"))
    assert len(numbers(second)) == 2 and not numbers(second) & numbers(first)
    assert 'rel="prev"' in text(second)
    form = FormPage(text(second))
    assert form.inputs["q"][1] == "分页测试" and form.selects["kind"]["selected"] == ["dispute"]
