"""The fake WeChat server, WeCom side, and the injectable faults, driven by wechatpy."""

# ruff: noqa: F811 - the pytest fixtures imported from fake_support are test parameters
from __future__ import annotations

import time

import pytest
import requests
from wechatpy.exceptions import APILimitedException, WeChatClientException

from tests.notify.fake_support import (
    AGENTID,
    CORPID,
    CORPSECRET,
    GENERIC,
    RESIDENT,
    errcode_of,
    work_client,
)
from tests.notify.fake_support import ctl as ctl
from tests.notify.fake_support import fake as fake
from tests.notify.fake_support import mp as mp
from tests.notify.fake_support import work as work

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
