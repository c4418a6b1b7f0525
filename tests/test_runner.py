"""`make run` (core/runner.py): the WeChat stand-in's port follows PORT, the stand-in's logs never show an access
token, and the runner on a fresh database prints "serving on" only once the web server answers — with the
stand-in on its derived port and the app's WeChat client pointed at it."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from core import runner
from core.config import load_config
from notify.fake.server import create_fake_app, redact, serve
from tests import dbutil

ROOT = Path(__file__).resolve().parents[1]


# --- ports ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("environ", "web", "fake"), [
    ({}, 5000, 5081),
    ({"PORT": "5100"}, 5100, 5181),
    ({"PORT": "5100", "WECHAT_FAKE_PORT": "6001"}, 5100, 6001),
    ({"PORT": "5100", "MEDIATION_FAKE_WECHAT_PORT": "6002"}, 5100, 6002),
    ({"PORT": "5100", "WECHAT_FAKE_PORT": "6001", "MEDIATION_FAKE_WECHAT_PORT": "6002"}, 5100, 6001),
    ({"PORT": "5100", "WECHAT_FAKE_PORT": " "}, 5100, 5181),
])
def test_stand_in_port_follows_the_web_port_unless_set(environ, web, fake):
    assert runner.web_port(environ) == web
    assert runner.fake_wechat_port(environ) == fake


@pytest.mark.parametrize("environ", [
    {"PORT": "abc"}, {"PORT": "0"}, {"PORT": "70000"}, {"PORT": "65500"}, {"WECHAT_FAKE_PORT": "x"},
    {"PORT": "5100", "WECHAT_FAKE_PORT": "5100"},
])
def test_unusable_ports_are_refused_with_a_reason(environ):
    with pytest.raises(runner.StartupError):
        runner.fake_wechat_port(environ)


def test_every_process_is_pointed_at_the_stand_in(monkeypatch):
    env = runner.process_environment({"PORT": "5100"})
    assert env["MEDIATION_FAKE_WECHAT_PORT"] == "5181"
    assert env["MEDIATION_PUBLIC_BASE_URL"] == "http://127.0.0.1:5100"
    # The configuration the children build from that environment (core.config's MEDIATION_* overrides).
    for key in [k for k in os.environ if k.startswith("MEDIATION_") or k == "DATABASE_URL"]:
        monkeypatch.delenv(key)
    for key, value in {**env, "MEDIATION_ENV": "development"}.items():
        monkeypatch.setenv(key, value)
    cfg = load_config()
    assert cfg["FAKE_WECHAT_PORT"] == 5181
    assert cfg["WECOM_API_BASE"] == "http://127.0.0.1:5181/work/cgi-bin/"
    assert cfg["WECOM_OAUTH_BASE"] == "http://127.0.0.1:5181/work/"
    assert cfg["MP_API_BASE"] == "http://127.0.0.1:5181/mp/cgi-bin/"
    assert cfg["MP_OAUTH_BASE"] == "http://127.0.0.1:5181/mp/"
    assert cfg["PUBLIC_BASE_URL"] == "http://127.0.0.1:5100"


def test_explicit_platform_settings_win():
    env = runner.process_environment({"PORT": "5100", "MEDIATION_WECOM_API_BASE": "https://wecom.example/cgi-bin/"})
    assert env["MEDIATION_WECOM_API_BASE"] == "https://wecom.example/cgi-bin/"
    assert env["MEDIATION_MP_API_BASE"] == "http://127.0.0.1:5181/mp/cgi-bin/"


# --- the stand-in's request log ---------------------------------------------------------------------------------


def test_redact_hides_tokens_and_secrets_only():
    line = ('"GET /work/cgi-bin/gettoken?corpid=ww1&corpsecret=s3cr3t HTTP/1.1" 200 -  '
            "/mp/cgi-bin/message/template/send?access_token=AbC-123_x&x=1 /sns?refresh_token=r&secret=q#f")
    out = redact(line)
    for value in ("s3cr3t", "AbC-123_x", "refresh_token=r", "secret=q"):
        assert value not in out
    assert "corpid=ww1" in out and "access_token=***&x=1" in out and "corpsecret=*** HTTP/1.1" in out


@pytest.fixture()
def logging_fake():
    """The stand-in as `flask notify fake-wechat` serves it: werkzeug's server with its request log on."""
    server = serve(create_fake_app({}), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_request_log_never_shows_access_tokens(logging_fake, caplog, monkeypatch):
    # Alembic's fileConfig (run by every migration earlier in the session) disables existing loggers,
    # werkzeug's among them: switch it back on for this test, as a fresh `flask notify fake-wechat` has it.
    monkeypatch.setattr(logging.getLogger("werkzeug"), "disabled", False)
    caplog.set_level(logging.INFO, logger="werkzeug")
    got = requests.get(f"{logging_fake}/work/cgi-bin/gettoken",
                       params={"corpid": "wwdemo0000000001", "corpsecret": "demo-wecom-secret"}, timeout=10).json()
    token = got["access_token"]
    sent = requests.post(f"{logging_fake}/work/cgi-bin/message/send", params={"access_token": token}, timeout=10,
                         json={"touser": "admin", "agentid": 1000002, "msgtype": "text", "text": {"content": "hi"}})
    assert sent.json()["errcode"] == 0
    requests.get(f"{logging_fake}/work/cgi-bin/no-such-api", params={"access_token": token}, timeout=10)

    printed = caplog.text
    assert "/work/cgi-bin/message/send?access_token=***" in printed  # the line is there, the token is not
    assert "/work/cgi-bin/gettoken?corpid=wwdemo0000000001&corpsecret=***" in printed
    assert token not in printed and "demo-wecom-secret" not in printed

    log = requests.get(f"{logging_fake}/_fake/requests", timeout=10)
    assert token not in log.text and "demo-wecom-secret" not in log.text
    by_path = {r["path"]: r for r in log.json()["requests"]}
    assert by_path["/work/cgi-bin/message/send"]["query"] == {"access_token": "***"}
    assert by_path["/work/cgi-bin/gettoken"]["query"] == {"corpid": "wwdemo0000000001", "corpsecret": "***"}
    assert by_path["/work/cgi-bin/message/send"]["json"]["touser"] == "admin"


# --- `python -m core.runner` end to end -------------------------------------------------------------------------


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_pair() -> int:
    """A free port whose stand-in port (+81) is free too."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + runner.FAKE_PORT_OFFSET <= 65535 and _free(port + runner.FAKE_PORT_OFFSET):
            return port
    raise RuntimeError("no free pair of ports")


class Output:
    """Collects the runner's output (its children's too) on a thread, so no pipe ever fills up."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.serving = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line)
            if "serving on http://" in line:
                self.serving.set()

    def tail(self, n: int = 60) -> str:
        return "".join(self.lines[-n:])


def _wait(predicate, timeout: float, what: str, output: Output, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"the runner exited with {proc.returncode} while waiting for {what}:\n{output.tail()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:.0f} s:\n{output.tail()}")
        time.sleep(0.2)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(dbutil.ENGINE == "postgresql", reason="make run's embedded SQLite; runs in the SQLite pass")
def test_runner_serves_a_fresh_database_with_the_stand_in_on_its_port(tmp_path):
    port = _free_port_pair()
    fake_port = port + runner.FAKE_PORT_OFFSET
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MEDIATION_") and k not in ("DATABASE_URL", "PORT", "WECHAT_FAKE_PORT")}
    env.update(MEDIATION_ENV="development", PORT=str(port), PYTHONUNBUFFERED="1",
               DATABASE_URL=f"sqlite:///{tmp_path / 'mediation.db'}",
               MEDIATION_CASE_ATTACHMENT_DIR=str(tmp_path / "attachments"))
    proc = subprocess.Popen([sys.executable, "-m", "core.runner"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, encoding="utf-8", errors="replace")
    output = Output(proc.stdout)
    try:
        _wait(output.serving.is_set, 300, '"serving on"', output, proc)
        url = f"http://127.0.0.1:{port}"
        assert any(f"serving on {url} " in line for line in output.lines)
        # Printed only once it answers: the very first request after the line is served (the login page).
        page = requests.get(url, timeout=30)
        assert page.status_code == 200 and page.url.startswith(url)

        fake = f"http://127.0.0.1:{fake_port}"
        assert requests.get(f"{fake}/_fake/", timeout=30).status_code == 200
        # The app's WeCom client follows the same port: the dispatcher delivers the demo's urgent self-test
        # to `admin` on this stand-in (quiet hours hold the others, never this one).
        messages = _wait(lambda: requests.get(f"{fake}/_fake/messages", params={"platform": "work"},
                                              timeout=30).json()["messages"], 120, "message on the stand-in",
                         output, proc)
        assert any("admin" in str(m["touser"]).split("|") for m in messages), messages
        sent = requests.get(f"{fake}/_fake/requests", params={"path": "/work/cgi-bin/message/send"}, timeout=30)
        assert sent.json()["count"] >= 1
        assert (tmp_path / "mediation.db").exists()
    finally:
        # SIGTERM to the runner alone: it stops its children itself, and none of its group outlives it.
        pgid = proc.pid
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            raise
        deadline = time.monotonic() + 30
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
            pytest.fail(f"processes of the runner's group outlived it:\n{output.tail()}")
        output.thread.join(10)
        proc.stdout.close()
    assert code == 0, output.tail()
