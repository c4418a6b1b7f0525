"""Dump the planner statistics (``sqlite_stat1``) of a generated district for the plan test.

    .venv/bin/python bench/stats.py --database-url sqlite:///bench/out/d1.db > tests/center/d1_stat1.json

Runs ANALYZE first. Only the registry's big tables are kept (the plan test loads these rows into its small
database so that it plans like the big one).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

BIG = ("cases", "case_events", "case_deadlines", "case_parties", "audit_entries", "case_reach", "case_terms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="sqlite:///bench/out/d1.db")
    args = parser.parse_args()
    if not args.database_url.startswith("sqlite:///"):
        parser.error("statistics are dumped from a SQLite database")
    conn = sqlite3.connect(args.database_url.removeprefix("sqlite:///"))
    conn.execute("ANALYZE")
    rows = [{"tbl": t, "idx": i, "stat": s} for t, i, s in conn.execute(
        "SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx") if t in BIG]
    json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
