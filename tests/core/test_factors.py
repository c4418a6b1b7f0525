"""Second factor for staff (等保三级 §8.1.4.1 d), tried as the attacker would: a stolen password alone opens
nothing, a code is accepted once, guesses are throttled, the pending step cannot be forged or stretched, a
token needs a fresh factor, and a lost factor is reset only by two administrators — never by the target."""

from __future__ import annotations

import base64
import os
import struct
import time

import pytest
from sqlalchemy import select, update

from core.accounts import factors
from core.accounts.factor_models import RecoveryCode, UserFactor
from core.accounts.models import AdminActKind, Role, WebSession
from core.actor import Actor
from core.demo import DEMO_FACTOR_SECRET
from core.errors import PermissionDenied, ValidationFailed
from tests.conftest import csrf_from, login

DEMO_KEY = base64.b32decode(DEMO_FACTOR_SECRET)


def _code(step_offset: int = 0) -> str:
    return factors.code_at(DEMO_KEY, factors.current_step() + step_offset)


def _second_step(client, code):
    page = client.get("/login/factor")
    assert page.status_code == 200, page.status_code
    return client.post("/login/factor", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "code": code})


def _signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_rfc6238_vector_through_the_crypto_provider(app):
    # RFC 6238 Appendix B, SHA1, T = 59 s: 94287082 (8 digits); our 6 digits are its last six.
    with app.app_context():
        from core.crypto import provider

        mac = provider().otp_mac(b"12345678901234567890", struct.pack(">Q", 59 // 30))
        offset = mac[-1] & 0x0F
        assert (struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 10**8 == 94287082
        assert factors.code_at(b"12345678901234567890", 1) == "287082"


def test_default_roles_are_every_staff_role_but_grid_workers(db, demo):
    assert factors.required_roles() == frozenset(Role) - {Role.grid_worker}
    assert Role.system_admin in factors.DEFAULT_ROLES and Role.village_cadre in factors.DEFAULT_ROLES


def test_the_password_alone_opens_nothing_and_the_code_finishes_sign_in(client, db, demo, enforced):
    response = login(client, "qs.staff")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/factor")
    assert not _signed_in(client)  # between the two steps nothing is signed in
    assert client.get("/cases/").status_code == 302
    wrong = _second_step(client, "000000" if _code() != "000000" else "111111")
    assert wrong.status_code == 422 and "动态口令不正确" in wrong.get_data(as_text=True)
    assert not _signed_in(client)
    assert _second_step(client, _code()).status_code == 302
    assert _signed_in(client)
    row = db.session.scalar(select(WebSession).where(WebSession.user_id == demo.user("qs.staff").id))
    assert row is not None and isinstance(row.data.get("factor_at"), int)


def test_a_code_is_accepted_once(app, db, demo, enforced):
    one, two = app.test_client(), app.test_client()
    code = _code()
    assert login(one, "qs.staff").status_code == 302 and _second_step(one, code).status_code == 302
    assert login(two, "qs.staff").status_code == 302
    replay = _second_step(two, code)  # the same code, seconds later, from another device
    assert replay.status_code == 422 and not _signed_in(two)
    # An earlier step's code is a replay too once a later one was used.
    assert _second_step(two, _code(-1)).status_code == 422


def test_guesses_are_throttled_per_account(client, db, demo, enforced):
    assert login(client, "qs.staff").status_code == 302
    statuses = [_second_step(client, f"{n:06d}").status_code for n in range(7) if f"{n:06d}" != _code()]
    assert statuses[:5] == [422] * 5 and set(statuses[5:]) == {429}
    right = _second_step(client, _code())
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    assert "过于频繁" in right.get_data(as_text=True) and not _signed_in(client)


def test_the_pending_step_cannot_be_forged_or_stretched(app, client, db, demo, enforced):
    from core.accounts.sessions import _seal

    # Without the password step, the code page sends you back to the password.
    assert client.get("/login/factor").status_code == 302
    # A cookie naming another user is not something a visitor can make: a tampered one is a fresh visitor.
    assert login(client, "qs.staff").status_code == 302
    cookie = client.get_cookie("mdt_session").value
    client.set_cookie("mdt_session", cookie[:-6] + ("AAAAAA" if not cookie.endswith("AAAAAA") else "BBBBBB"))
    assert client.get("/login/factor").status_code == 302
    # Five minutes after the password, the step has lapsed (a cookie sealed with our key, as if from then).
    with app.test_request_context():
        stale = _seal({"factor_pending": {"u": demo.user("qs.staff").id, "at": int(time.time()) - 301,
                                          "next": ""}})
    client.set_cookie("mdt_session", stale)
    response = client.get("/login/factor")
    assert response.status_code == 302 and "expired_step" in response.headers["Location"]


def test_a_recovery_code_signs_in_once_and_is_announced(client, db, demo, enforced):
    user = demo.user("qs.staff")
    with client.application.test_request_context():
        codes = factors._new_recovery_codes(user)
    db.session.commit()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert login(client, "qs.staff").status_code == 302
    assert _second_step(client, codes[3].lower()).status_code == 302 and _signed_in(client)
    used = db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                        RecoveryCode.used_at.is_not(None))).all()
    assert len(used) == 1
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/account").get_data(as_text=True))})
    assert login(client, "qs.staff").status_code == 302
    assert _second_step(client, codes[3]).status_code == 422


def test_grid_workers_sign_in_with_their_password(client, db, demo, enforced):
    response = login(client, "qs01.g1")
    assert response.status_code == 302 and "/login/factor" not in response.headers["Location"]
    assert _signed_in(client)


def test_first_sign_in_without_a_factor_enrols_one(client, db, demo, enforced):
    user = demo.user("qs01.head")
    db.session.execute(update(UserFactor).where(UserFactor.user_id == user.id).values(confirmed_at=None))
    db.session.query(UserFactor).filter_by(user_id=user.id).delete()
    db.session.commit()
    assert login(client, "qs01.head").status_code == 302
    assert client.get("/login/factor").headers["Location"].endswith("/login/factor/enrol")
    page = client.get("/login/factor/enrol")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and "otpauth" not in html.split("<svg")[0]
    secret = factors.enrolment_secret(user)
    assert secret and secret in html
    key = base64.b32decode(secret)
    done = client.post("/login/factor/enrol", data={"csrf_token": csrf_from(html),
                                                    "code": factors.code_at(key, factors.current_step())})
    assert done.status_code == 302 and "/account/factor/codes" in done.headers["Location"]
    codes_page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert codes_page.count("<li><code>") == 10
    assert client.get("/account/factor/codes").status_code == 302  # shown once
    assert factors.is_enrolled(user) and _signed_in(client)


def test_an_api_token_needs_a_fresh_factor(client, db, demo, enforced):
    from core.accounts import tokens

    user = demo.user("qs.staff")
    with client.application.test_request_context():
        with pytest.raises(tokens.FactorRequired):
            tokens.issue_token(user, label="脚本", actor=Actor.for_user(user))
        stale = Actor.for_user(user, factor_at=int(time.time()) - 601)
        with pytest.raises(tokens.FactorRequired):
            tokens.issue_token(user, label="脚本", actor=stale)
        token, plain = tokens.issue_token(user, label="脚本", actor=Actor.for_user(user, factor_at=int(time.time())))
        assert plain and token.id
    db.session.rollback()
    # Through the web: a session whose factor is eleven minutes old is sent to step-up, and nothing is issued.
    assert login(client, "qs.staff").status_code == 302 and _second_step(client, _code()).status_code == 302
    row = db.session.scalar(select(WebSession).where(WebSession.user_id == user.id))
    db.session.execute(update(WebSession).where(WebSession.id == row.id).values(
        data={**row.data, "factor_at": int(time.time()) - 660}))
    db.session.commit()
    form = client.get("/account/api-tokens").get_data(as_text=True)
    response = client.post("/account/api-tokens", data={"csrf_token": csrf_from(form), "label": "脚本"})
    assert response.status_code == 302 and "/account/factor/confirm" in response.headers["Location"]
    from core.accounts.models import ApiToken

    assert db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == user.id)) is None


def test_only_the_security_administrator_sets_the_roles(db, demo):
    with pytest.raises(PermissionDenied):
        factors.set_required_roles({Role.district_leader}, actor=demo.actor("admin"))
    factors.set_required_roles({Role.district_leader}, actor=demo.actor("secadmin"))
    assert factors.required_roles() == {Role.district_leader, Role.system_admin, Role.security_admin, Role.auditor}
    factors.set_required_roles(set(), actor=demo.actor("secadmin"))  # the administrators keep theirs regardless
    assert factors.required_roles() == {Role.system_admin, Role.security_admin, Role.auditor}


def test_a_lost_factor_is_reset_by_two_administrators_never_the_target(app, db, demo):
    from core.accounts import dual_control

    target = demo.user("qs.staff")
    with app.test_request_context():
        with pytest.raises(PermissionDenied):  # not an administrator: cannot ask
            dual_control.request_act(kind=AdminActKind.reset_factor, target=target, actor=demo.actor("qs.leader"),
                                     reason="手机丢失")
        req = dual_control.request_act(kind=AdminActKind.reset_factor, target=target, actor=demo.actor("admin"),
                                       reason="手机丢失")
        with pytest.raises(PermissionDenied):
            dual_control.approve(req, actor=demo.actor("admin"))  # the requester
        with pytest.raises(PermissionDenied):
            dual_control.approve(req, actor=demo.actor("qs.staff"))  # the target
        assert factors.is_enrolled(target)
        dual_control.approve(req, actor=demo.actor("secadmin"))
        db.session.flush()
        assert factors.factor_of(target) is None
        with pytest.raises(ValidationFailed):  # nothing left to reset
            dual_control.request_act(kind=AdminActKind.reset_factor, target=target, actor=demo.actor("admin"),
                                     reason="再次")
    from core.audit.models import AuditEntry

    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "factor.reset",
                                                         AuditEntry.object_id == str(target.id)))


def test_production_refuses_to_run_without_the_second_factor():
    from core.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="SECOND_FACTOR"):
        load_config({"MEDIATION_ENV": "production", "SECRET_KEY": os.urandom(32).hex(),
                     "CRYPTO_KEYS": "v1:" + os.urandom(16).hex(), "BLIND_INDEX_KEY": os.urandom(32).hex(),
                     "BACKUP_KEY": os.urandom(16).hex(), "AUDIT_ARCHIVE_KEY": os.urandom(16).hex(),
                     "SECOND_FACTOR_ENFORCED": False})
