"""The fake WeChat server's control API, the callbacks it pushes to us, and its CLI."""

# ruff: noqa: F811 - the pytest fixtures imported from fake_support are test parameters
from __future__ import annotations

import socket
import threading
import time

import pytest
from defusedxml import ElementTree as SafeET
from flask import Flask, request
from wechatpy.exceptions import WeChatClientException
from wechatpy.utils import check_signature
from werkzeug.serving import make_server

from notify.fake import create_fake_app
from notify.fake.cli import fake_wechat_command
from tests.notify.fake_support import (
    AES_KEY,
    AGENTID,
    CORPID,
    GENERIC,
    MP_APPID,
    RESIDENT,
    TOKEN,
    UNSUBSCRIBED,
    errcode_of,
)
from tests.notify.fake_support import ctl as ctl
from tests.notify.fake_support import fake as fake
from tests.notify.fake_support import mp as mp


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
    ("garbage_ciphertext", {"decrypt", "appid"}), ("doctype", "doctype"),
])
def test_push_tampering(ctl, receiver, platform, tamper, verdict):
    """Each tampering is refused for its own reason. Random ciphertext (correctly signed) fails to decrypt —
    or, now and then, decrypts to junk whose padding happens to pass and is refused by its AppID instead
    (seen in a full run): either way undecryptable, never taken for a bad signature."""
    result = ctl.post("/push", {"platform": platform, "url": f"{receiver.url}/{platform}", "tamper": tamper,
                                "event": {"type": "text", "from": "qs01.g1", "content": "x"}})
    verdicts = verdict if isinstance(verdict, set) else {verdict}
    assert result["status"] == 400 and result["body"] in verdicts, result


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
