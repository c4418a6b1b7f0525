"""The FormSpec record of the bad-input tests (kept here, free of imports, so spec modules can use it without
importing tests/core/forms_spec.py — which collects the spec modules — in a cycle)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FormSpec:
    #: who submits it (None: anonymous, for public forms)
    user: str | None
    #: URL parameters of the POST route
    params: Callable = lambda demo: {}
    #: the page showing the form (GET before submitting), or None
    page: Callable | None = None
    #: a valid submission (the last request of the test, which must then succeed)
    valid: Callable = lambda demo: {}
    #: dotted path of the load schema; None for a form that takes no fields at all
    schema: str | None = "core.schemas.EmptyArgs"
    #: an upload form (its bad input is tested with broken files below)
    upload: bool = False
    #: WSGI environ the client sends with every request (e.g. the WeChat browser's User-Agent)
    environ: dict | None = None
    #: what a valid submission answers: a redirect, or 200 for a page that must start a fresh navigation
    #: (the WeChat binding proof: CSP form-action would block a redirect to WeChat's host)
    success_status: int = 302
    #: prepare(client, demo) after the client is made and before the page is opened (e.g. the password step
    #: of a sign-in, for the second step's form)
    prepare: Callable | None = None
