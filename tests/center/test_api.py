"""JSON API /api/v1 over real HTTP (Flask client) on the real database: bearer tokens and the session cookie
with its CSRF header, jurisdiction (404 outside it, the 检举控告 rule), intake with field errors, transitions
(422 / 403), the timeline, and personal data that never leaves unmasked."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token
from tests.factories import case_maker

HAN = re.compile(r"[\u3400-\u9fff]")
PHONE = "13901019876"


def _valid_id() -> str:
    from center.cases.intake.identity import resident_id_check_char

    first17 = "11010119900307123"
    return first17 + resident_id_check_char(first17)


def _token(demo, username: str, **kw) -> str:
    """A personal token, issued by its owner (nobody issues one in another person's name)."""
    from core.accounts.tokens import issue_token

    _row, plain = issue_token(demo.user(username), label="测试对接", actor=demo.actor(username), **kw)
    demo.db.session.commit()
    return plain


def _bearer(plain: str) -> dict:
    return {"Authorization": f"Bearer {plain}"}


# _register(demo, username, origin, **fields): a petition (by default) registered and committed.
_register = case_maker(kind="petition", summary="接口测试事项", repeat_of=None, commit=True)


def _intake_body(demo, **extra) -> dict:
    body = {"origin_unit_id": demo.unit("青石镇").id, "kind": "petition", "petition_class": "appeal",
            "category": "其他", "channel": "online", "summary": "反映村道路灯损坏无人修理", "demands": "尽快修复路灯",
            "people_count": 2, "risk_colour": "blue",
            "parties": [{"role": "applicant", "kind": "person", "name": "周测试", "id_number": _valid_id(),
                         "phone": PHONE, "address": "示范区青石镇青石村五组十二号"}]}
    body.update(extra)
    return body


def _assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert HAN.search(error["message"]), error
    if code is not None:
        assert error["code"] == code, error
    for messages in error["fields"].values():
        assert all(HAN.search(m) for m in messages), error
    return error


# --- bearer tokens ---------------------------------------------------------------------------------------------


def test_a_valid_token_lists_the_users_cases(app, db, demo):
    plain = _token(demo, "qs.staff")
    response = app.test_client().get("/api/v1/cases", headers=_bearer(plain))
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] >= 1 and body["items"]
    assert response.headers.get("Set-Cookie") is None  # a bearer request opens no session


def test_a_token_acts_as_its_user_with_the_api_channel(app, db, demo):
    from core.audit.models import AuditEntry

    plain = _token(demo, "qs.staff")
    response = app.test_client().post("/api/v1/cases", json=_intake_body(demo), headers=_bearer(plain))
    assert response.status_code == 201, response.get_data(as_text=True)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "case.registered")
                              .order_by(AuditEntry.id.desc()).limit(1))
    assert entry.actor_user_id == demo.user("qs.staff").id
    assert entry.channel == "api"


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer ", "Basic cXMuc3RhZmY6U2hpZmFuIzIwMjY=", "Bearer not-a-token", "Token mdt_" + "a" * 43,
    "Bearer mdt_" + "a" * 43, "Bearer mdt_" + "a" * 42 + "!", "bearer mdt_" + "b" * 43 + " extra",
])
def test_malformed_or_unknown_tokens_get_401(app, db, demo, header):
    response = app.test_client().get("/api/v1/cases", headers={"Authorization": header})
    error = _assert_error(response, 401, "unauthenticated")
    assert "令牌" in error["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_stored_hash_is_not_a_token(app, db, demo):
    """Another user's stored hash, presented as a token, opens nothing (we hash what we are given)."""
    from core.accounts.models import ApiToken

    _token(demo, "center.li")
    stored = db.session.scalar(select(ApiToken).order_by(ApiToken.id.desc()).limit(1))
    for candidate in (stored.token_hash, "mdt_" + stored.token_hash[:43]):
        response = app.test_client().get("/api/v1/cases", headers=_bearer(candidate))
        _assert_error(response, 401)


def test_revoked_and_expired_tokens_get_401(app, db, demo):
    from core.accounts.models import ApiToken
    from core.accounts.tokens import revoke_token, token_hash
    from core.db import utcnow

    revoked = _token(demo, "qs.staff")
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(revoked)))
    client = app.test_client()
    assert client.get("/api/v1/cases", headers=_bearer(revoked)).status_code == 200
    revoke_token(row, actor=demo.actor("admin"))
    db.session.commit()
    _assert_error(client.get("/api/v1/cases", headers=_bearer(revoked)), 401)

    expiring = _token(demo, "qs.staff", expires_at=utcnow() + timedelta(hours=1))
    assert client.get("/api/v1/cases", headers=_bearer(expiring)).status_code == 200
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(expiring)))
    row.expires_at = utcnow() - timedelta(seconds=1)  # time passes (ApiToken is not audited tier data)
    db.session.commit()
    _assert_error(client.get("/api/v1/cases", headers=_bearer(expiring)), 401)


def test_a_disabled_user_or_one_without_membership_gets_401(app, db, demo):
    from core.accounts.operations import end_membership, set_user_active

    disabled = _token(demo, "qs01.cadre")
    set_user_active(demo.user("qs01.cadre"), False, actor=demo.actor("admin"))
    db.session.commit()
    _assert_error(app.test_client().get("/api/v1/cases", headers=_bearer(disabled)), 401)

    ended = _token(demo, "qs02.cadre")
    for m in demo.user("qs02.cadre").memberships:
        end_membership(m, actor=demo.actor("admin"))
    db.session.commit()
    _assert_error(app.test_client().get("/api/v1/cases", headers=_bearer(ended)), 401)


def test_refusals_are_security_events(app, db, demo):
    from core.audit.models import AuditEntry

    before = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    app.test_client().get("/api/v1/cases", headers=_bearer("mdt_" + "z" * 43))
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.id > before, AuditEntry.action == "api.token_refused"))
    assert entry is not None and entry.result == "unknown" and entry.channel == "api"


def test_last_used_is_written_at_most_once_a_minute(app, db, demo):
    from core.accounts.models import ApiToken
    from core.accounts.tokens import token_hash, verify_token
    from core.db import utcnow

    plain = _token(demo, "qs.staff")
    row_id = db.session.scalar(select(ApiToken.id).where(ApiToken.token_hash == token_hash(plain)))

    def last_used():
        db.session.expire_all()
        return db.session.get(ApiToken, row_id).last_used_at

    assert last_used() is None
    before = utcnow()
    assert app.test_client().get("/api/v1/cases", headers=_bearer(plain)).status_code == 200
    t0 = last_used()
    assert t0 is not None and t0 >= before
    assert verify_token(plain, now=t0 + timedelta(seconds=59)).user_id == demo.user("qs.staff").id
    assert last_used() == t0
    verify_token(plain, now=t0 + timedelta(seconds=61))
    assert last_used() == t0 + timedelta(seconds=61)


def test_the_token_decides_even_with_another_users_cookie(app, db, demo, signed_in):
    """A token request is the token's user: a cookie sent along neither adds rights nor needs a CSRF token."""
    cg_case = _register(demo, "cg.staff", "城关街道")
    client = signed_in("cg.staff")
    assert client.get(f"/api/v1/cases/{cg_case.number}").status_code == 200
    plain = _token(demo, "qs.staff")
    _assert_error(client.get(f"/api/v1/cases/{cg_case.number}", headers=_bearer(plain)), 404)
    response = client.post("/api/v1/cases", json=_intake_body(demo), headers=_bearer(plain))
    assert response.status_code == 201
    bad = client.get("/api/v1/cases", headers=_bearer("mdt_" + "q" * 43))
    _assert_error(bad, 401)  # a bad token never falls back to the cookie


# --- the session cookie and its CSRF header --------------------------------------------------------------------


def test_cookie_post_without_the_csrf_header_is_refused(app, db, demo, signed_in):
    from center.cases.models import Case

    client = signed_in("qs.staff")
    count = db.session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
    for headers in ({}, {"X-CSRFToken": "not-a-token"}):
        response = client.post("/api/v1/cases", json=_intake_body(demo), headers=headers)
        error = _assert_error(response, 400, "csrf_failed")
        assert "CSRF" in error["message"]
    assert db.session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1)) == count
    response = client.post("/api/v1/cases", json=_intake_body(demo), headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 201, response.get_data(as_text=True)


def test_a_csrf_token_of_another_session_is_refused(app, db, demo, signed_in):
    other = signed_in("qs.leader")
    client = signed_in("qs.staff")
    response = client.post("/api/v1/cases", json=_intake_body(demo), headers={"X-CSRFToken": csrf_token(other)})
    _assert_error(response, 400, "csrf_failed")


def test_cookie_get_needs_no_csrf_header(app, db, demo, signed_in):
    assert signed_in("qs.staff").get("/api/v1/cases").status_code == 200


def test_anonymous_gets_401_in_the_api_envelope(app, db, demo):
    client = app.test_client()
    for method, url in (("GET", "/api/v1/cases"), ("POST", "/api/v1/cases"), ("GET", "/api/v1/cases/SF-2026-000001"),
                        ("GET", "/api/v1/cases/SF-2026-000001/events")):
        _assert_error(client.open(url, method=method, json={}), 401, "unauthenticated")


def test_a_user_without_the_permission_gets_403(app, db, demo):
    plain = _token(demo, "auditor")
    _assert_error(app.test_client().get("/api/v1/cases", headers=_bearer(plain)), 403, "forbidden")


# --- jurisdiction ---------------------------------------------------------------------------------------------


def test_cases_outside_jurisdiction_are_404_and_never_listed(app, db, demo):
    cg_case = _register(demo, "cg.staff", "城关街道", summary="城关独有的接口测试事项")
    qs = _bearer(_token(demo, "qs.staff"))
    client = app.test_client()
    for url in (f"/api/v1/cases/{cg_case.number}", f"/api/v1/cases/{cg_case.number}/events"):
        _assert_error(client.get(url, headers=qs), 404, "not_found")
    _assert_error(client.post(f"/api/v1/cases/{cg_case.number}/transitions", json={"action": "accept"},
                              headers=qs), 404)
    for params in ({}, {"q": cg_case.number}, {"q": "城关独有"}, {"limit": 100}):
        body = client.get("/api/v1/cases", query_string=params, headers=qs).get_json()
        assert cg_case.number not in {c["number"] for c in body["items"]}
    assert client.get("/api/v1/cases", query_string={"q": "城关独有"}, headers=qs).get_json()["total"] == 0
    cg = _bearer(_token(demo, "cg.staff"))
    found = client.get("/api/v1/cases", query_string={"q": "城关独有"}, headers=cg).get_json()
    assert [c["number"] for c in found["items"]] == [cg_case.number] and found["total"] == 1


def test_an_accusation_is_hidden_from_the_accused_units_staff(app, db, demo):
    case = _register(demo, "center.li", "示范区", petition_class="accusation", accused_unit=demo.unit("青石镇"),
                     summary="检举青石镇某干部接口测试")
    client = app.test_client()
    qs = _bearer(_token(demo, "qs.staff"))
    for url in (f"/api/v1/cases/{case.number}", f"/api/v1/cases/{case.number}/events"):
        _assert_error(client.get(url, headers=qs), 404)
    listed = client.get("/api/v1/cases", query_string={"q": case.number, "limit": 100}, headers=qs).get_json()
    assert listed["total"] == 0 and listed["items"] == []
    center = _bearer(_token(demo, "center.chen"))
    assert client.get(f"/api/v1/cases/{case.number}", headers=center).status_code == 200


def test_an_unknown_or_malformed_number_is_404(app, db, demo):
    qs = _bearer(_token(demo, "qs.staff"))
    client = app.test_client()
    for number in ("SF-2026-999999", "nonsense", "SF-2026-00000%27"):
        _assert_error(client.get(f"/api/v1/cases/{number}", headers=qs), 404)


# --- intake ---------------------------------------------------------------------------------------------------


def test_intake_answers_the_case_with_personal_data_masked(app, db, demo):
    qs = _bearer(_token(demo, "qs.staff"))
    client = app.test_client()
    response = client.post("/api/v1/cases", json=_intake_body(demo, occurred_on="2025-06-01"), headers=qs)
    assert response.status_code == 201, response.get_data(as_text=True)
    case = response.get_json()
    assert case["status"] == "registered" and case["kind"] == "petition"
    assert case["occurred_on"] == "2025-06-01" and case["people_count"] == 2
    assert case["origin_unit"]["name"] == "青石镇"
    party = case["parties"][0]
    assert party["id_number"] == _valid_id()[:4] + "*" * 10 + _valid_id()[-4:]
    assert party["phone"] == "139****9876"
    assert "*" in party["address"]
    for url in (f"/api/v1/cases/{case['number']}", "/api/v1/cases?limit=100"):
        text = client.get(url, headers=qs).get_data(as_text=True)
        assert _valid_id() not in text and PHONE not in text and "五组十二号" not in text
    assert _valid_id() not in response.get_data(as_text=True)


@pytest.mark.parametrize(("change", "field"), [
    ({"parties": [{"name": "周测试", "id_number": "110101199003071235"}]}, "parties.0.id_number"),
    ({"parties": [{"name": "周测试", "phone": "12345"}]}, "parties.0.phone"),
    ({"parties": [{"name": ""}]}, "parties.0.name"),
    ({"parties": []}, "parties"),
    ({"kind": "complaint"}, "kind"),
    ({"summary": ""}, "summary"),
    ({"people_count": 0}, "people_count"),
    ({"people_count": "三"}, "people_count"),
    ({"category": "不存在的类别"}, "category"),
    ({"kind": "dispute"}, "petition_class"),
    ({"origin_unit_id": 2**31 - 1}, "origin_unit_id"),
    ({"occurred_on": "2999-01-01"}, "occurred_on"),
    ({"is_admin": True}, "is_admin"),
    ({"intake_key": "短"}, "intake_key"),
])
def test_intake_field_errors_are_422_in_chinese_and_change_nothing(app, db, demo, change, field):
    from center.cases.models import Case

    last = db.session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
    qs = _bearer(_token(demo, "qs.staff"))
    response = app.test_client().post("/api/v1/cases", json=_intake_body(demo, **change), headers=qs)
    error = _assert_error(response, 422, "validation_failed")
    assert field in error["fields"], error
    assert db.session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1)) == last


def test_intake_at_a_unit_outside_jurisdiction_is_a_field_error(app, db, demo):
    qs = _bearer(_token(demo, "qs.staff"))
    body = _intake_body(demo, origin_unit_id=demo.unit("城关街道").id)
    error = _assert_error(app.test_client().post("/api/v1/cases", json=body, headers=qs), 422)
    assert "origin_unit_id" in error["fields"]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"{bad json"])
def test_a_body_that_is_not_a_json_object_is_400(app, db, demo, body):
    qs = _bearer(_token(demo, "qs.staff"))
    response = app.test_client().post("/api/v1/cases", data=body, content_type="application/json", headers=qs)
    _assert_error(response, 400, "bad_request")


def test_intake_with_the_same_key_answers_the_first_case(app, db, demo):
    from center.cases.models import Case

    qs = _bearer(_token(demo, "qs.staff"))
    client = app.test_client()
    body = _intake_body(demo, intake_key="api-test-key-0001")
    first = client.post("/api/v1/cases", json=body, headers=qs)
    assert first.status_code == 201
    again = client.post("/api/v1/cases", json=body, headers=qs)
    assert again.status_code == 200
    assert again.get_json()["number"] == first.get_json()["number"]
    assert len(db.session.scalars(select(Case).where(Case.intake_key == "api-test-key-0001")).all()) == 1
    other = _bearer(_token(demo, "cg.staff"))
    reused = client.post("/api/v1/cases", json=_intake_body(demo, intake_key="api-test-key-0001",
                                                           origin_unit_id=demo.unit("城关街道").id), headers=other)
    assert _assert_error(reused, 422)["fields"].keys() == {"intake_key"}


# --- transitions and the timeline ------------------------------------------------------------------------------


def test_a_transition_moves_the_case_and_lands_on_the_timeline(app, db, demo):
    case = _register(demo, "qs.staff", "青石镇")
    qs = _bearer(_token(demo, "qs.staff"))
    client = app.test_client()
    response = client.post(f"/api/v1/cases/{case.number}/transitions", json={"action": "accept", "note": "予以受理"},
                           headers=qs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "accepted"
    events = client.get(f"/api/v1/cases/{case.number}/events", headers=qs).get_json()["items"]
    assert [e["action"] for e in events] == ["register", "accept"]
    accept = events[-1]
    assert accept["from_status"] == "registered" and accept["to_status"] == "accepted"
    assert accept["note"] == "予以受理" and accept["actor"] == demo.user("qs.staff").display_name
    assert accept["action_label"] == "受理"
    assert all(e["at"].endswith("+08:00") for e in events)


def test_a_transition_the_state_machine_refuses_is_422_and_changes_nothing(app, db, demo):
    from center.cases.models import CaseEvent

    case = _register(demo, "qs.staff", "青石镇")
    qs = _bearer(_token(demo, "qs.leader"))
    before = db.session.scalar(select(CaseEvent.id).order_by(CaseEvent.id.desc()).limit(1))
    response = app.test_client().post(f"/api/v1/cases/{case.number}/transitions", json={"action": "close"},
                                      headers=qs)
    error = _assert_error(response, 422, "invalid_transition")
    assert "已登记" in error["message"]
    db.session.expire_all()
    assert case.status.value == "registered"
    assert db.session.scalar(select(CaseEvent.id).order_by(CaseEvent.id.desc()).limit(1)) == before


def test_a_transition_the_actor_may_not_perform_is_403(app, db, demo):
    """A grid worker sees the dispute they filed, but triage belongs to the handling side."""
    case = _register(demo, "qs01.g1", "青石村第1网格", kind="dispute", category="邻里纠纷", channel="grid_agent")
    g1 = _bearer(_token(demo, "qs01.g1"))
    client = app.test_client()
    assert client.get(f"/api/v1/cases/{case.number}", headers=g1).status_code == 200
    _assert_error(client.post(f"/api/v1/cases/{case.number}/transitions", json={"action": "accept"}, headers=g1),
                  403, "forbidden")
    db.session.expire_all()
    assert case.status.value == "registered"


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "fly"}, "action"), ({}, "action"), ({"action": "accept", "extra": 1}, "extra"),
    ({"action": "hand_down"}, "unit_id"), ({"action": "hand_down", "unit_id": 2**31 - 1}, "unit_id"),
    ({"action": "accept", "consent": ["neighbour"]}, "consent.0"),
])
def test_transition_field_errors(app, db, demo, body, field):
    case = _register(demo, "qs.staff", "青石镇", kind="dispute", category="邻里纠纷")
    qs = _bearer(_token(demo, "qs.staff"))
    response = app.test_client().post(f"/api/v1/cases/{case.number}/transitions", json=body, headers=qs)
    error = _assert_error(response, 422, "validation_failed")
    assert field in error["fields"], error


def test_hand_down_through_the_api(app, db, demo):
    case = _register(demo, "qs.staff", "青石镇", kind="dispute", category="邻里纠纷")
    qs = _bearer(_token(demo, "qs.staff"))
    response = app.test_client().post(f"/api/v1/cases/{case.number}/transitions",
                                      json={"action": "hand_down", "unit_id": demo.unit("青石村").id}, headers=qs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["handling_unit"]["name"] == "青石村"


def test_list_filters_and_paging(app, db, demo):
    qs = _bearer(_token(demo, "qs.staff"))
    client = app.test_client()
    everything = client.get("/api/v1/cases", query_string={"limit": 100}, headers=qs).get_json()
    assert everything["total"] >= 3
    page = client.get("/api/v1/cases", query_string={"limit": 2, "offset": 1}, headers=qs).get_json()
    assert [c["number"] for c in page["items"]] == [c["number"] for c in everything["items"][1:3]]
    disputes = client.get("/api/v1/cases", query_string={"kind": "dispute", "limit": 100}, headers=qs).get_json()
    assert disputes["items"] and all(c["kind"] == "dispute" for c in disputes["items"])
    accepted = client.get("/api/v1/cases", query_string={"status": "accepted"}, headers=qs).get_json()
    assert all(c["status"] == "accepted" for c in accepted["items"])
    for params, field in (({"limit": 101}, "limit"), ({"limit": 0}, "limit"), ({"offset": -1}, "offset"),
                          ({"status": "lost"}, "status"), ({"limit": "many"}, "limit"), ({"page": 2}, "page")):
        error = _assert_error(client.get("/api/v1/cases", query_string=params, headers=qs), 422)
        assert field in error["fields"]


def test_unknown_paths_and_methods_answer_in_the_envelope(app, db, demo):
    qs = _bearer(_token(demo, "qs.staff"))
    client = app.test_client()
    _assert_error(client.get("/api/v1/nothing-here", headers=qs), 404, "not_found")
    _assert_error(client.delete("/api/v1/cases", headers=qs), 405, "method_not_allowed")


def test_a_user_who_must_change_the_password_gets_a_json_403_not_a_redirect(app, db, demo):
    from core.accounts.operations import reset_password

    reset_password(demo.user("qs.staff"), new_password="Neues#Passwort2026", actor=demo.actor("admin"))
    db.session.commit()
    plain = _token(demo, "qs.staff")  # the reset ended earlier tokens; one issued since meets the forced change
    response = app.test_client().get("/api/v1/cases", headers=_bearer(plain))
    assert "Location" not in response.headers
    _assert_error(response, 403, "password_change_required")


def test_search_by_what_the_clerk_holds_goes_in_the_body_not_the_url(app, db, demo):
    """POST /cases/search finds by full ID number and phone (blind index), short number and party name, within
    the caller's jurisdiction only; GET's q refuses an ID number or phone (it would land in the access log)."""
    case = _register(demo, "qs.staff", "青石镇", summary="接口查找测试：宅基地界址纠纷",
                     parties=[{"role": "applicant", "kind": "person", "name": "查找测试甲", "id_number": _valid_id(),
                               "phone": PHONE}])
    client = app.test_client()
    qs, cg = _bearer(_token(demo, "qs.staff")), _bearer(_token(demo, "cg.staff"))
    short = case.number.rsplit("-", 1)[1]
    for q in (_valid_id(), _valid_id().lower(), PHONE, "139 0101 9876", short, "查找测试甲", "宅基地 界址"):
        found = client.post("/api/v1/cases/search", json={"q": q}, headers=qs)
        assert found.status_code == 200, (q, found.get_data(as_text=True))
        assert case.number in [c["number"] for c in found.get_json()["items"]], q
        elsewhere = client.post("/api/v1/cases/search", json={"q": q}, headers=cg).get_json()
        assert case.number not in [c["number"] for c in elsewhere["items"]], q
    assert PHONE not in client.post("/api/v1/cases/search", json={"q": PHONE}, headers=qs).get_data(as_text=True)
    for q in (_valid_id(), PHONE):
        error = _assert_error(client.get("/api/v1/cases", query_string={"q": q}, headers=qs), 422)
        assert "POST /api/v1/cases/search" in error["fields"]["q"][0]
    for body, field in (({}, "q"), ({"q": ""}, "q"), ({"q": "x" * 65}, "q"), ({"q": "甲", "limit": 0}, "limit"),
                        ({"q": "甲", "extra": 1}, "extra")):
        error = _assert_error(client.post("/api/v1/cases/search", json=body, headers=qs), 422)
        assert field in error["fields"], (body, error)


def test_the_search_form_and_the_api_search_find_the_same_cases(app, db, demo, login_as, client):
    """One search rule (center.cases.listing.search.search_clause) for both channels: what the clerk's search
    box lists is what an integration's POST /api/v1/cases/search answers, for the same user."""
    case = _register(demo, "qs.staff", "青石镇", summary="渠道一致性测试：宅基地界址纠纷",
                     parties=[{"role": "applicant", "kind": "person", "name": "一致甲", "id_number": _valid_id(),
                               "phone": PHONE}])
    qs = _bearer(_token(demo, "qs.staff"))
    login_as("qs.staff")
    for q in (_valid_id(), PHONE, case.number.rsplit("-", 1)[1], "一致甲", "宅基地 界址", "不存在的内容"):
        api = client.post("/api/v1/cases/search", json={"q": q, "limit": 100}, headers=qs).get_json()
        listed = client.post("/cases/search", data={"q": q, "csrf_token": csrf_token(client, "/cases/")},
                             follow_redirects=True)
        assert listed.status_code == 200, q
        assert q not in listed.request.url  # the text stayed in the body
        found = set(re.findall(r"SF-\d{4}-\d{6}", listed.get_data(as_text=True)))
        assert {c["number"] for c in api["items"]} == found, q
        assert (case.number in found) == (q != "不存在的内容"), q
