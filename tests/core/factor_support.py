"""Shared pieces of the second-factor attack tests (test_attack_security13.py, test_attack_security13_edges.py):
demo codes, the code step, and test-only bookkeeping of the accepted step. Not a test module."""

from __future__ import annotations

import base64

from sqlalchemy import select, update

from core.accounts import factors
from core.accounts.factor_models import UserFactor
from core.accounts.models import User
from core.demo import DEMO_FACTOR_SECRET
from tests.conftest import csrf_from, login

DEMO_KEY = base64.b32decode(DEMO_FACTOR_SECRET)
OTHER_SECRET = base64.b32encode(b"attacker-own-secret!").decode()


def _code(step_offset: int = 0, key: bytes = DEMO_KEY) -> str:
    return factors.code_at(key, factors.current_step() + step_offset)


def _post_code(client, code, path="/login/factor", **extra):
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "code": code, **extra})


def _signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def _sign_in(client, username):
    assert login(client, username).status_code == 302
    done = _post_code(client, _code())
    assert done.status_code == 302 and "/login" not in done.headers["Location"], done.headers.get("Location")
    return client


def _respend(db, username):
    """Forget the last accepted step (so a test may give the same demo code again); test-only bookkeeping."""
    user_id = db.session.scalar(select(User.id).where(User.username == username))
    db.session.execute(update(UserFactor).where(UserFactor.user_id == user_id).values(last_step=None))
    db.session.commit()


def _give_secret(db, user, secret_text):
    from core.crypto import provider

    db.session.execute(update(UserFactor).where(UserFactor.user_id == user.id)
                       .values(secret=provider().encrypt(secret_text), last_step=None))
    db.session.commit()
