"""Benchmark: the case-list search (LIKE with escaped wildcards on Case.summary and Party.name, scoped to a
township staff member) on N cases in a scratch SQLite database, against a floor measured in the same run: an
unfiltered ``SELECT count(*) FROM cases``.

    .venv/bin/python bench/search.py [--cases 20000] [--repeat 20]

Cases are bulk-inserted (no operations, no events: only what the search reads). Prints milliseconds per query
and each ratio to the floor. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MEDIATION_ENV", "test")

WORDS = ["征地", "补偿款", "拖欠", "工资", "邻里", "排水沟", "宅基地", "界址", "物业费", "停车", "噪音", "污水", "养殖场",
         "低保", "赡养", "老人", "交通事故", "赔偿", "电梯", "加装", "承包地", "山林", "权属", "医疗", "纠纷", "反映"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "建国秀英德胜淑珍国庆红军玉兰春梅志强海燕德明丽华文博晓东"


def timed(fn, repeat: int) -> tuple[float, object]:
    result = fn()  # warm
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import func, insert, select, text

    from core.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"MEDIATION_ENV": "test", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db"})
        with app.app_context():
            upgrade()
            from core.cli import load_demo

            load_demo()
            from center.cases.listing.search import Filters, search_cases
            from center.cases.models import Case, Party
            from core.actor import Actor
            from core.db import db
            from core.org.models import OrgUnit
            from core.work.models import WorkSubject

            rng = random.Random(20261123)
            units = list(db.session.scalars(select(OrgUnit).where(OrgUnit.kind != "grid")))
            district = next(u for u in units if u.parent_id is None)
            now = datetime.now(UTC)
            start = time.perf_counter()
            case_rows, party_rows = [], []
            base = db.session.scalar(select(func.coalesce(func.max(Case.id), 0)))
            subject_base = db.session.scalar(select(func.coalesce(func.max(WorkSubject.id), 0)))
            subject_rows = []
            for i in range(args.cases):
                unit = rng.choice(units)
                summary = "反映" + "".join(rng.sample(WORDS, 4)) + ("100%" if i % 500 == 0 else "") + "问题"
                case_rows.append({"id": base + i + 1, "number": f"{district.case_prefix or 'SF'}-2025-{i + 1:06d}",
                                  "kind": "dispute", "petition_class": None, "category": "其他",
                                  "channel": "visit", "summary": summary, "people_count": 1, "risk_colour": "blue",
                                  "status": rng.choice(["registered", "accepted", "in_progress", "closed"]),
                                  "received_at": now - timedelta(hours=i), "origin_unit_id": unit.id,
                                  "handling_unit_id": unit.id, "created_at": now, "updated_at": now,
                                  "subject_id": subject_base + i + 1})
                subject_rows.append({"id": subject_base + i + 1, "kind": "case", "created_at": now})
                party_rows.append({"case_id": base + i + 1, "role": "applicant", "kind": "person",
                                   "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                                   "created_at": now, "updated_at": now})
            for chunk in range(0, len(case_rows), 2000):
                db.session.execute(insert(WorkSubject), subject_rows[chunk:chunk + 2000])
                db.session.execute(insert(Case), case_rows[chunk:chunk + 2000])
                db.session.execute(insert(Party), party_rows[chunk:chunk + 2000])
            db.session.commit()
            print(f"inserted {args.cases} cases in {time.perf_counter() - start:.1f} s")

            from core.accounts.models import User

            actor = Actor.for_user(db.session.scalar(select(User).where(User.username == "qs.staff")))
            district_actor = Actor.for_user(db.session.scalar(select(User).where(User.username == "center.li")))

            def floor():
                return db.session.execute(text("SELECT count(*) FROM cases")).scalar()

            floor_ms, total = timed(floor, args.repeat)
            print(f"floor: SELECT count(*) FROM cases ({total} rows): {floor_ms:.2f} ms")
            like_ms, hits = timed(lambda: db.session.execute(text(
                "SELECT count(*) FROM cases WHERE summary LIKE '%补偿款%'")).scalar(), args.repeat)
            print(f"reference: bare LIKE scan of every summary ({hits} hits): {like_ms:.2f} ms "
                  f"ratio {like_ms / floor_ms:.1f}x")
            probes = [("summary word, township", actor, "补偿款"), ("party name, township", actor, "王建"),
                      ("literal 100%, township", actor, "100%"), ("summary word, district", district_actor, "补偿款"),
                      ("no match, district", district_actor, "不存在的内容"),
                      ("number prefix, district", district_actor, "SF-2025-0001"),
                      ("short number, district", district_actor, "000123"),
                      ("phone (blind index), district", district_actor, "13900001111")]
            for label, who, q in probes:
                filters = Filters({"q": q})
                ms, page = timed(lambda who=who, filters=filters: search_cases(who, filters), args.repeat)
                print(f"{label:28s} q={q!r:14s} {page.total:6d} hits  {ms:8.2f} ms  ratio {ms / floor_ms:6.1f}x")
            ms, page = timed(lambda: search_cases(district_actor, Filters({})), args.repeat)
            print(f"{'unfiltered list, district':28s} {'':17s} {page.total:6d} rows  {ms:8.2f} ms  "
                  f"ratio {ms / floor_ms:6.1f}x")
            db.engine.dispose()


if __name__ == "__main__":
    main()
