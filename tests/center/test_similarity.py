"""Repeat detection's "similar matter" (center.cases.intake.similarity) on a table of paraphrased Chinese summaries:
paraphrases of one matter are similar, the same person's other matters are not."""

from __future__ import annotations

import pytest

from center.cases.intake import similarity
from center.cases.intake.similarity import DEFAULT_THRESHOLD, is_similar, normalise

#: (first summary, a later paraphrase of the same matter)
HITS = [
    ("征收补偿款未足额发放", "征地补偿款至今没有发够"),
    ("反映青石村集体土地征收补偿款未足额发放", "再次反映征收补偿款未足额发放"),
    ("石材厂拖欠劳务费三个月未付", "讨要石材厂欠的工钱"),
    ("邻居建房占用通道，协商未果", "隔壁盖房子把出行的路占了"),
    ("宅基地审批迟迟未办理", "申请宅基地两年了还没批下来"),
    ("养殖场污水排入灌溉渠", "养猪场的粪水流进浇地的水渠"),
    ("低保评定不公开不公平", "村里评低保不透明，要求公开评定结果"),
    ("物业公司乱收停车费", "小区物业停车收费不合理"),
    ("工地受伤后包工头不给赔偿", "在工地干活摔伤，包工头拒绝赔偿医药费"),
    ("老旧小区加装电梯业主意见分歧", "小区加装电梯，一楼业主不同意"),
    ("承包地被村委会收回另行发包", "村委会收回我家承包地包给别人"),
    ("商铺夜间噪音扰民", "楼下商铺晚上太吵影响休息"),
]
#: (a matter, the same person's different matter) — often against the same counterparty
NEAR_MISSES = [
    ("征收补偿款未足额发放", "儿子在学校被同学打伤"),
    ("石材厂拖欠劳务费三个月未付", "石材厂粉尘污染庄稼"),
    ("邻居建房占用通道，协商未果", "邻居家的狗咬伤了我的孩子"),
    ("宅基地审批迟迟未办理", "低保申请被驳回"),
    ("养殖场污水排入灌溉渠", "养殖场拖欠饲料款"),
    ("物业公司乱收停车费", "物业公司不维修漏水的屋顶"),
    ("工地受伤后包工头不给赔偿", "包工头拖欠工资年底不结算"),
    ("老旧小区加装电梯业主意见分歧", "小区绿地被改成停车位"),
    ("承包地被村委会收回另行发包", "村委会账目不公开"),
    ("商铺夜间噪音扰民", "商铺租金合同纠纷，押金不退"),
    ("反映村组道路硬化工程质量问题", "反映镇中心小学周边交通安全隐患"),
    ("交通事故赔偿争议，对方已起诉", "女儿离婚后前夫不给抚养费"),
]


@pytest.mark.parametrize(("first", "again"), HITS)
def test_paraphrases_of_one_matter_are_similar(first, again):
    assert is_similar(first, again, DEFAULT_THRESHOLD), (similarity.similarity(first, again), first, again)
    assert is_similar(again, first, DEFAULT_THRESHOLD)  # symmetric


@pytest.mark.parametrize(("first", "other"), NEAR_MISSES)
def test_other_matters_of_the_same_person_are_not(first, other):
    assert not is_similar(first, other, DEFAULT_THRESHOLD), (similarity.similarity(first, other), first, other)


def test_the_table_is_big_enough_and_every_row_is_classified_right():
    assert len(HITS) >= 8 and len(NEAR_MISSES) >= 8
    hits = [similarity.similarity(a, b) for a, b in HITS]
    misses = [similarity.similarity(a, b) for a, b in NEAR_MISSES]
    assert min(hits) >= DEFAULT_THRESHOLD > max(misses)


def test_normalising_drops_punctuation_and_maps_colloquial_words():
    assert normalise("隔壁 盖房，把路占了！") == normalise("邻居建房把通道占了")
    assert normalise(None) == "" and similarity.similarity("", "征收补偿") == 0.0
    assert similarity.similarity("反映问题要求解决", "反映问题要求处理") == 0.0  # fillers only: nothing in common
    assert similarity.similarity("征收补偿款未足额发放", "征收补偿款未足额发放。") == 1.0


def test_the_threshold_and_synonyms_are_configurable():
    from flask import Flask

    app = Flask(__name__)  # configuration only: no database needed
    pair = HITS[0]
    with app.app_context():
        assert similarity.threshold() == DEFAULT_THRESHOLD and is_similar(*pair)
        app.config["CASE_SIMILARITY_THRESHOLD"] = 0.99
        try:
            assert not is_similar(*pair)
        finally:
            app.config.pop("CASE_SIMILARITY_THRESHOLD")
        assert not is_similar("电梯故障无人维修", "升降机坏了没人修")
        app.config["CASE_SIMILARITY_SYNONYMS"] = [("电梯", "升降机"), ("故障", "坏了"), ("维修", "修")]
        try:
            assert is_similar("电梯故障无人维修", "升降机坏了没人修")
        finally:
            app.config.pop("CASE_SIMILARITY_SYNONYMS")
