"""Every step on a case's timeline reads in Chinese: each action the demo district produced has a label."""

from __future__ import annotations

from sqlalchemy import select

from center.cases import registry
from center.cases.models import CaseEvent

HAN = "\u4e00"


def test_every_timeline_action_of_the_demo_has_a_chinese_label(db, demo):
    labels = registry.timeline_labels()
    actions = set(db.session.scalars(select(CaseEvent.action).distinct()))
    assert len(actions) >= 15, actions  # the demo walks cases through most of their life
    missing = sorted(a for a in actions if a not in labels or not any(ch >= HAN for ch in labels[a]))
    assert not missing, f"timeline actions without a Chinese label: {missing}"
