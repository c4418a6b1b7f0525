"""pip-audit over the lock files; a known vulnerability fails unless ``audit-waivers.toml`` accepts it with a reason.

    python tools/pip_audit_gate.py [requirements.lock requirements-dev.lock] [-- extra pip-audit arguments]

Each waiver names the advisory (``id``: its PYSEC/GHSA/CVE id or any alias), the ``package`` and the ``reason``
(why it does not reach us, or until when we live with it). A package pip-audit cannot look up fails the audit
(``--strict``) rather than passing unchecked; a waiver that matches nothing in the audited locks is stale and
fails too. Needs the package index's advisory service: `make audit`, never `make test`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAIVERS = ROOT / "audit-waivers.toml"
LOCKS = ["requirements.lock", "requirements-dev.lock"]


def run_pip_audit(lock: str, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "pip_audit", "--strict", "--progress-spinner", "off", "--require-hashes",
           "--disable-pip", "--aliases", "on", "-f", "json", "-r", lock, *extra]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(proc.stdout + proc.stderr[-4000:])
        raise SystemExit(f"pip-audit could not audit {lock} (exit {proc.returncode}): see above") from None


def load_waivers(path: Path = WAIVERS) -> list[dict]:
    with path.open("rb") as fh:
        return tomllib.load(fh).get("advisory", [])


def check(reports: dict[str, dict], waivers: list[dict]) -> tuple[list[str], int]:
    """Problems, and how many advisories the waivers accepted."""
    problems = []
    for number, waiver in enumerate(waivers, 1):
        missing = [key for key in ("id", "package", "reason") if not str(waiver.get(key, "")).strip()]
        if missing:
            problems.append(f"advisory waiver #{number} ({waiver.get('id')}) lacks {', '.join(missing)}")
    used = [False] * len(waivers)
    accepted = 0
    for lock, report in reports.items():
        for dep in report.get("dependencies", []):
            if dep.get("skip_reason"):
                problems.append(f"{lock}: {dep['name']} was not audited: {dep['skip_reason']}")
            for vuln in dep.get("vulns", []):
                names = {vuln["id"], *vuln.get("aliases", [])}
                hits = [i for i, w in enumerate(waivers) if w.get("package") == dep["name"] and w.get("id") in names]
                for i in hits:
                    used[i] = True
                if hits:
                    accepted += 1
                    continue
                fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release"
                problems.append(f"{lock}: {dep['name']} {dep['version']}: {vuln['id']} "
                                f"({', '.join(sorted(set(vuln.get('aliases', [])))) or 'no aliases'}); "
                                f"fixed in {fixed}: raise the pin in pyproject.toml and `make lock`, "
                                f"or accept it in audit-waivers.toml with a reason")
    for waiver, was_used in zip(waivers, used, strict=True):
        if not was_used:
            problems.append(f"stale advisory waiver (nothing in {', '.join(reports)} has it any more, delete it): "
                            f"{waiver.get('id')} {waiver.get('package')}")
    return problems, accepted


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    locks = (argv[:argv.index("--")] if "--" in argv else argv) or LOCKS
    reports = {lock: run_pip_audit(lock, extra) for lock in locks}
    problems, accepted = check(reports, load_waivers())
    audited = sum(len(r.get("dependencies", [])) for r in reports.values())
    if problems:
        print("\n".join(problems))
        print(f"pip-audit gate: {len(problems)} problem(s) in {' '.join(locks)}")
        return 1
    print(f"pip-audit gate: {audited} pinned packages in {' '.join(locks)}; no known vulnerability"
          + (f" but the {accepted} accepted in audit-waivers.toml" if accepted else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
