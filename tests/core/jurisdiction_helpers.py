"""Shared helpers of the jurisdiction tests (``test_jurisdiction_pages`` and ``test_jurisdiction_scoping``).
Not a test module: nothing is collected.

Village A = 青石村 (qs01.*), village B = 上坝村 (qs02.*), both under 青石镇; the other township is 城关街道.
"""

from __future__ import annotations

from sqlalchemy import select

from core.accounts.models import Membership, MembershipStatus, Role, User
from core.actor import Actor
from core.auth.scoping import unit_filter
from core.org.models import Department, OrgUnit
from tests.conftest import DEMO_PASSWORD, csrf_from

A, B = "青石村", "上坝村"


# --- helpers ---------------------------------------------------------------------------------------------


def token(client) -> str:
    """A CSRF token from any page of the layout (the logout form carries one)."""
    return csrf_from(client.get("/account").get_data(as_text=True))


def post(client, url, data=None):
    return client.post(url, data={"csrf_token": token(client), **(data or {})})


def text(response) -> str:
    return response.get_data(as_text=True)


def subtree(unit: OrgUnit) -> list[OrgUnit]:
    """The unit and its descendants, walked through parent links (not paths)."""
    out, stack = [], [unit]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def make_user(db, username: str, role: Role, place) -> User:
    """A user with one membership placed directly (with its audit row, as the guard demands)."""
    from core.accounts.passwords import hash_password
    from core.audit.operations import record

    user = User(username=username, display_name=f"测试{username}", password_hash=hash_password(DEMO_PASSWORD))
    # Placed active directly (as the console would): these tests are about jurisdiction, not activation.
    user.memberships.append(Membership(role=role, unit=place if isinstance(place, OrgUnit) else None,
                                       department=place if isinstance(place, Department) else None,
                                       status=MembershipStatus.active))
    db.session.add(user)
    db.session.flush()
    record(Actor.system("cli"), "test.user_placed", user, changed=["memberships"])
    db.session.commit()
    return user


def transient_actor(*places, role=Role.township_leader) -> Actor:
    """An actor holding ``role`` at each unit, memberships not stored (scoping reads only role and unit)."""
    memberships = tuple(Membership(role=role, unit=u, unit_id=u.id) for u in places)
    return Actor(user=User(username="probe", display_name="probe"), memberships=memberships)


def all_units(db) -> list[OrgUnit]:
    return list(db.session.scalars(select(OrgUnit)))


def ids_under(db, actor, action) -> set[int]:
    return set(db.session.scalars(select(OrgUnit.id).where(unit_filter(actor, action, OrgUnit.path))))
