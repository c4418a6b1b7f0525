"""`make run`: upgrade the schema, load the demo district into an empty database, then start every process
the platform needs and stop them all together on Ctrl-C (or SIGTERM).

Processes come from processes(): the web server, then what features register in core.hooks (scheduler,
dispatcher, WeChat stand-in).

Start-up is ordered for time to the first answer: the web server (which touches no database while it imports)
and the processes that need no database (EARLY: the WeChat stand-in) start at once, while this process
upgrades the schema and loads the demo itself, in one app; the rest start once the schema and the demo are in
place and the stand-in answers. "serving on" is printed only when the web server answers HTTP.

Ports: ``PORT`` (default 5000) for the web server; the stand-in listens on ``WECHAT_FAKE_PORT`` (or
``MEDIATION_FAKE_WECHAT_PORT``), else on PORT + 81, so two checkouts run side by side. Every process is told
where the stand-in is (the WeCom and Official Account API and OAuth bases), unless those are set explicitly.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
HOST = "127.0.0.1"
DEFAULT_PORT = 5000
#: The stand-in's port is the web port plus this, unless set (5000 -> 5081, as it always was).
FAKE_PORT_OFFSET = 81
#: Background processes that never open the database: started with the web server, before the migrations.
EARLY = ("fake-wechat",)
#: Lighter entry points than `flask --app wsgi …`, which imports the whole app (over a second of CPU, on a small
#: machine shared with the migrations and the demo): the stand-in needs only the configuration.
STANDALONE = {"fake-wechat": [sys.executable, "-m", "notify.fake"]}
#: How long the web server and the stand-in may take to answer (seconds); a slow first start on a small machine
#: stays well below it.
READY_TIMEOUT = 180.0


class StartupError(RuntimeError):
    """The configuration or a process keeps `make run` from starting; the message says why."""


class _Stopped(BaseException):  # not an error: SIGINT/SIGTERM asked us to stop during start-up
    pass


class _Signals:
    """SIGINT/SIGTERM handler: during start-up it interrupts (migrations, demo, waiting); once everything runs
    it only records the signal for the supervising loop. Later signals are ignored: the cleanup must finish."""

    def __init__(self):
        self.received: int | None = None
        self.raising = True

    def __call__(self, signum, _frame):
        if self.received is not None:
            return
        self.received = signum
        if self.raising:
            raise _Stopped(signum)


def _port(raw: str, name: str) -> int:
    try:
        port = int(str(raw).strip())
    except ValueError:
        raise StartupError(f"{name} must be a port number, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise StartupError(f"{name} must be between 1 and 65535, got {port}")
    return port


def web_port(environ: Mapping[str, str]) -> int:
    return _port(environ.get("PORT") or DEFAULT_PORT, "PORT")


def fake_wechat_port(environ: Mapping[str, str]) -> int:
    """The WeChat stand-in's port: WECHAT_FAKE_PORT, else MEDIATION_FAKE_WECHAT_PORT, else PORT + 81."""
    for name in ("WECHAT_FAKE_PORT", "MEDIATION_FAKE_WECHAT_PORT"):
        if environ.get(name, "").strip():
            port = _port(environ[name], name)
            break
    else:
        port = web_port(environ) + FAKE_PORT_OFFSET
        if port > 65535:
            raise StartupError(f"PORT + {FAKE_PORT_OFFSET} ({port}) is no port; set WECHAT_FAKE_PORT")
    if port == web_port(environ):
        raise StartupError(f"the WeChat stand-in cannot share port {port} with the web server")
    return port


def process_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Settings every process of `make run` shares, as environment variables: where the web server is (links in
    messages) and where the stand-in is. A value already in ``environ`` wins."""
    port, fake = web_port(environ), fake_wechat_port(environ)
    base = f"http://{HOST}:{fake}"
    derived = {
        "MEDIATION_PUBLIC_BASE_URL": f"http://{HOST}:{port}",
        "MEDIATION_FAKE_WECHAT_PORT": str(fake),
        "MEDIATION_WECOM_API_BASE": f"{base}/work/cgi-bin/",
        "MEDIATION_WECOM_OAUTH_BASE": f"{base}/work/",
        "MEDIATION_MP_API_BASE": f"{base}/mp/cgi-bin/",
        "MEDIATION_MP_OAUTH_BASE": f"{base}/mp/",
    }
    return {key: environ.get(key) or value for key, value in derived.items()}


def web_command(port: int) -> list[str]:
    return [*FLASK, "run", "--host", HOST, "--port", str(port), "--with-threads", "--no-reload"]


def processes(port: int | str) -> list[tuple[str, list[str]]]:
    """Every process `make run` starts: the web server first, then the features' (after create_app)."""
    from core import hooks

    return [("web", web_command(int(port))),
            *((name, STANDALONE.get(name) or [*FLASK, *args]) for name, args in hooks.background_processes)]


def port_is_free(port: int) -> bool:
    """Whether a server could listen on HOST:port now (with SO_REUSEADDR, as werkzeug's server binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def answers(url: str, timeout: float = 2.0, *, exact: bool = False) -> bool:
    """True when ``url`` answers HTTP: with 200 if ``exact``, else with anything but a server error (a redirect to
    the login page counts)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        status = conn.getresponse().status
        return status == 200 if exact else status < 500
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class Children:
    """The processes started so far; any of them ending stops the rest."""

    def __init__(self):
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str]) -> None:
        shown = cmd[3:] if cmd[:3] == FLASK[:3] else cmd[1:]
        print(f"[run] starting {name}: {' '.join(shown)}", flush=True)
        self.running.append((name, subprocess.Popen(cmd)))

    def check(self) -> None:
        for name, proc in self.running:
            if proc.poll() is not None:
                raise StartupError(f"{name} exited with {proc.returncode}")

    def wait_until_answering(self, name: str, url: str, *, exact: bool = False,
                             timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not answers(url, exact=exact):
            self.check()
            if time.monotonic() > deadline:
                raise StartupError(f"{name} did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.1)

    def supervise(self, signals: _Signals) -> int:
        """Block until a signal asks us to stop (0) or a process ends (its exit code; 1 for a clean exit: none
        of them should end)."""
        signals.raising = False  # from here on a flag, checked between polls: nothing is interrupted midway
        while signals.received is None:
            for name, proc in self.running:
                if proc.poll() is not None and signals.received is None:
                    print(f"[run] {name} exited with {proc.returncode}; stopping the rest", flush=True)
                    return proc.returncode or 1
            time.sleep(0.5)
        return 0

    def stop(self) -> None:
        for _name, proc in self.running:
            if proc.poll() is None:
                proc.terminate()
        for _name, proc in self.running:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def prepare_database(app) -> None:
    """Upgrade the schema and load the demo into an empty database, in this process (one app import instead
    of one per `flask` command)."""
    import click
    from flask_migrate import upgrade

    from core.cli import load_demo
    from core.db import db

    with app.app_context():
        upgrade()
        try:
            loaded = load_demo(if_empty=True)
        except click.ClickException as exc:
            raise StartupError(exc.format_message()) from exc
        if not loaded:
            print("数据库已有数据，跳过示范数据加载。", flush=True)
        db.session.remove()
        db.engine.dispose()  # the children open their own connections; this process keeps none




def main() -> int:
    os.environ.setdefault("MEDIATION_ENV", "development")
    try:
        port = web_port(os.environ)
        os.environ.update(process_environment(os.environ))
        for name, taken in (("PORT", port), ("the WeChat stand-in's port", fake_wechat_port(os.environ))):
            if not port_is_free(taken):
                raise StartupError(f"{name} {taken} is in use (another `make run`?): choose another, e.g. "
                                   f"PORT={port + 100} make run (the stand-in follows on PORT+{FAKE_PORT_OFFSET}"
                                   ", or set WECHAT_FAKE_PORT)")
    except StartupError as exc:
        print(f"[run] {exc}", file=sys.stderr, flush=True)
        return 2
    from core.config import INSTANCE_DIR

    os.makedirs(INSTANCE_DIR, exist_ok=True)
    signals = _Signals()
    signal.signal(signal.SIGINT, signals)
    signal.signal(signal.SIGTERM, signals)
    children = Children()
    url = f"http://{HOST}:{port}"
    try:
        children.start("web", web_command(port))
        from core.app import create_app

        app = create_app()  # registers every feature's background processes in core.hooks
        later = []
        for name, cmd in processes(port)[1:]:
            if name in EARLY:
                children.start(name, cmd)
            else:
                later.append((name, cmd))
        prepare_database(app)
        children.check()
        names = [name for name, _ in children.running]
        if "fake-wechat" in names:  # the dispatcher's first messages must find it
            fake_url = f"http://{HOST}:{os.environ['MEDIATION_FAKE_WECHAT_PORT']}/_fake/"
            children.wait_until_answering("fake-wechat", fake_url, exact=True)
        for name, cmd in later:
            children.start(name, cmd)
        children.wait_until_answering("web", url + "/")
        print(f"[run] 矛调通 serving on {url} — Ctrl-C stops everything", flush=True)
        return children.supervise(signals)
    except _Stopped:
        return 0
    except StartupError as exc:
        print(f"[run] {exc}; stopping the rest", file=sys.stderr, flush=True)
        return 1
    finally:
        signals.raising = False
        children.stop()


if __name__ == "__main__":
    sys.exit(main())
