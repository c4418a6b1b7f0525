"""Helpers of the session-5 attacker tests (test_attack_api_search, test_attack_roles_and_lookups): tokens,
a valid resident ID number, the case numbers an API answer lists."""

from __future__ import annotations


def _bearer(plain: str) -> dict:
    return {"Authorization": f"Bearer {plain}"}


def _own_token(demo, username: str) -> str:
    from core.accounts.tokens import issue_token

    _row, plain = issue_token(demo.user(username), label="攻击测试", actor=demo.actor(username))
    demo.db.session.commit()
    return plain


def _service_token(demo, account, actions, unit: str) -> str:
    from core.accounts.tokens import issue_service_token

    _row, plain = issue_service_token(account, label="对接", actions=actions, unit=demo.unit(unit),
                                      actor=demo.actor("secadmin"))
    demo.db.session.commit()
    return plain


def _valid_id(first17: str = "11010119900307123") -> str:
    from center.cases.intake.identity import resident_id_check_char

    return first17 + resident_id_check_char(first17)


def _numbers(response) -> set[str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return {c["number"] for c in response.get_json()["items"]}


def _search(client, q, headers) -> set[str]:
    return _numbers(client.post("/api/v1/cases/search", json={"q": q, "limit": 100}, headers=headers))
