"""CJK-aware text diff and attachment diff.

Paragraphs are copied from /work/shared/samples/: the Jiangsu AI+制造 notice excerpt
(jiangsu_gxt_detail_ai-manufacturing-diagnosis_text-excerpt.txt) and the SAMR
detail page samr_detail_zjdc_art_7690dba6_trimmed.html; attachment names and
URLs from the SAMR and MIIT detail samples.
"""

from __future__ import annotations

import json
import random
import time

import pytest

from tracker.diff import diff_attachments, diff_text
from tracker.model import Attachment
from tracker.normalize import normalize_text

TITLE = "关于印发江苏省“人工智能+制造”诊断工作方案(2026-2027)的通知"
P_INTRO = ("为深入贯彻工业和信息化部等八部门“人工智能+制造”专项行动实施意见、江苏省深化制造业智能化改造"
           "数字化转型网络化联接三年行动计划(2025—2027)和江苏省“人工智能+”行动方案等工作部署,"
           "加快人工智能与制造业深度融合,制定本工作方案。")
P_GOAL = ("以习近平新时代中国特色社会主义思想为指导,完整准确全面贯彻新发展理念,坚持政府引导、市场主导,"
          "坚持问题导向、精准赋能,坚持线上线下结合、省市县协同,坚持边诊边建、以诊促建,以提高全省规模以上"
          "工业企业人工智能应用水平为目标,围绕“1650”产业体系开展人工智能应用水平诊断。到2027年底,基本实现"
          "全省工业企业人工智能应用水平诊断全覆盖,为构建适配新质生产力的制造业智能生态奠定基础。")
P_FOCUS = "面向全省工业企业,针对研发设计、生产制造、质量检测、运营管理、供应链管理等环节开展诊断。"
P_OFFLINE = ("对“筑峰强链”制造业企业和各设区市重点企业,组织服务商专业团队开展现场调研,掌握实际情况,"
             "形成诊断报告。")
P_SAMR = ("为加快促进内外贸一体化发展,帮助外贸企业降低国内国际两个市场转换的制度成本,市场监管总局组织起草了"
          "《关于出口转内销产品强制性产品认证便利化试点的通知(征求意见稿)》,现向社会公开征求意见。")
DOC = "\n".join([TITLE, "苏工信信发〔2026〕63号", P_INTRO, "一、总体要求", P_GOAL, "二、诊断重点", P_FOCUS,
                 "三、诊断方式", "(一)线下诊断。", P_OFFLINE])


def _with(doc: str, old: str, new: str) -> str:
    assert old in doc
    return doc.replace(old, new, 1)


# -- no change ------------------------------------------------------------------------------


def test_identical_inputs():
    d = diff_text(DOC, DOC)
    assert (d.paragraphs_changed, d.added, d.removed, d.ops) == (0, 0, 0, [])
    assert d.summary == "no textual change"
    assert d.html == "" and d.text == ""


def test_whitespace_and_width_changes_normalise_to_no_change():
    reflowed = ("\u3000\u3000" + DOC.replace("\n", "\n\n  ").replace("2026", "２０２６")
                .replace("(", "（").replace(")", "）").replace(",", "，") + "\n\u3000\n")
    assert reflowed != DOC
    d = diff_text(normalize_text(DOC), normalize_text(reflowed))
    assert d.paragraphs_changed == 0
    assert d.summary == "no textual change"


# -- one-character edit ---------------------------------------------------------------------


def test_one_character_edit_shows_only_that_character_with_context():
    new = _with(DOC, "到2027年底", "到2028年底")
    d = diff_text(DOC, new)
    assert d.paragraphs_changed == 1
    assert (d.added, d.removed) == (1, 1)
    assert d.summary == "1 paragraph changed, +1/\u22121 characters"
    [op] = d.ops
    assert op["op"] == "change" and op["old_line"] == op["new_line"] == 5
    i = P_GOAL.index("到2027年底") + 4  # the "7"
    before, after = P_GOAL[i - 20:i], P_GOAL[i + 1:i + 21]
    assert op["parts"] == [["…", i - 20], ["=", before], ["-", "7"], ["+", "8"], ["=", after],
                           ["…", len(P_GOAL) - i - 21]]
    assert d.html == f'<p class="diff-change">…{before}<del>7</del><ins>8</ins>{after}…</p>'
    assert d.text == f"~ ¶5: …{before}[-7-]{{+8+}}{after}…"
    assert P_GOAL not in d.html  # the paragraph is not repeated whole


def test_context_is_configurable():
    new = _with(DOC, "到2027年底", "到2028年底")
    [op] = diff_text(DOC, new, context=3).ops
    assert op["parts"][1:5] == [["=", "202"], ["-", "7"], ["+", "8"], ["=", "年底,"]]
    [op] = diff_text(DOC, new, context=0).ops
    assert [p[0] for p in op["parts"]] == ["…", "-", "+", "…"]


def test_short_paragraph_edit_shows_the_whole_short_context():
    d = diff_text(DOC, _with(DOC, "苏工信信发〔2026〕63号", "苏工信信发〔2026〕64号"))
    assert d.ops[0]["parts"] == [["=", "苏工信信发〔2026〕6"], ["-", "3"], ["+", "4"], ["=", "号"]]


def test_insertion_inside_a_paragraph():
    new = _with(DOC, "质量检测、", "质量检测、安全生产、")
    d = diff_text(DOC, new)
    assert (d.added, d.removed) == (5, 0)
    assert "<ins>安全生产、</ins>" in d.html and "<del>" not in d.html
    assert d.summary == "1 paragraph changed, +5 characters"


def test_a_changed_phrase_is_one_edit_not_confetti():
    # 问题导向 → 需求导引 shares the stray 导 and the 、 with the new wording;
    # showing those as unchanged would cut one rewrite into four small edits.
    new = _with(DOC, "坚持问题导向、精准赋能", "坚持需求导引、分类施策赋能")
    [op] = diff_text(DOC, new).ops
    changes = [p for p in op["parts"] if p[0] in "-+"]
    assert changes == [["-", "问题导向、精准"], ["+", "需求导引、分类施策"]]


def test_reordered_words_are_one_edit():
    d = diff_text(DOC, _with(DOC, "研发设计、生产制造、质量检测", "设计研发、制造生产、检测质量"))
    assert "[-研发设计、生产制造、质量检测-]{+设计研发、制造生产、检测质量+}" in d.text


# -- whole paragraphs -----------------------------------------------------------------------


def test_inserted_paragraph():
    added = "(二)线上诊断。依托省级诊断服务平台开展企业自诊断。"
    new = _with(DOC, P_OFFLINE, P_OFFLINE + "\n" + added)
    d = diff_text(DOC, new)
    assert d.paragraphs_changed == 1
    assert d.ops == [{"op": "add", "new_line": 11, "text": added, "chars": len(added), "truncated": False}]
    assert d.summary == f"1 paragraph added, +{len(added)} characters"
    assert d.html == f'<p class="diff-add"><ins>{added}</ins></p>'
    assert d.text == f"+ ¶11: {added}"


def test_inserted_paragraph_between_others():
    new = _with(DOC, "二、诊断重点\n", "二、诊断重点\n" + P_SAMR + "\n")
    d = diff_text(DOC, new)
    assert [o["op"] for o in d.ops] == ["add"]
    assert d.ops[0]["new_line"] == 7


def test_deleted_paragraph():
    new = _with(DOC, "\n" + P_FOCUS, "")
    d = diff_text(DOC, new)
    assert d.ops == [{"op": "remove", "old_line": 7, "text": P_FOCUS, "chars": len(P_FOCUS), "truncated": False}]
    assert d.summary == f"1 paragraph removed, \u2212{len(P_FOCUS)} characters"
    assert (d.added, d.removed) == (0, len(P_FOCUS))
    assert d.html == f'<p class="diff-remove"><del>{P_FOCUS}</del></p>'
    assert d.text.startswith("- ¶7: ")


def test_dissimilar_replacement_is_shown_whole():
    new = _with(DOC, P_FOCUS, P_SAMR)
    d = diff_text(DOC, new)
    assert [o["op"] for o in d.ops] == ["remove", "add"]
    assert d.ops[0]["text"] == P_FOCUS and d.ops[1]["text"] == P_SAMR
    assert d.summary == f"1 paragraph added, 1 removed, +{len(P_SAMR)}/\u2212{len(P_FOCUS)} characters"


def test_edit_plus_insert_plus_delete_in_one_block_pairs_the_right_paragraphs():
    old = "\n".join([TITLE, P_INTRO, P_FOCUS, P_OFFLINE])
    new = "\n".join([TITLE, P_SAMR, _with(P_FOCUS, "质量检测", "质量追溯"), P_OFFLINE.replace("现场调研", "现场诊断")])
    d = diff_text(old, new)
    assert [o["op"] for o in d.ops] == ["remove", "add", "change", "change"]
    assert d.ops[0]["text"] == P_INTRO and d.ops[1]["text"] == P_SAMR
    assert ["-", "检测"] in d.ops[2]["parts"] and ["+", "追溯"] in d.ops[2]["parts"]
    assert ["-", "调研"] in d.ops[3]["parts"] and ["+", "诊断"] in d.ops[3]["parts"]
    assert d.summary.startswith("2 paragraphs changed, 1 added, 1 removed, ")


def test_several_changes_plural_summary():
    new = _with(_with(DOC, "到2027年底", "到2028年底"), "形成诊断报告", "形成诊断意见")
    d = diff_text(DOC, new)
    assert d.paragraphs_changed == 2
    assert d.summary == "2 paragraphs changed, +3/\u22123 characters"  # 7→8 and 报告→意见


def test_very_long_added_paragraph_is_truncated_but_counted_whole():
    long_para = P_GOAL * 5
    d = diff_text(DOC, DOC + "\n" + long_para)
    [op] = d.ops
    assert op["truncated"] is True and op["chars"] == len(long_para)
    assert len(op["text"]) < len(long_para)
    assert d.added == len(long_para)
    assert d.html.endswith("…</ins></p>")


def test_from_and_to_empty():
    d = diff_text("", DOC)
    assert d.paragraphs_changed == DOC.count("\n") + 1
    assert d.removed == 0 and d.added == len(DOC.replace("\n", ""))
    d = diff_text(DOC, "")
    assert {o["op"] for o in d.ops} == {"remove"}


# -- escaping -------------------------------------------------------------------------------


def test_html_is_escaped_in_added_paragraphs():
    evil = "<script>alert('x')</script>&<b>粗体</b>"
    d = diff_text(DOC, DOC + "\n" + evil)
    assert "<script>" not in d.html and "<b>" not in d.html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&lt;b&gt;粗体&lt;/b&gt;" in d.html
    assert evil in d.text  # the terminal rendering is plain text


def test_html_is_escaped_inside_character_changes_and_removals():
    new = _with(DOC, "开展诊断。", "开展诊断<script>x()</script>。")
    d = diff_text(DOC, new)
    assert "<ins>&lt;script&gt;x()&lt;/script&gt;</ins>" in d.html
    d = diff_text(DOC + "\n<img src=x onerror=alert(1)>", DOC)
    assert "<img" not in d.html and "&lt;img src=x onerror=alert(1)&gt;" in d.html


def test_ops_are_json_serialisable():
    new = _with(_with(DOC, "到2027年底", "到2028年底"), P_FOCUS, P_SAMR) + "\n新增段落。"
    d = diff_text(DOC, new)
    assert json.loads(json.dumps(d.ops, ensure_ascii=False)) == d.ops


# -- performance ----------------------------------------------------------------------------


def _big_doc(seed: int, size: int = 50_000) -> list[str]:
    rng = random.Random(seed)
    paras = [P_INTRO, P_GOAL, P_FOCUS, P_OFFLINE, P_SAMR]
    out: list[str] = []
    while sum(map(len, out)) < size:
        out.append(rng.choice(paras) + f"(第{len(out)}条)")
    return out


def test_50k_document_with_scattered_edits_is_fast():
    doc = _big_doc(1)
    edited = list(doc)
    for k in range(0, len(doc), 40):
        edited[k] = edited[k][:12] + "改" + edited[k][13:]
    start = time.perf_counter()
    d = diff_text("\n".join(doc), "\n".join(edited))
    assert time.perf_counter() - start < 2
    assert d.paragraphs_changed == len(range(0, len(doc), 40))


def test_50k_single_paragraph_one_edit_is_fast_and_precise():
    text = "".join(_big_doc(2))
    new = text[:25_000] + "改" + text[25_001:]
    start = time.perf_counter()
    d = diff_text(text, new)
    assert time.perf_counter() - start < 2
    assert (d.added, d.removed) == (1, 1)


@pytest.mark.parametrize("kind", ["rewrite", "one-paragraph-rewrite", "no-punctuation"])
def test_pathological_50k_inputs_finish_quickly(kind):
    rng = random.Random(3)
    alphabet = sorted(set(P_GOAL + P_SAMR) - set("。,、:;!?，\n"))
    noise = "".join(rng.choice(alphabet) for _ in range(50_000))
    if kind == "rewrite":
        old, new = "\n".join(_big_doc(4)), "\n".join(noise[i:i + 300] for i in range(0, 50_000, 300))
    elif kind == "one-paragraph-rewrite":
        old, new = "".join(_big_doc(5)), noise
    else:  # one 50k line without any sentence or clause break, edited in 100 places
        chars = list(noise)
        for k in rng.sample(range(len(chars)), 100):
            chars[k] = "改"
        old, new = noise, "".join(chars)
    start = time.perf_counter()
    d = diff_text(old, new)
    assert time.perf_counter() - start < 3
    assert d.paragraphs_changed >= 1 and d.added > 0


# -- attachments ----------------------------------------------------------------------------

SAMR_1 = Attachment("附件1：关于出口转内销产品强制性产品认证便利化试点的通知（征求意见稿）.pdf",
                    "https://www.samr.gov.cn/cms_files/filemanager/1647978232/attach/20269/"
                    "34517ae879b14556b0d4418a01edc801.pdf")
SAMR_2 = Attachment("附件2：《关于出口转内销产品强制性产品认证便利化试点的通知（征求意见稿）》的起草说明.pdf",
                    "https://www.samr.gov.cn/cms_files/filemanager/1647978232/attach/20269/"
                    "009b4e96539c467dbbe360c980f51b5f.pdf")
MIIT_1 = Attachment("附件1.pdf", "https://www.miit.gov.cn/cms_files/filemanager/1226211233/attach/20269/"
                                 "9835b003f6b34a1ca06934bcd0233271.pdf")


def test_attachment_added():
    summary, html = diff_attachments([SAMR_1], [SAMR_1, MIIT_1])
    assert summary == "1 attachment added: 附件1.pdf"
    assert html == f'<ul><li>added: <ins><a href="{MIIT_1.url}">附件1.pdf</a></ins></li></ul>'


def test_attachments_removed_plural():
    summary, html = diff_attachments([SAMR_1, SAMR_2, MIIT_1], [])
    assert summary == f"3 attachments removed: {SAMR_1.name}, {SAMR_2.name}, 附件1.pdf"
    assert html.count("<li>removed: <del>") == 3


def test_attachment_renamed_when_url_is_the_same():
    renamed = Attachment("强制性国家标准制修订计划（征求意见稿）.pdf", MIIT_1.url)
    summary, html = diff_attachments([MIIT_1], [renamed])
    assert summary == "1 attachment renamed: 附件1.pdf → 强制性国家标准制修订计划（征求意见稿）.pdf"
    assert "<del>附件1.pdf</del>" in html and "added" not in summary and "removed" not in summary


def test_attachment_replaced_when_same_name_new_url():
    new_file = Attachment(MIIT_1.name, MIIT_1.url.replace("9835b003", "11112222"))
    summary, _ = diff_attachments([MIIT_1], [new_file])
    assert summary == "1 attachment replaced by a new file: 附件1.pdf"


def test_attachment_order_and_url_noise_are_not_changes():
    same = Attachment(SAMR_1.name, SAMR_1.url.replace("https://www.samr.gov.cn", "https://WWW.samr.gov.cn:443")
                      + "#page=2")
    assert diff_attachments([SAMR_1, SAMR_2], [SAMR_2, same]) == ("no attachment change", "")


def test_mixed_attachment_changes():
    summary, _ = diff_attachments([SAMR_1, SAMR_2], [SAMR_1, MIIT_1])
    assert summary == f"1 attachment added: 附件1.pdf; 1 attachment removed: {SAMR_2.name}"


def test_attachment_html_is_escaped_and_unsafe_urls_are_not_links():
    evil = Attachment('<script>x</script>".pdf', 'javascript:alert("x")')
    quoted = Attachment("a.pdf", 'https://example.gov.cn/a.pdf?x="><script>')
    summary, html = diff_attachments([], [evil, quoted])
    assert "<script>" not in html
    assert "javascript:" not in html
    assert "&lt;script&gt;x&lt;/script&gt;&quot;.pdf" in html
    assert 'href="https://example.gov.cn/a.pdf?x=&quot;&gt;&lt;script&gt;"' in html
    assert summary.startswith("2 attachments added: ")
