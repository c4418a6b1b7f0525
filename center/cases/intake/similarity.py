"""Is a new case about the same matter as an earlier one? (重复信访: the same person, the same matter.)

Summaries are normalised (punctuation and whitespace dropped, colloquial words mapped to one form: 隔壁 → 邻居,
工钱 → 工资 …), then compared two ways, and the higher score counts:

* character bigrams, Dice coefficient, ignoring bigrams every summary uses (反映, 要求, 问题 …) and the generic
  counterparty (物业公司, 村委会, 包工头: the same company may be the subject of two different matters);
* content characters (the same text without particles and filler words), the mean of their Dice coefficient and
  their overlap coefficient (|A∩B| / min(|A|, |B|)): a short repeat ("讨要石材厂欠的工钱") of a long first
  summary still matches, where bigrams alone miss paraphrases that share key words but not their phrasing.

Surface overlap cannot recognise a paraphrase sharing no word with the original; the synonym list
(``CASE_SIMILARITY_SYNONYMS`` in the app config adds groups) is the lever for that. Pure functions, no database.

The threshold is ``CASE_SIMILARITY_THRESHOLD`` in the app config (default ``DEFAULT_THRESHOLD``).
"""

from __future__ import annotations

import re

DEFAULT_THRESHOLD = 0.42

#: Bigrams any summary may contain whatever the matter: they say nothing about which matter it is.
FILLER_BIGRAMS = frozenset({
    "反映", "要求", "问题", "请求", "希望", "情况", "相关", "有关", "关于", "处理", "解决", "申请", "投诉", "举报",
    "诉求", "事项", "再次", "多次", "一直", "至今", "目前", "现在", "没有", "未能", "得到", "进行", "给予", "帮助",
    "协调", "依法", "政府", "部门", "领导", "群众", "本人", "我们", "他们", "对方", "事情", "此事", "已经",
    # who the grievance is against says little about which grievance it is (物业公司 charges for parking, and
    # the same 物业公司 leaves a roof leaking: two matters)
    "公司", "物业", "业公", "村委", "委会", "村里", "包工", "工头", "老板", "单位",
})
#: Colloquial and formal words for the same thing (the first of each group stands for all of them).
SYNONYMS = (
    ("征收", "征地", "征用"),
    ("工资", "工钱", "劳务费", "薪水", "薪资", "工费"),
    ("邻居", "隔壁", "邻里", "邻家"),
    ("建房", "盖房", "修房", "起房"),
    ("通道", "道路", "出行的路", "过道", "路"),
    ("噪音", "噪声", "太吵", "吵闹"),
    ("养殖场", "养猪场", "养鸡场", "养牛场"),
    ("污水", "粪水", "废水", "脏水"),
    ("水渠", "灌溉渠", "沟渠", "渠道"),
    ("拖欠", "欠的", "欠下", "不给钱"),
    ("不公开", "不透明"),
    ("受伤", "摔伤", "砸伤"),
    ("发放", "发够", "发到位", "兑现"),
    ("审批", "批下来", "没批", "批复"),
)
#: Characters too common to tell matters apart (particles, negations, pronouns).
STOP_CHARS = frozenset("的了在是有没不未和与及等对为被把将给向从于就也都还又再其该此这那我你他她们个之所以而且或"
                       "要求反映问题请希望况情")

_KEEP = re.compile(r"[\u3400-\u9fff\U00020000-\U0003134fA-Za-z0-9]")


def _synonyms() -> tuple[tuple[str, ...], ...]:
    try:
        from flask import current_app

        extra = current_app.config.get("CASE_SIMILARITY_SYNONYMS") or ()
    except RuntimeError:  # outside an application context
        extra = ()
    return (*SYNONYMS, *(tuple(group) for group in extra))


def normalise(text: str | None) -> str:
    """Han characters, letters and digits only (punctuation and whitespace dropped), letters lower-cased,
    each synonym replaced by the first word of its group (longest variants first)."""
    chars = "".join(_KEEP.findall(text or "")).lower()
    pairs = sorted(((v, g[0]) for g in _synonyms() for v in g[1:]), key=lambda p: -len(p[0]))
    for variant, canonical in pairs:
        chars = chars.replace(variant, canonical)
    return chars


def _without_fillers(text: str | None) -> str:
    """The normalised text with every filler word cut out ("|" marks the cut: no bigram spans it)."""
    chars = normalise(text)
    for filler in FILLER_BIGRAMS:
        chars = chars.replace(filler, "|")
    return chars


def bigrams(text: str | None) -> set[str]:
    chars = _without_fillers(text)
    return {chars[i:i + 2] for i in range(len(chars) - 1) if "|" not in chars[i:i + 2]}


def content_chars(text: str | None) -> set[str]:
    return set(_without_fillers(text)) - STOP_CHARS - {"|"}


def _dice(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def _overlap(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def similarity(a: str | None, b: str | None) -> float:
    """0.0 (unrelated) … 1.0 (the same wording)."""
    chars_a, chars_b = content_chars(a), content_chars(b)
    by_chars = (_dice(chars_a, chars_b) + _overlap(chars_a, chars_b)) / 2
    return max(_dice(bigrams(a), bigrams(b)), by_chars)


def threshold() -> float:
    try:
        from flask import current_app

        value = current_app.config.get("CASE_SIMILARITY_THRESHOLD")
    except RuntimeError:  # outside an application context
        value = None
    return DEFAULT_THRESHOLD if value is None else float(value)


def is_similar(a: str | None, b: str | None, limit: float | None = None) -> bool:
    return similarity(a, b) >= (threshold() if limit is None else limit)
