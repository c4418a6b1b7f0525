"""The lock files install what pyproject.toml asks for, every pin hashed; the bandit gate's matching rules."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})*)", re.M)
STALE = "{name}: pyproject.toml asks for {spec!s}, {lock} has {pinned}: run `make lock`"


def _pins(lock: str) -> dict[str, tuple[str, int]]:
    text = (ROOT / lock).read_text(encoding="utf-8")
    return {canonicalize_name(m[1]): (m[2], m[3].count("--hash=sha256:")) for m in PIN.finditer(text)}


def _requirements(extra: str | None = None) -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    listed = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    if extra is None:  # the build backend: installed from the lock too (pip install --no-build-isolation -e .)
        listed = [*listed, *pyproject["build-system"]["requires"]]
    return [Requirement(line) for line in listed]


@pytest.mark.parametrize(("lock", "extras"), [("requirements.lock", []), ("requirements-dev.lock", ["dev"])])
def test_lock_pins_every_requirement_of_pyproject(lock, extras):
    pins = _pins(lock)
    wanted = _requirements() + [r for extra in extras for r in _requirements(extra)]
    for req in wanted:
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is not in {lock}: run `make lock`"
        pinned = pins[name][0]
        assert req.specifier.contains(pinned, prereleases=True), STALE.format(
            name=name, spec=req.specifier, lock=lock, pinned=pinned)


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_line_of_the_lock_is_pinned_and_hashed(lock):
    text = (ROOT / lock).read_text(encoding="utf-8")
    requirement_lines = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    pins = _pins(lock)
    assert len(requirement_lines) == len(pins) > 0, "every requirement is name==version"
    assert all(hashes > 0 for _, hashes in pins.values()), "every pin carries --hash=sha256"


def test_dev_lock_installs_the_same_versions_as_the_runtime_lock():
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert {name: version for name, (version, _) in runtime.items()} == {
        name: dev[name][0] for name in runtime if name in dev}
    assert runtime.keys() <= dev.keys()


def _gate():
    spec = importlib.util.spec_from_file_location("bandit_gate", ROOT / "tools" / "bandit_gate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _finding(test_id="B324", filename="notify/wechat/callback.py", line="hashlib.sha1(x)"):
    return {"test_id": test_id, "filename": filename, "line_number": 1, "issue_severity": "HIGH",
            "issue_confidence": "HIGH", "issue_text": "weak hash", "_line": line}


@pytest.fixture
def gate(monkeypatch):
    module = _gate()
    monkeypatch.setattr(module, "flagged_line", lambda finding: finding["_line"])
    return module


def test_gate_accepts_a_finding_with_its_waiver(gate):
    waiver = {"id": "B324", "file": "notify/wechat/callback.py", "match": "hashlib.sha1(", "reason": "WeChat's"}
    assert gate.check({"results": [_finding()]}, [waiver]) == []


def test_gate_refuses_unwaived_stale_reasonless_and_ambiguous_waivers(gate):
    assert "B324" in gate.check({"results": [_finding()]}, [])[0]
    stale = {"id": "B603", "file": "core/runner.py", "match": "Popen", "reason": "fixed argv"}
    assert gate.check({"results": []}, [stale]) == [
        "stale waiver (no such finding any more, delete it): B603 core/runner.py 'Popen'"]
    reasonless = {"id": "B324", "file": "notify/wechat/callback.py", "match": "sha1", "reason": " "}
    assert "lacks reason" in gate.check({"results": [_finding()]}, [reasonless])[0]
    wide = {"id": "B324", "file": "notify/wechat/callback.py", "match": "sha1", "reason": "WeChat's"}
    problems = gate.check({"results": [_finding(), _finding(line="hashlib.sha1(y)")]}, [wide])
    assert problems == ["waiver matches 2 findings (make `match` name one line): "
                        "B324 notify/wechat/callback.py 'sha1'"]
    other_file = dict(wide, file="notify/fake/push.py")
    assert len(gate.check({"results": [_finding()]}, [other_file])) == 2  # unwaived finding + stale waiver


def test_gate_fails_when_bandit_could_not_scan_a_file(gate):
    problems = gate.check({"results": [], "errors": [{"filename": "core/x.py", "reason": "syntax error"}]}, [])
    assert problems == ["bandit could not scan core/x.py: syntax error"]


def test_every_waiver_in_the_file_has_a_reason():
    waivers = _gate().load_waivers()
    assert waivers and all(w.get("reason", "").strip() for w in waivers)


def _audit_gate():
    spec = importlib.util.spec_from_file_location("pip_audit_gate", ROOT / "tools" / "pip_audit_gate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(*vulns, name="requests", version="2.31.0"):
    return {"dependencies": [{"name": name, "version": version, "vulns": list(vulns)},
                             {"name": "flask", "version": "3.1.3", "vulns": []}], "fixes": []}


ADVISORY = {"id": "PYSEC-2024-1", "fix_versions": ["2.32.0"], "aliases": ["CVE-2024-35195", "GHSA-9wx4-h78v-vm56"]}


def test_audit_gate_fails_on_an_advisory_and_accepts_it_by_any_alias_with_a_reason():
    gate = _audit_gate()
    problems, accepted = gate.check({"requirements.lock": _report(ADVISORY)}, [])
    assert accepted == 0 and len(problems) == 1
    assert "requests 2.31.0: PYSEC-2024-1" in problems[0] and "fixed in 2.32.0" in problems[0]
    waiver = {"id": "GHSA-9wx4-h78v-vm56", "package": "requests", "reason": "we never pass verify=False"}
    assert gate.check({"requirements.lock": _report(ADVISORY)}, [waiver]) == ([], 1)
    assert gate.check({"requirements.lock": _report()}, []) == ([], 0)


def test_audit_gate_refuses_reasonless_stale_and_other_package_waivers_and_unaudited_packages():
    gate = _audit_gate()
    reasonless = {"id": "PYSEC-2024-1", "package": "requests", "reason": ""}
    assert "lacks reason" in gate.check({"requirements.lock": _report(ADVISORY)}, [reasonless])[0][0]
    stale = {"id": "PYSEC-2024-1", "package": "requests", "reason": "old"}
    assert gate.check({"requirements.lock": _report()}, [stale])[0] == [
        "stale advisory waiver (nothing in requirements.lock has it any more, delete it): PYSEC-2024-1 requests"]
    elsewhere = {"id": "PYSEC-2024-1", "package": "urllib3", "reason": "not this package"}
    assert len(gate.check({"requirements.lock": _report(ADVISORY)}, [elsewhere])[0]) == 2
    skipped = {"dependencies": [{"name": "alembic", "skip_reason": "Dependency not found on PyPI"}]}
    assert gate.check({"requirements.lock": skipped}, []) == (
        ["requirements.lock: alembic was not audited: Dependency not found on PyPI"], 0)


def test_the_advisory_waiver_file_is_well_formed():
    assert all(w.get("reason", "").strip() for w in _audit_gate().load_waivers())
