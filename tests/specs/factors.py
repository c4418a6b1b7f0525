"""Registry specs of the second factor's forms (core.accounts.factor_views) and the signed links (core.links)."""

from __future__ import annotations

import base64
import time

from tests.specs.base import FormSpec


def _pending(username):
    """The password step done for ``username``: the visitor's sealed cookie names them, as the login view
    leaves it (the suite signs in without the second factor, so the step is set up directly)."""

    def prepare(client, demo):
        from core.accounts.sessions import _seal

        with client.application.test_request_context():
            sealed = _seal({"factor_pending": {"u": demo.user(username).id, "at": int(time.time()), "next": ""}})
        client.set_cookie("mdt_session", sealed)

    return prepare


def _demo_code(demo):
    from core.accounts import factors
    from core.demo import DEMO_FACTOR_SECRET

    return {"code": factors.code_at(base64.b32decode(DEMO_FACTOR_SECRET), factors.current_step())}


def _enrolment_code(username):
    def valid(demo):
        from core.accounts import factors

        secret = factors.enrolment_secret(demo.user(username))
        return {"code": factors.code_at(base64.b32decode(secret), factors.current_step())}

    return valid


def _link_token(demo):
    """A once-only link of a test action (registered here) for qs.leader."""
    from datetime import timedelta

    from core.links import LinkAction, issue, register_link_action

    register_link_action(LinkAction("spec.accept", "spec", _accepted, once=True, confirm="接受"))
    path = issue("spec.accept", 1, user=demo.user("qs.leader"), ttl=timedelta(hours=1))
    demo.db.session.commit()
    return path.rsplit("/", 1)[1]


def _accepted(link, user):
    from flask import redirect

    return redirect("/")


_TOKENS: dict[int, str] = {}


def _token_once(demo):
    key = id(demo)
    if key not in _TOKENS:
        _TOKENS.clear()
        _TOKENS[key] = _link_token(demo)
    return _TOKENS[key]


FORM_SPECS = {
    "factor.second_step": FormSpec(None, page=lambda demo: "/login/factor", schema="core.accounts.factor_views.CodeArgs",
                                   valid=_demo_code, prepare=_pending("qs.staff")),
    "factor.enrol": FormSpec(None, page=lambda demo: "/login/factor/enrol",
                             schema="core.accounts.factor_views.CodeArgs", valid=_enrolment_code("qs01.g1"),
                             prepare=_pending("qs01.g1")),
    "factor.step_up": FormSpec("qs.staff", page=lambda demo: "/account/factor/confirm",
                               schema="core.accounts.factor_views.CodeArgs", valid=_demo_code),
    "factor.account_factor": FormSpec("qs01.g2", page=lambda demo: "/account/factor",
                                      schema="core.accounts.factor_views.CodeArgs",
                                      valid=_enrolment_code("qs01.g2")),
    "users.factor_roles": FormSpec("secadmin", page=lambda demo: "/admin/security", schema=None),
    "links.open_link": FormSpec(None, lambda demo: {"token": _token_once(demo)},
                                lambda demo: f"/l/{_token_once(demo)}", schema=None),
}

URL_PARAMS = {
    "token": lambda j: _link_token(j.db if hasattr(j.db, "user") else _Demo(j.db)),
}


class _Demo:
    """Just enough of the demo fixture for a URL parameter (the route registry's Jurisdiction has a db)."""

    def __init__(self, db):
        self.db = db

    def user(self, username):
        from sqlalchemy import select

        from core.accounts.models import User

        return self.db.session.scalar(select(User).where(User.username == username))
