"""The JSON API against its own OpenAPI document, by schemathesis (property-based, seeded): for every operation,
data the document calls valid (positive) and data it calls invalid (negative) is sent with a bearer token, and
no answer is a server error, an undocumented status or content type, or a body outside its declared schema;
negative data is always refused. One shared database transaction for the whole run (rolled back after it),
a fixed seed (hypothesis ``derandomize``) and a fixed number of examples per operation, so a run is repeatable
and its cost bounded. SQLite only: the API's rules do not depend on the engine, and the PostgreSQL run of the
suite keeps the API's own tests (test_api.py, test_openapi.py)."""

from __future__ import annotations

import logging
import random
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import or_, select

from tests import dbutil

pytestmark = pytest.mark.skipif(dbutil.ENGINE != "sqlite", reason="schemathesis runs on SQLite only")

#: Examples per operation and generation mode. The total is asserted below (at least MIN_TOTAL).
EXAMPLES = {
    ("GET /api/v1/cases", GenerationMode.POSITIVE): 300,
    ("GET /api/v1/cases", GenerationMode.NEGATIVE): 150,
    ("POST /api/v1/cases", GenerationMode.POSITIVE): 400,
    ("POST /api/v1/cases", GenerationMode.NEGATIVE): 250,
    ("POST /api/v1/cases/search", GenerationMode.POSITIVE): 150,
    ("POST /api/v1/cases/search", GenerationMode.NEGATIVE): 75,
    ("GET /api/v1/cases/{number}", GenerationMode.POSITIVE): 150,
    ("GET /api/v1/cases/{number}", GenerationMode.NEGATIVE): 75,
    ("POST /api/v1/cases/{number}/transitions", GenerationMode.POSITIVE): 500,
    ("POST /api/v1/cases/{number}/transitions", GenerationMode.NEGATIVE): 250,
    ("GET /api/v1/cases/{number}/events", GenerationMode.POSITIVE): 150,
    ("GET /api/v1/cases/{number}/events", GenerationMode.NEGATIVE): 75,
}
MIN_TOTAL = 2000
USER = "qs.staff"


def _checks(mode: GenerationMode) -> list:
    from schemathesis.checks import not_a_server_error

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    return checks + [negative_data_rejection] if mode == GenerationMode.NEGATIVE else checks


class _Errors(logging.Handler):
    """The tracebacks the app logs for a 500 (core.error_pages), to report with the failing example."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(self.format(record))


@pytest.fixture()
def api(app, db, demo):
    """The bearer token of a township clerk (a demo-like user: the demo district's 青石镇 staff, with a
    personal token as an integration would hold), the cases and units they see, and a few fresh cases."""
    from center.cases.intake.operations import categories
    from center.cases.lifecycle.operations import TRANSITIONS, transfer_departments
    from center.cases.models import Case
    from center.cases.queries import cases_query
    from center.cases.routing.units import escalation_targets, hand_down_targets, intake_units
    from core.accounts.tokens import issue_token
    from tests.factories import make_case

    # A conformance run, not a flood: thousands of requests within a minute would meet the per-account limit
    # (documented as 429) and test nothing else. tests/core/test_abuse_limits.py tests the limit itself.
    app.config["RATE_LIMITS"] = {"api.account": [10**6, 60], "intake.account": [10**6, 60]}
    actor = demo.actor(USER)
    for kind, petition_class in (("dispute", None), ("petition", "appeal"), ("petition", "suggestion")):
        make_case(demo, actor, "青石镇", kind, petition_class=petition_class, summary="接口契约测试事项",
                  applicant="契约甲", respondent="契约乙", repeat_of=None)
    _row, plain = issue_token(demo.user(USER), label="契约测试", actor=actor)
    db.session.commit()
    visible = cases_query(actor).with_only_columns(Case.number).order_by(Case.id)
    numbers = list(db.session.scalars(visible))

    def numbers_for(action: str | None) -> list[str]:
        """Cases the user sees whose kind and status allow ``action`` now."""
        arms = [(Case.kind == kind) & Case.status.in_(t.sources) for t in TRANSITIONS if t.action == action
                for kind in t.kinds]
        return list(db.session.scalars(visible.where(or_(*arms)))) if arms else []

    def targets(number: str) -> dict[str, list[int]]:
        case = db.session.scalar(select(Case).where(Case.number == number))
        if case is None:
            return {"unit_id": [], "department_id": []}
        units = hand_down_targets(case) + escalation_targets(case)
        return {"unit_id": [u.id for u in units], "department_id": [d.id for d in transfer_departments(case)]}

    yield {"headers": {"Authorization": f"Bearer {plain}"}, "numbers": numbers, "numbers_for": numbers_for,
           "targets": targets, "intake_units": [u.id for u in intake_units(actor)], "categories": list(categories())}
    app.config["RATE_LIMITS"] = None


def _scrub(value):
    """``value`` without the characters the request edge refuses (core.security.BAD_TEXT)."""
    from core.security import strip_bad_text

    if isinstance(value, str):
        return strip_bad_text(value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _real(case, mode: GenerationMode, api: dict, rng: random.Random) -> None:
    """Steer positive examples to where the rules beyond the document are met, so the operations also answer
    200/201 (a generated case number, unit id or category is almost never a real one, and a random action is
    almost never allowed in the case's status): real case numbers (a case whose status allows the action), units, departments and
    categories. Only values the document allows are put in. Negative examples keep what makes them negative.
    Positive and negative, most examples carry no text the request edge refuses (its 400 is documented and
    some examples keep it; without this, random text would hardly ever get past the edge). The
    choices come from ``rng`` (seeded by one hypothesis draw): hypothesis draws must not depend on the state of
    the database, which changes from one example to the next."""
    chance = lambda n: rng.randrange(10) < n  # noqa: E731
    if chance(8):  # schemathesis revalidates an edited case: a negative one made valid is then positive
        if isinstance(case.body, dict | list):
            case.body = _scrub(case.body)
        if case.query:
            case.query = _scrub(case.query)
    if mode != GenerationMode.POSITIVE:
        # A negative body or query is sent to a real case (else every such example only meets a 404).
        if (case.path_parameters and "number" in case.path_parameters
                and not case.meta.is_negative_at(ParameterLocation.PATH) and chance(8)):
            case.path_parameters["number"] = rng.choice(api["numbers"])
        return
    label = case.operation.label
    body = case.body if isinstance(case.body, dict) else {}
    if case.path_parameters and "number" in case.path_parameters and chance(8):
        numbers = api["numbers_for"](body.get("action")) if label.endswith("/transitions") else []
        case.path_parameters["number"] = rng.choice(numbers or api["numbers"])
    if label == "POST /api/v1/cases" and chance(7):
        body.update(origin_unit_id=rng.choice(api["intake_units"]),
                    category=rng.choice(api["categories"]))
        for key, values in (("handling_unit_id", [None]), ("accused_unit_id", [None]),
                            ("occurred_on", [None, "2025-05-01"]), ("repeat_of", ["none"])):
            if key in body:
                body[key] = rng.choice(values)
    if label.endswith("/transitions") and case.path_parameters and chance(8):
        targets = api["targets"](case.path_parameters["number"])
        for key in ("unit_id", "department_id"):
            if isinstance(body.get(key), int) and targets[key]:
                body[key] = rng.choice(targets[key])


def _explore(operation, mode: GenerationMode, examples: int, api: dict, client, errors: _Errors,
             failures: dict[str, str]) -> dict[int, int]:
    """Run ``examples`` seeded examples of one operation in one mode; failures are collected, not raised, so
    one run reports every kind of failure. Returns how many answers of each status it met."""
    checks = _checks(mode)
    statuses: dict[int, int] = {}

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    # The token is fixed (not generated, so never mutated: negative examples are about the data).
    @given(case=operation.as_strategy(generation_mode=mode, headers=api["headers"]), data=st.data())
    def run(case, data):
        _real(case, mode, api, random.Random(data.draw(st.integers(0, 2**32 - 1))))
        del errors.records[:]
        try:
            response = case.call(session=client, headers=api["headers"])
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            case.validate_response(response, checks=checks, headers=api["headers"])
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, then reported at once
            what = ("; ".join(sorted({f"{f.code} {f.title}" for f in exc.exceptions}))
                    if isinstance(exc, BaseExceptionGroup) else f"{type(exc).__name__}: {exc}"[:200])
            title = f"{operation.label} [{mode.value}] {what}"
            failures.setdefault(title, f"{exc}\n{''.join(errors.records)}")

    run()
    return statuses


def test_the_api_conforms_to_its_openapi_document(app, db, api):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = {op.ok().label: op.ok() for op in schema.get_all_operations()}
    assert {label for label, _mode in EXAMPLES} == set(operations), "an operation without examples"
    client = app.test_client()
    errors = _Errors()
    logging.getLogger("core.errors").addHandler(errors)
    failures: dict[str, str] = {}
    counts: dict[str, dict[int, int]] = {}
    started = time.monotonic()
    try:
        for (label, mode), examples in EXAMPLES.items():
            counts[f"{label} {mode.value}"] = _explore(operations[label], mode, examples, api, client, errors,
                                                       failures)
    finally:
        logging.getLogger("core.errors").removeHandler(errors)
    total = sum(n for statuses in counts.values() for n in statuses.values())
    print(f"schemathesis: {total} examples in {time.monotonic() - started:.0f}s; statuses: {counts}")  # noqa: T201
    assert not failures, "\n\n".join(f"{title}\n{detail[:3000]}" for title, detail in list(failures.items())[:8])
    assert total >= MIN_TOTAL, counts
    # The steering works: every operation answered a success too, not only refusals.
    for key, statuses in counts.items():
        if key.endswith("positive"):
            assert any(200 <= status < 300 for status in statuses), (key, statuses)
