"""Run bandit over the application packages and fail on any finding that ``bandit-waivers.toml`` does not accept.

Each waiver names the bandit test id, the file, a piece of the flagged line (``match``, so a waiver follows its
line when code above it moves) and the reason it is accepted. A finding no waiver matches, a waiver that matches
no finding (stale: delete it), one that matches more than one, or one without a reason fails the gate. ``# nosec``
comments are ignored (``--ignore-nosec``): every accepted finding is in the waiver file, with its reason.

    python tools/bandit_gate.py core center township village notify

Offline and a few seconds; ``make test`` runs it first, ``make audit`` too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAIVERS = ROOT / "bandit-waivers.toml"


def run_bandit(targets: list[str]) -> dict:
    cmd = [sys.executable, "-m", "bandit", "-c", str(ROOT / "pyproject.toml"), "--ignore-nosec", "-q",
           "-f", "json", "-r", *targets]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    # bandit exits 1 when it finds anything; only its JSON tells findings from a crash
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"bandit did not produce a report (exit {proc.returncode})") from None


def load_waivers(path: Path = WAIVERS) -> list[dict]:
    with path.open("rb") as fh:
        return tomllib.load(fh).get("waiver", [])


def flagged_line(finding: dict) -> str:
    lines = (ROOT / finding["filename"]).read_text(encoding="utf-8").splitlines()
    return lines[finding["line_number"] - 1]


def check(report: dict, waivers: list[dict]) -> list[str]:
    problems = [f"bandit could not scan {e['filename']}: {e['reason']}" for e in report.get("errors", [])]
    for number, waiver in enumerate(waivers, 1):
        missing = [key for key in ("id", "file", "match", "reason") if not str(waiver.get(key, "")).strip()]
        if missing:
            problems.append(f"waiver #{number} ({waiver.get('id')} {waiver.get('file')}) lacks {', '.join(missing)}")
    matched = [0] * len(waivers)
    for finding in report.get("results", []):
        line = flagged_line(finding)
        hits = [i for i, w in enumerate(waivers)
                if w.get("id") == finding["test_id"] and w.get("file") == finding["filename"]
                and w.get("match") and w["match"] in line]
        for i in hits:
            matched[i] += 1
        if not hits:
            problems.append(
                f"{finding['filename']}:{finding['line_number']}: {finding['test_id']} "
                f"[{finding['issue_severity']}/{finding['issue_confidence']}] {finding['issue_text']}\n"
                f"    {line.strip()}\n"
                f"    fix it, or waive it in bandit-waivers.toml:\n"
                f"    [[waiver]]\n    id = \"{finding['test_id']}\"\n    file = \"{finding['filename']}\"\n"
                f"    match = {json.dumps(line.strip()[:60], ensure_ascii=False)}\n    reason = \"...\"")
    for waiver, count in zip(waivers, matched, strict=True):
        where = f"{waiver.get('id')} {waiver.get('file')} {waiver.get('match')!r}"
        if count == 0:
            problems.append(f"stale waiver (no such finding any more, delete it): {where}")
        elif count > 1:
            problems.append(f"waiver matches {count} findings (make `match` name one line): {where}")
    return problems


def main(argv: list[str]) -> int:
    targets = argv or ["core", "center", "township", "village", "notify"]
    report = run_bandit(targets)
    problems = check(report, load_waivers())
    findings = len(report.get("results", []))
    if problems:
        print("\n".join(problems))
        print(f"bandit gate: {len(problems)} problem(s); {findings} finding(s) in {' '.join(targets)}")
        return 1
    print(f"bandit gate: {findings} finding(s) in {' '.join(targets)}, each waived in bandit-waivers.toml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
