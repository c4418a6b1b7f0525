"""What import-linter cannot say: models, queries and operations never use the request, the session cookie or
``g`` of Flask. The modules are the ones the "Models, queries and operations …" contract in pyproject.toml
names (same wildcards, expanded by grimp as import-linter does); ``current_app`` (config read inside a
function) is the one thing they may take from flask."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = "Models, queries and operations never touch the request, flask_login or views"
REQUEST_STATE = {"request", "session", "g", "has_request_context", "copy_current_request_context"}


def _contract() -> tuple[list[str], dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    [contract] = [c for c in config["contracts"] if c["name"] == CONTRACT]
    return config["root_packages"], contract


def _modules() -> list[str]:
    import grimp

    roots, contract = _contract()
    graph = grimp.build_graph(*roots)
    found: set[str] = set()
    for expression in contract["source_modules"]:
        names = graph.find_matching_modules(expression) if "*" in expression else {expression}
        for name in names:
            found |= {name, *graph.find_descendants(name)}
    return sorted(found)


def _path(module: str) -> Path:
    base = ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _flask_names(tree: ast.AST) -> set[str]:
    """Names taken from flask: ``from flask import x`` and ``flask.x`` after ``import flask``."""
    names: set[str] = set()
    flask_aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("flask", "flask.globals"):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            flask_aliases |= {alias.asname or alias.name for alias in node.names if alias.name == "flask"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in flask_aliases:
            names.add(node.attr)
    return names


def test_the_contract_covers_every_features_models_queries_and_operations():
    modules = _modules()
    for expected in ("core.accounts.operations", "center.cases.intake.operations", "center.cases.models.case",
                     "center.departments.queries", "village.operations", "notify.operations"):
        assert expected in modules
    assert all(_path(m).is_file() for m in modules)


@pytest.mark.parametrize("module", _modules())
def test_no_request_state_from_flask(module):
    used = _flask_names(ast.parse(_path(module).read_text(encoding="utf-8")))
    assert not used & REQUEST_STATE, f"{module} takes {sorted(used & REQUEST_STATE)} from flask"
