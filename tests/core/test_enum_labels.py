"""Enums carry their labels (core.enums.LabelledEnum): every member of every such enum of the app has a Chinese
label, ``labels()`` covers every member, and no label table beside an enum names a member the enum lacks."""

from __future__ import annotations

import re

from core.enums import LabelledEnum

HAN = re.compile(r"[\u3400-\u9fff]")


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_member_of_every_labelled_enum_reads_in_chinese(app):
    enums = list(_subclasses(LabelledEnum))
    assert len(enums) >= 20, [e.__name__ for e in enums]
    missing = [f"{e.__name__}.{m.name}" for e in enums for m in e if not HAN.search(m.label)]
    assert not missing, missing
    for e in enums:
        assert list(e.labels()) == list(e) and all(e(m.value) is m for m in e)


def test_a_label_is_not_the_stored_value():
    from center.cases.models import CaseStatus
    from core.accounts.models import Role

    assert CaseStatus.registered == "registered" and CaseStatus.registered.label == "已登记"
    assert Role.grid_worker.value == "grid_worker" and Role("grid_worker").label == "网格员"
    assert f"{CaseStatus.closed}" == "closed"  # formatting and storage see the value, never the label
