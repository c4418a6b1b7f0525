"""The shared case list /cases/: every filter, the search box (full ID number and phone through the blind
index, the short number, number prefix, summary words, party names; wildcards typed by the user match
themselves), paging, bad filters refused in Chinese, and never a row outside the jurisdiction.

The search text is posted and kept server-side under a search id bound to its user: no ID number, phone or
name appears in a URL or an access log (tests at the end)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from center.cases.intake.identity import resident_id_check_char
from center.cases.listing.search import Filters, parse_filters, search_cases
from center.cases.models import Case, CaseSearch
from center.cases.presenters import today_shanghai
from center.cases.queries import cases_query
from core.actor import Actor
from tests.conftest import csrf_from
from tests.core.forms_spec import FormPage, assert_no_english
from tests.factories import make_case


def text(response) -> str:
    return response.get_data(as_text=True)


def numbers(response) -> set[str]:
    return set(re.findall(r'href="/cases/([A-Z]+-\d{4}-\d{6})"', text(response)))


def visible_numbers(db, actor, **where) -> set[str]:
    stmt = cases_query(actor).with_only_columns(Case.number)
    for key, value in where.items():
        stmt = stmt.where(getattr(Case, key) == value)
    return set(db.session.scalars(stmt))


def register(db, summary, *, unit, name="测试人", id_number=None, phone=None, actor=None, **kw):
    """A committed case (by an import, unless ``actor``) whose applicant is found by name, ID number or phone."""
    applicant = {"name": name, **({"id_type": "resident_id", "id_number": id_number} if id_number else {}),
                 **({"phone": phone} if phone else {})}
    return make_case(db, actor or Actor.system("test"), unit, summary=summary, applicant=applicant, commit=True, **kw)


def by_summary(db, summary) -> Case:
    return db.session.scalar(select(Case).where(Case.summary == summary))


def resident_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


def post_search(client, q=None, **filters):
    """The filter form as a clerk submits it: POST (CSRF) → 302 to the list with the search id only."""
    token = getattr(client, "_csrf", None) or csrf_from(text(client.get("/cases/")))
    client._csrf = token
    data = {"csrf_token": token, **{k: str(v) for k, v in filters.items()}}
    if q is not None:
        data["q"] = q
    return client.post("/cases/search", data=data)


def search(client, q=None, **filters):
    posted = post_search(client, q, **filters)
    assert posted.status_code == 302, text(posted)[:800]
    return client.get(posted.headers["Location"])


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
    assert numbers(search(client, case.number)) == {case.number}
    assert numbers(search(client, case.number.lower())) == {case.number}
    prefix = case.number[:-2]
    by_prefix = numbers(search(client, prefix))
    assert case.number in by_prefix and all(n.startswith(prefix) for n in by_prefix)
    assert numbers(search(client, "交通安全")) == {case.number}
    assert numbers(search(client, "小学 交通")) == {case.number}      # every word, in any order
    assert numbers(search(client, "小学 不存在的词")) == set()
    applicant = case.parties[0].name
    assert case.number in numbers(search(client, applicant))
    assert case.number in numbers(search(client, applicant[1:]))
    assert case.number in numbers(search(client, f"{applicant} 交通"))  # a name and a summary word
    nothing = search(client, "不存在的事项内容")
    assert numbers(nothing) == set() and "暂无事项" in text(nothing)


def test_search_by_short_number_in_any_year(signed_in, demo, db):
    client = signed_in("qs.staff")
    case = by_summary(db, "反映镇中心小学周边交通安全隐患")
    prefix, year, serial = case.number.split("-")
    assert numbers(search(client, serial)) == {case.number}
    assert numbers(search(client, str(int(serial)))) == {case.number}    # "4" for 000004
    assert numbers(search(client, f"{year}-{serial}")) == {case.number}
    assert numbers(search(client, f"{int(year) - 1}-{serial}")) == set()
    # another year, same serial: both are found by the short number
    other = register(db, "上年度的同号事项", unit=demo.unit("青石镇"))
    db.session.execute(Case.__table__.update().where(Case.id == other.id)
                       .values(number=f"{prefix}-{int(year) - 1}-{serial}"))
    db.session.commit()
    assert numbers(search(client, serial)) == {case.number, f"{prefix}-{int(year) - 1}-{serial}"}


def test_search_by_full_id_number_and_phone_through_the_blind_index(signed_in, demo, db):
    id_number = resident_id("11010119900307457")
    qs = register(db, "证件号码检索测试", unit=demo.unit("青石镇"), name="赵证件", id_number=id_number,
                  phone="13911112222")
    landline = register(db, "固定电话检索测试", unit=demo.unit("青石村"), name="钱座机", phone="0571-87654321")
    client = signed_in("qs.staff")
    assert numbers(search(client, id_number)) == {qs.number}
    assert numbers(search(client, f"{id_number[:6]} {id_number[6:14]} {id_number[14:]}")) == {qs.number}
    assert numbers(search(client, "13911112222")) == {qs.number}
    assert numbers(search(client, "+86 139 1111 2222")) == {qs.number}
    assert numbers(search(client, "(0571)8765 4321")) == {landline.number}
    # exact only: a part of a number finds nothing (the blind index is no substring search)
    assert numbers(search(client, id_number[:-1])) == set()
    assert numbers(search(client, "1391111")) == set()


def test_an_id_number_finds_nothing_outside_the_jurisdiction(signed_in, demo, db):
    id_number = resident_id("11010119850101123")
    qs = register(db, "青石镇的同一当事人", unit=demo.unit("青石镇"), name="孙同人", id_number=id_number,
                  phone="13922223333")
    cg = register(db, "城关街道的同一当事人", unit=demo.unit("城关街道"), name="孙同人", id_number=id_number,
                  phone="13922223333")
    for q in (id_number, "13922223333", "孙同人"):
        township = search(signed_in("qs.staff"), q)
        assert numbers(township) == {qs.number}, q
        assert "城关街道的同一当事人" not in text(township)
        assert numbers(search(signed_in("cg.staff"), q)) == {cg.number}, q
        assert numbers(search(signed_in("center.li"), q)) == {qs.number, cg.number}, q
        assert numbers(search(signed_in("qs02.head"), q)) == set(), q   # 上坝村: neither is its case


@pytest.mark.parametrize("q", ["%", "_", "100%", "\\", "%%", "_%_", "/", "'", '"'])
def test_wildcards_typed_by_the_user_match_only_themselves(signed_in, demo, db, q):
    unit = demo.unit("青石镇")
    literal = register(db, "补偿款仅到位100%%承诺的一半_%_另附\\说明/备注'\"", unit=unit)
    plain = register(db, "补偿款仅到位一半", unit=unit)
    shown = numbers(search(signed_in("qs.staff"), q))
    assert shown == {literal.number}, q
    assert plain.number not in shown


def test_search_never_finds_what_the_actor_cannot_see(signed_in, demo, db):
    elevator = by_summary(db, "反映老旧小区加装电梯意见分歧")  # 城关街道
    accusation = by_summary(db, "举报上坝村村务公开不实、账目不清")
    for q in ("加装电梯", elevator.number, elevator.parties[0].name, elevator.number.split("-")[-1]):
        assert elevator.number not in numbers(search(signed_in("qs.staff"), q))
        assert elevator.number in numbers(search(signed_in("cg.staff"), q))
    for user in ("qs02.head", "qs02.cadre"):
        client = signed_in(user)
        for q in ("举报", accusation.number, accusation.parties[0].name):
            response = search(client, q)
            assert accusation.number not in numbers(response) and "村务公开" not in text(response)
            assert "共 0 件" in text(response) or q == "举报"
        assert "村务公开" not in text(client.get("/cases/"))
    assert accusation.number in numbers(search(signed_in("qs.staff"), "举报"))


def test_bad_filters_are_refused_in_chinese_and_keep_the_form(signed_in):
    client = signed_in("qs.staff")
    for args, field in [({"status": "bogus"}, "status"), ({"risk": "purple"}, "risk"), ({"unit": "abc"}, "unit"),
                        ({"received_from": "2026-13-45"}, "received_from"), ({"page": "0"}, "page"), ({"queue": "all"}, "queue"), ({"is_admin": "1"}, "is_admin")]:
        response = client.get("/cases/", query_string={**args, "kind": "dispute"})
        body = text(response)
        assert response.status_code == 422, args
        assert_no_english(body, str(args))
        page = FormPage(body)
        assert page.errors and all(re.search(r"[\u4e00-\u9fff]", m) for m in page.errors), args
        assert page.selects["kind"]["selected"] == ["dispute"], args
    # the search form is posted: its own bad input is refused the same way, the typing kept
    for data, field in [({"q": "长" * 51}, "q"), ({"status": "bogus"}, "status"), ({"unit": "abc"}, "unit"),
                        ({"unit": str(999999)}, "unit"), ({"is_admin": "1"}, "is_admin")]:
        response = post_search(client, **{"kind": "dispute", **data})
        assert response.status_code == 422, data
        assert_no_english(text(response), str(data))
        page = FormPage(text(response))
        assert page.errors and page.selects["kind"]["selected"] == ["dispute"], data
        if field == "q":
            assert page.inputs["q"][1] == data["q"]


def test_a_search_text_in_the_url_is_refused_and_not_echoed(signed_in, db):
    client = signed_in("qs.staff")
    before = db.session.query(CaseSearch).count()
    response = client.get("/cases/", query_string={"q": "13911112222", "kind": "dispute"})
    body = text(response)
    assert response.status_code == 422 and "搜索内容请在搜索框中输入" in body
    assert "13911112222" not in body
    assert FormPage(body).selects["kind"]["selected"] == ["dispute"]
    assert client.get("/cases/export.xlsx", query_string={"q": "王"}).status_code == 422
    assert db.session.query(CaseSearch).count() == before


def test_paging_and_the_filter_form_keeps_its_values(signed_in, demo, db):
    actor = demo.actor("center.li")
    filters = parse_filters(actor, {"kind": "petition"})
    everything = search_cases(actor, filters, per_page=1000)
    pages = [search_cases(actor, filters, page=p, per_page=4) for p in range(1, 20)]
    assert pages[0].total == everything.total > 8
    collected = [c.number for p in pages[:pages[0].pages] for c in p.cases]
    assert collected == [c.number for c in everything.cases]  # no case twice, none skipped
    assert pages[0].has_next and not pages[0].has_prev and pages[-1].page == pages[0].pages  # clamped
    # the search text never becomes a URL argument: the saved search's id stands for it
    assert Filters({"kind": "petition", "q": "x", "page": 3}).query_args(page=4) == {"kind": "petition", "page": 4}
    assert Filters({"kind": "petition", "q": "x", "search_id": "S" * 32}).query_args(page=2) == {
        "kind": "petition", "s": "S" * 32, "page": 2}
    assert Filters({"q": "x", "search_id": "S" * 32, "kind": "dispute"}).query_args(drop=("q",)) == {"kind": "dispute"}

    unit = demo.unit("青石镇")
    for i in range(52):
        register(db, f"分页测试事项{i:02d}", unit=unit)
    client = signed_in("qs.staff")
    first = search(client, "分页测试", kind="dispute")
    body = text(first)
    assert "共 52 件" in body and len(numbers(first)) == 50
    assert 'rel="next"' in body and 'rel="prev"' not in body
    nxt = re.search(r'href="([^"]+)" rel="next"|rel="next" href="([^"]+)"', body)
    second = client.get((nxt.group(1) or nxt.group(2)).replace("&amp;", "&"))
    assert len(numbers(second)) == 2 and not numbers(second) & numbers(first)
    assert 'rel="prev"' in text(second)
    form = FormPage(text(second))
    assert form.inputs["q"][1] == "分页测试" and form.selects["kind"]["selected"] == ["dispute"]


# --- the search text stays on the server ---------------------------------------------------------------------

@pytest.fixture()
def access_log(app, monkeypatch, caplog):
    """What a front server's access log would hold: gunicorn's default line ("%(r)s" is the request line with
    the query string, "%(f)s" the Referer). Every application log record is captured alongside."""
    inner = app.wsgi_app

    def logged(environ, start_response):
        query = environ.get("QUERY_STRING")
        line = f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}{'?' + query if query else ''} HTTP/1.1"
        # Looked up per request: running the migrations (alembic's fileConfig) disables loggers made before.
        logging.getLogger("test.access").info('%s - - "%s" "%s"', environ.get("REMOTE_ADDR", "-"), line, environ.get("HTTP_REFERER", "-"))
        return inner(environ, start_response)

    monkeypatch.setattr(app, "wsgi_app", logged)
    caplog.set_level(logging.DEBUG)
    return caplog


def test_the_url_and_the_access_log_hold_no_id_phone_or_name(signed_in, demo, db, access_log):
    id_number = resident_id("11010119720815301")
    case = register(db, "日志检查测试事项", unit=demo.unit("青石镇"), name="周日志", id_number=id_number,
                    phone="13933334444")
    for _ in range(51):
        register(db, "日志检查测试事项补充", unit=demo.unit("青石镇"), name="周日志")
    client = signed_in("qs.staff")
    urls = []
    for q in (id_number, "13933334444", "周日志"):
        posted = post_search(client, q, kind="dispute")
        assert posted.status_code == 302
        location = posted.headers["Location"]
        assert re.fullmatch(r"/cases/\?(kind=dispute&)?s=[A-Za-z0-9_-]{32}(&kind=dispute)?", location), location
        page = client.get(location, headers={"Referer": "http://localhost" + location})
        assert page.status_code == 200
        assert case.number in numbers(page) if q != "周日志" else "共 52 件" in text(page)
        assert FormPage(text(page)).inputs["q"][1] == q  # the box shows what was typed
        # every link the page offers (pager, queue tabs, export) carries the id, never the text
        links = [h.replace("&amp;", "&") for h in re.findall(r'href="(/cases/[^"]*\?[^"]*)"', text(page))]
        assert any("page=2" in link for link in links) == (q == "周日志")
        for link in links:
            assert "q=" not in link and "s=" in link, link
        urls += [location, *links]
        for link in links:
            if "export.xlsx" in link or "page=2" in link:
                assert client.get(link, headers={"Referer": "http://localhost" + location}).status_code == 200
    log = "\n".join(r.getMessage() for r in access_log.records)
    assert "GET /cases/?" in log and "POST /cases/search" in log  # the access log was captured
    for value in (id_number, "13933334444", "周日志", "%E5%91%A8"):  # plain or URL-encoded
        assert value not in log
        assert all(value not in url for url in urls)


def test_a_search_id_is_bound_to_its_user(signed_in, demo, db):
    id_number = resident_id("11010119660606222")
    case = register(db, "检索编号归属测试", unit=demo.unit("青石镇"), name="吴归属", id_number=id_number)
    mine = signed_in("qs.staff")
    location = post_search(mine, id_number).headers["Location"]
    search_id = re.search(r"s=([A-Za-z0-9_-]+)", location).group(1)
    assert numbers(mine.get(location)) == {case.number}
    # another user, even one who covers the case, does not get the search: 404 and nothing of it shown
    for user in ("center.li", "qs01.cadre", "cg.staff"):
        other = signed_in(user)
        for url in (location, f"/cases/export.xlsx?s={search_id}"):
            response = other.get(url)
            assert response.status_code in (404, 403), (user, url)
            assert id_number not in text(response) and "吴归属" not in text(response)
        assert other.get(location).status_code == 404
    for bad in ("x" * 32, "short", "'; DROP TABLE cases; --", "Ａ" * 32):
        assert mine.get("/cases/", query_string={"s": bad}).status_code == 404
    # the stored criteria are ciphertext: no value in the clear
    row = db.session.get(CaseSearch, search_id)
    assert row.user_id == demo.user("qs.staff").id
    assert id_number not in repr(row.criteria) and "吴归属" not in repr(row.criteria)


def test_a_search_expires_and_old_searches_are_purged(signed_in, demo, db):
    client = signed_in("qs.staff")
    location = post_search(client, "交通安全", kind="petition").headers["Location"]
    search_id = re.search(r"s=([A-Za-z0-9_-]+)", location).group(1)
    assert client.get(location).status_code == 200
    row = db.session.get(CaseSearch, search_id)
    row.created_at = row.created_at - timedelta(hours=13)
    db.session.commit()
    expired = client.get(location)
    assert expired.status_code == 302 and "s=" not in expired.headers["Location"]
    assert "kind=petition" in expired.headers["Location"]
    assert "搜索已过期" in text(client.get(expired.headers["Location"]))
    assert db.session.get(CaseSearch, search_id) is not None
    post_search(client, "新的搜索")  # saving a search purges every expired one
    db.session.expire_all()
    assert db.session.get(CaseSearch, search_id) is None


def test_export_and_filters_without_text_keep_working_from_the_form(signed_in, demo, db):
    client = signed_in("qs.staff")
    posted = post_search(client, "", kind="petition", risk="yellow")
    assert posted.status_code == 302 and "s=" not in posted.headers["Location"]
    assert numbers(client.get(posted.headers["Location"])) == visible_numbers(
        db, demo.actor("qs.staff"), kind="petition", risk_colour="yellow")
    assert db.session.query(CaseSearch).count() == 0
    # the checkboxes travel on as the list's own arguments
    ticked = post_search(client, "", overdue="1", repeat="1")
    assert ticked.status_code == 302
    assert {"overdue=1", "repeat=1"} <= set(ticked.headers["Location"].split("?")[1].split("&"))
    assert client.get(ticked.headers["Location"]).status_code == 200
