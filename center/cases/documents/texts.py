"""The text templates of the formal documents a case produces (DOMAIN.md §2 standard documents).

Each template is plain text with ``{name}`` slots filled from ``DocFacts``; the drafter edits the result before
a leader approves it. Kept apart from the operations so the wording can change without touching the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

#: What each unanswered demand carries until the drafter writes the answer; approval refuses while it stays.
ANSWER_PLACEHOLDER = "（请填写对该项诉求的答复）"
#: The appeal sentence of a petition's answer (信访工作条例 Art. 35; DOMAIN.md §2). ``{upper}`` is the organ one
#: level up.
APPEAL_SENTENCE = "如不服本处理意见，可自收到本处理意见之日起30日内向{upper}申请复查。"
#: A dispute's handling opinion has no 复查: the parties keep the legal channels.
DISPUTE_GUIDANCE = "如对本处理意见有异议，可依法申请仲裁或者向人民法院提起诉讼。"

TITLES = {
    "answer_petition": "信访事项处理意见书",
    "answer_dispute": "答复意见书",
    "not_accepted": "不予受理告知书",
    "acceptance": "信访事项受理告知书",
    "extension": "信访事项延期办理告知书",
}

CHINESE_NUMERALS = "一二三四五六七八九十"


@dataclass
class DocFacts:
    organ_name: str
    doc_no: str
    petitioner: str
    received_on: date
    number: str
    summary: str
    demands: list[str] = field(default_factory=list)
    upper_organ: str = "上一级机关"
    issued_on: date | None = None
    reason: str = ""
    days: int = 0
    new_due_on: date | None = None
    old_due_on: date | None = None


def cn_date(d: date | None) -> str:
    return "    年  月  日" if d is None else f"{d.year}年{d.month}月{d.day}日"


def ordinal(n: int) -> str:
    """一, 二 … 十, 十一 … 九十九 (enough for any list of demands)."""
    if n <= 10:
        return CHINESE_NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else CHINESE_NUMERALS[tens - 1]
    return f"{head}十{CHINESE_NUMERALS[ones - 1] if ones else ''}"


_SPLIT = re.compile(r"[\r\n；;。]+")
_NUMBERING = re.compile(r"^\s*(?:[（(]?\d+[)）.、]|[（(]?[一二三四五六七八九十]+[)）、.]|\d+\s)\s*")


def split_demands(text: str | None) -> list[str]:
    """Case.demands as separate items: split on line breaks, ；and 。, numbering like "1." or "（二）" removed."""
    items = []
    for part in _SPLIT.split(text or ""):
        part = _NUMBERING.sub("", part.strip()).strip(" ，,、")
        if part:
            items.append(part)
    return items


def _demand_lines(demands: list[str]) -> str:
    if not demands:
        return f"（信访人未列明具体诉求）\n答复：{ANSWER_PLACEHOLDER}"
    return "\n\n".join(f"{ordinal(i)}、关于“{d}”的诉求。\n答复：{ANSWER_PLACEHOLDER}"
                       for i, d in enumerate(demands, start=1))


ANSWER_PETITION = """{petitioner}：

你（们）于{received}提出的信访事项（事项编号：{number}）收悉。你（们）反映：{summary}

本机关依照《信访工作条例》的规定受理后，经调查核实，现对你（们）提出的诉求逐项答复如下：

{demand_lines}

{appeal}

{organ_name}
{issued}"""

ANSWER_DISPUTE = """{petitioner}：

你（们）于{received}提出的事项（事项编号：{number}）收悉。你（们）反映：{summary}

经调查核实，现对你（们）提出的诉求逐项答复如下：

{demand_lines}

{appeal}

{organ_name}
{issued}"""

NOT_ACCEPTED = """{petitioner}：

你（们）于{received}提出的信访事项（事项编号：{number}）收悉。你（们）反映：{summary}

经审查，{reason}根据《信访工作条例》的有关规定，本机关决定不予受理。

特此告知。

{organ_name}
{issued}"""

ACCEPTANCE = """{petitioner}：

你（们）于{received}提出的信访事项（事项编号：{number}）收悉。你（们）反映：{summary}

经审查，该事项属于本机关职责范围，本机关依照《信访工作条例》的规定予以受理，将自受理之日起60日内办结并书面答复你（们）；情况复杂的，经本机关负责人批准可以适当延长办理期限，并告知你（们）延期理由。

特此告知。

{organ_name}
{issued}"""

EXTENSION = """{petitioner}：

你（们）于{received}提出的信访事项（事项编号：{number}），本机关正在办理。因{reason}，经本机关负责人批准，办理期限延长{days}日，由{old_due}延长至{new_due}。本机关将在延长期限内作出处理并书面答复。

特此告知。

{organ_name}
{issued}"""


def _common(f: DocFacts) -> dict:
    return {"petitioner": f.petitioner, "received": cn_date(f.received_on), "number": f.number,
            "summary": f.summary.rstrip("。") + "。", "organ_name": f.organ_name, "issued": cn_date(f.issued_on)}


def answer(f: DocFacts, *, petition: bool) -> tuple[str, str]:
    appeal = APPEAL_SENTENCE.format(upper=f.upper_organ) if petition else DISPUTE_GUIDANCE
    body = (ANSWER_PETITION if petition else ANSWER_DISPUTE).format(
        **_common(f), demand_lines=_demand_lines(f.demands), appeal=appeal)
    return TITLES["answer_petition" if petition else "answer_dispute"], body


def not_accepted(f: DocFacts) -> tuple[str, str]:
    reason = (f.reason or "该事项不属于本机关受理范围").rstrip("。；;，, ") + "。"
    return TITLES["not_accepted"], NOT_ACCEPTED.format(**_common(f), reason=reason)


def acceptance(f: DocFacts) -> tuple[str, str]:
    return TITLES["acceptance"], ACCEPTANCE.format(**_common(f))


def extension(f: DocFacts) -> tuple[str, str]:
    reason = (f.reason or "情况复杂").rstrip("。；;，, ")
    return TITLES["extension"], EXTENSION.format(**_common(f), reason=reason, days=f.days,
                                                 old_due=cn_date(f.old_due_on), new_due=cn_date(f.new_due_on))
