"""Intake throughput of bench/web.py: K concurrent clients (threads, each its own signed-in session) filing
cases through the HTML intake form and through ``POST /api/v1/cases``, against ``POST /bench/insert`` (one
bare row, same session + CSRF + route guard + request transaction) measured the same way in the same run.

The form client does what the intake page does: a fresh ``intake_key`` per case (the page generates one on
GET; here the client makes it), a POST without ``repeat_of`` (repeat detection runs on every first submit) and,
when the server shows repeat candidates (422), the second POST answering ``repeat_of=none`` with the same key.
A share of the cases (``REPEAT_SHARE``) reuses an applicant this client filed before (same ID number), so the
candidate path is taken as at a real counter. The redirect to the new case's page is not followed.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
import uuid
from datetime import date, timedelta

from bench.web_client import BenchError, Client, summarise

REPEAT_SHARE = 0.2
#: A fictional area code no generated party uses, so a new applicant never matches a D1 party by accident.
AREA_CODE = "990199"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
WORDS = ["征地", "补偿款", "拖欠", "工资", "邻里", "排水沟", "宅基地", "界址", "物业费", "停车", "噪音", "污水", "养殖场",
         "低保", "赡养", "老人", "交通事故", "赔偿", "电梯", "加装", "承包地", "山林", "权属", "医疗", "纠纷"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "建国秀英德胜淑珍国庆红军玉兰春梅志强海燕德明丽华文博晓东"
_SELECTED = re.compile(r'<option value="(\d+)" selected>')


def resident_id(rng: random.Random) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(50 * 365))
    first17 = f"{AREA_CODE}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


class Applicants:
    """New people, and now and then one this client filed before (a repeat petitioner)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.earlier: list[dict] = []

    def next(self) -> tuple[dict, bool]:
        rng = self.rng
        if self.earlier and rng.random() < REPEAT_SHARE:
            return rng.choice(self.earlier), True
        person = {"name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN), "id_number": resident_id(rng),
                  "phone": f"139{rng.randrange(10**8):08d}"}
        self.earlier.append(person)
        return person, False

    def summary(self) -> str:
        return "反映" + "".join(self.rng.sample(WORDS, 4)) + "问题"


def origin_unit(client: Client) -> str:
    """The unit the intake page preselects for this user (its own post)."""
    page = client.get("/cases/new").text
    start = page.find('name="origin_unit_id"')
    match = _SELECTED.search(page, start, page.find("</select>", start)) if start >= 0 else None
    if not match:
        raise BenchError(f"{client.username}: the intake page offers no preselected origin unit")
    return match.group(1)


class FormIntake:
    label = "intake via HTML form (POST /cases/new)"

    def __init__(self, client: Client, seed: int):
        self.client, self.people = client, Applicants(seed)
        self.unit = origin_unit(client)
        self.repeats = 0

    def __call__(self) -> int:
        person, _ = self.people.next()
        data = {"csrf_token": self.client.csrf, "intake_key": uuid.uuid4().hex, "kind": "dispute", "category": "其他",
                "channel": "visit", "origin_unit_id": self.unit, "summary": self.people.summary(),
                "people_count": "1", "risk_colour": "yellow", "applicant_name": person["name"],
                "applicant_kind": "person", "applicant_id_type": "resident_id",
                "applicant_id_number": person["id_number"], "applicant_phone": person["phone"]}
        r = self.client.post("/cases/new", data=data, expect=(302, 422))
        requests_made = 1
        if r.status_code == 422:
            if 'name="repeat_of" value="none"' not in r.text:
                raise BenchError(f"intake form refused: {r.text[:400]!r}")
            self.repeats += 1
            r = self.client.post("/cases/new", data={**data, "repeat_of": "none"}, expect=(302,))
            requests_made += 1
        if "/cases/" not in r.headers.get("Location", ""):
            raise BenchError(f"intake form did not lead to a case: {r.headers.get('Location')}")
        return requests_made


class ApiIntake:
    label = "intake via API (POST /api/v1/cases)"

    def __init__(self, client: Client, seed: int):
        self.client, self.people = client, Applicants(seed)
        self.unit = int(origin_unit(client))
        self.repeats = 0

    def __call__(self) -> int:
        person, _ = self.people.next()
        body = {"intake_key": uuid.uuid4().hex, "kind": "dispute", "category": "其他", "channel": "visit",
                "origin_unit_id": self.unit, "summary": self.people.summary(), "people_count": 1,
                "risk_colour": "yellow",
                "parties": [{"role": "applicant", "kind": "person", "name": person["name"], "id_type": "resident_id",
                             "id_number": person["id_number"], "phone": person["phone"]}]}
        r = self.client.api_json("POST", "/api/v1/cases", body, expect=(201, 422))
        requests_made = 1
        if r.status_code == 422:
            if "repeat_of" not in (r.json().get("error", {}).get("fields") or {}):
                raise BenchError(f"API intake refused: {r.text[:400]!r}")
            self.repeats += 1
            self.client.api_json("POST", "/api/v1/cases", {**body, "repeat_of": "none"}, expect=(201,))
            requests_made += 1
        return requests_made


class FloorInsert:
    label = "floor: POST /bench/insert (one bare row)"

    def __init__(self, client: Client, seed: int):
        self.client = client
        self.repeats = 0

    def __call__(self) -> int:
        self.client.post("/bench/insert", data={"csrf_token": self.client.csrf}, expect=(201,))
        return 1


def run(kind, clients: list[Client], *, seconds: float, max_ops: int | None, warm: int = 2) -> dict:
    """Each client runs ``kind`` in a loop on its own thread until ``seconds`` pass or ``max_ops`` are done."""
    # A fresh stream of people per run: cases an earlier run left in the database never make a repeat.
    nonce = random.SystemRandom().randrange(2**32)
    workers = [kind(c, seed=nonce + 1000 * i + len(kind.__name__)) for i, c in enumerate(clients)]
    for w in workers:  # warm each session's path (and its worker) outside the clock
        for _ in range(warm):
            w()
    for w in workers:
        w.repeats = 0
    lock, stop = threading.Lock(), threading.Event()
    done = {"ops": 0, "requests": 0}
    latencies: list[float] = []
    errors: list[str] = []

    def loop(w):
        while not stop.is_set():
            start = time.perf_counter()
            try:
                made = w()
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                with lock:
                    errors.append(str(exc)[:300])
                    if len(errors) > 20:
                        stop.set()
                continue
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                done["ops"] += 1
                done["requests"] += made
                latencies.append(elapsed)
                if max_ops is not None and done["ops"] >= max_ops:
                    stop.set()

    threads = [threading.Thread(target=loop, args=(w,), daemon=True) for w in workers]
    started = time.perf_counter()
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(300)
    wall = time.perf_counter() - started
    return {"label": kind.label, "clients": len(clients), "seconds": round(wall, 2), "ops": done["ops"],
            "requests": done["requests"], "per_s": round(done["ops"] / wall, 2),
            "repeat_answers": sum(w.repeats for w in workers), "latency": summarise(latencies),
            "errors": errors[:5], "error_count": len(errors), "load": [round(x, 2) for x in os.getloadavg()]}
