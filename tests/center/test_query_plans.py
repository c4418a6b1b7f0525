"""Every list, desk, queue count, search and export scales with the page, not the district: the plan of each
statement they run touches the registry's big tables only through index searches bounded by a key or a range,
never a scan, and orders without a temporary B-tree.

SQLite plans from statistics: the demo database is small, so D1's own statistics (``d1_stat1.json``, the
``sqlite_stat1`` rows of a 300,000-case district made by ``bench/generate.py --preset district`` and dumped by
``bench/stats.py``) are loaded first, and the small database plans as the big one does. PostgreSQL plans with
``enable_seqscan = off`` and ``enable_sort = off`` and must still show no Seq Scan and no Sort over a range of
those tables (a sort of rows reached by one key — one case's events — is bounded by that key).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from center.cases.models import Case
from tests.factories import make_case

BIG = ("cases", "case_events", "case_deadlines", "case_parties", "audit_entries", "case_reach", "case_terms")
FULL = bool(__import__("os").environ.get("PLAN_FULL"))
STATS = Path(__file__).with_name("d1_stat1.json")

# (who, what they open): the desks, the list (paged, each queue, filtered, searched), the export, the JSON list
# and search, a case page. "{number}" is a case the user sees; "{s:<text>}" a saved search of that text.
PAGES = [
    ("center.li", "/center/"), ("qs.staff", "/township/"), ("qs01.head", "/village/"),
    ("sifa.liaison", "/"),
    ("center.li", "/cases/"), ("center.li", "/cases/?page=3"), ("qs.staff", "/cases/"),
    ("qs.staff", "/cases/?queue=new"), ("qs.staff", "/cases/?queue=working"), ("qs.staff", "/cases/?queue=overdue"),
    ("qs.staff", "/cases/?queue=due_soon"), ("qs.staff", "/cases/?queue=awaiting_evaluation"),
    ("qs.staff", "/cases/?status=accepted&kind=dispute"), ("qs.staff", "/cases/?overdue=1"),
    ("center.li", "/cases/?unit={qs}"),
    ("qs.staff", "/cases/?{s:110101199003071233}"), ("qs.staff", "/cases/?{s:SHORT}"),
    ("qs.staff", "/cases/?{s:承包地}"), ("center.li", "/cases/?{s:计划甲 边界}"), ("qs.staff", "/cases/?{s:甲}"),
    ("qs01.g1", "/cases/"), ("sifa.liaison", "/cases/"),
    ("qs.staff", "/cases/export.xlsx"),
    ("qs.staff", "/api/v1/cases?limit=25"), ("center.li", "/api/v1/cases?limit=25&offset=50"),
    ("qs.staff", "/api/v1/cases?q={number}"),
    ("qs.staff", "/cases/{number}"),
]


def _load_stats(conn) -> None:
    rows = json.loads(STATS.read_text(encoding="utf-8"))
    listed = ",".join(f"'{t}'" for t in BIG)
    indexes = {r[0] for r in conn.exec_driver_sql(
        f"SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({listed})")  # noqa: S608
        if not r[0].startswith("sqlite_autoindex")}
    missing = indexes - {r["idx"] for r in rows}
    assert not missing, f"d1_stat1.json predates indexes {sorted(missing)}: regenerate it (bench/stats.py)"
    conn.exec_driver_sql("ANALYZE")  # makes sqlite_stat1
    conn.exec_driver_sql("DELETE FROM sqlite_stat1")
    for r in rows:
        conn.exec_driver_sql("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)",
                             (r["tbl"], r["idx"], r["stat"]))
    conn.exec_driver_sql("ANALYZE sqlite_schema")  # reload the statistics into the planner


def _sqlite_faults(conn, statement, params) -> list[str]:
    plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
    faults = []
    searches = [line for line in plan if re.match(r"SEARCH (\w+)", line)
                and re.match(r"SEARCH (\w+)", line).group(1).startswith(BIG)]
    # Sorting one case's rows (its events, its assignments; a case by its number) is bounded by the case.
    one_case = bool(searches) and all(re.search(r"\((case_id|rowid|id|number)=\?", line) for line in searches)
    for line in plan:
        scan = re.match(r"SCAN (\w+)", line)
        # The full-text table answers a MATCH from its index ("INDEX 0:M…"); without a constraint it reads all.
        matched = re.search(r"VIRTUAL TABLE INDEX \d+:M", line)
        if scan and scan.group(1).startswith(BIG) and not matched:
            faults.append(line)
        if re.search(r"TEMP B-TREE FOR (RIGHT PART OF |LAST TERM OF )?ORDER BY", line) and not one_case:
            faults.append(line)
    return faults


def _pg_faults(conn, statement, params) -> list[str]:
    plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).scalar()
    faults = []
    key = re.compile(r"\((\w+\.)?(case_id|id) = ")

    def big_scans(node) -> list[dict]:
        out = [node] if node.get("Relation Name") in BIG else []
        for child in node.get("Plans", []):
            out += big_scans(child)
        return out

    def walk(node):
        kind = node["Node Type"]
        if kind == "Seq Scan" and node.get("Relation Name") in BIG:
            faults.append(f"Seq Scan on {node['Relation Name']}")
        if kind in ("Sort", "Incremental Sort"):
            # Sorting rows reached by key (one case's events, the cases of a department's few assignments)
            # is bounded by that key; a sort over a range of a big table is not.
            ranged = [n["Relation Name"] for n in big_scans(node)
                      if not key.search(n.get("Index Cond", "") + n.get("Recheck Cond", ""))]
            if ranged:
                faults.append(f"Sort over {sorted(set(ranged))}")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return faults


def _open(client, path, number, short) -> None:
    saved = re.search(r"\{s:([^}]*)\}", path)
    if saved:
        path = path.replace(saved.group(0), "s=" + _saved(client, saved.group(1).replace("SHORT", short)))
    response = client.get(path.replace("{number}", number), follow_redirects=True)
    assert response.status_code == 200, (path, response.status_code)


def _saved(client, text: str) -> str:
    """Post the filter form as the list does; the redirect carries the saved search's id."""
    from tests.conftest import csrf_from

    token = csrf_from(client.get("/cases/").get_data(as_text=True))
    response = client.post("/cases/search", data={"q": text, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return re.search(r"[?&]s=([A-Za-z0-9_-]{32})", response.headers["Location"]).group(1)


def _faults(app, db, demo, signed_in, pages, *, before_planning=None) -> dict:
    """Open ``pages`` as their users, then plan every statement they ran on the big tables: {statement:
    faults} for those whose plan is not bounded index searches."""
    case = make_case(demo, "qs.staff", "青石村", summary="查询计划测试：承包地边界纠纷", commit=True,
                     applicant={"name": "计划甲", "id_type": "resident_id", "id_number": "110101199003071233"})
    number, short = case.number, case.number.rsplit("-", 1)[1]
    statements: dict[str, tuple] = {}

    def capture(_conn, _cursor, statement, params, _context, _many):
        if statement.lstrip().upper().startswith("SELECT") and any(t in statement for t in BIG):
            statements.setdefault(statement, params)

    by_user: dict[str, object] = {}
    for who, path in pages:
        client = by_user.get(who) or by_user.setdefault(who, signed_in(who))
        event.listen(Engine, "before_cursor_execute", capture)
        try:
            _open(client, path.replace("{qs}", str(demo.unit("青石镇").id)), number, short)
        finally:
            event.remove(Engine, "before_cursor_execute", capture)
    assert db.session.scalar(select(Case.id).where(Case.number == number)) == case.id
    conn = db.session.connection()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        _load_stats(conn)
    else:
        # PostgreSQL has no statistics to borrow: with scans and sorts priced out it takes an index whenever
        # one serves, so a Seq Scan or Sort left in the plan is one no index can serve.
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
    if before_planning is not None:
        before_planning(conn)
    faults = {}
    for statement, params in statements.items():
        found = (_sqlite_faults if sqlite else _pg_faults)(conn, statement, params)
        if found:
            faults[statement[:300] if not FULL else statement] = found
    assert len(statements) > (30 if pages is PAGES else 0)
    return faults


def test_every_list_desk_count_search_and_export_is_planned_through_bounded_index_searches(app, db, demo,
                                                                                          signed_in):
    faults = _faults(app, db, demo, signed_in, PAGES)
    assert not faults, json.dumps(faults, ensure_ascii=False, indent=1)


def test_the_check_fails_when_the_list_loses_its_index(app, db, demo, signed_in):
    """Without ix_case_reach_list a township clerk's list page is a scan or a sort of the table: the check
    above says so (it can fail)."""
    faults = _faults(app, db, demo, signed_in, [("qs.staff", "/cases/")],
                     before_planning=lambda conn: conn.exec_driver_sql("DROP INDEX ix_case_reach_list"))
    assert any("case_reach" in statement for statement in faults), faults
