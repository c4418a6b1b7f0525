"""Benchmark (issue #12 §4): pages and intake of the real app under gunicorn -w 2, against a floor behind the
same stack, measured at the client over loopback in the same run.

    .venv/bin/python bench/web.py --database-url sqlite:///bench/out/d1.db [--requests 50] [--json out.json]

The server is ``gunicorn -w 2 bench.floor_app:app`` (the app exactly as wsgi.py builds it, plus a bench-only
blueprint: ``GET /bench/floor`` — one indexed 25-row SELECT behind session, login and route guard — and
``POST /bench/insert`` — one bare row, CSRF-checked, committed), MEDIATION_ENV=production with the crypto keys
bench/generate.py sealed the parties with. A SQLite database is copied to a scratch file first (intake adds
cases, sign-ins add sessions); ``--in-place`` uses it as it is.

Measured, per demo role (leader.wang, center.li, qs.staff, qs01.head, qs01.g1, sifa.liaison) where the page
applies to it: the floor, the desk ``/`` leads to, ``/cases/`` page 1 and a deep page, the JSON list, a search
by party name (POST /cases/search + the GET it redirects to), ``POST /api/v1/cases/search`` by ID number, a
case page. Median and p95 over ``--requests`` after 5 warm-ups, each request of a page alternating with one
floor request of the same session (so both see the same load on a shared machine), the ratio of the medians
(gate ≤ 5×) and the load average. Then intake throughput from 4 concurrent township-staff sessions through the form and the
API against the floor's inserts/s (gate ≥ 0.25), and after 1,000 mixed requests each worker's VmRSS (gate ≤
150 MB). Prints a table; ``--json`` writes everything. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import web_intake  # noqa: E402
from bench.keys import copy_keys, data_set_keys, sign_in_with_passwords  # noqa: E402
from bench.web_client import (  # noqa: E402
    BenchError,
    Client,
    Server,
    measure,
)

#: The intake clients' accounts (D1 places them: the README's demo logins).
INTAKE_CLERKS = ["qs.staff", "qs.center", "cg.staff", "cg.center", "lh.staff", "dh.staff"]
ROLES = [("district leader", "leader.wang"), ("center clerk", "center.li"), ("township staff", "qs.staff"),
         ("village head", "qs01.head"), ("grid worker", "qs01.g1"), ("department liaison", "sifa.liaison")]
PAGE_SIZE = 50  # center.cases.listing.search.PAGE_SIZE
DEEP_PAGE = 400
PAGE_GATE, INTAKE_GATE, RSS_GATE_MB = 5.0, 0.25, 150.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page and role")
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write every number here")
    parser.add_argument("--intake-seconds", type=float, default=30)
    parser.add_argument("--intake-cases", type=int, help="stop each intake run after this many cases (M)")
    parser.add_argument("--intake-clients", type=int, default=4)
    parser.add_argument("--mixed", type=int, default=1000, help="mixed requests before reading the RSS")
    parser.add_argument("--in-place", action="store_true", help="use a SQLite file directly, not a copy")
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--skip-pages", action="store_true", help="intake only (no pages, no RSS)")
    return parser.parse_args(argv)


# --- the database -------------------------------------------------------------------------------------------

def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):]
    return Path(path) if path.startswith("/") else (Path.cwd() / path)


def scratch_copy(source: Path, tmp: Path) -> Path:
    """A consistent copy (the backup API reads through the WAL) the run may write into."""
    if not source.exists():
        raise BenchError(f"{source} does not exist")
    target = tmp / source.name
    started = time.perf_counter()
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=65536)
    finally:
        dst.close()
        src.close()
    print(f"[web] copied {source} ({source.stat().st_size / 2**20:,.0f} MiB) to {target} "
          f"in {time.perf_counter() - started:.1f} s", flush=True)
    return target


def id_number_of(url: str, case_number: str) -> str | None:
    """A plain ID number of a party of ``case_number``: decrypted here with the generator's keys (the server
    never answers one; the clerk at the counter types it)."""
    from sqlalchemy import create_engine, text

    from core.crypto import CryptoProvider

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            enc = conn.execute(text(
                "SELECT p.id_number_enc FROM case_parties p JOIN cases c ON c.id = p.case_id WHERE c.number = :n "
                "AND p.id_type = 'resident_id' AND p.id_number_enc IS NOT NULL ORDER BY p.id LIMIT 1"),
                {"n": case_number}).scalar()
    finally:
        engine.dispose()
    if enc is None:
        return None
    keys = data_set_keys(url)
    return CryptoProvider(keys["CRYPTO_KEYS"], keys["BLIND_INDEX_KEY"]).decrypt(enc)


# --- the pages of one role ----------------------------------------------------------------------------------

def _get(client: Client, path: str):
    return lambda: client.get(path)


def _html_search(client: Client, q: str):
    def op():
        r = client.post("/cases/search", data={"csrf_token": client.csrf, "q": q}, expect=(302, 303))
        location = urlsplit(r.headers["Location"])
        client.get(location.path + "?" + location.query)
    return op


def _api_search(client: Client, q: str):
    def op():
        r = client.api_json("POST", "/api/v1/cases/search", {"q": q, "limit": 25})
        if not r.json()["items"]:
            raise BenchError(f"{client.username}: API search for a known party found nothing")
    return op


def role_targets(client: Client, db_url: str) -> tuple[list[tuple[str, str, object]], dict]:
    """[(target, what exactly, op)] for this user, each probed once; pages the role may not open are left out
    (with the answer they gave in ``info['skipped']``)."""
    info: dict = {"skipped": {}}
    targets = [("floor", "GET /bench/floor", _get(client, "/bench/floor"))]
    home = client.home()
    info["home"] = home
    targets.append(("desk", f"GET {home}", _get(client, home)))
    # The lightest real page (the layout around a few lines): what every page pays beyond the floor.
    targets.append(("account", "GET /account (layout only)", _get(client, "/account")))
    probe = client.http.get(client.url("/cases/"), allow_redirects=False, timeout=client.timeout)
    listing = probe.status_code == 200
    first = client.api_json("GET", "/api/v1/cases?limit=25", expect=(200, 403))
    api = first.status_code == 200
    total = first.json()["total"] if api else 0
    info["visible_cases"] = total
    if listing:
        targets.append(("list p1", "GET /cases/", _get(client, "/cases/")))
        pages = max(1, -(-total // PAGE_SIZE))
        deep = min(DEEP_PAGE, pages)
        if deep > 1:
            targets.append(("list deep", f"GET /cases/?page={deep}", _get(client, f"/cases/?page={deep}")))
    else:
        info["skipped"]["/cases/"] = probe.status_code
    if not api:
        info["skipped"]["/api/v1/cases"] = first.status_code
        return targets, info
    targets.append(("API list", "GET /api/v1/cases?limit=25", _get(client, "/api/v1/cases?limit=25")))
    if total == 0:
        return targets, info
    # A case from the middle of what the user sees: older than the newest, so with a longer record.
    middle = client.api_json("GET", f"/api/v1/cases?limit=1&offset={total // 2}").json()["items"][0]["number"]
    detail = client.api_json("GET", f"/api/v1/cases/{middle}").json()
    info["sample_case"] = middle
    name = next((p["name"] for p in detail["parties"] if p["kind"] == "person"), detail["parties"][0]["name"])
    if listing:
        targets.append(("search name", "POST /cases/search + GET", _html_search(client, name)))
    id_number = id_number_of(db_url, middle)
    q = id_number or middle
    info["api_search_by"] = "ID number" if id_number else "case number"
    targets.append(("API search", f"POST /api/v1/cases/search ({info['api_search_by']})", _api_search(client, q)))
    case_page = f"/cases/{middle}"
    probe = client.http.get(client.url(case_page), allow_redirects=False, timeout=client.timeout)
    if probe.status_code == 200:
        targets.append(("case page", "GET /cases/<number>", _get(client, case_page)))
    else:
        info["skipped"][case_page] = probe.status_code
    for _label, _what, op in targets:
        op()  # every op answers as expected before any clock starts
    return targets, info


def measure_pages(clients: dict, db_url: str, n: int, warm: int) -> tuple[list[dict], list]:
    rows, ops = [], []
    for role, username in ROLES:
        client = clients[username]
        targets, info = role_targets(client, db_url)
        print(f"[web] {username} ({role}): lands on {info['home']}, sees {info['visible_cases']:,} cases; "
              f"skipped {info['skipped'] or 'nothing'}", flush=True)
        floor_op = targets[0][2]
        for label, what, op in targets:
            if label == "floor":
                result, floor = measure(op, n, warm)
                floor = result
            else:
                result, floor = measure(op, n, warm, floor=floor_op)
            ratio = result["median_ms"] / floor["median_ms"]
            row = {"role": role, "user": username, "target": label, "request": what, **result,
                   "floor_median_ms": floor["median_ms"], "floor_p95_ms": floor["p95_ms"], "ratio": round(ratio, 2),
                   "p95_ratio": round(result["p95_ms"] / floor["p95_ms"], 2),
                   "gate_ok": label == "floor" or ratio <= PAGE_GATE}
            rows.append(row)
            ops.append(op)
            print(f"  {label:12s} {result['median_ms']:9.1f} ms  p95 {result['p95_ms']:9.1f}  "
                  f"floor {floor['median_ms']:7.1f} ms  ratio {ratio:6.2f}x  load {result['load'][0]:.2f}",
                  flush=True)
        rows[-len(targets)]["info"] = info
    return rows, ops


# --- intake, memory -----------------------------------------------------------------------------------------

def measure_intake(base: str, args) -> dict:
    # Several clerks at their counters, as a real intake peak is — one account per client: the default
    # rate limits are on (600 intakes per person and minute, core.ratelimit), and must not be what is measured.
    clerks = INTAKE_CLERKS * (args.intake_clients // len(INTAKE_CLERKS) + 1)
    clients = [Client(base, clerks[i]).login() for i in range(args.intake_clients)]
    out = {}
    for key, kind in (("floor", web_intake.FloorInsert), ("form", web_intake.FormIntake),
                      ("api", web_intake.ApiIntake)):
        result = web_intake.run(kind, clients, seconds=args.intake_seconds, max_ops=args.intake_cases)
        out[key] = result
        print(f"[web] {result['label']}: {result['ops']} in {result['seconds']} s = {result['per_s']}/s "
              f"(median {result['latency']['median_ms']} ms, {result['repeat_answers']} repeat answers, "
              f"{result['error_count']} errors, load {result['load'][0]})", flush=True)
    floor = out["floor"]["per_s"] or float("nan")
    for key in ("form", "api"):
        out[key]["ratio"] = round(out[key]["per_s"] / floor, 3)
        out[key]["gate_ok"] = out[key]["ratio"] >= INTAKE_GATE and not out[key]["error_count"]
    return out


def mixed_then_rss(server: Server, ops: list, n: int) -> dict:
    before = server.rss_mb()
    rng = random.Random(12)
    started = time.perf_counter()
    for _ in range(n):
        rng.choice(ops)()
    elapsed = time.perf_counter() - started
    after = server.rss_mb()
    return {"requests": n, "seconds": round(elapsed, 1), "rss_before_mb": before, "rss_mb": after,
            "gate_ok": bool(after) and all(v <= RSS_GATE_MB for v in after.values())}


# --- report -------------------------------------------------------------------------------------------------

def print_table(result: dict) -> None:
    print()
    print(f"{'role':20s} {'target':12s} {'median ms':>10s} {'p95 ms':>9s} {'floor ms':>9s} {'ratio':>7s} "
          f"{'p95 ratio':>9s} {'load1':>6s}  gate ≤{PAGE_GATE:g}x")
    for r in result["pages"]:
        gate = "" if r["target"] == "floor" else ("ok" if r["gate_ok"] else "MISS")
        print(f"{r['role']:20s} {r['target']:12s} {r['median_ms']:10.1f} {r['p95_ms']:9.1f} "
              f"{r['floor_median_ms']:9.1f} {r['ratio']:6.2f}x {r['p95_ratio']:8.2f}x {r['load'][0]:6.2f}  {gate}")
    intake = result.get("intake")
    if intake:
        print(f"\n{'intake (4 clients)':44s} {'per s':>8s} {'median ms':>10s} {'p95 ms':>9s} {'ratio':>7s}  "
              f"gate ≥{INTAKE_GATE:g}")
        for key in ("floor", "form", "api"):
            r = intake[key]
            gate = "" if key == "floor" else ("ok" if r["gate_ok"] else "MISS")
            ratio = "" if key == "floor" else f"{r['ratio']:6.3f}"
            print(f"{r['label']:44s} {r['per_s']:8.2f} {r['latency']['median_ms'] or 0:10.1f} "
                  f"{r['latency']['p95_ms'] or 0:9.1f} {ratio:>7s}  {gate}")
    rss = result.get("rss")
    if rss:
        print(f"\nRSS idle after start: {result['server']['rss_idle_mb']}; before the mixed requests (after the page "
              f"and intake runs): {rss['rss_before_mb']}")
        worst = max(rss["rss_mb"].values(), default=0)
        print(f"RSS after {rss['requests']} mixed requests: "
              + ", ".join(f"pid {p} {v:.1f} MB" for p, v in rss["rss_mb"].items())
              + f"  (gate ≤ {RSS_GATE_MB:g} MB: {'ok' if rss['gate_ok'] else 'MISS'}; worst {worst:.1f})")
    misses = [f"{r['user']} {r['target']} {r['ratio']}x" for r in result["pages"] if not r["gate_ok"]]
    misses += [f"intake {k} {intake[k]['ratio']}" for k in ("form", "api") if intake and not intake[k]["gate_ok"]]
    if rss and not rss["gate_ok"]:
        misses.append("worker RSS")
    print("\nmissed gates: " + ("; ".join(misses) if misses else "none"))
    print(f"load average at the end: {os.getloadavg()}")


_RUNNING: list[Server] = []


def _terminate(signum, frame):
    # Stop gunicorn here already: the exception below may surface inside a library that swallows it.
    for server in _RUNNING:
        server.stop()
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    result: dict = {"database_url": args.database_url, "requests": args.requests, "warm": args.warm,
                    "cpus": os.cpu_count(), "load_start": os.getloadavg(), "started": time.strftime("%F %T")}
    with tempfile.TemporaryDirectory(prefix="bench_web_") as tmp:
        url = args.database_url
        source = sqlite_path(url)
        if source is not None and not args.in_place:
            url = f"sqlite:///{scratch_copy(source, Path(tmp))}"
            copy_keys(args.database_url, url)
        sign_in_with_passwords(url)
        result["served_url"] = url
        server = Server(url, Path(tmp) / "gunicorn.log")
        _RUNNING.append(server)
        try:
            started = time.perf_counter()
            server.start()
            result["server"] = {"cmd": " ".join(server.cmd), "workers": server.workers(),
                                "start_s": round(time.perf_counter() - started, 1), "rss_idle_mb": server.rss_mb()}
            print(f"[web] gunicorn on {server.base}, workers {server.workers()}", flush=True)
            clients = {username: Client(server.base, username).login() for _role, username in ROLES}
            result["pages"], ops = [], []
            if not args.skip_pages:
                result["pages"], ops = measure_pages(clients, url, args.requests, args.warm)
            if not args.skip_intake:
                result["intake"] = measure_intake(server.base, args)
            if ops:
                result["rss"] = mixed_then_rss(server, ops, args.mixed)
        finally:
            code = server.stop()
            result["server_exit"] = code
            log = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
            result["server_log_tail"] = log[-4000:]
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    print_table(result)
    if args.json:
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
