"""Benchmark: the grid worker's phone pages on a village's weak mobile data, in Debian Chromium with a 360 px
WeChat viewport and a throttled network (400 kbit/s both ways, 400 ms round trip), against the server
`make run` starts (`flask run`, development config) on a fresh database holding the demo district.

For each page it measures, first load (empty cache) and repeat load (cache warm):
- bytes Chromium reports as received (headers + body on the wire, every resource),
- for the 代办 form: time from navigation start until the first field accepts input (typing into it works),
- for the others: time until the load event.
The floor, measured in the same run under the same throttle, is the navigation to /healthz (a page of a few
bytes): ratio = page time / floor time.

    .venv/bin/python bench/mobile.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MEDIATION_ENV", "test")

THROTTLE = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
UA = ("Mozilla/5.0 (Linux; Android 12; V2134A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
      "Chrome/107.0 Mobile Safari/537.36 MMWEBID/2234 MicroMessenger/8.0.34.2340 WeChat/arm64 Weixin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_database(tmp: Path) -> str:
    from tests.conftest import make_app, migrate_and_seed

    url = f"sqlite:///{tmp / 'bench.db'}"
    app = make_app(url)
    migrate_and_seed(app)
    from core.db import db

    with app.app_context():
        db.engine.dispose()
    return url


def start_server(url: str, port: int, tmp: Path) -> subprocess.Popen:
    import urllib.request

    env = {**os.environ, "MEDIATION_ENV": "development", "DATABASE_URL": url,
           "MEDIATION_CASE_ATTACHMENT_DIR": str(tmp / "attachments")}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port),
                             "--no-reload"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def measure(page, cdp, path: str, *, field: str | None) -> tuple[float, int]:
    received = {"n": 0}

    def finished(event):
        received["n"] += int(event.get("encodedDataLength", 0))

    cdp.on("Network.loadingFinished", finished)
    started = time.perf_counter()
    if field:
        page.goto(path, wait_until="commit")
        page.locator(field).fill("王")  # waits until the field exists, is visible and enabled
        elapsed = time.perf_counter() - started
        page.wait_for_load_state("load")
    else:
        page.goto(path, wait_until="load")
        elapsed = time.perf_counter() - started
    page.wait_for_load_state("networkidle")
    cdp.remove_listener("Network.loadingFinished", finished)
    return elapsed, received["n"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        url = prepare_database(tmp)
        port = free_port()
        server = start_server(url, port, tmp)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                results: dict[str, dict[str, list]] = {}
                for _ in range(args.runs):
                    context = browser.new_context(base_url=f"http://127.0.0.1:{port}", user_agent=UA,
                                                  viewport={"width": 360, "height": 740}, is_mobile=True,
                                                  has_touch=True, locale="zh-CN")
                    page = context.new_page()
                    page.goto("/login")
                    page.fill("#f-username", "qs01.g1")
                    page.fill("#f-password", "Shifan#2026")
                    with page.expect_navigation():
                        page.click("form.stack button[type=submit]")
                    cdp = context.new_cdp_session(page)
                    cdp.send("Network.enable")
                    cdp.send("Network.clearBrowserCache")
                    cdp.send("Network.emulateNetworkConditions", THROTTLE)
                    for name, path, field in (("floor /healthz", "/healthz", None), ("/m/ tasks", "/m/", None),
                                              ("/m/file 代办 form", "/m/file", "#f-name")):
                        first = measure(page, cdp, path, field=field)
                        repeat = measure(page, cdp, path, field=field)
                        row = results.setdefault(name, {"first_s": [], "first_b": [], "repeat_s": [],
                                                        "repeat_b": []})
                        row["first_s"].append(first[0])
                        row["first_b"].append(first[1])
                        row["repeat_s"].append(repeat[0])
                        row["repeat_b"].append(repeat[1])
                        cdp.send("Network.clearBrowserCache")
                    context.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    floor = statistics.median(results["floor /healthz"]["first_s"])
    print(f"throttle: 400 kbit/s, 400 ms RTT; median of {args.runs} runs; floor = /healthz first load")
    print(f"{'page':22} {'first s':>8} {'first KB':>9} {'repeat s':>9} {'repeat KB':>10} {'ratio':>6}")
    for name, row in results.items():
        first_s = statistics.median(row["first_s"])
        print(f"{name:22} {first_s:8.2f} {statistics.median(row['first_b']) / 1024:9.1f} "
              f"{statistics.median(row['repeat_s']):9.2f} {statistics.median(row['repeat_b']) / 1024:10.1f} "
              f"{first_s / floor:6.2f}")


if __name__ == "__main__":
    main()
