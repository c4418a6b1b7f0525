"""The fake WeChat server, driven over real loopback HTTP by wechatpy's own clients.

wechatpy hard-codes https://api.weixin.qq.com/ and https://qyapi.weixin.qq.com/; a requests transport adapter
mounted on each client's session rewrites those hosts to the fake's /mp and /work prefixes, and a deny-all
adapter on every other URL proves nothing leaks to the internet.
"""

from __future__ import annotations

import html
import re
import socket
import threading
import time
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
import requests
from defusedxml import ElementTree as SafeET
from flask import Flask, request
from requests.adapters import BaseAdapter, HTTPAdapter
from wechatpy import WeChatClient, WeChatOAuth
from wechatpy.exceptions import APILimitedException, WeChatClientException, WeChatOAuthException
from wechatpy.utils import check_signature
from wechatpy.work import WeChatClient as WorkClient
from werkzeug.serving import make_server

from notify.fake import create_fake_app, start_fake_server, stop_fake_server
from notify.fake.cli import fake_wechat_command
from notify.fake.fields import check_value

MP_APPID, MP_SECRET = "wxdemo0000000001", "demo-mp-secret"
CORPID, CORPSECRET, AGENTID = "wwdemo0000000001", "demo-wecom-secret", 1000002
TOKEN, AES_KEY = "demotoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
RESIDENT, UNSUBSCRIBED = "odemo-resident-01", "odemo-unsubscribed-01"


class WeChatHostsAdapter(HTTPAdapter):
    """Sends https://api.weixin.qq.com/X to {base}/mp/X and https://qyapi.weixin.qq.com/X to {base}/work/X."""

    HOSTS = {"api.weixin.qq.com": "/mp", "qyapi.weixin.qq.com": "/work"}

    def __init__(self, base_url: str):
        super().__init__()
        self.base = urlsplit(base_url)

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.url = urlunsplit((self.base.scheme, self.base.netloc, self.HOSTS[parts.hostname] + parts.path,
                                  parts.query, ""))
        return super().send(request, **kwargs)


class DenyAdapter(BaseAdapter):
    def send(self, request, **kwargs):
        raise requests.ConnectionError(f"no adapter mounted for {request.url}")

    def close(self):
        pass


def mount(session: requests.Session, base_url: str) -> requests.Session:
    session.mount("http://", DenyAdapter())
    session.mount("https://", DenyAdapter())
    adapter = WeChatHostsAdapter(base_url)
    for host in adapter.HOSTS:
        session.mount(f"https://{host}/", adapter)
    return session


class StableTokenClient(WeChatClient):
    """Fetches its token from /cgi-bin/stable_token, as our production client does."""

    force_refresh = False

    def fetch_access_token(self):
        res = self._http.post("https://api.weixin.qq.com/cgi-bin/stable_token", timeout=5,
                              json={"grant_type": "client_credential", "appid": self.appid,
                                    "secret": self.secret, "force_refresh": self.force_refresh})
        result = self._handle_result(res)
        self.session.set(self.access_token_key, result["access_token"], result["expires_in"])
        self.expires_at = int(time.time()) + result["expires_in"]
        return result


@pytest.fixture(scope="module")
def fake():
    server, base_url, thread = start_fake_server()
    yield base_url
    stop_fake_server(server, thread)


class Control:
    def __init__(self, base_url):
        self.base = base_url

    def get(self, endpoint, **params):
        res = requests.get(f"{self.base}/_fake{endpoint}", params=params, timeout=5)
        assert res.status_code == 200, res.text
        return res.json()

    def post(self, endpoint, payload=None, expect=200):
        res = requests.post(f"{self.base}/_fake{endpoint}", json=payload or {}, timeout=10)
        assert res.status_code == expect, res.text
        return res.json()

    def messages(self, **params):
        return self.get("/messages", **params)["messages"]

    def requests(self, **params):
        return self.get("/requests", **params)["requests"]


@pytest.fixture()
def ctl(fake):
    control = Control(fake)
    control.post("/reset", {"all": True})
    return control


@pytest.fixture()
def mp(fake, ctl):
    return mp_client(fake)


@pytest.fixture()
def work(fake, ctl):
    return work_client(fake)


def mp_client(base_url, cls=WeChatClient, secret=MP_SECRET, timeout=5):
    client = cls(MP_APPID, secret, auto_retry=False, timeout=timeout)
    mount(client._http, base_url)
    return client


def work_client(base_url, corpid=CORPID, secret=CORPSECRET, timeout=5):
    client = WorkClient(corpid, secret, auto_retry=False, timeout=timeout)
    mount(client._http, base_url)
    return client


GENERIC = {"thing1": {"value": "纠纷已受理"}, "character_string2": {"value": "SF-2026-000123"},
           "phrase3": {"value": "已受理"}, "time4": {"value": "2026年3月1日 15:01"}}
ALL_TYPES = {"thing1": "调解预约提醒", "character_string2": "QS-2026/0001#A", "phrase3": "待调解",
             "time4": "2026-03-01 09:00~11:30", "date5": "2026年3月1日", "number6": "12.5", "amount7": "¥300.00元",
             "name8": "张三", "phone_number9": "+86-0571-88888888", "car_number10": "浙A12345",
             "letter11": "ABC", "symbol12": "#-", "const13": "ignored"}


def all_types(**changes):
    values = {**ALL_TYPES, **changes}
    return {k: {"value": v} for k, v in values.items() if v is not None}


def errcode_of(excinfo) -> int:
    return excinfo.value.errcode


# --- Official Account: tokens -----------------------------------------------------------------------------------


def test_mp_token_rotates_with_grace_and_expires(fake, ctl, mp):
    first = mp.fetch_access_token()
    assert first["expires_in"] == 7200 and len(first["access_token"]) > 64
    mp.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)
    second = mp_client(fake).fetch_access_token()
    assert second["access_token"] != first["access_token"]
    mp.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)  # the old token lives on for 5 minutes
    ctl.post("/clock", {"advance": 301})
    with pytest.raises(WeChatClientException) as exc:
        mp.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)
    assert errcode_of(exc) == 40001
    newer = mp_client(fake, timeout=5)
    newer.session.set(newer.access_token_key, second["access_token"])
    newer.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)
    ctl.post("/clock", {"advance": 7200})
    with pytest.raises(WeChatClientException) as exc:
        newer.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)
    assert errcode_of(exc) == 42001


def test_mp_stable_token_is_stable_until_forced(fake, ctl):
    client = mp_client(fake, cls=StableTokenClient)
    first = client.fetch_access_token()
    ctl.post("/clock", {"advance": 100})
    again = client.fetch_access_token()
    assert again["access_token"] == first["access_token"]
    assert 7090 <= again["expires_in"] <= 7100  # what is left of its life
    client.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)
    forced = mp_client(fake, cls=StableTokenClient)
    forced.force_refresh = True
    assert forced.fetch_access_token()["access_token"] != first["access_token"]
    with pytest.raises(WeChatClientException) as exc:
        client.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)
    assert errcode_of(exc) == 40001


@pytest.mark.parametrize(("cls", "appid", "secret", "errcode"), [
    (WeChatClient, MP_APPID, "wrong", 40001),
    (StableTokenClient, MP_APPID, "wrong", 40125),
    (StableTokenClient, "wxunknown", MP_SECRET, 40013),
])
def test_mp_token_credentials_refused(fake, ctl, cls, appid, secret, errcode):
    client = cls(appid, secret, auto_retry=False, timeout=5)
    mount(client._http, fake)
    with pytest.raises(WeChatClientException) as exc:
        client.fetch_access_token()
    assert errcode_of(exc) == errcode


# --- Official Account: template messages ------------------------------------------------------------------------


def test_template_send_ok_is_stored_and_logged(ctl, mp):
    result = mp.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC, url="http://127.0.0.1:5000/m/case/1")
    assert result["errcode"] == 0 and isinstance(result["msgid"], int)
    [stored] = ctl.messages(platform="mp")
    assert stored["touser"] == RESIDENT and stored["template_id"] == "TPL_GENERIC"
    assert stored["data"] == GENERIC and stored["msgid"] == result["msgid"]
    assert stored["url"] == "http://127.0.0.1:5000/m/case/1"
    [logged] = ctl.requests(path="/mp/cgi-bin/message/template/send")
    assert logged["method"] == "POST" and logged["errcode"] == 0 and logged["json"]["touser"] == RESIDENT
    assert "access_token" in logged["query"]
    assert [r["path"] for r in ctl.requests(platform="mp")][0] == "/mp/cgi-bin/token"


@pytest.mark.parametrize(("touser", "template_id", "errcode"), [
    ("odemo-nobody", "TPL_GENERIC", 40003),
    (UNSUBSCRIBED, "TPL_GENERIC", 43004),
    (RESIDENT, "TPL_NO_SUCH", 40037),
])
def test_template_send_refusals(ctl, mp, touser, template_id, errcode):
    with pytest.raises(WeChatClientException) as exc:
        mp.message.send_template(touser, template_id, GENERIC)
    assert errcode_of(exc) == errcode
    assert ctl.messages() == []
    assert ctl.requests(path="/mp/cgi-bin/message/template/send")[0]["errcode"] == errcode


def test_every_field_type_accepts_a_good_value(ctl, mp):
    assert mp.message.send_template(RESIDENT, "TPL_ALL_TYPES", all_types(const13=None))["errcode"] == 0


@pytest.mark.parametrize(("key", "bad"), [
    ("thing1", "一二三四五六七八九十一二三四五六七八九十一"),  # 21 characters
    ("thing1", "第一行\n第二行"),
    ("character_string2", "A" * 33),
    ("character_string2", "案号SF001"),
    ("character_string2", "SF 001"),
    ("phrase3", "已经受理完毕"),
    ("phrase3", "OK"),
    ("time4", "明天下午"),
    ("time4", "2026-03-01"),
    ("time4", "25:00"),
    ("date5", "2026年13月1日"),
    ("number6", "12a"),
    ("amount7", "三百元"),
    ("amount7", "¥12345678901"),
    ("name8", "一二三四五六七八九十一"),
    ("name8", "R2D2"),
    ("phone_number9", "0571-8888-8888-8888"),
    ("phone_number9", "call me"),
    ("car_number10", "浙A1234567"),
    ("car_number10", "浙A-1234"),
    ("letter11", "ABC1"),
    ("symbol12", "a"),
    ("thing1", ""),
])
def test_field_violation_is_47003(ctl, mp, key, bad):
    with pytest.raises(WeChatClientException) as exc:
        mp.message.send_template(RESIDENT, "TPL_ALL_TYPES", all_types(**{key: bad}))
    assert errcode_of(exc) == 47003
    assert f"data.{key}.value" in exc.value.errmsg
    assert ctl.messages() == []


def test_missing_field_or_bad_json_is_47001(ctl, mp):
    with pytest.raises(WeChatClientException) as exc:
        mp.message.send_template(RESIDENT, "TPL_ALL_TYPES", all_types(thing1=None))
    assert errcode_of(exc) == 47001
    with pytest.raises(WeChatClientException) as exc:
        mp.post("message/template/send", data=b"{not json")
    assert errcode_of(exc) == 47001
    with pytest.raises(WeChatClientException) as exc:
        mp.post("message/template/send", data={"touser": RESIDENT, "template_id": "TPL_GENERIC"})
    assert errcode_of(exc) == 47001
    assert ctl.requests(path="/mp/cgi-bin/message/template/send")[1]["body"] == "{not json"


@pytest.mark.parametrize(("value", "ok"), [
    ("15:01", True), ("15:01:59", True), ("2026年3月1日 15:01", True), ("3月1日 8:00", True),
    ("2026/03/01 08:00 ~ 2026/03/01 10:00", True), ("24:00", False), ("2026-03-01", False),
])
def test_time_rule(value, ok):
    assert (check_value("time", value) is None) is ok


def test_client_msg_id_deduplicates_for_ten_minutes(ctl, mp):
    payload = {"touser": RESIDENT, "template_id": "TPL_GENERIC", "data": GENERIC, "client_msg_id": "delivery-42"}
    first = mp.post("message/template/send", data=payload)
    second = mp.post("message/template/send", data=payload)
    assert second["msgid"] == first["msgid"]
    assert len(ctl.messages(platform="mp")) == 1
    logged = ctl.requests(path="/mp/cgi-bin/message/template/send")
    assert [r["duplicate"] for r in logged] == [False, True]
    other = mp.post("message/template/send", data={**payload, "touser": "odemo-resident-02"})
    assert other["msgid"] != first["msgid"]  # the key is (openid, client_msg_id)
    ctl.post("/clock", {"advance": 601})
    later = mp.post("message/template/send", data=payload)
    assert later["msgid"] != first["msgid"]
    assert len(ctl.messages(touser=RESIDENT)) == 2


def test_concurrent_resends_store_one_message(fake, ctl, mp):
    mp.fetch_access_token()
    payload = {"touser": RESIDENT, "template_id": "TPL_GENERIC", "data": GENERIC, "client_msg_id": "race"}
    results = []

    def send():
        client = mp_client(fake)
        client.session.set(client.access_token_key, mp.access_token)
        results.append(client.post("message/template/send", data=payload)["msgid"])

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert len(ctl.messages()) == 1
    assert sum(r["duplicate"] for r in ctl.requests(path="/mp/cgi-bin/message/template/send")) == 7


# --- WeCom ------------------------------------------------------------------------------------------------------


def test_work_gettoken(fake, ctl, work):
    first = work.fetch_access_token()
    assert first["errcode"] == 0 and first["expires_in"] == 7200
    assert work_client(fake).fetch_access_token()["access_token"] == first["access_token"]
    for corpid, secret, errcode in ((CORPID, "wrong", 40001), ("wwunknown", CORPSECRET, 40013)):
        with pytest.raises(WeChatClientException) as exc:
            work_client(fake, corpid=corpid, secret=secret).fetch_access_token()
        assert errcode_of(exc) == errcode


def test_textcard_send_and_invaliduser(ctl, work):
    result = work.message.send_text_card(AGENTID, ["qs01.g1", "nobody.here", "qs.staff"], "新的待办",
                                         "青石村 SF-2026-0001 请于3日内处理", "http://127.0.0.1:5000/m/todo",
                                         btntxt="立即查看处理")
    assert result["errcode"] == 0 and result["invaliduser"] == "nobody.here" and result["msgid"]
    stored = ctl.messages(platform="work")
    assert sorted(m["touser"] for m in stored) == ["qs.staff", "qs01.g1"]
    assert stored[0]["textcard"]["title"] == "新的待办" and stored[0]["textcard"]["btntxt"] == "立即查看"
    assert {m["msgid"] for m in stored} == {result["msgid"]}
    assert ctl.messages(touser="qs01.g1")[0]["agentid"] == AGENTID


def test_all_recipients_unknown_is_81013(ctl, work):
    with pytest.raises(WeChatClientException) as exc:
        work.message.send_text_card(AGENTID, ["nobody.a", "nobody.b"], "t", "d", "http://x.test/")
    assert errcode_of(exc) == 81013
    assert exc.value.response.json()["invaliduser"] == "nobody.a|nobody.b"
    assert ctl.messages() == []


@pytest.mark.parametrize(("changes", "errcode"), [
    ({"title": "标" * 43}, 45002),         # 129 bytes
    ({"description": "述" * 171}, 45002),  # 513 bytes
    ({"description": ""}, 44004),
    ({"url": ""}, 44004),
    ({"agentid": 999}, 40056),
    ({"msgtype": "voice"}, 40008),
])
def test_textcard_refusals(ctl, work, changes, errcode):
    card = {"title": "标" * 42, "description": "述" * 170, "url": "http://x.test/", "btntxt": "详情"}
    body = {"touser": "qs01.g1", "msgtype": "textcard", "agentid": AGENTID, "textcard": card}
    for key, value in changes.items():
        (body if key in body else card)[key] = value
    with pytest.raises(WeChatClientException) as exc:
        work.post("message/send", data=body)
    assert errcode_of(exc) == errcode
    assert ctl.messages() == []
    body.update(agentid=AGENTID, msgtype="textcard", textcard={"title": "标" * 42, "description": "述" * 170,
                                                                "url": "http://x.test/"})
    assert work.post("message/send", data=body)["errcode"] == 0  # exactly at the limits


def test_duplicate_check(ctl, work):
    def send(title, check=1, users="qs01.g1"):
        return work.post("message/send", data={
            "touser": users, "msgtype": "textcard", "agentid": AGENTID,
            "textcard": {"title": title, "description": "d", "url": "http://x.test/"},
            "enable_duplicate_check": check, "duplicate_check_interval": 1800})

    send("同一条")
    second = send("同一条", users="qs01.g1|qs01.g2")
    assert second["errcode"] == 0
    assert [m["touser"] for m in ctl.messages()] == ["qs01.g1", "qs01.g2"]
    assert [r["duplicate"] for r in ctl.requests(path="/work/cgi-bin/message/send")] == [False, True]
    send("另一条")
    send("同一条", check=0)
    assert len(ctl.messages(touser="qs01.g1")) == 3
    ctl.post("/clock", {"advance": 1801})
    send("同一条")
    assert len(ctl.messages(touser="qs01.g1")) == 4


def test_more_than_thirty_a_minute_are_dropped_silently(ctl, work):
    for n in range(31):
        assert work.message.send_text(AGENTID, "cg01.g1", f"第{n}条")["errcode"] == 0
    assert len(ctl.messages(touser="cg01.g1")) == 30
    every = ctl.messages(touser="cg01.g1", include_dropped=1)
    assert len(every) == 31 and every[-1]["dropped"] is True


def test_revoked_and_expired_tokens(fake, ctl, mp, work):
    mp.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)
    work.message.send_text(AGENTID, "qs01.g1", "hi")
    assert ctl.post("/tokens/revoke", {"platform": "mp"})["count"] == 1
    with pytest.raises(WeChatClientException) as exc:
        mp.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)
    assert errcode_of(exc) == 40001
    work.message.send_text(AGENTID, "qs01.g1", "still fine")
    ctl.post("/tokens/revoke", {"platform": "work"})
    with pytest.raises(WeChatClientException) as exc:
        work.message.send_text(AGENTID, "qs01.g1", "hi")
    assert errcode_of(exc) == 40014
    fresh = work_client(fake)
    fresh.message.send_text(AGENTID, "qs01.g1", "new token")  # a revoked token is never handed out again
    ctl.post("/tokens/revoke", {"expire": True})
    with pytest.raises(WeChatClientException) as exc:
        fresh.message.send_text(AGENTID, "qs01.g1", "hi")
    assert errcode_of(exc) == 42001


# --- faults -----------------------------------------------------------------------------------------------------


def test_errcode_fault_counts_down(ctl, mp):
    mp.fetch_access_token()
    path = "/mp/cgi-bin/message/template/send"
    ctl.post("/faults", {"path": path, "errcode": 45009, "count": 2})
    with pytest.raises(APILimitedException):
        mp.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)
    assert ctl.get("/faults")["faults"][0]["count"] == 1
    with pytest.raises(APILimitedException):
        mp.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)
    assert ctl.get("/faults")["faults"] == []
    assert mp.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)["errcode"] == 0
    assert [r["errcode"] for r in ctl.requests(path=path)] == [45009, 45009, 0]
    assert len(ctl.messages()) == 1


def test_http_503_fault(ctl, work):
    work.fetch_access_token()
    ctl.post("/faults", {"path": "/work/cgi-bin/message/send", "http_status": 503})
    with pytest.raises(WeChatClientException) as exc:
        work.message.send_text(AGENTID, "qs01.g1", "hi")
    assert exc.value.errcode is None and exc.value.response.status_code == 503
    assert ctl.requests(path="/work/cgi-bin/message/send")[0]["status"] == 503


def test_delay_fault_times_out_the_client(fake, ctl):
    client = work_client(fake, timeout=0.3)
    client.fetch_access_token()
    ctl.post("/faults", {"path": "/work/cgi-bin/message/send", "delay": 0.8})
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        client.message.send_text(AGENTID, "qs01.g1", "hi")
    assert time.monotonic() - started < 0.75
    assert client.message.send_text(AGENTID, "qs01.g1", "hi")["errcode"] == 0
    # The platform still handles the request we gave up on: a timeout never proves a message was not sent.
    deadline = time.monotonic() + 5
    while len(ctl.messages()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(ctl.messages(touser="qs01.g1")) == 2
    assert [r["errcode"] for r in ctl.requests(path="/work/cgi-bin/message/send")] == [0, 0]


def test_drop_fault_closes_the_connection(ctl, work):
    work.fetch_access_token()
    ctl.post("/faults", {"path": "/work/cgi-bin/message/send", "drop": True})
    with pytest.raises(requests.ConnectionError):
        work.message.send_text(AGENTID, "qs01.g1", "hi")
    assert ctl.messages() == []
    assert ctl.requests(path="/work/cgi-bin/message/send")[0]["dropped"] is True


def test_drop_after_processing_then_retry_with_client_msg_id(ctl, mp):
    mp.fetch_access_token()
    ctl.post("/faults", {"path": "/mp/cgi-bin/message/template/send", "drop": True, "when": "after"})
    payload = {"touser": RESIDENT, "template_id": "TPL_GENERIC", "data": GENERIC, "client_msg_id": "d-7"}
    with pytest.raises(requests.ConnectionError):
        mp.post("message/template/send", data=payload)
    [stored] = ctl.messages()  # the platform kept it although we never heard back
    assert mp.post("message/template/send", data=payload)["msgid"] == stored["msgid"]
    assert len(ctl.messages()) == 1


def test_control_api_validates(ctl):
    assert "error" in ctl.post("/faults", {"path": "/elsewhere", "errcode": 1}, expect=400)
    assert "error" in ctl.post("/faults", {"path": "/mp/cgi-bin/token"}, expect=400)
    assert "error" in ctl.post("/seed", {"mp": {"aes_key": "short"}}, expect=400)
    assert "error" in ctl.post("/seed", {"mp": {"templates": {"T": {"x1": "nonsense"}}}}, expect=400)
    assert "error" in ctl.post("/push", {"platform": "mp"}, expect=400)


def test_seed_reset_and_config(fake, ctl, mp):
    ctl.post("/seed", {"mp": {"users": [{"openid": "o-new"}], "templates": {"T2": {"thing1": "thing"}}}})
    assert mp.message.send_template("o-new", "T2", {"thing1": {"value": "x"}})["errcode"] == 0
    ctl.post("/reset")
    assert ctl.messages() == [] and ctl.requests() == []
    assert ctl.get("/seed")["mp"]["users"] == [{"openid": "o-new", "subscribed": True, "nickname": ""}]
    ctl.post("/reset", {"all": True})
    assert RESIDENT in [u["openid"] for u in ctl.get("/seed")["mp"]["users"]]
    app = create_fake_app({"MP_APP_ID": "wxconfigured", "MP_TEMPLATE_ID": "TPL_X", "WECOM_AGENT_ID": 7,
                           "FAKE_WECHAT_SEED": {"work": {"users": ["only.me"]}}})
    seed = app.test_client().get("/_fake/seed").get_json()
    assert seed["mp"]["appid"] == "wxconfigured" and "TPL_X" in seed["mp"]["templates"]
    assert seed["work"]["agentid"] == 7 and seed["work"]["users"] == [{"userid": "only.me", "name": "only.me"}]


# --- OAuth ------------------------------------------------------------------------------------------------------


def _authorize(fake, platform, **params):
    appid = MP_APPID if platform == "mp" else CORPID
    query = {"appid": appid, "redirect_uri": "http://127.0.0.1:5000/m/oauth?next=/m/", "response_type": "code",
             "scope": "snsapi_base", "state": "s-123", **params}
    return requests.get(f"{fake}/{platform}/connect/oauth2/authorize", params=query, allow_redirects=False,
                        timeout=5)


def _code_from(response) -> str:
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://127.0.0.1:5000/m/oauth"
    query = parse_qs(location.query)
    assert query["next"] == ["/m/"] and query["state"] == ["s-123"]
    return query["code"][0]


def test_mp_oauth_page_and_code_flow(fake, ctl):
    page = _authorize(fake, "mp")
    assert page.status_code == 200 and "fake-identity" in page.text and RESIDENT in page.text
    href = re.search(rf'data-identity="{RESIDENT}"\s+href="([^"]+)"', page.text).group(1)
    code = _code_from(requests.get(html.unescape(href), allow_redirects=False, timeout=5))
    oauth = WeChatOAuth(MP_APPID, MP_SECRET, "http://127.0.0.1:5000/m/oauth")
    mount(oauth._http, fake)
    result = oauth.fetch_access_token(code)
    assert result["openid"] == RESIDENT and result["scope"] == "snsapi_base" and result["refresh_token"]
    with pytest.raises(WeChatOAuthException) as exc:
        oauth.fetch_access_token(code)
    assert exc.value.errcode == 40163
    with pytest.raises(WeChatOAuthException) as exc:
        oauth.fetch_access_token("no-such-code")
    assert exc.value.errcode == 40029
    late = _code_from(_authorize(fake, "mp", fake_openid="o-anyone"))
    ctl.post("/clock", {"advance": 301})
    with pytest.raises(WeChatOAuthException) as exc:
        oauth.fetch_access_token(late)
    assert exc.value.errcode == 40029
    wrong = _authorize(fake, "mp", appid="wxother")
    assert wrong.status_code == 200 and "fake-oauth-error" in wrong.text
    assert ctl.requests(path="/mp/connect/oauth2/authorize")[-1]["errcode"] == 40013


def test_work_oauth_member_and_guest(fake, ctl, work):
    page = _authorize(fake, "work", agentid=AGENTID)
    assert "qs01.g1" in page.text and "odemo-wecom-guest-01" in page.text
    member = _code_from(_authorize(fake, "work", agentid=AGENTID, fake_userid="qs01.g1"))
    assert work.get("auth/getuserinfo", params={"code": member}) == {"errcode": 0, "errmsg": "ok",
                                                                      "userid": "qs01.g1"}
    with pytest.raises(WeChatClientException) as exc:
        work.get("auth/getuserinfo", params={"code": member})
    assert errcode_of(exc) == 40029
    guest = _code_from(_authorize(fake, "work", fake_openid="o-guest"))
    assert work.get("auth/getuserinfo", params={"code": guest})["openid"] == "o-guest"
    legacy = _code_from(_authorize(fake, "work", fake_userid="qs.staff"))
    assert work.oauth.get_user_info(legacy)["UserId"] == "qs.staff"
    assert _authorize(fake, "work", fake_userid="nobody.here").status_code == 200  # error page, no code


# --- callbacks pushed to us -------------------------------------------------------------------------------------


class Receiver:
    """A stand-in for our callback endpoint: checks as notify/wechat/callback.py will, records what it got."""

    def __init__(self):
        from wechatpy.crypto import WeChatCrypto
        from wechatpy.work.crypto import WeChatCrypto as WorkCrypto

        self.crypto = {"mp": WeChatCrypto(TOKEN, AES_KEY, MP_APPID), "work": WorkCrypto(TOKEN, AES_KEY, CORPID)}
        self.received: list[dict] = []
        app = Flask("receiver")
        app.add_url_rule("/cb/<platform>", "cb", self.handle, methods=["POST"])
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/cb"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def handle(self, platform):
        args, raw = request.args, request.get_data()
        self.received.append({"args": args.to_dict(), "raw": raw})
        try:
            SafeET.fromstring(raw, forbid_dtd=True)
        except Exception:
            return "doctype", 400
        if platform == "mp":
            assert args["encrypt_type"] == "aes"
            check_signature(TOKEN, args["signature"], args["timestamp"], args["nonce"])
        try:
            plain = self.crypto[platform].decrypt_message(raw, args["msg_signature"], args["timestamp"],
                                                          args["nonce"])
        except Exception as exc:
            name = type(exc).__name__
            return ("signature" if "Signature" in name else "appid" if "Id" in name else "decrypt"), 400
        if abs(time.time() - int(args["timestamp"])) > 300:
            return "stale", 400
        self.received[-1]["xml"] = SafeET.fromstring(plain)
        return "success"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    recv = Receiver()
    yield recv
    recv.stop()


def _text(xml, tag):
    return xml.find(tag).text


def test_push_subscribe_changes_the_platform_state(ctl, mp, receiver):
    result = ctl.post("/push", {"platform": "mp", "url": f"{receiver.url}/mp",
                                "event": {"type": "subscribe", "from": UNSUBSCRIBED}})
    assert result["status"] == 200 and result["body"] == "success" and result["elapsed"] < 5
    got = receiver.received[-1]
    assert got["args"]["openid"] == UNSUBSCRIBED and set(got["args"]) >= {"signature", "msg_signature", "nonce"}
    assert _text(got["xml"], "Event") == "subscribe" and _text(got["xml"], "ToUserName") == "gh_demo00000001"
    assert b"<ToUserName>" in got["raw"] and b"<Encrypt>" in got["raw"]
    mp.message.send_template(UNSUBSCRIBED, "TPL_GENERIC", GENERIC)
    ctl.post("/push", {"platform": "mp", "url": f"{receiver.url}/mp",
                       "event": {"type": "unsubscribe", "from": UNSUBSCRIBED}})
    with pytest.raises(WeChatClientException) as exc:
        mp.message.send_template(UNSUBSCRIBED, "TPL_GENERIC", GENERIC)
    assert errcode_of(exc) == 43004


def test_push_template_receipt(ctl, mp, receiver):
    msgid = mp.message.send_template(RESIDENT, "TPL_GENERIC", GENERIC)["msgid"]
    result = ctl.post("/push", {"platform": "mp", "url": f"{receiver.url}/mp",
                                "event": {"type": "TEMPLATESENDJOBFINISH", "status": "failed:user block"}})
    assert result["status"] == 200
    xml = receiver.received[-1]["xml"]
    assert _text(xml, "MsgID") == str(msgid) and _text(xml, "Status") == "failed:user block"
    assert _text(xml, "FromUserName") == RESIDENT
    assert ctl.messages()[0]["receipt"] == "failed:user block"


def test_push_work_text_message(ctl, receiver):
    result = ctl.post("/push", {"platform": "work", "url": f"{receiver.url}/work",
                                "event": {"type": "text", "from": "qs01.g1", "content": "待办", "msgid": 12345}})
    assert result["status"] == 200, result
    xml = receiver.received[-1]["xml"]
    assert _text(xml, "Content") == "待办" and _text(xml, "MsgId") == "12345"
    assert _text(xml, "AgentID") == str(AGENTID) and _text(xml, "ToUserName") == CORPID
    assert set(receiver.received[-1]["args"]) == {"msg_signature", "timestamp", "nonce"}


@pytest.mark.parametrize("platform", ["mp", "work"])
@pytest.mark.parametrize(("tamper", "verdict"), [
    ("signature", "signature"), ("timestamp_old", "stale"), ("appid", "appid"),
    ("garbage_ciphertext", "decrypt"), ("doctype", "doctype"),
])
def test_push_tampering(ctl, receiver, platform, tamper, verdict):
    result = ctl.post("/push", {"platform": platform, "url": f"{receiver.url}/{platform}", "tamper": tamper,
                                "event": {"type": "text", "from": "qs01.g1", "content": "x"}})
    assert (result["status"], result["body"]) == (400, verdict)


def test_push_raw_xml_and_replay(ctl, receiver):
    xml = ("<xml><ToUserName><![CDATA[gh_demo00000001]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>"
           "<CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content>"
           "<MsgId>7</MsgId></xml>")
    before = len(receiver.received)
    result = ctl.post("/push", {"platform": "mp", "url": f"{receiver.url}/mp", "xml": xml, "replay": True})
    assert result["status"] == 200 and result["replay"]["status"] == 200
    first, second = receiver.received[before:]
    assert first["args"] == second["args"] and first["raw"] == second["raw"]


def test_push_to_a_dead_url_reports_the_error(ctl):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = ctl.post("/push", {"platform": "work", "url": f"http://127.0.0.1:{port}/cb", "timeout": 1,
                                "event": {"type": "subscribe", "from": "qs01.g1"}})
    assert result["status"] is None and "ConnectionError" in result["error"]


# --- CLI --------------------------------------------------------------------------------------------------------


def _cli_app(env):
    app = Flask("cli-test")
    app.config.update(MEDIATION_ENV=env, FAKE_WECHAT_PORT=5081)
    app.cli.add_command(fake_wechat_command)
    return app


def test_cli_refuses_in_production():
    result = _cli_app("production").test_cli_runner().invoke(args=["fake-wechat"])
    assert result.exit_code == 1
    assert "development 或 test" in result.output and "production" in result.output


def test_cli_in_test_env_gets_as_far_as_binding_the_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _cli_app("test").test_cli_runner().invoke(args=["fake-wechat", "--port", str(port)])
    assert result.exit_code == 1 and f"127.0.0.1:{port}" in result.output and "无法监听" in result.output
