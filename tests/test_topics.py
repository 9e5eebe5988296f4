"""Topic matching across the typographic variants follow-up documents use to cite the anchor policy.

The Jiangsu title and paragraph are copied from
/work/shared/samples/jiangsu_gxt_detail_ai-manufacturing-diagnosis_text-excerpt.txt;
the MIIT paragraph from samples/miit_detail_yjzj_art_3c2e4c31_trimmed.html; the
citation variants from sites.md §1.1.
"""

from __future__ import annotations

import pytest

from tracker.config import Topic
from tracker.topics import TopicMatch, explain, match_text, match_topics

AI = Topic(
    id="ai-manufacturing",
    name="人工智能+制造 follow-ups",
    cites=["“人工智能+制造”专项行动实施意见", "工信部联科〔2025〕279号"],
    keywords=["人工智能+制造", "智能制造"],
)
BIO = Topic(id="bio-manufacturing", name="生物制造", keywords=["生物制造", "聚乳酸"])

JIANGSU_TITLE = "关于印发江苏省“人工智能+制造”诊断工作方案(2026-2027)的通知"
JIANGSU_PARA = ("为深入贯彻工业和信息化部等八部门“人工智能+制造”专项行动实施意见、江苏省深化制造业智能化改造"
                "数字化转型网络化联接三年行动计划(2025—2027)和江苏省“人工智能+”行动方案等工作部署,"
                "加快人工智能与制造业深度融合,制定本工作方案。")
MIIT_TITLE = "关于公开征求《饲料加工机械卫生规范》等14项强制性国家标准制修订计划项目意见的公示"
MIIT_PARA = ("根据标准化工作的总体安排，现将申请立项的《饲料加工机械卫生规范》等14项强制性国家标准"
             "制修订计划项目予以公示（见附件1）。")


# -- match_text -----------------------------------------------------------------------------


def test_match_text_folds_width_and_plus():
    assert match_text("人工智能＋制造") == "人工智能+制造"
    assert match_text("ＡＩ＋制造　２０２６") == "ai+制造2026"


def test_match_text_drops_quotes_and_book_title_marks():
    assert match_text("《“人工智能+制造”专项行动实施意见》") == "人工智能+制造专项行动实施意见"
    assert match_text("「人工智能 + 制造」『方案』‘x’\"y\"'z'＂w＂＇v＇«u»") == "人工智能+制造方案xyzwvu"


@pytest.mark.parametrize("variant", [
    "工信部联科〔2025〕279号", "工信部联科[2025]279号", "工信部联科【2025】279号", "工信部联科(2025)279号",
    "工信部联科（2025）279号", "工信部联科［2025］279号", "工信部联科﹝2025﹞279号", "工信部联科 〔 2025 〕 279 号",
])
def test_match_text_maps_every_bracket_style_to_one_pair(variant):
    assert match_text(variant) == "工信部联科(2025)279号"


def test_match_text_lowercases_latin_and_removes_all_whitespace():
    assert match_text("AI 赋能\n新型\t工业化 GPU") == "ai赋能新型工业化gpu"


# -- match_topics: the examples of the brief ------------------------------------------------


def test_cite_with_book_title_marks_and_full_width_plus_in_body():
    body = "根据《工业和信息化部等八部门“人工智能＋制造”专项行动实施意见》，结合我省实际，制定本方案。"
    assert match_topics([AI], "某某方案", body) == [
        TopicMatch("ai-manufacturing", ["cites “人工智能+制造”专项行动实施意见", "body keyword 人工智能+制造"])]


@pytest.mark.parametrize("body", ["依据工信部联科[2025]279号文件精神", "依据工信部联科（2025）279号文件精神"])
def test_doc_number_cite_in_other_brackets(body):
    [m] = match_topics([AI], "关于开展2026年试点工作的通知", body)
    assert m.reasons == ["cites 工信部联科〔2025〕279号"]


def test_keyword_in_title_with_corner_quotes_and_spaces():
    [m] = match_topics([AI], "关于印发「人工智能 + 制造」诊断工作方案的通知", "各设区市工信局:")
    assert m.topic == "ai-manufacturing"
    assert m.reasons == ["title keyword 人工智能+制造"]


def test_plain_ai_mention_does_not_match_ai_plus_manufacturing():
    title = "关于推动人工智能产业发展的通知"
    body = "加快人工智能技术创新，推动人工智能与实体经济融合。制造业企业要积极参与。"
    assert match_topics([AI], title, body) == []


def test_real_jiangsu_notice_matches_with_all_reasons_in_order():
    [m] = match_topics([AI, BIO], JIANGSU_TITLE, "苏工信信发〔2026〕63号\n" + JIANGSU_PARA)
    assert m.topic == "ai-manufacturing"
    assert m.reasons == [
        "cites “人工智能+制造”专项行动实施意见",
        "title keyword 人工智能+制造",
        "body keyword 人工智能+制造",
    ]


def test_unrelated_miit_notice_matches_nothing():
    assert match_topics([AI, BIO], MIIT_TITLE, MIIT_PARA) == []


def test_cite_in_title_counts():
    [m] = match_topics([AI], "关于贯彻落实工信部联科〔2025〕279号文件的通知", "")
    assert m.reasons == ["cites 工信部联科〔2025〕279号"]


def test_every_cite_and_keyword_found_is_recorded():
    title = "关于推进智能制造的通知"
    body = "按照工信部联科〔2025〕279号和《“人工智能+制造”专项行动实施意见》要求，推进智能制造。"
    [m] = match_topics([AI], title, body)
    assert m.reasons == [
        "cites “人工智能+制造”专项行动实施意见",
        "cites 工信部联科〔2025〕279号",
        "title keyword 智能制造",
        "body keyword 人工智能+制造",
        "body keyword 智能制造",
    ]


def test_topics_come_back_in_config_order_only_when_matching():
    other = Topic(id="other", name="x", keywords=["算力"])
    title = "生物制造与人工智能+制造融合发展行动方案"
    assert [m.topic for m in match_topics([BIO, other, AI], title, "")] == ["bio-manufacturing", "ai-manufacturing"]
    assert [m.topic for m in match_topics([AI, other, BIO], title, "")] == ["ai-manufacturing", "bio-manufacturing"]


def test_exclude_in_title_vetoes_the_topic_but_not_in_body():
    topic = Topic(id="ai", name="AI", keywords=["人工智能+制造"], exclude=["征求意见"])
    assert match_topics([topic], "关于「人工智能+制造」标准公开征求意见的通知", JIANGSU_PARA) == []
    [m] = match_topics([topic], JIANGSU_TITLE, JIANGSU_PARA + "现公开征求意见。")
    assert m.topic == "ai"


def test_exclude_is_normalised_too():
    topic = Topic(id="ai", name="AI", keywords=["人工智能+制造"], exclude=["（征求意见稿）"])
    assert match_topics([topic], "人工智能+制造标准(征求意见稿)", "") == []


def test_duplicate_config_entries_give_one_reason_and_empty_needles_are_ignored():
    topic = Topic(id="ai", name="AI", cites=["工信部联科〔2025〕279号", "工信部联科[2025]279号", "“”"],
                  keywords=["人工智能+制造", "人工智能+制造"])
    [m] = match_topics([topic], "人工智能+制造", "工信部联科〔2025〕279号")
    # both spellings of the 文号 are configured and both are found: each is a distinct configured string
    assert m.reasons == ["cites 工信部联科〔2025〕279号", "cites 工信部联科[2025]279号", "title keyword 人工智能+制造"]
    assert match_topics([Topic(id="q", name="q", cites=["“”"], keywords=[" "])], "标题", "正文") == []


def test_a_phrase_broken_across_body_lines_still_matches():
    [m] = match_topics([AI], "通知", "贯彻落实“人工智能+制造”专项\n行动实施意见")
    assert m.reasons[0] == "cites “人工智能+制造”专项行动实施意见"


# -- explain --------------------------------------------------------------------------------


def test_explain_one_line():
    matches = [TopicMatch("ai-manufacturing", ["cites 工信部联科〔2025〕279号", "title keyword 智能制造"])]
    assert explain(matches) == "ai-manufacturing: cites 工信部联科〔2025〕279号; title keyword 智能制造"


def test_explain_several_topics_and_none():
    matches = [TopicMatch("a", ["title keyword x"]), TopicMatch("b", ["body keyword y", "body keyword z"])]
    line = explain(matches)
    assert line == "a: title keyword x | b: body keyword y; body keyword z"
    assert "\n" not in line
    assert explain([]) == "no topic matched"
