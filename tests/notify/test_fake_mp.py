"""The fake WeChat server, Official Account side: tokens, template messages and OAuth, driven by wechatpy."""

# ruff: noqa: F811 - the pytest fixtures imported from fake_support are test parameters
from __future__ import annotations

import html
import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from wechatpy import WeChatClient, WeChatOAuth
from wechatpy.exceptions import WeChatClientException, WeChatOAuthException

from notify.fake.fields import check_value
from tests.notify.fake_support import (
    AGENTID,
    CORPID,
    GENERIC,
    MP_APPID,
    MP_SECRET,
    RESIDENT,
    UNSUBSCRIBED,
    StableTokenClient,
    all_types,
    errcode_of,
    mount,
    mp_client,
)
from tests.notify.fake_support import ctl as ctl
from tests.notify.fake_support import fake as fake
from tests.notify.fake_support import mp as mp
from tests.notify.fake_support import work as work

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
