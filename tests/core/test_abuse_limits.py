"""Abuse limits and the visitor's session (等保三级 items 3 and 5), and the signed single-action links, tried
as the attacker would: a username spray from one address is throttled, an administrator cannot be locked out
from everywhere, counters are exact under concurrency on both backends, anonymous pages store nothing, and a
link cannot be replayed, widened or used after expiry."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import ratelimit
from core.accounts.models import WebSession
from core.db import utcnow
from tests.conftest import DEMO_PASSWORD, csrf_from, login, make_app


def _from(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_twenty_username_spray_from_one_address_is_throttled(app, db, demo):
    spray = _from(app, "10.9.9.9")
    statuses = [login(spray, f"guess{n}.user", "Wrong#Pass1").status_code for n in range(20)]
    limit = ratelimit.DEFAULT_LIMITS["login.address"].hits
    assert statuses[:limit] == [401] * limit and set(statuses[limit:]) == {429}
    refused = login(spray, "qs.staff")  # the right password too, from that address, for now
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "过于频繁" in refused.get_data(as_text=True)
    assert login(_from(app, "10.1.1.1"), "qs.staff").status_code == 302  # other addresses are not held


def test_an_administrator_locked_from_one_address_still_signs_in_from_another(app, db, demo):
    attacker = _from(app, "10.6.6.6")
    for _ in range(5):
        login(attacker, "secadmin", "Wrong#Pass1")
    assert "锁定" in login(attacker, "secadmin").get_data(as_text=True)
    assert login(_from(app, "10.0.0.7"), "secadmin").status_code == 302


def test_the_api_counts_every_request_and_answers_429_in_chinese(app, db, demo):
    app.config["RATE_LIMITS"] = {"api.account": [3, 60]}
    try:
        client = app.test_client()
        assert login(client, "qs.staff").status_code == 302
        codes = [client.get("/api/v1/cases").status_code for _ in range(5)]
        assert codes[:3] == [200] * 3 and codes[3:] == [429, 429]
        body = client.get("/api/v1/cases")
        assert body.json["error"]["code"] == "too_many_requests" and "过于频繁" in body.json["error"]["message"]
        assert int(body.headers["Retry-After"]) > 0
        guesser = app.test_client()  # wrong tokens count against their address
        codes = [guesser.get("/api/v1/cases", headers={"Authorization": "Bearer nope"}).status_code
                 for _ in range(5)]
        assert codes[:3] == [401] * 3 and codes[3:] == [429, 429]
    finally:
        app.config["RATE_LIMITS"] = None


def test_intake_counts_against_the_person_on_every_channel(app, db, demo):
    from tests.factories import make_case

    app.config["RATE_LIMITS"] = {"intake.account": [2, 60]}
    try:
        ratelimit.reset("intake.account", str(demo.user("qs.staff").id))  # the demo's own intakes just now
        made = [make_case(demo, "qs.staff", "青石镇", summary=f"限流测试第{n}件：两户排水沟纠纷") for n in range(2)]
        with pytest.raises(ratelimit.RateLimited):
            make_case(demo, "qs.staff", "青石镇", summary="限流测试第三件：两户排水沟纠纷")
        assert len(made) == 2
        client = app.test_client()  # the API is refused the same way, with its JSON 429
        assert login(client, "qs.staff").status_code == 302
        token = csrf_from(client.get("/cases/new").get_data(as_text=True))
        response = client.post("/api/v1/cases", headers={"X-CSRFToken": token}, json={
            "kind": "dispute", "summary": "限流测试：接口登记", "category": "其他", "channel": "visit",
            "origin_unit_id": demo.unit("青石镇").id, "repeat_of": "none",
            "parties": [{"role": "applicant", "name": "测试人"}]})
        assert response.status_code == 429 and "登记过于频繁" in response.json["error"]["message"]
    finally:
        app.config["RATE_LIMITS"] = None


def _count_concurrently(app, name, subject, threads=8, each=25):
    errors = []

    def work():
        try:
            with app.app_context():
                for _ in range(each):
                    ratelimit.hit(name, subject, raise_over=False)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return errors


def test_concurrent_hits_are_all_counted_in_the_database(fresh_url):
    app = make_app(fresh_url)
    try:
        errors = _count_concurrently(app, "intake.account", "racer")
        assert not errors
        with app.app_context():
            from core.db import db as _db
            from core.ratelimit import RateCounter, _key

            hits = _db.session.scalar(select(func.sum(RateCounter.hits)).where(
                RateCounter.key == _key("intake.account", "racer")))
            assert hits == 200  # one window unless the run straddles a minute: then two rows, same sum
    finally:
        with app.app_context():
            from core.db import db as _db

            _db.engine.dispose()


def _redis_url():
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_timeout=1).ping()
        return "redis://127.0.0.1:6379/15"
    except Exception:  # noqa: BLE001 - no Redis here: the database backend is the default anyway
        return None


def test_the_redis_backend_counts_the_same(app):
    url = _redis_url()
    if url is None:
        pytest.skip("no Redis on 127.0.0.1:6379")
    app.config["RATE_LIMIT_REDIS_URL"] = url
    try:
        with app.app_context():
            ratelimit.reset("intake.account", "redis-racer")
        assert not _count_concurrently(app, "intake.account", "redis-racer")
        with app.app_context():
            import redis

            client = redis.Redis.from_url(url)
            total = sum(int(client.get(k)) for k in client.scan_iter("mdt:rl:" + ratelimit._key(
                "intake.account", "redis-racer") + ":*"))
            assert total == 200
            app.config["RATE_LIMITS"] = {"intake.account": [200, 60]}
            with pytest.raises(ratelimit.RateLimited):
                ratelimit.hit("intake.account", "redis-racer", now=float(max(
                    int(k.decode().rsplit(":", 1)[1]) for k in client.scan_iter(
                        "mdt:rl:" + ratelimit._key("intake.account", "redis-racer") + ":*"))))
            ratelimit.reset("intake.account", "redis-racer")
    finally:
        app.config["RATE_LIMIT_REDIS_URL"] = ""
        app.config["RATE_LIMITS"] = None


def test_housekeeping_removes_ended_windows(db):
    ratelimit.hit("login.address", "10.3.3.3", now=1_000_000.0)
    ratelimit.hit("login.address", "10.3.3.4")
    removed = ratelimit.remove_expired(db.session)
    assert removed >= 1
    assert db.session.scalar(select(func.count()).select_from(ratelimit.RateCounter).where(
        ratelimit.RateCounter.key == ratelimit._key("login.address", "10.3.3.4"))) == 1


# --- the visitor's session ---------------------------------------------------------------------------------------

def test_three_hundred_anonymous_login_pages_store_no_session(app, db, demo):
    before = db.session.scalar(select(func.count()).select_from(WebSession))
    for _ in range(300):
        assert app.test_client().get("/login").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == before


def test_a_forged_visitor_cookie_carries_nothing(app, db, demo):
    client = app.test_client()
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    cookie = client.get_cookie("mdt_session").value
    client.set_cookie("mdt_session", cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB"))
    response = client.post("/login", data={"csrf_token": token, "username": "qs.staff", "password": DEMO_PASSWORD})
    assert response.status_code == 400  # its CSRF token is gone with it
    client.set_cookie("mdt_session", "a.v1:not-even-base64")
    assert client.get("/login").status_code == 200


# --- signed single-action links ----------------------------------------------------------------------------------

@pytest.fixture()
def card(app, db, demo):
    from center.cases.card import card_link
    from tests.factories import make_case

    case = make_case(demo, "qs.staff", "青石镇", summary="链接测试：相邻两户排水沟堵塞纠纷")
    path = card_link(case, demo.user("qs.staff"))
    db.session.commit()
    return case, path


def test_a_card_shows_one_case_read_only_and_signs_nobody_in(app, db, demo, card):
    case, path = card
    client = app.test_client()
    rows = db.session.scalar(select(func.count()).select_from(WebSession))
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and case.number in html and "登录后办理" in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == rows
    assert client.get("/account").status_code == 302  # no session came with it
    assert client.get(f"/cases/{case.number}").status_code == 302
    assert client.get(path).status_code == 200  # a read-only link opens again until it expires


def test_a_link_cannot_be_widened_to_another_subject_or_action(app, db, demo, card):
    from tests.factories import make_case

    case, path = card
    other = make_case(demo, "lh.staff", "柳河镇", summary="链接测试：另一乡镇的土地纠纷")
    db.session.commit()
    client = app.test_client()
    for tampered in (f"{path}?subject_id={other.id}", f"{path}?id={other.id}&number={other.number}"):
        html = client.get(tampered).get_data(as_text=True)
        assert case.number in html and other.number not in html
    assert client.post(path).status_code in (400, 405)  # a read-only link does nothing on POST
    assert client.get(path[:-1] + ("A" if path[-1] != "A" else "B")).status_code == 410


def test_a_link_is_refused_after_expiry_or_revocation_or_when_the_right_is_gone(app, db, demo, card):
    from core.links import ActionLink, revoke

    case, path = card
    link = db.session.scalar(select(ActionLink).order_by(ActionLink.id.desc()))
    link.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert app.test_client().get(path).status_code == 410
    link.expires_at = utcnow() + timedelta(days=1)
    db.session.commit()
    assert app.test_client().get(path).status_code == 200
    assert revoke(link.id, user_id=demo.user("qs.leader").id) is False  # not theirs to revoke
    assert revoke(link.id, user_id=demo.user("qs.staff").id) is True
    db.session.commit()
    assert app.test_client().get(path).status_code == 410


def test_a_once_link_is_spent_by_its_first_use(app, db, demo):
    from core.links import LinkAction, issue, register_link_action

    done = []

    def accept(link, user):
        done.append((link.subject_id, user.username))
        return "已接受"

    register_link_action(LinkAction("test.accept", "test", accept, once=True, confirm="接受这次换班"))
    path = issue("test.accept", 42, user=demo.user("qs.leader"), ttl=timedelta(hours=1))
    db.session.commit()
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200 and "接受这次换班" in page.get_data(as_text=True) and not done  # GET does nothing
    token = csrf_from(page.get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token}).status_code == 200
    assert client.post(path, data={"csrf_token": token}).status_code == 410  # replay
    assert client.get(path).status_code == 410
    assert done == [(42, "qs.leader")]


def test_housekeeping_sweeps_what_can_never_matter_again(app, db, demo):
    from core.accounts.models import LoginThrottle
    from core.actor import Actor
    from core.housekeeping import sweep
    from core.links import ActionLink
    from notify.models import CallbackReceipt

    now = utcnow()
    user = demo.user("qs.staff")
    db.session.add_all([
        WebSession(sid_hash="old" * 16, user_id=user.id, data={}, created_at=now - timedelta(hours=13),
                   last_seen_at=now - timedelta(hours=13)),
        WebSession(sid_hash="new" * 16, user_id=user.id, data={}, created_at=now, last_seen_at=now),
        LoginThrottle(username="ghost|aa", failures=3, last_failure_at=now - timedelta(days=2)),
        LoginThrottle(username="ghost|bb", failures=5, last_failure_at=now - timedelta(days=2),
                      locked_until=now + timedelta(minutes=5)),
        CallbackReceipt(replay_key="old-receipt", created_at=now - timedelta(days=2)),
        CallbackReceipt(replay_key="new-receipt", created_at=now),
        ActionLink(token_hash="e" * 64, action="case.card", subject_type="case", subject_id=1, once=False,
                   created_at=now - timedelta(days=40), expires_at=now - timedelta(days=33)),
        ActionLink(token_hash="f" * 64, action="case.card", subject_type="case", subject_id=1, once=False,
                   created_at=now, expires_at=now + timedelta(days=3)),
    ])
    db.session.commit()
    summary = sweep(Actor.system())
    assert "会话" in summary and "微信回调记录" in summary
    sids = set(db.session.scalars(select(WebSession.sid_hash)))
    assert "old" * 16 not in sids and "new" * 16 in sids
    throttles = set(db.session.scalars(select(LoginThrottle.username)))
    assert "ghost|aa" not in throttles and "ghost|bb" in throttles  # a lock still running stays
    receipts = set(db.session.scalars(select(CallbackReceipt.replay_key)))
    assert "old-receipt" not in receipts and "new-receipt" in receipts
    links = set(db.session.scalars(select(ActionLink.token_hash)))
    assert "e" * 64 not in links and "f" * 64 in links
    assert sweep(Actor.system())  # twice changes nothing more


# --- headers and the address believed ------------------------------------------------------------------------

def test_x_forwarded_for_is_believed_only_behind_a_configured_proxy(fresh_url):
    from core.audit.models import AuditEntry

    for proxies, expected in ((0, "127.0.0.1"), (1, "10.20.30.40")):
        application = make_app(fresh_url, PROXY_COUNT=proxies)
        try:
            client = application.test_client()
            page = client.get("/login", headers={"X-Forwarded-For": "10.20.30.40"})
            client.post("/login", headers={"X-Forwarded-For": "10.20.30.40"}, data={
                "csrf_token": csrf_from(page.get_data(as_text=True)), "username": f"ghost{proxies}.user",
                "password": "Wrong#Pass1"})
            with application.app_context():
                from core.db import db as _db

                ip = _db.session.scalar(select(AuditEntry.ip).where(AuditEntry.actor_name == f"ghost{proxies}.user",
                                                                   AuditEntry.action == "login.failed"))
                assert ip == expected, (proxies, ip)
        finally:
            with application.app_context():
                from core.db import db as _db

                _db.engine.dispose()


def test_hsts_in_production_only(app):
    from core.config import DefaultConfig, DevelopmentConfig

    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers  # test: plain HTTP
    assert DefaultConfig.HSTS_SECONDS >= 31536000 and DevelopmentConfig.HSTS_SECONDS == 0
    app.config["HSTS_SECONDS"] = 31536000
    try:
        header = app.test_client().get("/login").headers["Strict-Transport-Security"]
        assert header == "max-age=31536000; includeSubDomains"
    finally:
        app.config["HSTS_SECONDS"] = 0


def test_a_message_about_a_case_carries_its_card_to_staff_and_the_page_to_grid_workers(app, db, demo, enforced):
    from notify.outbox import enqueue
    from tests.factories import make_case

    case = make_case(demo, "qs.staff", "青石镇", summary="卡片测试：两户排水沟纠纷")
    staff = enqueue("card.test", demo.user("qs.leader"), {"title": "交办", "body": "请办理",
                                                         "url": f"/cases/{case.number}"}, key="card-test-staff")
    grid = enqueue("card.test", demo.user("qs01.g1"), {"title": "回访", "body": "请回访",
                                                      "url": f"/cases/{case.number}"}, key="card-test-grid")
    other = enqueue("card.test", demo.user("qs.leader"), {"title": "设置", "body": "x", "url": "/account"},
                    key="card-test-other")
    db.session.commit()
    assert staff.payload["url"].startswith("/l/") and staff.payload["full_url"] == f"/cases/{case.number}"
    assert grid.payload["url"] == f"/cases/{case.number}"  # signed in silently inside WeChat
    assert other.payload["url"] == "/account"
    page = app.test_client().get(staff.payload["url"] + "?n=1")  # as the rendered message carries it
    assert page.status_code == 200 and case.number in page.get_data(as_text=True)
    assert "卡片测试" not in page.get_data(as_text=True)  # no summary on a card
