"""Silent sign-in inside WeChat/WeCom and one-time binding codes, through the fake's real OAuth pages.

The browser's part is played by hand: our app (Flask client) redirects to the fake's authorize page (a real
HTTP server on loopback), which redirects back with ``code`` and ``state``; our callback exchanges the code with
wechatpy's client against the same fake.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from core.accounts.views import SIGNED_OUT_COOKIE
from tests.conftest import DEMO_PASSWORD, csrf_from

WECOM_UA = ("Mozilla/5.0 (Linux; Android 10; V2001A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0 "
            "Mobile Safari/537.36 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh ColorScheme/Light")
WECHAT_UA = ("Mozilla/5.0 (Linux; Android 10; V2001A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/107.0 "
             "Mobile Safari/537.36 MMWEBID/1234 MicroMessenger/8.0.40.2420(0x28002851) WeChat/arm64 Weixin")
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


@pytest.fixture()
def wx_users(fake_wechat):
    original = fake_wechat.control("GET", "seed")
    fake_wechat.control("POST", "seed", json={"work": {"users": ["qs01.g1", "qs01.g2", "unbound.member"],
                                                       "guests": ["o_outsider"]}})
    yield
    fake_wechat.control("POST", "seed", json={"work": {"users": original["work"]["users"],
                                                       "guests": original["work"].get("guests", [])}})


def _path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def authorize(location: str, **identity) -> str:
    """Play the user choosing an identity on the fake's authorize page; the callback URL it sends us back to."""
    answer = requests.get(location.split("#")[0], params=identity, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:300]
    return answer.headers["Location"]


def silent_sign_in(client, path: str, ua: str, **identity):
    first = client.get(path, headers={"User-Agent": ua})
    assert first.status_code == 302 and urlsplit(first.headers["Location"]).path == "/wechat/signin"
    start = client.get(_path(first.headers["Location"]), headers={"User-Agent": ua})
    assert start.status_code == 302, start.data[:200]
    back = authorize(start.headers["Location"], **identity)
    return back, client.get(_path(back), headers={"User-Agent": ua})


def test_a_bound_grid_worker_opening_a_link_in_wecom_is_signed_in_silently(app, client, wx_users):
    back, done = silent_sign_in(client, "/m/", WECOM_UA, fake_userid="qs01.g1")
    assert done.status_code == 302 and _path(done.headers["Location"]) == "/m/"
    page = client.get("/m/", headers={"User-Agent": WECOM_UA})
    assert page.status_code == 200 and "青石村第1网格" in page.get_data(as_text=True)
    state = parse_qs(urlsplit(back).query)["state"][0]
    assert len(state) >= 32
    # The callback cannot be replayed: the state was spent on first use.
    replay = client.get(_path(back), headers={"User-Agent": WECOM_UA})
    assert replay.status_code == 400


def test_the_state_is_bound_to_the_session_that_started_it(app, client, wx_users):
    first = client.get("/wechat/signin?next=/m/", headers={"User-Agent": WECOM_UA})
    back = authorize(first.headers["Location"], fake_userid="qs01.g1")
    attacker = app.test_client()  # another browser: the same code and state, no pending sign-in
    answer = attacker.get(_path(back), headers={"User-Agent": WECOM_UA})
    assert answer.status_code == 400
    assert attacker.get("/m/", headers={"User-Agent": DESKTOP_UA}).status_code == 302


def test_a_forged_state_is_refused(app, client, wx_users):
    client.get("/wechat/signin?next=/m/", headers={"User-Agent": WECOM_UA})
    answer = client.get("/wechat/oauth/callback?code=abc&state=forged-state-value", headers={"User-Agent": WECOM_UA})
    assert answer.status_code == 400 and "失效" in answer.get_data(as_text=True)


@pytest.mark.parametrize(("identity", "ua", "message"), [
    ({"fake_userid": "unbound.member"}, WECOM_UA, "尚未绑定"),
    ({"fake_openid": "o_outsider"}, WECOM_UA, "不是本单位企业微信成员"),
    ({"fake_openid": "snapshot_o123"}, WECHAT_UA, "快照页"),
    ({"fake_openid": "o_never_bound"}, WECHAT_UA, "尚未绑定"),
])
def test_unbound_outside_and_snapshot_identities_get_nothing(app, client, wx_users, identity, ua, message):
    _, done = silent_sign_in(client, "/m/", ua, **identity)
    assert done.status_code == 403 and message in done.get_data(as_text=True)
    assert client.get("/m/", headers={"User-Agent": DESKTOP_UA}).status_code == 302  # still anonymous


def test_outside_wechat_the_login_page_is_used(client):
    answer = client.get("/m/", headers={"User-Agent": DESKTOP_UA})
    assert answer.status_code == 302 and urlsplit(answer.headers["Location"]).path == "/login"


def test_after_signing_out_on_this_phone_silent_sign_in_stops_until_a_password_sign_in(app, client, wx_users):
    silent_sign_in(client, "/m/", WECOM_UA, fake_userid="qs01.g1")
    page = client.get("/m/", headers={"User-Agent": WECOM_UA})
    out = client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))},
                      headers={"User-Agent": WECOM_UA})
    assert out.status_code == 302 and SIGNED_OUT_COOKIE in out.headers.get("Set-Cookie", "")
    again = client.get("/m/", headers={"User-Agent": WECOM_UA})
    assert urlsplit(again.headers["Location"]).path == "/login"
    # Even a callback of a sign-in started before is refused while the device is signed out.
    assert client.get("/wechat/signin?next=/m/", headers={"User-Agent": WECOM_UA}).headers["Location"].startswith(
        "/login")
    # Signing in with the password on this phone re-allows silent sign-in afterwards.
    login_page = client.get("/login", headers={"User-Agent": WECOM_UA})
    signed = client.post("/login", data={"username": "qs01.g1", "password": DEMO_PASSWORD, "next": "/m/",
                                         "csrf_token": csrf_from(login_page.get_data(as_text=True))},
                         headers={"User-Agent": WECOM_UA})
    assert signed.status_code == 302
    cleared = signed.headers.getlist("Set-Cookie")
    assert any(c.startswith(f"{SIGNED_OUT_COOKIE}=;") for c in cleared)


# --- binding codes ---------------------------------------------------------------------------------------------


def _issue(client, user_id: int) -> tuple[int, str]:
    page = client.get(f"/wechat/binding-codes/{user_id}")
    if page.status_code != 200:
        return page.status_code, ""
    posted = client.post(f"/wechat/binding-codes/{user_id}", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert posted.status_code == 302
    answer = client.get(f"/wechat/binding-codes/{user_id}")
    html = answer.get_data(as_text=True)
    code = html.split('id="binding-code">', 1)[1].split("<", 1)[0].replace("-", "")
    assert answer.headers.get("Cache-Control") == "no-store"
    # Shown once: a reload shows no code.
    assert 'id="binding-code"' not in client.get(f"/wechat/binding-codes/{user_id}").get_data(as_text=True)
    return answer.status_code, code


def continue_url(proved, code: str) -> str:
    """The link of the page shown after the proof (a fresh navigation to our authorisation start)."""
    body = proved.get_data(as_text=True)
    url = f"/wechat/bind/{code}/authorize"
    assert f'href="{url}"' in body and 'http-equiv="refresh"' in body
    return url


def prove_and_bind(phone, code: str, ua: str, password: str = DEMO_PASSWORD, **identity):
    """The phone's holder proves who they are with the password, then WeChat's authorisation binds: the final
    answer of our callback."""
    page = phone.get(f"/wechat/bind/{code}", headers={"User-Agent": ua})
    assert page.status_code == 200 and "登录密码" in page.get_data(as_text=True), page.status_code
    proved = phone.post(f"/wechat/bind/{code}", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                      "password": password}, headers={"User-Agent": ua})
    assert proved.status_code == 200, proved.get_data(as_text=True)[:300]
    # the proof lands on our own page (CSP form-action), whose refresh/link starts WeChat's authorisation
    started = phone.get(continue_url(proved, code), headers={"User-Agent": ua})
    assert started.status_code == 302
    back = authorize(started.headers["Location"], **identity)
    return phone.get(_path(back), headers={"User-Agent": ua})


def test_the_village_cadre_binds_a_grid_worker_with_a_one_time_code(app, db, demo, login_as, client, wx_users):
    from notify.models import Binding, Platform

    worker = demo.user("qs01.g1")
    login_as("qs01.cadre")
    listing = client.get("/village/grid-workers/")
    assert listing.status_code == 200 and worker.display_name in listing.get_data(as_text=True)
    status, code = _issue(client, worker.id)
    assert status == 200 and len(code) == 10
    phone = app.test_client()
    outside = phone.get(f"/wechat/bind/{code}", headers={"User-Agent": DESKTOP_UA})
    assert outside.status_code == 200 and "扫描二维码" in outside.get_data(as_text=True)
    done = prove_and_bind(phone, code, WECHAT_UA, fake_openid="o_new_phone_of_g1")
    assert done.status_code == 302
    assert phone.get("/m/", headers={"User-Agent": WECHAT_UA}).status_code == 200
    db.session.expire_all()
    binding = db.session.scalar(select(Binding).where(Binding.platform == Platform.mp,
                                                      Binding.external_index == "o_new_phone_of_g1"))
    assert binding is not None and binding.user_id == worker.id
    # The code is spent: a second phone gets nothing, not even the proof page.
    second = app.test_client()
    refused = second.get(f"/wechat/bind/{code}", headers={"User-Agent": WECHAT_UA})
    assert refused.status_code == 403 and "绑定码无效" in refused.get_data(as_text=True)
    assert db.session.scalar(select(Binding).where(Binding.external_index == "o_thief")) is None


def test_an_expired_or_replaced_code_binds_nothing(app, db, demo, login_as, client, wx_users):
    from core.db import utcnow
    from notify.models import Binding, BindingCode

    worker = demo.user("qs01.g2")
    login_as("qs01.cadre")
    _, old = _issue(client, worker.id)
    _, new = _issue(client, worker.id)  # the older code is void now
    assert old != new
    phone = app.test_client()
    assert phone.get(f"/wechat/bind/{old}", headers={"User-Agent": WECHAT_UA}).status_code == 403
    page = phone.get(f"/wechat/bind/{new}", headers={"User-Agent": WECHAT_UA})
    assert page.status_code == 200
    db.session.expire_all()
    latest = db.session.scalars(select(BindingCode).where(BindingCode.user_id == worker.id)
                                .order_by(BindingCode.id.desc())).first()
    latest.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    # Expired between the page and the proof: the proof is refused, and nothing is bound.
    posted = phone.post(f"/wechat/bind/{new}", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                     "password": DEMO_PASSWORD}, headers={"User-Agent": WECHAT_UA})
    assert posted.status_code == 403 and "绑定码无效" in posted.get_data(as_text=True)
    assert phone.get(f"/wechat/bind/{new}", headers={"User-Agent": WECHAT_UA}).status_code == 403
    assert db.session.scalar(select(Binding).where(Binding.external_index.in_(["o_old_code", "o_expired_code"]))) is None


@pytest.mark.parametrize(("issuer", "target", "status"), [
    ("cg01.cadre", "qs01.g1", 404),   # another township's village cadre
    ("qs02.cadre", "qs01.g1", 404),   # the neighbouring village's cadre
    ("qs01.g2", "qs01.g1", 403),      # a grid worker for a colleague
    ("qs01.cadre", "qs.staff", 404),  # a cadre for someone who is not a grid worker
])
def test_codes_are_issued_only_by_the_workers_own_village_or_an_admin(db, demo, login_as, client, issuer, target,
                                                                      status):
    from notify.models import BindingCode

    login_as(issuer)
    assert _issue(client, demo.user(target).id)[0] == status
    assert db.session.scalar(select(BindingCode).where(BindingCode.user_id == demo.user(target).id)) is None


def test_an_admin_may_issue_a_code_for_anyone_in_reach(demo, login_as, client):
    login_as("admin")
    status, code = _issue(client, demo.user("qs.staff").id)
    assert status == 200 and code


def test_a_cadre_cannot_get_a_code_for_someone_who_also_holds_another_post(db, demo, login_as, client):
    """A code lets its holder bind a phone to the user: a township clerk with a grid post on the side is not the
    village's to bind (an admin's job)."""
    from core.accounts.memberships import place_by_console
    from core.accounts.models import Role
    from core.actor import Actor
    from notify.models import BindingCode

    clerk = demo.user("qs.staff")
    place_by_console(clerk, role=Role.grid_worker, place=demo.unit("上坝村第1网格"), actor=Actor.system("cli"))
    db.session.commit()
    login_as("qs02.cadre")
    assert _issue(client, clerk.id)[0] == 404
    assert db.session.scalar(select(BindingCode).where(BindingCode.user_id == clerk.id)) is None
