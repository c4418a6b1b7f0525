"""Test data built through the real operations, so every row a test starts from passed the same rules (and
left the same audit rows and events) as one a clerk would have made.

    from tests.factories import case_maker, make_case, make_unit, make_user

    case = make_case(demo)                                   # a dispute a 青石镇 clerk registered at 青石镇
    case = make_case(demo, "qs01.g1", kind="dispute")        # filed by a grid worker at their grid
    case = make_case(demo, kind="petition", origin="青石村", then=("accept", "start"), commit=True)
    grid = make_unit(demo, "青石村第9网格", parent="青石村")
    clerk = make_user(demo, "qs.clerk2", role=Role.township_staff, place="青石镇")

The first argument is the test's ``demo`` fixture (or its ``db`` fixture): the factories write through the
test's session. Users and units are named the way the demo district names them (username; unit name or code),
or passed as objects; ``by`` is a username or an ``Actor``. A module whose tests share a flavour of case (the
same summary, the same applicant) declares it once with ``case_maker(**defaults)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from tests.conftest import DEMO_PASSWORD

__all__ = ["actor", "case_maker", "make_case", "make_unit", "make_user", "unit", "user"]

_AUTO: Any = object()  # "derive it": the petition class of a petition, the filer's unit, a free code
_counter = itertools.count(1)


# --- lookups ------------------------------------------------------------------------------------------------

def _session(fx):
    """The test's session, from the ``demo`` fixture, the ``db`` fixture or nothing (the current one)."""
    if fx is not None and hasattr(fx, "db"):
        return fx.db.session
    if fx is not None and hasattr(fx, "session"):
        return fx.session
    from core.db import db

    return db.session


def user(fx, username_or_user):
    """A user by username (or the user itself)."""
    from core.accounts.models import User

    if not isinstance(username_or_user, str):
        return username_or_user
    found = _session(fx).scalar(select(User).where(User.username == username_or_user))
    if found is None:
        raise LookupError(f"no user {username_or_user!r}")
    return found


def unit(fx, name_or_code):
    """A unit by name or code (or the unit itself; None stays None)."""
    from core.org.models import OrgUnit

    if name_or_code is None or not isinstance(name_or_code, str):
        return name_or_code
    found = _session(fx).scalar(select(OrgUnit).where(or_(OrgUnit.code == name_or_code,
                                                          OrgUnit.name == name_or_code)))
    if found is None:
        raise LookupError(f"no unit {name_or_code!r}")
    return found


def actor(fx, who):
    """An Actor for a username or a user, as a web request would build it (an Actor stays as it is)."""
    from core.actor import Actor

    if isinstance(who, Actor):
        return who
    return Actor.for_user(user(fx, who), ip="127.0.0.1", channel="web")


# --- units and users ----------------------------------------------------------------------------------------

_CHILD_KIND = {"district": "township", "township": "village", "village": "grid", "community": "grid"}


def _free_code(session, kind: str, parent) -> str:
    """A code no unit holds: 12 digits (统计用区划代码) for every kind but a grid, whose code is free-form."""
    from core.org.models import OrgUnit

    while True:
        n = next(_counter)
        code = (f"{parent.code}-T{n:02d}" if kind == "grid" and parent is not None
                else f"99{(n * 7919 + 4_000_000) % 10**10:010d}")
        if session.scalar(select(OrgUnit.id).where(OrgUnit.code == code)) is None:
            return code


def make_unit(fx, name: str, *, parent=None, kind: str | None = None, code: str | None = None,
              case_prefix: str | None = None, by="system", commit: bool = False, **fields):
    """A unit through ``core.org.operations.create_unit``. ``kind`` defaults to the tier below ``parent``
    (a district without one); a district gets a fresh case prefix; ``by`` is "system" (the console) or an
    actor who may manage ``parent``."""
    from core.actor import Actor
    from core.org.operations import create_unit

    session = _session(fx)
    parent = unit(fx, parent)
    kind = str(kind or (_CHILD_KIND[str(parent.kind)] if parent is not None else "district"))
    if kind == "district" and case_prefix is None:
        case_prefix = f"T{next(_counter):03d}"
    made = create_unit(kind=kind, code=code or _free_code(session, kind, parent), name=name, parent=parent,
                       case_prefix=case_prefix, actor=Actor.system("cli") if by == "system" else actor(fx, by),
                       **fields)
    if commit:
        session.commit()
    return made


def make_user(fx, username: str, *, role=None, place=None, display_name: str | None = None,
              password: str | None = DEMO_PASSWORD, title: str | None = None, kind: str = "person",
              memberships: Iterable[tuple] = (), must_change: bool = False, commit: bool = False):
    """An account through ``core.accounts.operations.create_user``, its memberships placed and activated by the
    server console (as the demo district's are): ``role`` at ``place`` (a unit name/code, an OrgUnit or a
    Department), plus any ``memberships`` [(role, place), …]. A service account (``kind="service"``) has no
    password. The demo password, no forced change: the user can sign in at once."""
    from core.accounts.models import Role
    from core.accounts.operations import create_user
    from core.actor import Actor

    places = [(role, place)] if role is not None else []
    places += list(memberships)
    resolved = [(Role(r), p if not isinstance(p, str) else unit(fx, p)) for r, p in places]
    # The demo password predates the blocklist (it reads as a pinyin name): like the demo loader, the factory
    # sets its hash directly; any other password goes through the policy as an administrator's would.
    demo_password = kind != "service" and password == DEMO_PASSWORD
    made = create_user(username=username, display_name=display_name or f"测试{username}",
                       password=None if kind == "service" else ("Kx7#vQ2!mZ9p" if demo_password else password),
                       title=title, actor=Actor.system("cli"), memberships=resolved, must_change=must_change,
                       kind=kind, activate=True)
    if demo_password:
        from core.accounts.passwords import hash_password

        made.password_hash = hash_password(DEMO_PASSWORD)
    if commit:
        _session(fx).commit()
    return made


# --- cases --------------------------------------------------------------------------------------------------

def _party(role: str, value, default_name: str) -> dict:
    if isinstance(value, Mapping):
        return {"role": role, "kind": "person", **value}
    return {"role": role, "kind": "person", "name": default_name if value is True else value}


def make_case(fx, by="qs.staff", origin=_AUTO, kind: str = "dispute", *, handling=None, accused=None,
              summary: str = "测试事项：两户因排水沟堵塞发生争执", category: str = "其他", channel: str = "visit",
              petition_class=_AUTO, parties: Iterable | None = None, applicant="测试人", respondent=None,
              colour: str = "yellow", at: datetime | None = None, repeat_of="none", then: Iterable[str] = (),
              commit: bool = False, **fields):
    """A case through ``center.cases.intake.operations.register_case``, then the lifecycle ``then``
    transitions (by the same actor), then a commit if ``commit`` (else only flushed, as an operation leaves it).

    - ``by``: who files (username or Actor; ``Actor.system(...)`` for an import);
    - ``origin``: where it is filed (default: the filer's own unit); ``handling``, ``accused``: units or None;
    - ``petition_class``: "appeal" for a petition unless given; None for a dispute;
    - ``applicant`` (a name or a dict of party fields) and ``respondent`` (None, True, a name or a dict) make
      the parties, unless ``parties`` lists them all;
    - ``colour`` is the risk colour, ``at`` the time of receipt;
    - ``repeat_of``: "none" answers the repeat question up front (the same applicant on purpose); None asks it
      (``RepeatCandidates`` when earlier cases of the person exist), or an earlier case / its number;
    - any other keyword (``demands``, ``people_count``, ``intake_key``, ``xinfang_no``, ``note`` …) goes to
      ``register_case`` as it is."""
    from center.cases.intake.operations import register_case
    from center.cases.lifecycle.operations import transition

    session = _session(fx)
    # register_case's own names are welcome too (a test's table of bad inputs speaks them)
    origin = fields.pop("origin_unit", origin)
    handling = fields.pop("handling_unit", handling)
    accused = fields.pop("accused_unit", accused)
    colour = fields.pop("risk_colour", colour)
    at = fields.pop("received_at", at)
    filer = actor(fx, by)
    if origin is _AUTO:
        if filer.user is None:
            raise TypeError("make_case: a system actor files at a unit: pass origin=")
        home = next((m.unit for m in filer.memberships if m.unit is not None), None)
        if home is None:
            raise TypeError(f"make_case: {filer} has no unit to file at: pass origin=")
        origin = home
    if petition_class is _AUTO:
        petition_class = "appeal" if str(kind) == "petition" else None
    if parties is None:
        parties = [_party("applicant", applicant, "测试人")]
        if respondent is not None:
            parties.append(_party("respondent", respondent, "对方当事人"))
    case = register_case(filer, kind=kind, summary=summary, category=category, channel=channel,
                         origin_unit=unit(fx, origin), handling_unit=unit(fx, handling),
                         accused_unit=unit(fx, accused), petition_class=petition_class, parties=list(parties),
                         risk_colour=colour, received_at=at, repeat_of=repeat_of, **fields)
    for action in then:
        transition(case, action, actor=filer)
    if commit:
        session.commit()
    return case


def case_maker(**defaults) -> Callable[..., Any]:
    """``make_case`` with a module's own defaults: ``make_case = case_maker(kind="petition", commit=True)``.
    Call it as ``make_case``; keywords given at the call win over the defaults."""

    def _make(fx, *args, **overrides):
        positional = dict(zip(("by", "origin", "kind"), args, strict=False))  # make_case's positional order
        return make_case(fx, **{**defaults, **positional, **overrides})

    _make.__doc__ = f"make_case with defaults {defaults!r}"
    return _make
