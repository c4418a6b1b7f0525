"""Repeat links can be followed (issue #10 item 7): the candidate on the intake screen and the 重复件 line on
the case page name the earlier case and link its page — number and a short summary, only when the actor may see
it; the number alone otherwise."""

from __future__ import annotations

import re

from core.actor import Actor
from tests.center.test_intake import ID_A, case_of, open_form, petition, post
from tests.factories import case_maker, make_case

# The earlier petition of 王𠮷 a 青石镇 clerk registered, committed (the repeat question asked, as at intake).
earlier_case = case_maker(kind="petition", origin="青石镇", summary="征收补偿款未足额发放，多次反映未果",
                          category="征地拆迁", applicant={"name": "王𠮷", "id_number": ID_A, "phone": "13812345678"},
                          repeat_of=None, commit=True)


def test_the_intake_candidate_links_the_earlier_case(db, demo, signed_in):
    first = earlier_case(demo)
    client = signed_in("qs.staff")
    _, token = open_form(client)
    shown = post(client, token, petition(demo, summary="征地补偿款至今没有发够", intake_key="k-link-1"))
    body = shown.get_data(as_text=True)
    assert shown.status_code == 422
    card = body[body.index("发现可能的重复件"):body.index("</section>", body.index("发现可能的重复件"))]
    link = re.search(rf'<a href="/cases/{first.number}"[^>]*>{first.number}</a>', card)
    assert link and 'target="_blank"' in link.group(0)  # the unsaved form stays open
    assert "征收补偿款未足额发放" in card
    assert signed_in("qs.staff").get(f"/cases/{first.number}").status_code == 200


def test_the_case_page_names_and_links_the_earlier_case(db, demo, signed_in):
    first = earlier_case(demo, summary="征收补偿款未足额发放，" + "多次到镇里反映但一直没有结果" * 3)
    client = signed_in("qs.staff")
    _, token = open_form(client)
    later = case_of(db, post(client, token, {**petition(demo, summary="征地补偿款至今没有发够"),
                                             "repeat_of": first.number}))
    page = client.get(f"/cases/{later.number}").get_data(as_text=True)
    line = re.search(r"<dt>重复件</dt><dd[^>]*>(.*?)</dd>", page, re.S).group(1)
    assert f'<a href="/cases/{first.number}">{first.number}</a>' in line
    assert "征收补偿款未足额发放" in line and "…" in line  # a short summary, not the whole text
    assert "一直没有结果多次到镇里反映但一直没有结果多次" not in line
    # a case that repeats nothing has no such line
    assert "<dt>重复件</dt>" not in client.get(f"/cases/{first.number}").get_data(as_text=True)


def test_an_earlier_case_out_of_sight_is_named_without_link_or_summary(db, demo, signed_in):
    # 城关街道 registered the first visit; the repeat came to 青石镇 (linked by the district center)
    first = earlier_case(demo, "cg.staff", "城关街道", summary="城关独有的补偿款事项")
    later = make_case(demo, Actor.system("test"), "青石镇", "petition", summary="征地补偿款至今没有发够",
                      category="征地拆迁", repeat_of=first, applicant={"name": "王𠮷", "id_number": ID_A},
                      commit=True)
    township = signed_in("qs.staff")
    assert township.get(f"/cases/{first.number}").status_code == 404
    page = township.get(f"/cases/{later.number}").get_data(as_text=True)
    line = re.search(r"<dt>重复件</dt><dd[^>]*>(.*?)</dd>", page, re.S).group(1)
    assert first.number in line and f'href="/cases/{first.number}"' not in line
    assert "城关独有" not in page
    district = signed_in("center.li").get(f"/cases/{later.number}").get_data(as_text=True)
    assert f'<a href="/cases/{first.number}">{first.number}</a>（城关独有的补偿款事项）' in district
