"""The Screen record of the page tests (kept apart so tests/specs modules can import it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Screen:
    name: str
    user: str | None
    path: str  # may hold {unit[名称]}, {user[username]}, {dept[名称]}, {case[摘要]}, {doc[摘要|kind|draft]}
    marker: str  # text the page must show
    status: int = 200
    submit_invalid: dict | None = None  # fill these fields (by id) and submit; expect 422 and field errors
