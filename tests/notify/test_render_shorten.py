"""Card text is shortened at a boundary: a case number, phone, date or code is never cut in half (issue #10).

Pure functions (no app, no database): a property over random Chinese/ASCII text with embedded numbers and
codes, by characters (SMS, Official Account ``thing``) and by UTF-8 bytes (WeCom text cards), plus the
rendered requests themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from notify.models import Channel
from notify.render import CODE_RUN, ELLIPSIS, THING_MAX, render, shorten

CONFIG = {"PUBLIC_BASE_URL": "https://mdt.example.gov.cn", "WECOM_AGENT_ID": "1000002", "MP_TEMPLATE_ID": "tpl"}
NOW = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)

han = st.text(alphabet="事项已登记请及时受理邻里纠纷排水沟堵塞村口第网格员回访群众反映补偿款未足额发放",
              min_size=0, max_size=12)
punct = st.sampled_from(["", " ", "，", "：", "、", "（", "）", "。", "-", "/", "《", "》"])
case_number = st.builds(lambda y, n: f"SF-{y}-{n:06d}", st.integers(2020, 2099), st.integers(0, 999999))
codes = st.one_of(
    case_number,
    st.integers(0, 10**12).map(str),                                      # amounts, counts, phones
    st.builds(lambda n: f"139{n:08d}", st.integers(0, 10**8 - 1)),        # a phone
    st.builds(lambda d: f"D{d}", st.integers(1, 10**7)),                  # a delivery id
    st.dates().map(lambda d: d.isoformat()),                              # 2026-12-02
    st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
    st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=20),  # a code
    st.just("１２３４５"),                                                  # full-width digits
)
texts = st.lists(st.tuples(han, punct, codes, punct), min_size=0, max_size=8).map(
    lambda parts: "".join(a + b + c + d for a, b, c, d in parts))


def runs(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in CODE_RUN.finditer(text)]


def assert_cut_at_a_boundary(original: str, short: str, limit: int, *, in_bytes: bool) -> None:
    size = len(short.encode("utf-8")) if in_bytes else len(short)
    assert size <= limit
    original = original.strip()
    fits = (len(original.encode("utf-8")) if in_bytes else len(original)) <= limit
    if fits:
        assert short == original
        return
    if limit < (len(ELLIPSIS.encode("utf-8")) if in_bytes else len(ELLIPSIS)):
        assert short == ""  # not even the ellipsis fits
        return
    assert short.endswith(ELLIPSIS)
    kept = short[: -len(ELLIPSIS)]
    assert original.startswith(kept)
    cut = len(kept)
    # the cut is never strictly inside a run of the ORIGINAL text (a run seen whole, not a shortened one)
    assert not any(start < cut < end for start, end in runs(original)), (original, short)
    # and every code shown is a whole code of the original
    for start, end in runs(kept):
        assert (start, end) in runs(original)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(texts, st.integers(0, 80))
def test_shortening_by_characters_never_splits_a_number_or_code(text, limit):
    assert_cut_at_a_boundary(text, shorten(text, limit), limit, in_bytes=False)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(texts, st.integers(0, 200))
def test_shortening_by_bytes_never_splits_a_number_a_code_or_a_character(text, limit):
    short = shorten(text, limit, in_bytes=True)
    short.encode("utf-8")  # whole characters only
    assert_cut_at_a_boundary(text, short, limit, in_bytes=True)


def test_examples_read_naturally():
    assert shorten("事项 SF-2026-000123（邻里纠纷）已登记", 14) == "事项…"
    assert shorten("事项 SF-2026-000123（邻里纠纷）已登记", 19) == "事项 SF-2026-000123…"
    assert shorten("请拨打13901011234联系", 10) == "请拨打…"
    assert shorten("金额 12.50 元，已支付", 9) == "金额 12.50…"
    assert shorten("短的", 20) == "短的"
    assert shorten("  前后空白  ", 20) == "前后空白"
    assert shorten("一二三，四五六七八", 5) == "一二三…"  # no dangling comma before the ellipsis
    assert shorten(None, 5) == "" and shorten("一二三", 0) == ""


@given(texts)
@settings(max_examples=100, deadline=None, derandomize=True)
def test_rendered_requests_keep_numbers_whole_and_the_delivery_id(text):
    payload = {"title": f"督办：{text}", "body": f"事项{text}请及时办理" * 6, "url": "/cases/SF-2026-000123",
               "number": "SF-2026-000123"}
    wecom = render(Channel.wecom, delivery_id=4242, payload=payload, external_id="u1", config=CONFIG, now=NOW)
    card = wecom["textcard"]
    assert len(card["description"].encode("utf-8")) <= 500 and len(card["title"].encode("utf-8")) <= 120
    assert card["description"].endswith("\n消息编号 D4242")  # the id survives a long body
    body = card["description"].removesuffix("\n消息编号 D4242")
    assert_cut_at_a_boundary(payload["body"], body, 500 - len("\n消息编号 D4242".encode()), in_bytes=True)
    mp = render(Channel.mp_template, delivery_id=4242, payload=payload, external_id="o1", config=CONFIG, now=NOW)
    assert_cut_at_a_boundary(payload["title"], mp["data"]["thing1"]["value"], THING_MAX, in_bytes=False)
    sms = render(Channel.sms, delivery_id=4242, payload=payload, external_id=None, config=CONFIG, now=NOW)
    head = sms["text"].split(" 详见 ")[0]
    assert_cut_at_a_boundary(f"【矛调通】{payload['title']}。{payload['body']}", head, 120, in_bytes=False)
