"""The suite's inventory, for a reshaping step that must not change behaviour: every test function with the
number of ``assert`` statements in its body (nested helpers defined inside it included; module-level helpers
counted once under ``<module helpers>``), keyed by the test file's path under tests/ and the test's name.

    python -m tests.inventory > /tmp/before.tsv      # before the step
    python -m tests.inventory --compare /tmp/before.tsv   # after it: tests gone, assertion counts dropped

No import of the tests (so it runs on a tree that does not import yet); ``pytest.raises`` blocks count as
assertions too, since they are.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _asserts(node: ast.AST) -> int:
    count = 0
    for child in ast.walk(node):
        if isinstance(child, ast.Assert):
            count += 1
        elif isinstance(child, ast.With):
            for item in child.items:
                call = item.context_expr
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "raises"):
                    count += 1
    return count


def inventory() -> dict[str, int]:
    out: dict[str, int] = {}
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        helpers = 0
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                out[f"{path.relative_to(ROOT)}::{node.name}"] = _asserts(node)
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name.startswith("test_"):
                        out[f"{path.relative_to(ROOT)}::{node.name}.{item.name}"] = _asserts(item)
            else:
                helpers += _asserts(node)
        if helpers:
            out[f"{path.relative_to(ROOT)}::<module helpers>"] = helpers
    return out


def main(argv: list[str]) -> int:
    now = inventory()
    if len(argv) == 2 and argv[0] == "--compare":
        before = dict(line.rsplit("\t", 1) for line in Path(argv[1]).read_text().splitlines() if line)
        gone = sorted(set(before) - set(now))
        dropped = sorted(k for k in set(before) & set(now) if now[k] < int(before[k]))
        for key in gone:
            print(f"GONE\t{key}\t{before[key]}")
        for key in dropped:
            print(f"FEWER\t{key}\t{before[key]} -> {now[key]}")
        print(f"tests {len([k for k in before if '<' not in k])} -> {len([k for k in now if '<' not in k])}; "
              f"asserts {sum(map(int, before.values()))} -> {sum(now.values())}; "
              f"{len(gone)} gone, {len(dropped)} with fewer asserts")
        return 1 if gone or dropped else 0
    for key, count in now.items():
        print(f"{key}\t{count}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
