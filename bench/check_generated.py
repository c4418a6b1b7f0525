"""Check a data set made by bench/generate.py, by state and through the application itself.

    .venv/bin/python bench/check_generated.py [--database-url URL]

1. The rows agree with the rules (SQL): every case has its work subject and an applicant; a case's status is
   the last transition on its timeline; a closed petition has an approved answer with a service record; a
   closed dispute an approved mediation outcome or answer; no open duty deadline on a final case; each 督办
   level at most once per deadline and ``supervision_level`` = the highest level issued; case counters match
   the numbers issued; (SQLite) no broken foreign key.
2. The application against it (Flask test client): the demo logins sign in with the demo password; qs.staff
   opens /cases/, a case page, and finds a generated party's case by its full ID number and by its phone
   (blind index: the search posts the text, the result URL carries a search id only); each desk opens.

Prints each check with its time; exits non-zero on the first failure. A script, not a pytest test.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MEDIATION_ENV", "development")
DEFAULT_DB = ROOT / "bench" / "out" / "d1.db"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FINAL = "('not_accepted', 'guided_to_legal', 'terminated')"

#: (name, SQL counting violations)
INVARIANTS = [
    ("every case has its work subject", "SELECT count(*) FROM cases c LEFT JOIN work_subjects w ON w.id = c.subject_id "
     "WHERE w.id IS NULL OR w.kind <> 'case'"),
    ("every case has an applicant", "SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM case_parties p "
     "WHERE p.case_id = c.id AND p.role = 'applicant')"),
    ("events and deadlines name their case's subject", "SELECT (SELECT count(*) FROM case_events e JOIN cases c ON "
     "c.id = e.case_id WHERE e.subject_id <> c.subject_id) + (SELECT count(*) FROM case_deadlines d JOIN cases c "
     "ON c.id = d.case_id WHERE d.subject_id <> c.subject_id)"),
    ("status = the last transition's target", "SELECT count(*) FROM cases c JOIN (SELECT e.case_id, e.to_status "
     "FROM case_events e JOIN (SELECT case_id, max(id) AS id FROM case_events WHERE to_status IS NOT NULL "
     "GROUP BY case_id) last ON last.id = e.id) t ON t.case_id = c.id WHERE t.to_status <> c.status"),
    ("a closed petition has an approved, served answer", "SELECT count(*) FROM cases c WHERE c.kind = 'petition' "
     "AND c.status IN ('closed', 'evaluated', 'terminated') AND NOT EXISTS (SELECT 1 FROM case_documents d JOIN "
     "case_service_records s ON s.document_id = d.id WHERE d.case_id = c.id AND d.kind = 'answer' AND "
     "d.approved_at IS NOT NULL)"),
    ("a closed dispute has an approved outcome", "SELECT count(*) FROM cases c WHERE c.kind = 'dispute' AND "
     "c.status IN ('closed', 'evaluated') AND NOT EXISTS (SELECT 1 FROM case_mediation_sessions m WHERE "
     "m.case_id = c.id AND m.approved_at IS NOT NULL)"),
    ("no open duty deadline on a final case (but a 不予受理告知 still to go out)", f"SELECT count(*) FROM "
     f"case_deadlines d JOIN cases c ON c.id = d.case_id WHERE d.met_at IS NULL AND d.kind = 'duty' AND c.status IN "
     f"{FINAL} AND NOT (c.status = 'not_accepted' AND d.rule = 'notice')"),
    ("督办 levels match the deadline", "SELECT count(*) FROM case_deadlines d JOIN (SELECT deadline_id, max(level) "
     "AS top FROM case_supervisions GROUP BY deadline_id) s ON s.deadline_id = d.id WHERE d.supervision_level <> "
     "s.top"),
    ("every evaluated case has a result evaluation", "SELECT count(*) FROM cases c WHERE c.status = 'evaluated' "
     "AND NOT EXISTS (SELECT 1 FROM case_evaluations e WHERE e.case_id = c.id AND e.stage = 'result')"),
    ("case counters match the numbers", "SELECT count(*) FROM case_counters k WHERE k.last <> (SELECT count(*) "
     "FROM cases c WHERE c.number LIKE 'SF-' || k.year || '-%')"),
]


def _terms_drift(conn) -> list[int]:
    """Cases (a sample) whose case_terms row differs from what center.cases.listing.terms makes of them."""
    from sqlalchemy import text

    from center.cases.listing import terms

    ids = [i for (i,) in conn.execute(text("SELECT id FROM cases WHERE id % 97 = 0"))]
    kept = {r.case_id: (r.grams, r.chars) for r in conn.execute(
        text("SELECT case_id, grams, chars FROM case_terms WHERE case_id % 97 = 0"))}
    summaries = dict(conn.execute(text("SELECT id, summary FROM cases WHERE id % 97 = 0")).all())
    names: dict[int, list[str]] = {}
    for case_id, name in conn.execute(text("SELECT case_id, name FROM case_parties WHERE case_id % 97 = 0 "
                                           "ORDER BY case_id, id")):
        names.setdefault(case_id, []).append(name or "")
    bad = []
    for i in ids:
        doc = terms.document(summaries[i], names.get(i, []))
        if kept.get(i) != (doc["grams"], doc["chars"]):
            bad.append(i)
    return bad


def check(label: str, ok: bool, detail: str = "") -> None:
    print(f"  {'ok ' if ok else 'FAIL'} {label}{(': ' + detail) if detail else ''}", flush=True)
    if not ok:
        sys.exit(1)


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - started) * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=f"sqlite:///{DEFAULT_DB}")
    parser.add_argument("--skip-invariants", action="store_true", help="only the application checks")
    args = parser.parse_args(argv)

    from sqlalchemy import text

    from bench.keys import data_set_keys
    from core.app import create_app

    app = create_app({"MEDIATION_ENV": "development", "SQLALCHEMY_DATABASE_URI": args.database_url,
                      **data_set_keys(args.database_url)})
    with app.app_context():
        from core.db import db

        if not args.skip_invariants:
            print("[check] invariants")
            with db.engine.connect() as conn:
                for label, sql in INVARIANTS:
                    bad, ms = timed(lambda sql=sql: conn.execute(text(sql)).scalar())
                    check(label, bad == 0, f"{bad} violations" if bad else f"{ms:.0f} ms")
                if conn.dialect.name == "sqlite":
                    broken, ms = timed(lambda: conn.exec_driver_sql("PRAGMA foreign_key_check").fetchmany(5))
                    check("foreign keys", not broken, str(broken) if broken else f"{ms:.0f} ms")
                bad, ms = timed(lambda: _terms_drift(conn))
                check("search grams equal a recomputation (every 97th case)", not bad, f"{bad[:3]}" if bad
                      else f"{ms:.0f} ms")
        sample = _sample(db)
        sample["pages"] = _variety(db)
        db.session.remove()
    print("[check] the application")
    _web(app, sample)
    print("[check] all good")
    return 0


def _sample(db) -> dict:
    """A case qs.staff sees (handled at 青石镇 or under it, no 检举控告), with a party's ID number and phone."""
    from sqlalchemy import text

    from core.crypto import provider

    row = db.session.execute(text(
        "SELECT c.number, p.id_number_enc, p.phone_enc FROM cases c JOIN org_units h ON h.id = c.handling_unit_id "
        "JOIN org_units q ON q.name = '青石镇' JOIN case_parties p ON p.case_id = c.id "
        "WHERE h.path LIKE q.path || '%' AND (c.petition_class IS NULL OR c.petition_class <> 'accusation') AND p.id_number_enc IS NOT NULL "
        "AND p.phone_enc IS NOT NULL AND p.role = 'applicant' ORDER BY c.id DESC LIMIT 1")).first()
    check("a 青石镇 case with a party's ID number and phone", row is not None)
    crypto = provider()
    return {"number": row[0], "id_number": crypto.decrypt(row[1]), "phone": crypto.decrypt(row[2])}


#: Cases whose pages must render: one of every status, and one of each record the generator writes.
VARIETY = [
    ("transferred to a department", "SELECT number FROM cases WHERE handling_department_id IS NOT NULL"),
    ("under 督办 level 3", "SELECT c.number FROM cases c JOIN case_supervisions s ON s.case_id = c.id "
     "WHERE s.level = 3"),
    ("with a 复查", "SELECT c.number FROM cases c JOIN case_reviews r ON r.case_id = c.id"),
    ("with an extension", "SELECT c.number FROM cases c JOIN case_extensions x ON x.case_id = c.id"),
    ("with a summoned department", "SELECT c.number FROM cases c JOIN case_assignments a ON a.case_id = c.id "
     "WHERE a.arrive_by IS NOT NULL"),
    ("a repeat petition", "SELECT number FROM cases WHERE repeat_of_case_id IS NOT NULL"),
    ("检举控告", "SELECT number FROM cases WHERE accused_unit_id IS NOT NULL"),
]


def _variety(db) -> list[tuple[str, str]]:
    from sqlalchemy import text

    pages = []
    statuses = [r[0] for r in db.session.execute(text("SELECT DISTINCT status FROM cases ORDER BY status"))]
    for status in statuses:
        number = db.session.execute(text("SELECT max(number) FROM cases WHERE status = :s"), {"s": status}).scalar()
        pages.append((f"status {status}", number))
    for label, sql in VARIETY:
        number = db.session.execute(text(f"{sql} ORDER BY 1 DESC LIMIT 1")).scalar()
        if number is not None:
            pages.append((label, number))
    return pages


def _login(client, username: str) -> None:
    from core.demo import DEMO_PASSWORD

    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    response, ms = timed(lambda: client.post("/login", data={"csrf_token": token, "username": username,
                                                             "password": DEMO_PASSWORD}))
    check(f"{username} signs in with the demo password", response.status_code == 302,
          f"{ms:.0f} ms" if response.status_code == 302 else str(response.status_code))


def _get(client, path: str, expect: str | None = None) -> str:
    """GET ``path`` (following the home page's redirect to the user's desk): 200, naming ``expect``."""
    response, ms = timed(lambda: client.get(path, follow_redirects=path == "/"))
    body = response.get_data(as_text=True)
    ok = response.status_code == 200 and (expect is None or expect in body)
    check(f"GET {path}", ok, f"{ms:.0f} ms" if ok else f"{response.status_code}{' (missing ' + expect + ')' if expect else ''}")
    return body


def _search(client, q: str, number: str, what: str) -> None:
    token = CSRF_RE.search(client.get("/cases/").get_data(as_text=True)).group(1)
    posted, ms = timed(lambda: client.post("/cases/search", data={"csrf_token": token, "q": q}))
    location = posted.headers.get("Location", "")
    check(f"search by {what} posts and redirects to a search id", posted.status_code == 302 and q not in location,
          f"{ms:.0f} ms")
    _get(client, location, expect=number)


def _web(app, sample: dict) -> None:
    client = app.test_client()
    _login(client, "qs.staff")
    _get(client, "/cases/")
    _get(client, f"/cases/{sample['number']}", expect=sample["number"])
    _search(client, sample["id_number"], sample["number"], "ID number")
    _search(client, sample["phone"], sample["number"], "phone")
    _get(client, "/township/")
    admin_like = app.test_client()
    _login(admin_like, "leader.wang")  # a district leader sees every case of the district but the hidden ones
    for label, number in sample["pages"]:
        print(f"       ({label})")
        _get(admin_like, f"/cases/{number}", expect=number)
    for username, path in (("center.li", "/center/"), ("qs01.head", "/village/"), ("qs01.g1", "/m/"),
                           ("xinfang.liaison", "/"), ("admin", "/")):
        other = app.test_client()
        _login(other, username)
        _get(other, path)


if __name__ == "__main__":
    sys.exit(main())
