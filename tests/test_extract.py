"""The shared reading rules every family gets: extract.py helpers and common.read_detail.

Pages here are small synthetic snippets written for these tests (shapes from sites.md §2–§6).
"""

from __future__ import annotations

import pytest

from tracker import extract as ex
from tracker.model import Attachment
from tracker.sites.common import DetailRules, read_detail, strip_title_suffix

URL = "https://www.example.gov.cn/col/art/2026/3/9/art_1_2.html"


# -- labelled_values ---------------------------------------------------------------------------

SAMR_TABLE = """<div class="t"><table>
<tr><td><ul><li class="Three_xilan01_02">索 引 号</li><li class="Three_xilan01_0201">bm3-2026-1</li></ul></td>
<td><ul><li class="Three_xilan01_02">主题分类</li><li class="Three_xilan01_0201">食品安全</li></ul></td></tr>
<tr><td><ul><li class="Three_xilan01_02">文　　号</li><li class="Three_xilan01_0201">国市监食生（2026）88号</li></ul></td>
<td><ul><li class="Three_xilan01_02">发布日期</li><li class="Three_xilan01_0201">2026年09月16日</li></ul></td></tr>
<tr><td><ul><li>备注</li><li>不是标签</li></ul></td><td><ul><li>来源</li><li></li></ul></td></tr>
</table></div>"""


def test_known_labels_without_colons_take_the_next_cell():
    values = ex.labelled_values(ex.parse_html(SAMR_TABLE).select_one("div.t"))
    assert values == {"索引号": "bm3-2026-1", "主题分类": "食品安全", "文号": "国市监食生（2026）88号",
                      "发布日期": "2026年09月16日"}  # 备注 is no known label; 来源 has an empty value cell


def test_colon_labels_and_inline_pairs_still_work():
    html = ("<table id='t'><tr><td>发文机关：</td><td>国务院</td><td>主题词: 制造业</td></tr>"
            "<tr><th>成文日期</th><td>2026-01-01</td></tr></table>")
    assert ex.labelled_values(ex.parse_html(html).select_one("#t")) == {
        "发文机关": "国务院", "主题词": "制造业", "成文日期": "2026-01-01"}


# -- attachments, text helpers ----------------------------------------------------------------

def test_attachments_of_a_link_itself_and_of_a_container():
    soup = ex.parse_html('<p><a class="f" href="/a/b.pdf">附件1：方案.pdf</a> <a href="/x.html">页面</a></p>')
    assert ex.attachments(soup.select_one("a.f"), URL) == [Attachment("方案.pdf", "https://www.example.gov.cn/a/b.pdf")]
    assert ex.attachments(soup.select_one("p"), URL) == [Attachment("方案.pdf", "https://www.example.gov.cn/a/b.pdf")]
    assert ex.attachments(soup.find("a", href="/x.html"), URL) == []


def test_labelled_date_and_issuer_in_header_strings():
    strings = ["首页", "日期:2026-03-09", "成文日期：2026-03-01", "来源：", "江苏省工信厅", "浏览次数：12"]
    assert ex.labelled_date(strings) == "2026-03-09"
    assert ex.labelled_issuer(strings) == "江苏省工信厅"  # a bare label takes the next string
    assert ex.labelled_date(["生成日期：2026-01-01", "更新时间：2026-02-02"]) is None


def test_head_doc_number_only_on_short_first_lines():
    assert ex.head_doc_number("苏工信信发[2026]63号\n各设区市：") == "苏工信信发〔2026〕63号"
    long_line = "根据" + "很长的说明" * 10 + "工信部联科〔2025〕279号的要求"
    assert ex.head_doc_number(long_line + "\n正文") is None


# -- titles --------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,title", [
    ("标题_国务院部门文件_中国政府网", "标题"),
    ("关于印发某省“人工智能+制造”诊断工作方案(2026-2027)的通知", "关于印发某省“人工智能+制造”诊断工作方案(2026-2027)的通知"),
    ("关于征集案例的通知 - 北京市经济和信息化局", "关于征集案例的通知"),
    ("关于征集案例的通知-北京市经济和信息化局", "关于征集案例的通知"),
    ("关于征集案例的通知|工业和信息化部", "关于征集案例的通知"),
    ("某条例_政策_国务院文件_中国政府网", "某条例_政策"),  # at most two names
    ("2026年第1号公告_关于开展检查的通知", "2026年第1号公告_关于开展检查的通知"),  # the tail is a title
    ("人工智能-制造业融合发展报告", "人工智能-制造业融合发展报告"),
    ("_中国政府网", "_中国政府网"),  # nothing would be left
])
def test_strip_title_suffix(raw, title):
    assert strip_title_suffix(raw) == title


# -- read_detail: rules every family gets ---------------------------------------------------------

PAGE = """<html><head><title>{title_tag}</title>{meta}</head><body>
<h1>{h1}</h1>
<div class="info">发布时间：2026-03-09 10:30 来源：某省工业和信息化厅</div>
{table}
<div id="zoom"><p>{first}</p><p>各有关单位：</p><p>时间：2026年6月15日前报送。来源：企业自愿申报。</p></div>
</body></html>"""


def page(**kw) -> str:
    values = {"title_tag": "标题_某厅", "meta": "", "h1": "横幅标题", "table": "", "first": "某工信发〔2026〕1号"}
    return PAGE.format(**{**values, **kw})


def test_visible_header_date_and_source_outside_the_body():
    d = read_detail(page(), URL, DetailRules())
    assert d.published == "2026-03-09T10:30:00+08:00"  # not the 2026年6月15日 deadline inside the body
    assert d.issuer == "某省工业和信息化厅"  # not the 来源 sentence inside the body
    assert d.body.splitlines()[1] == "各有关单位："
    assert d.doc_number == "某工信发〔2026〕1号"


def test_a_labelled_date_only_inside_the_body_never_becomes_the_publication_date():
    html = page().replace("发布时间：2026-03-09 10:30 来源：某省工业和信息化厅", "")
    d = read_detail(html, URL, DetailRules())
    assert d.published == "2026-03-09"  # the /art/2026/3/9/ URL, not 2026-06-15
    assert d.issuer is None


def test_article_title_meta_before_h1_unless_the_source_names_a_title():
    html = page(meta='<meta name="ArticleTitle" content="关于报送项目的通知">')
    assert read_detail(html, URL, DetailRules()).title == "关于报送项目的通知"
    assert read_detail(html, URL, DetailRules().overridden({"title": "h1"})).title == "横幅标题"
    assert read_detail(page(h1=""), URL, DetailRules(title=["h1.none"])).title == "标题"  # <title> without 某厅


def test_table_doc_number_wins_even_when_not_of_the_year_shape():
    rules = DetailRules(info_table=["table.meta"])
    table = '<table class="meta"><tr><td>文号：</td><td>国务院令第812号</td></tr></table>'
    assert read_detail(page(table=table), URL, rules).doc_number == "国务院令第812号"
    table = '<table class="meta"><tr><td>文号：</td><td>京经信发（2026）15号</td></tr></table>'
    assert read_detail(page(table=table), URL, rules).doc_number == "京经信发〔2026〕15号"
    table = '<table class="meta"><tr><td>文号：</td><td>无</td></tr></table>'  # a placeholder: the body's
    assert read_detail(page(table=table), URL, rules).doc_number == "某工信发〔2026〕1号"


def test_content_markers_beat_the_body_selectors_and_keep_the_container_links():
    html = """<html><head><meta name="ArticleTitle" content="T"></head><body>
    <div class="date">日期：2026-04-01</div>
    <div id="zoom">分享到：微信
    <!--BEGIN--><p>正文第一段。</p><p>时间：2026年9月1日截止。</p><!--END-->
    <a href="/f/form.docx">申报表</a></div></body></html>"""
    rules = DetailRules(markers=[("<!--BEGIN-->", "<!--END-->")])
    d = read_detail(html, URL, rules)
    assert d.body == "正文第一段。\n时间：2026年9月1日截止。"
    assert d.published == "2026-04-01"
    assert d.attachments == [Attachment("申报表", "https://www.example.gov.cn/f/form.docx")]
    assert "分享到" in read_detail(html, URL, rules.overridden({"content": "#zoom"})).body


def test_attachment_rules_may_name_links():
    html = page().replace("</body>", '<a class="att" href="/f/x.pdf">x.pdf</a></body>')
    assert read_detail(html, URL, DetailRules(attachments=["a.att"])).attachments == [
        Attachment("x.pdf", "https://www.example.gov.cn/f/x.pdf")]
    assert read_detail(html, URL, DetailRules()).attachments == []


def test_selectors_inside_the_body_still_count_when_the_header_is_read():
    # No 来源 anywhere: the page outside the body is read, which must not lose what selectors
    # found inside the body.
    html = """<html><body><h1>T</h1><div id="zoom"><p>落实工信部联科〔2025〕279号</p><p class="no">京经信发（2026）15号</p>
    <p class="when">2026年6月30日</p><p>正文。</p></div></body></html>"""
    rules = DetailRules().overridden({"doc_number": "#zoom p.no", "date": "#zoom p.when"})
    d = read_detail(html, URL, rules)
    assert (d.doc_number, d.published, d.issuer) == ("京经信发〔2026〕15号", "2026-06-30", None)
