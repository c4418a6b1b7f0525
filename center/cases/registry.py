"""Extension points of the case page, filled by the case modules at init_app (like core.hooks).

- ``register_panel(order, template, context)``: a section of the case page. ``context(case, actor)`` returns
  the template's variables, or None to leave the panel out (e.g. no permission, wrong state). Panels render
  in ``order``; the facts come first (0–9), work on the case (10–49), aftercare (50–79), the record (80+).
- ``register_event_labels({action: 中文})``: how the timeline names an event action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    order: int
    template: str
    context: Callable


panels: list[Panel] = []
#: ``listener(case, event, actor)`` after every state transition, inside its transaction (e.g. village/ tells
#: the grid worker of the case's grid that it was handed down to their village).
transition_listeners: list[Callable] = []
event_labels: dict[str, str] = {"register": "登记", "deadline_recomputed": "期限重算"}


def register_panel(order: int, template: str, context: Callable) -> None:
    if any(p.template == template for p in panels):
        return  # init_app may run once per app instance (tests build several apps)
    panels.append(Panel(order, template, context))
    panels.sort(key=lambda p: p.order)


def register_event_labels(labels: dict[str, str]) -> None:
    event_labels.update(labels)


def timeline_labels(kind=None) -> dict[str, str]:
    """How the timeline names each action: the transitions' own labels (of ``kind``'s table, so a dispute's
    "answer" reads 出具调处结果) over the labels the case modules registered."""
    from center.cases.lifecycle.operations import TRANSITIONS

    return {**event_labels, **{t.action: t.label for t in TRANSITIONS if kind is None or kind in t.kinds}}


def rendered_panels(case, actor) -> list[tuple[str, dict]]:
    out = []
    for panel in panels:
        ctx = panel.context(case, actor)
        if ctx is not None:
            out.append((panel.template, ctx))
    return out


def register_transition_listener(listener: Callable) -> None:
    if listener not in transition_listeners:
        transition_listeners.append(listener)
