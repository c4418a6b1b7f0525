"""Shared pieces of the fake WeChat server tests: the server fixture, the host-rewrite adapter, client builders.

wechatpy hard-codes https://api.weixin.qq.com/ and https://qyapi.weixin.qq.com/; a requests transport adapter
mounted on each client's session rewrites those hosts to the fake's /mp and /work prefixes, and a deny-all
adapter on every other URL proves nothing leaks to the internet.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from wechatpy import WeChatClient
from wechatpy.work import WeChatClient as WorkClient

from notify.fake import start_fake_server, stop_fake_server

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



# --- callbacks pushed to our app, replies read back ------------------------------------------------------------


def push(fake_wechat, base, platform="mp", **body):
    """Have the fake push a callback (built and encrypted by it) to our app served at ``base``."""
    return fake_wechat.control("POST", "push", json={"platform": platform,
                                                     "url": f"{base}/wechat/callback/{platform}", **body})


def decrypt_reply(config, body: str, platform: str = "work") -> str:
    """Our encrypted passive reply, decrypted with wechatpy's crypto as WeChat would (the inner XML)."""
    import re

    if platform == "work":
        from wechatpy.work.crypto import WeChatCrypto

        crypto = WeChatCrypto(config["WECOM_TOKEN"], config["WECOM_AES_KEY"], config["WECOM_CORP_ID"])
    else:
        from wechatpy.crypto import WeChatCrypto

        crypto = WeChatCrypto(config["MP_TOKEN"], config["MP_AES_KEY"], config["MP_APP_ID"])
    signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", body).group(1)
    timestamp = re.search(r"<TimeStamp>(\d+)</TimeStamp>", body).group(1)
    nonce = re.search(r"<Nonce><!\[CDATA\[(.*?)\]\]>", body).group(1)
    return crypto.decrypt_message(body, signature, timestamp, nonce)
