"""HTTP side of bench/web.py: a signed-in browser-like client (requests.Session, its own cookie jar), timing
helpers, the server under test (gunicorn -w 2 running bench/floor_app.py) and its workers' memory."""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Shifan#2026"  # the demo password the generator gives every login (core.demo.DEMO_PASSWORD)
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class BenchError(RuntimeError):
    pass


# --- timing -------------------------------------------------------------------------------------------------

def summarise(samples_ms: list[float]) -> dict:
    if not samples_ms:
        return {"n": 0, "median_ms": None, "p95_ms": None}
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2),
            "min_ms": round(ordered[0], 2), "max_ms": round(ordered[-1], 2)}


def measure(op, n: int, warm: int = 5, floor=None) -> tuple[dict, dict | None]:
    """``op()`` performs one user-visible operation (raising on a wrong answer); median/p95 over ``n``. With
    ``floor``, each timed ``op`` alternates with one timed ``floor()``, so both see the same machine (the load
    of a shared box drifts within seconds) and the ratio compares like with like."""
    for _ in range(warm):
        op()
        if floor is not None:
            floor()
    samples, floor_samples = [], []
    for _ in range(n):
        if floor is not None:
            start = time.perf_counter()
            floor()
            floor_samples.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        op()
        samples.append((time.perf_counter() - start) * 1000)
    load = [round(x, 2) for x in os.getloadavg()]
    return {**summarise(samples), "load": load}, ({**summarise(floor_samples), "load": load} if floor else None)


# --- the client ---------------------------------------------------------------------------------------------

class Client:
    """One browser: its own session cookie, signed in through the real login form."""

    def __init__(self, base: str, username: str, timeout: float = 120):
        self.base, self.username, self.timeout = base, username, timeout
        self.http = requests.Session()
        self.csrf: str | None = None

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, expect=(200,), **kw) -> requests.Response:
        r = self.http.get(self.url(path), allow_redirects=False, timeout=self.timeout, **kw)
        return self._check("GET", path, r, expect)

    def post(self, path: str, expect=(200, 201, 302, 303), **kw) -> requests.Response:
        r = self.http.post(self.url(path), allow_redirects=False, timeout=self.timeout, **kw)
        return self._check("POST", path, r, expect)

    def _check(self, method, path, r, expect):
        if r.status_code not in expect:
            raise BenchError(f"{self.username}: {method} {path} answered {r.status_code}: {r.text[:300]!r}")
        return r

    def form_csrf(self, path: str) -> str:
        match = CSRF_RE.search(self.get(path).text)
        if not match:
            raise BenchError(f"no CSRF token on {path}")
        return match.group(1)

    def login(self) -> Client:
        token = self.form_csrf("/login")
        r = self.post("/login", data={"csrf_token": token, "username": self.username, "password": PASSWORD},
                      expect=(302,))
        if "/account/password" in r.headers.get("Location", ""):
            raise BenchError(f"{self.username}: the password must be changed first")
        # The session was regenerated at sign-in: the CSRF token of the signed-in session is on every page.
        self.csrf = self.form_csrf("/account")
        return self

    def home(self) -> str:
        """Where / sends this user (core.home.ROLE_HOME)."""
        r = self.get("/", expect=(302,))
        return _path_of(r.headers["Location"])

    def api_json(self, method: str, path: str, body=None, expect=(200,)) -> requests.Response:
        headers = {"X-CSRFToken": self.csrf} if method != "GET" else {}
        r = self.http.request(method, self.url(path), json=body, headers=headers, allow_redirects=False,
                              timeout=self.timeout)
        return self._check(method, path, r, expect)


def _path_of(location: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- the server ---------------------------------------------------------------------------------------------

def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid:  # after ")": state, ppid, pgrp
                members.append(int(entry))
    return members


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn -w 2 bench.floor_app:app on a free loopback port, in its own process group."""

    def __init__(self, database_url: str, log_path: Path, workers: int = 2, timeout: int = 300):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = dict(os.environ)
        for key in [k for k in env if k.startswith("MEDIATION_")]:
            del env[key]
        from bench.keys import server_env

        env.update({
            "DATABASE_URL": database_url, "MEDIATION_ENV": "production",
            **server_env(database_url),  # the data set's own keys (bench/keys.py); production refuses dev keys
            # The bench speaks plain HTTP on loopback: a Secure cookie would never come back from the client.
            "MEDIATION_SESSION_COOKIE_SECURE": "false",
            "PYTHONUNBUFFERED": "1",
        })
        self.cmd = [str(ROOT / ".venv" / "bin" / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
                    "--chdir", str(ROOT), "--timeout", str(timeout), "--graceful-timeout", "10",
                    "--log-level", "warning", "bench.floor_app:app"]
        self.env = env
        self.proc: subprocess.Popen | None = None
        self._stopped = False

    def start(self, wait: float = 120) -> Server:
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child, closed in stop()
        self._log = log
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn exited ({self.proc.returncode}); see {self.log_path}:\n"
                                 + self.log_path.read_text(errors="replace")[-2000:])
            try:
                if requests.get(self.base + "/healthz", timeout=5).status_code == 200 and len(self.workers()) >= 2:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise BenchError(f"gunicorn did not answer /healthz within {wait:.0f} s; see {self.log_path}")

    def workers(self) -> list[int]:
        if self.proc is None:
            return []
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    status = Path(f"/proc/{entry}/status").read_text()
                except OSError:
                    continue
                if re.search(rf"^PPid:\s+{self.proc.pid}$", status, re.M):
                    pids.append(int(entry))
        return sorted(pids)

    def rss_mb(self) -> dict[int, float]:
        out = {}
        for pid in self.workers():
            try:
                match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
            except OSError:
                continue
            if match:
                out[pid] = round(int(match.group(1)) / 1024, 1)
        return out

    def stop(self) -> int | None:
        """SIGTERM to the process group (gunicorn's graceful stop), SIGKILL after 20 s."""
        if self.proc is None or self._stopped:
            return None if self.proc is None else self.proc.returncode
        self._stopped = True
        try:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(5)
            if _group_members(self.proc.pid):  # stragglers of our group (a worker that outlived its master)
                os.killpg(self.proc.pid, signal.SIGKILL)
        finally:
            self._log.close()
        return self.proc.returncode
