"""Attacker tests, session 5: the API case search (POST /api/v1/cases/search) — jurisdiction, the 检举控告
rule, service-token scopes, the cookie path, wildcards, masking, and GET ?q= refusing identifiers.

Each test is an attack that must fail; a failing test is a hole (its docstring gives the reproduction)."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import csrf_token
from tests.core.attack5_support import _bearer, _numbers, _own_token, _search, _service_token, _valid_id
from tests.factories import make_case, make_user

# --- 1. POST /api/v1/cases/search ---------------------------------------------------------------------------


def test_search_by_id_phone_short_number_and_name_stays_inside_the_township(app, db, demo):
    """柳河镇's case, searched by 青石镇's clerk with everything the attacker may hold about its applicant."""
    id_number, phone = _valid_id("11010119850101456"), "13912345678"
    foreign = make_case(demo, "lh.staff", "柳河镇", summary="外镇检索攻击：宅基地界址", repeat_of=None, commit=True,
                        parties=[{"role": "applicant", "kind": "person", "name": "外镇甲某", "id_type": "resident_id",
                                  "id_number": id_number, "phone": phone}])
    client = app.test_client()
    qs, lh = _bearer(_own_token(demo, "qs.staff")), _bearer(_own_token(demo, "lh.staff"))
    short = foreign.number.rsplit("-", 1)[1]
    year_short = "-".join(foreign.number.split("-")[1:])
    for q in (id_number, id_number.lower(), phone, f"+86 {phone}", short, year_short, foreign.number, "外镇甲某",
              "外镇检索攻击", "SF", "%", "_", "%外镇%"):
        assert foreign.number not in _search(client, q, qs), q
    assert foreign.number in _search(client, id_number, lh)  # the search itself works


def test_search_never_finds_an_accusation_against_the_searchers_unit(app, db, demo):
    """检举控告 against 青石镇, from a village of 青石镇, handled at the district: 青石镇's clerk, leader and the
    village's grid worker search it by the accuser's ID number, phone, name, short number — nothing."""
    id_number, phone = _valid_id("11010119791212001"), "13800001111"
    accusation = make_case(demo, "center.li", "青石村", kind="petition", petition_class="accusation",
                           accused="青石镇", summary="检举青石镇干部违规发放补贴", repeat_of=None, commit=True,
                           parties=[{"role": "applicant", "kind": "person", "name": "举报人丙",
                                     "id_type": "resident_id", "id_number": id_number, "phone": phone}])
    assert accusation.accused_unit.name == "青石镇"
    client = app.test_client()
    short = accusation.number.rsplit("-", 1)[1]
    for who in ("qs.staff", "qs.leader", "qs01.head", "qs01.g1"):
        headers = _bearer(_own_token(demo, who))
        for q in (id_number, phone, "举报人丙", short, accusation.number, "违规发放补贴"):
            assert accusation.number not in _search(client, q, headers), (who, q)
        got = client.get(f"/api/v1/cases/{accusation.number}", headers=headers)
        assert got.status_code == 404, who
    # the district center that handles it finds it
    assert accusation.number in _search(client, id_number, _bearer(_own_token(demo, "center.li")))


def test_like_wildcards_in_q_match_only_themselves(app, db, demo):
    """'%', '_', '\\' and the escape character itself are literal: they never widen a word to every case."""
    from center.cases.models import Case, Party
    from center.cases.queries import cases_query

    literal = make_case(demo, "qs.staff", "青石镇", summary="欠薪100%未付_测试/转义", repeat_of=None, commit=True)
    client = app.test_client()
    headers = _bearer(_own_token(demo, "qs.staff"))
    actor = demo.actor("qs.staff")
    visible = list(db.session.scalars(cases_query(actor)))
    for q in ("%", "_", "%%", "__", "100%", "%_", "/", "//", "\\", "[", "*", "欠薪100%"):
        def hit(c: Case, q=q) -> bool:
            names = [p.name for p in db.session.scalars(select(Party).where(Party.case_id == c.id))]
            return all(w in (c.summary or "") or c.number.startswith(w.upper()) or any(w in n for n in names)
                       for w in q.split())
        expected = {c.number for c in visible if hit(c)}
        assert _search(client, q, headers) == expected, q
    assert literal.number in _search(client, "100%", headers)


def test_search_answers_no_plain_id_number_or_phone(app, db, demo):
    id_number, phone = _valid_id("11010119900307457"), "13987654321"
    case = make_case(demo, "qs.staff", "青石镇", summary="掩码检索测试", repeat_of=None, commit=True,
                     parties=[{"role": "applicant", "kind": "person", "name": "掩码乙", "id_type": "resident_id",
                               "id_number": id_number, "phone": phone, "address": "青石镇青石村五组十二号"}])
    client = app.test_client()
    headers = _bearer(_own_token(demo, "qs.staff"))
    for q in (id_number, phone, "掩码乙"):
        response = client.post("/api/v1/cases/search", json={"q": q}, headers=headers)
        body = response.get_data(as_text=True)
        assert case.number in body and id_number not in body and phone not in body
        assert id_number[6:14] not in body and phone[3:7] + phone[7:] not in body
    detail = client.get(f"/api/v1/cases/{case.number}", headers=headers).get_data(as_text=True)
    assert id_number not in detail and phone not in detail and "五组十二号" not in detail


def test_cookie_search_without_the_csrf_header_is_refused(app, db, demo, signed_in):
    staff = signed_in("qs.staff")
    refused = staff.post("/api/v1/cases/search", json={"q": "排水沟"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf_failed"
    wrong = staff.post("/api/v1/cases/search", json={"q": "排水沟"}, headers={"X-CSRFToken": "forged"})
    assert wrong.status_code == 400
    token = csrf_token(staff)
    assert staff.post("/api/v1/cases/search", json={"q": "排水沟"}, headers={"X-CSRFToken": token}).status_code == 200
    # An anonymous caller gets 401, with or without a header.
    assert app.test_client().post("/api/v1/cases/search", json={"q": "排水沟"}).status_code == 401


def test_a_broken_bearer_header_never_falls_back_to_the_cookie(app, db, demo, signed_in):
    staff = signed_in("qs.staff")
    token = csrf_token(staff)
    for header in ("", "Bearer", "Bearer ", "Basic abc", "bearer mdt_" + "x" * 43, "Token mdt_abc"):
        response = staff.post("/api/v1/cases/search", json={"q": "排水沟"},
                              headers={"Authorization": header, "X-CSRFToken": token})
        assert response.status_code == 401, header


def test_service_tokens_scoped_to_other_actions_cannot_search(app, db, demo):
    account = make_user(demo, "svc.create", kind="service", memberships=[("township_staff", "青石镇")], commit=True)
    client = app.test_client()
    for actions in (["cases.create"], ["cases.transition"], ["cases.create", "cases.transition"]):
        plain = _service_token(demo, account, actions, "青石镇")
        response = client.post("/api/v1/cases/search", json={"q": "排水沟"}, headers=_bearer(plain))
        assert response.status_code == 403, actions
        assert client.get("/api/v1/cases", headers=_bearer(plain)).status_code == 403


def test_a_service_token_search_stays_inside_its_unit_subtree(app, db, demo):
    id_number = _valid_id("11010119770707070")
    parties = [{"role": "applicant", "kind": "person", "name": "子树丁", "id_type": "resident_id",
                "id_number": id_number}]
    inside = make_case(demo, "qs.staff", "青石镇", summary="子树内事项", parties=parties, repeat_of=None, commit=True)
    outside = make_case(demo, "lh.staff", "柳河镇", summary="子树外事项", parties=parties, repeat_of="none",
                        commit=True)
    account = make_user(demo, "svc.subtree", kind="service",
                        memberships=[("township_staff", "青石镇"), ("township_staff", "柳河镇")], commit=True)
    headers = _bearer(_service_token(demo, account, ["cases.read"], "青石镇"))
    client = app.test_client()
    for q in (id_number, "子树丁", outside.number, outside.number.rsplit("-", 1)[1]):
        found = _search(client, q, headers)
        assert outside.number not in found, q
    assert inside.number in _search(client, id_number, headers)



def test_a_service_token_does_not_reach_cases_its_account_filed_under_another_scope(app, db, demo):
    """HOLE if this fails. The account holds posts at 青石镇 and 柳河镇. Token B (cases.create, scope 柳河镇)
    registers a case in 柳河村; token A (cases.read, scope 青石镇 only) then reads it — GET
    /api/v1/cases/<number> answers 200 and POST /api/v1/cases/search finds it — because cases_query's
    "filed_by_user_id == actor.user_id" arm ignores the token's unit subtree (g.actor_within narrows only the
    memberships). A token scoped to 青石镇 must not find 柳河镇's cases."""
    account = make_user(demo, "svc.filer", kind="service",
                        memberships=[("township_staff", "青石镇"), ("township_staff", "柳河镇")], commit=True)
    writer = _bearer(_service_token(demo, account, ["cases.create"], "柳河镇"))
    reader = _bearer(_service_token(demo, account, ["cases.read"], "青石镇"))
    client = app.test_client()
    body = {"origin_unit_id": demo.unit("柳河村").id, "kind": "dispute", "category": "其他", "channel": "online",
            "summary": "柳河镇对接系统登记：灌溉水渠纠纷", "people_count": 1, "risk_colour": "blue", "repeat_of": "none",
            "parties": [{"role": "applicant", "kind": "person", "name": "水渠戊", "phone": "13811112222"}]}
    created = client.post("/api/v1/cases", json=body, headers=writer)
    assert created.status_code == 201, created.get_data(as_text=True)[:400]
    number = created.get_json()["number"]
    assert client.get(f"/api/v1/cases/{number}", headers=reader).status_code == 404
    assert number not in _search(client, "水渠戊", reader)
    assert number not in _search(client, "13811112222", reader)
    assert number not in _numbers(client.get("/api/v1/cases", query_string={"limit": 100}, headers=reader))



def test_a_service_token_scope_does_not_unhide_an_accusation_against_the_accounts_other_unit(app, db, demo):
    """HOLE if this fails. The account holds posts at 青石镇 and 柳河镇; an accusation against 柳河镇 arises in
    青石村 (so 青石镇 covers its origin). Signed in with all its posts the account must not see it (it is a user of
    the accused unit). Its token scoped to 青石镇 drops the 柳河镇 post from the actor — and with it the
    检举控告 rule's membership set (queries.membership_unit_ids) — so GET /api/v1/cases/<number> answers 200
    and the accusation reaches the accused unit's own system. Narrowing must never widen."""
    from center.cases.models import Case
    from center.cases.queries import can_see, cases_query
    from core.actor import Actor

    accusation = make_case(demo, "qs.staff", "青石村", kind="petition", petition_class="accusation", accused="柳河镇",
                           summary="检举柳河镇站所违规收费", repeat_of=None, commit=True,
                           parties=[{"role": "applicant", "kind": "person", "name": "举报人己"}])
    account = make_user(demo, "svc.accused", kind="service",
                        memberships=[("township_staff", "青石镇"), ("township_staff", "柳河镇")], commit=True)
    full = Actor.for_user(account)
    assert not can_see(full, accusation)
    assert accusation.id not in set(db.session.scalars(cases_query(full).with_only_columns(Case.id)))
    headers = _bearer(_service_token(demo, account, ["cases.read"], "青石镇"))
    client = app.test_client()
    assert client.get(f"/api/v1/cases/{accusation.number}", headers=headers).status_code == 404
    assert accusation.number not in _search(client, "举报人己", headers)
    assert client.get(f"/api/v1/cases/{accusation.number}/events", headers=headers).status_code == 404


def test_get_list_refuses_a_personal_identifier_in_q(app, db, demo):
    """GET /api/v1/cases?q=<ID number or phone> is refused (422): the query string lands in access logs."""
    client = app.test_client()
    headers = _bearer(_own_token(demo, "qs.staff"))
    id_number = _valid_id()
    for q in (id_number, id_number.lower(), f" {id_number} ", f"{id_number[:6]} {id_number[6:14]} {id_number[14:]}",
              "13901019876", "139 0101 9876", "+8613901019876", "139-0101-9876", "0571-87654321"):
        response = client.get("/api/v1/cases", query_string={"q": q}, headers=headers)
        assert response.status_code == 422, q




def test_get_list_refuses_an_id_number_or_phone_among_the_words_of_q(app, db, demo):
    """HOLE (minor) if this fails: GET /api/v1/cases refuses q only when the *whole* q is a valid ID number or
    phone. ``GET /api/v1/cases?q=张三 110101199003071233`` (a name and the ID number, as a clerk types them),
    ``q=举报电话 13901019876``, the ID number written with hyphens ``110101-19900307-1233`` or in full-width
    digits (a Chinese IME in full-width mode) all answer 200 — and the ID number or phone is now in the access
    log, the Referer and the proxy's log, which is what the 422 exists to prevent."""
    client = app.test_client()
    headers = _bearer(_own_token(demo, "qs.staff"))
    id_number = _valid_id()
    full_width = id_number.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    for q in (f"张三 {id_number}", f"{id_number} 宅基地", "举报电话 13901019876", full_width,
              "１３９０１０１９８７６", f"{id_number[:6]}-{id_number[6:14]}-{id_number[14:]}"):
        response = client.get("/api/v1/cases", query_string={"q": q}, headers=headers)
        assert response.status_code == 422, q
