"""The audited reveal of a party's personal data: POST (permission, scoped case, party of that case, audit row
in the request's transaction) → one-time page with the plain values; refusals leave no reveal row; values
never reach the audit rows or the logs."""

from __future__ import annotations

import logging

from sqlalchemy import select

from center.cases.intake.operations import reveal
from center.cases.models import Case, Party
from core.audit.models import AuditEntry
from tests.conftest import csrf_from


def text(response) -> str:
    return response.get_data(as_text=True)


def by_summary(db, summary) -> Case:
    return db.session.scalar(select(Case).where(Case.summary == summary))


def reveals(db):
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "case.party_revealed")
                                   .order_by(AuditEntry.id)))


def post_reveal(client, case, party_id, page=None):
    page = page or client.get(f"/cases/{case.number}")
    token = csrf_from(text(page))
    return client.post(f"/cases/{case.number}/parties/{party_id}/reveal", data={"csrf_token": token})


def test_staff_reveal_once_with_an_audit_row_naming_fields_only(signed_in, demo, db, caplog):
    caplog.set_level(logging.DEBUG)
    case = by_summary(db, "反映镇中心小学周边交通安全隐患")
    party = case.parties[0]
    plain = reveal(party)
    client = signed_in("qs.staff")
    detail = client.get(f"/cases/{case.number}")
    assert "查看完整信息" in text(detail) and plain["phone"] not in text(detail)
    before = len(reveals(db))
    response = post_reveal(client, case, party.id, detail)
    assert response.status_code == 302
    entries = reveals(db)
    assert len(entries) == before + 1
    entry = entries[-1]
    assert entry.actor_user_id == demo.user("qs.staff").id
    assert entry.object_type == "case_parties" and entry.object_id == str(party.id)
    assert {"id_number", "phone", "address"} <= set(entry.changed_fields)
    shown = client.get(response.headers["Location"])
    body = text(shown)
    assert shown.status_code == 200
    assert plain["id_number"] in body and plain["phone"] in body and plain["address"] in body
    assert "no-store" in shown.headers["Cache-Control"]
    # once: a reload shows nothing and points back to the button
    again = client.get(response.headers["Location"])
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/cases/{case.number}")
    followed = client.get(again.headers["Location"])
    assert plain["phone"] not in text(followed) and "只显示一次" in text(followed)
    # values never in audit rows or logs
    everything = db.session.scalars(select(AuditEntry)).all()
    dump = repr([[getattr(e, c.name) for c in AuditEntry.__table__.columns] for e in everything])
    for value in plain.values():
        assert value not in dump
        assert value not in caplog.text


def test_users_without_reveal_are_refused_without_a_reveal_row(signed_in, demo, db):
    grid_case = by_summary(db, "邻里因排水沟堵塞发生争执")
    before = len(reveals(db))
    for user in ("qs01.g1", "qs01.head", "xinfang.liaison"):
        client = signed_in(user)
        token = csrf_from(text(client.get("/account/password")))
        response = client.post(f"/cases/{grid_case.number}/parties/{grid_case.parties[0].id}/reveal",
                               data={"csrf_token": token})
        assert response.status_code == 403, user
        page = client.get(f"/cases/{grid_case.number}")
        assert "查看完整信息" not in text(page)
    assert len(reveals(db)) == before


def test_reveal_outside_jurisdiction_or_of_another_case_is_not_found(signed_in, demo, db):
    case = by_summary(db, "反映镇中心小学周边交通安全隐患")
    other = by_summary(db, "反映老旧小区加装电梯意见分歧")  # 城关街道
    before = len(reveals(db))
    cg = signed_in("cg.staff")
    token = csrf_from(text(cg.get("/account/password")))
    assert cg.post(f"/cases/{case.number}/parties/{case.parties[0].id}/reveal",
                   data={"csrf_token": token}).status_code == 404
    qs = signed_in("qs.staff")
    token = csrf_from(text(qs.get("/account/password")))
    # a party of a case qs.staff cannot see, under the number of one they can
    assert qs.post(f"/cases/{case.number}/parties/{other.parties[0].id}/reveal",
                   data={"csrf_token": token}).status_code == 404
    assert qs.post(f"/cases/{case.number}/parties/{2**40}/reveal", data={"csrf_token": token}).status_code == 404
    # the accused unit's own head: the accusation does not exist for them
    accusation = by_summary(db, "举报上坝村村务公开不实、账目不清")
    head = signed_in("qs02.head")
    token = csrf_from(text(head.get("/account/password")))
    assert head.post(f"/cases/{accusation.number}/parties/{accusation.parties[0].id}/reveal",
                     data={"csrf_token": token}).status_code in (403, 404)
    assert len(reveals(db)) == before


def test_a_grant_for_one_party_does_not_open_another(signed_in, demo, db):
    case = by_summary(db, "兄弟二人因赡养老人费用分担发生纠纷")
    first, second = case.parties[0], case.parties[1]
    client = signed_in("qs.staff")
    assert post_reveal(client, case, first.id).status_code == 302
    wrong = client.get(f"/cases/{case.number}/parties/{second.id}/revealed")
    assert wrong.status_code == 302 and reveal(second)["phone"] not in text(wrong)
    # the GET without any grant never shows values either
    assert client.get(f"/cases/{case.number}/parties/{first.id}/revealed").status_code == 302
    assert db.session.get(Party, first.id).case_id == case.id
