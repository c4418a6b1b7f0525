"""Route registry: every route is registered public or with a permission, and the one before_request guard
answers as promised — anonymous → login (pages) or 401 (API), signed in without the permission → 403, with
it → the page.

The "lacking" users are computed from core.auth.permissions, one representative demo user per (role, tier)
plus a user without any membership (the only one lacking "account.self"). URL parameters are filled with
real objects inside the requesting user's jurisdiction, so a 403 comes from the route guard, not from a
404 of a scoped query.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import url_for
from sqlalchemy import select

from tests.conftest import csrf_from, login, make_app
from tests.specs import collect

SKIP_METHODS = {"HEAD", "OPTIONS"}
NO_MEMBERSHIP_USERNAME = "nomember.tester"
NO_MEMBERSHIP_PASSWORD = "Kein#Posten2026"


# --- helpers ---------------------------------------------------------------------------------------------


def unguarded_routes(app) -> list[str]:
    """Rules whose endpoint is neither ``@public`` nor ``@permission(...)``."""
    from core.auth.decorators import route_rule

    with app.app_context():
        return sorted(f"{rule.rule} ({rule.endpoint})" for rule in app.url_map.iter_rules()
                      if route_rule(rule.endpoint) == (False, None))


def guarded_rules(app):
    """(rule, permission) for every non-public rule, in a stable order."""
    from core.auth.decorators import route_rule

    out = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        is_public, action = route_rule(rule.endpoint)
        if not is_public and action is not None:
            out.append((rule, action))
    return out


def methods_of(rule) -> list[str]:
    return sorted(m for m in rule.methods if m not in SKIP_METHODS)


def is_api(path: str) -> bool:
    return path.startswith("/api/")


def make_membershipless_user(db):
    """A user with no membership at all: the one kind of user lacking "account.self"."""
    from core.accounts.operations import create_user
    from core.actor import Actor

    user = create_user(username=NO_MEMBERSHIP_USERNAME, display_name="无岗位用户", title=None,
                       password=NO_MEMBERSHIP_PASSWORD, actor=Actor.system("cli"), memberships=[],
                       must_change=False)
    db.session.commit()
    assert user.memberships == []
    return user


def representatives(db):
    """One demo user per (role, tier of the membership's place), the lowest username first."""
    from core.accounts.models import Membership, User

    reps: dict[tuple[str, str], User] = {}
    users = db.session.scalars(select(User).join(Membership, Membership.user_id == User.id)
                               .where(User.is_active.is_(True)).order_by(User.username)).unique()
    for user in users:
        for m in user.memberships:
            if not m.is_effective:
                continue
            place = m.unit.tier if m.unit is not None else "department"
            reps.setdefault((str(m.role), place), user)
    return list(reps.values())


class Jurisdiction:
    """Real objects inside one user's jurisdiction, for URL parameters."""

    def __init__(self, db, user):
        from core.org.models import OrgUnit

        self.db = db
        self.user = user
        self.membership = user.primary_membership
        if self.membership is None:
            self.unit = db.session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None))
                                          .order_by(OrgUnit.id))
        elif self.membership.unit is not None:
            self.unit = self.membership.unit
        else:
            self.unit = self.membership.department.unit

    def unit_id(self) -> int:
        return self.unit.id

    def user_id(self) -> int:
        from core.accounts.models import Membership, User

        m = self.membership
        if m is None:
            stmt = select(User.id).join(Membership, Membership.user_id == User.id).where(Membership.unit_id.is_not(None))
        elif m.unit_id is not None:
            stmt = select(User.id).join(Membership, Membership.user_id == User.id).where(Membership.unit_id == m.unit_id)
        else:
            stmt = select(User.id).join(Membership, Membership.user_id == User.id).where(Membership.department_id == m.department_id)
        others = [i for i in self.db.session.scalars(stmt.order_by(User.id)) if i != self.user.id]
        if m is None:
            return others[0]  # sees nothing: a real demo user anyway
        return others[0] if others else self.user.id

    def dept_id(self) -> int:
        from core.org.models import Department, OrgUnit

        m = self.membership
        if m is not None and m.department_id is not None:
            return m.department_id
        node = self.unit
        while node is not None:  # a department in the subtree, else at the nearest center above
            found = self.db.session.scalar(
                select(Department.id).join(OrgUnit, Department.unit_id == OrgUnit.id)
                .where(OrgUnit.path.startswith(node.path)).order_by(OrgUnit.depth, Department.id))
            if found is not None:
                return found
            node = node.parent
        raise AssertionError("the demo has no department at all")

    def membership_id(self) -> int:
        from core.accounts.models import Membership

        if self.membership is not None:
            return self.membership.id
        return self.db.session.scalar(select(Membership.id).order_by(Membership.id))

    def _notification(self):
        """A notification (with its first delivery) for a user inside the jurisdiction."""
        if getattr(self, "_made_notification", None) is None:
            from core.accounts.models import User
            from notify.outbox import enqueue

            recipient = self.db.session.get(User, self.user_id())
            n = enqueue("route.registry.test", recipient, {"title": "测试", "body": "路由测试"},
                        key=f"route-registry-{self.user.id}-{recipient.id}")
            self.db.session.commit()
            assert n.deliveries, "the test configuration should deliver to the log channel"
            self._made_notification = n
        return self._made_notification

    def notification_id(self) -> int:
        return self._notification().id

    def delivery_id(self) -> int:
        return self._notification().deliveries[0].id

    @staticmethod
    def channel() -> str:
        from notify.models import Channel

        return Channel.wecom.value

    @staticmethod
    def platform() -> str:
        return "work"

    def number(self) -> str:
        """A case number the user can see, else any demo case (they must still be refused)."""
        from center.cases.models import Case
        from center.cases.queries import cases_query
        from core.actor import Actor

        visible = self.db.session.scalar(cases_query(Actor.for_user(self.user)).with_only_columns(Case.number)
                                         .order_by(Case.id).limit(1))
        if visible is None and self.membership is not None and self.membership.unit is not None:
            from tests.factories import make_case

            kind = "petition" if self.unit.tier in ("district", "township") else "dispute"
            case = make_case(self.db, Actor.system("cli"), self.unit, kind, summary="路由测试事项", repeat_of=None,
                             commit=True)
            visible = case.number
        return visible or self.db.session.scalar(select(Case.number).order_by(Case.id))

    PARAMETERS = ("unit_id", "user_id", "dept_id", "membership_id", "notification_id", "delivery_id", "channel",
                  "platform", "number")

    def fill(self, rule) -> dict:
        values = {}
        extra = {}
        for params in collect("URL_PARAMS"):
            extra.update(params)
        for name in sorted(rule.arguments):
            if name in extra:
                values[name] = extra[name](self)
                continue
            if name not in self.PARAMETERS:
                pytest.fail(f"route {rule.rule} ({rule.endpoint}): the test does not know which object the "
                            f"URL parameter <{name}> names; teach tests/core/test_route_registry.py "
                            f"Jurisdiction.{name}()")
            values[name] = getattr(self, name)()
        return values


def isolated_client(app):
    return app.test_client()  # conftest's client runs each request in its own app context


def build_url(app, rule, values) -> str:
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def signed_in_client(app, username, password=None):
    client = isolated_client(app)
    response = login(client, username, password) if password else login(client, username)
    assert response.status_code == 302, f"{username} cannot sign in: {response.status_code}"
    page = client.get("/account/password")  # a 403 page also carries the layout's CSRF token
    return client, csrf_from(page.get_data(as_text=True))


def request(client, method, url, token):
    if method == "GET":
        return client.get(url)
    return client.open(url, method=method, data={"csrf_token": token})


def actor_of(user):
    from core.actor import Actor

    return Actor.for_user(user, ip="127.0.0.1")


# --- the registry itself ---------------------------------------------------------------------------------


def test_every_route_is_public_or_has_a_permission(app, db):
    missing = unguarded_routes(app)
    assert not missing, "routes registered neither @public nor @permission(...): " + ", ".join(missing)
    from core.auth.registry import registered_actions, registered_permissions

    known = set(registered_permissions()) | set(registered_actions())
    unknown = sorted(f"{rule.rule} ({rule.endpoint}): {action}" for rule, action in guarded_rules(app)
                     if action not in known)
    assert not unknown, "routes require a permission no role can ever hold: " + ", ".join(unknown)


def test_registry_check_catches_an_unguarded_route_and_the_guard_denies_it():
    """The check above can fail: a bare route is listed, and the guard refuses it (deny by default)."""
    other = make_app("sqlite://")
    other.add_url_rule("/zz-unguarded", "zz_unguarded", lambda: "SECRET-CONTENT")
    assert unguarded_routes(other) == ["/zz-unguarded (zz_unguarded)"]
    response = other.test_client().get("/zz-unguarded")
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "SECRET-CONTENT" not in body
    assert "权限" in body


# --- anonymous -------------------------------------------------------------------------------------------


def test_anonymous_requests_to_protected_routes_go_to_login(app, db, demo):
    client = isolated_client(app)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    district = Jurisdiction(db, make_membershipless_user(db))
    failures = []
    checked = 0
    for rule, _action in guarded_rules(app):
        url = build_url(app, rule, district.fill(rule))
        for method in methods_of(rule):
            response = request(client, method, url, token)
            checked += 1
            if is_api(url):
                if response.status_code != 401:
                    failures.append(f"{method} {url} ({rule.endpoint}): {response.status_code}, expected 401")
                continue
            location = response.headers.get("Location", "")
            if response.status_code != 302 or urlsplit(location).path != "/login":
                failures.append(f"{method} {url} ({rule.endpoint}): {response.status_code} → {location!r}, "
                                "expected 302 to /login")
    assert checked > 10
    assert not failures, "anonymous access not refused as expected:\n" + "\n".join(failures)


# --- signed in, lacking the permission ---------------------------------------------------------------------


def test_signed_in_users_lacking_the_permission_get_403(app, db, demo):
    from core.audit.models import AuditEntry
    from core.auth.permissions import has_permission

    nobody = make_membershipless_user(db)
    users = [*representatives(db), nobody]
    rules = guarded_rules(app)
    lacking = {rule.endpoint: [u for u in users if not has_permission(actor_of(u), action)]
               for rule, action in rules}
    nobody_lacks = [endpoint for endpoint, us in lacking.items() if not us]
    assert not nobody_lacks, f"no demo user lacks the permission of {nobody_lacks}: cannot test the refusal"

    failures = []
    checked = 0
    for user in users:
        mine = [(rule, action) for rule, action in rules if user in lacking[rule.endpoint]]
        if not mine:
            continue
        password = NO_MEMBERSHIP_PASSWORD if user is nobody else None
        client, token = signed_in_client(app, user.username, password)
        here = Jurisdiction(db, user)
        for rule, action in mine:
            url = build_url(app, rule, here.fill(rule))
            for method in methods_of(rule):
                response = request(client, method, url, token)
                checked += 1
                if response.status_code != 403:
                    failures.append(f"{user.username} (lacks {action}): {method} {url} ({rule.endpoint}) → "
                                    f"{response.status_code}, expected 403")
                elif not is_api(url) and "没有" not in response.get_data(as_text=True):
                    failures.append(f"{user.username}: {method} {url}: the 403 page has no Chinese message")
    assert checked > 50
    assert not failures, "users lacking the permission were not refused:\n" + "\n".join(failures)
    # each refusal leaves a security event naming the route
    denied = set(db.session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "permission.denied",
                                                                        AuditEntry.object_type == "route")))
    assert {rule.endpoint for rule, _ in rules} <= denied


def test_account_self_is_lacking_only_without_membership(app, db, demo):
    """Only the membershipless user lacks account.self; a demo user with it reaches the profile."""
    from core.accounts.permissions import SELF
    from core.auth.permissions import has_permission

    nobody = make_membershipless_user(db)
    assert not has_permission(actor_of(nobody), SELF)
    assert all(has_permission(actor_of(u), SELF) for u in representatives(db))
    client, _token = signed_in_client(app, nobody.username, NO_MEMBERSHIP_PASSWORD)
    assert client.get("/account").status_code == 403
    home = client.get("/")
    assert home.status_code == 302 and urlsplit(home.headers["Location"]).path == "/account"
    other, _ = signed_in_client(app, "qs.staff")
    assert other.get("/account").status_code == 200


# --- signed in, holding the permission --------------------------------------------------------------------


def test_users_holding_the_permission_reach_every_page(app, db, demo):
    """The other direction: every GET page answers 200 to each representative who holds its permission,
    with parameters inside that user's jurisdiction (a redirect is followed to a page, never to /login)."""
    from core.auth.permissions import has_permission

    rules = [(rule, action) for rule, action in guarded_rules(app) if "GET" in rule.methods]
    users = representatives(db)
    failures = []
    reached = set()
    for user in users:
        mine = [(rule, action) for rule, action in rules if has_permission(actor_of(user), action)]
        if not mine:
            continue
        client, _token = signed_in_client(app, user.username)
        here = Jurisdiction(db, user)
        for rule, action in mine:
            url = build_url(app, rule, here.fill(rule))
            response = client.get(url, follow_redirects=True)
            final = response.request.path
            if response.status_code != 200 or final == "/login":
                failures.append(f"{user.username} (holds {action}): GET {url} ({rule.endpoint}) → "
                                f"{response.status_code} at {final}")
            else:
                reached.add(rule.endpoint)
    assert not failures, "pages refused to users holding the permission:\n" + "\n".join(failures)
    unreached = sorted({rule.endpoint for rule, _ in rules} - reached)
    assert not unreached, f"no representative demo user reached {unreached}"
