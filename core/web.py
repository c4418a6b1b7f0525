"""View helpers: build the Actor, commit once, parse forms with marshmallow, render with errors."""

from __future__ import annotations

import re
import uuid

from flask import g, request
from flask_login import current_user

from core.actor import Actor
from core.db import db

#: A request id the gateway may send: recorded beside ours (audit_entries.client_request_id) so a request can be
#: followed through the gateway's logs, never used as ours — a client must not choose the id that joins audit
#: rows. Only plain printable ASCII, at most 64 characters, is kept.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,64}")


def request_id() -> str:
    """This request's id, made here (every audit row of the request carries it)."""
    if "request_id" not in g:
        g.request_id = uuid.uuid4().hex
    return g.request_id


def client_request_id() -> str | None:
    """The gateway's X-Request-Id if it is a plain id, else None."""
    given = request.headers.get("X-Request-Id", "")
    return given if len(given) <= 64 and _REQUEST_ID.fullmatch(given) else None


def client_ip() -> str | None:
    # Behind the government gateway the real address arrives via ProxyFix (configured in wsgi.py).
    return request.remote_addr


def current_actor(channel: str | None = None) -> Actor:
    if "actor" not in g:
        if channel is None:
            from core.error_pages import is_api_path

            channel = "api" if is_api_path(request.path) else "web"
        user = current_user._get_current_object() if current_user.is_authenticated else None
        if user is None:
            g.actor = Actor.visitor(ip=client_ip(), request_id=request_id(), channel=channel,
                                    client_request_id=client_request_id())
        else:
            # A service token acts only with the account's memberships inside its unit subtree (set by the
            # API's bearer check, center.api.auth).
            from flask import session

            at = session.get("factor_at") if channel == "web" else None
            g.actor = Actor.for_user(user, ip=client_ip(), request_id=request_id(), channel=channel,
                                     within=g.get("actor_within"), factor_at=at if isinstance(at, int) else None,
                                     client_request_id=client_request_id())
    return g.actor


def commit() -> None:
    """The view's one commit. Rollback happens in the teardown handler on any exception."""
    db.session.commit()


def form_data() -> dict:
    """Form fields as a dict of strings (multi-valued fields keep their lists), CSRF token removed."""
    data = {}
    for key in request.form:
        if key == "csrf_token":
            continue
        values = request.form.getlist(key)
        data[key] = values if len(values) > 1 else values[0]
    return data


def load_form(schema, data: dict | None = None) -> dict:
    """Validate with a marshmallow schema; raise ValidationFailed with Chinese messages."""
    from marshmallow import ValidationError

    from core.errors import ValidationFailed

    raw = form_data() if data is None else data
    try:
        return schema.load(raw)
    except ValidationError as exc:
        raise ValidationFailed(_flatten(exc.messages)) from exc


def _flatten(messages) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in (messages or {}).items():
        if isinstance(value, dict):
            for sub, msgs in _flatten(value).items():
                out[f"{key}.{sub}"] = msgs
        else:
            out[str(key)] = [str(v) for v in (value if isinstance(value, list) else [value])]
    return out


def submit(schema, perform, template: str, *, data: dict | None = None, context_fn=None, **context):
    """The one shape of a form POST: parse → operation → commit → response; on bad input, roll back and
    re-render the form with the user's input and Chinese messages (422).

    ``context_fn`` builds the rest of the page after the rollback: objects loaded before it are expired, and
    rendering a list of them would cost one query per row."""
    from flask import render_template

    from core.errors import ValidationFailed

    try:
        args = load_form(schema, data)
        response = perform(args)
        commit()
        return response
    except ValidationFailed as exc:
        db.session.rollback()
        if context_fn is not None:
            context.update(context_fn())
        return render_template(template, errors=exc.errors, form=form_data(), **context), 422


def act(run, *, done: str, to):
    """A button that posts no field (启用, 恢复通道, 重新发送 …): ``run()`` — one operation — then commit, the
    success message ``done`` and a redirect to ``to`` (a URL, or a function of what ``run`` returned); input the
    operation refuses (ValidationFailed) is the error page with its message, 422, nothing written."""
    from flask import flash, redirect

    from core.schemas import EmptyArgs

    def perform(_args):
        result = run()
        flash(done, "success")
        return redirect(to(result) if callable(to) else to)

    return submit(EmptyArgs(), perform, "core/error.html", code=422, message="操作未完成")


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths; '//evil' and 'http://…' fall back to the default."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    # Browsers drop tabs and newlines inside URLs ("/\t/evil" becomes "//evil"); refuse any control character.
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c.isspace() for c in target):
        return default
    return target
