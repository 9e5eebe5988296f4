"""Normal forms: comparable text, titles, hashes, canonical URLs and document identity.

Chinese text below is copied from /work/shared/samples/: the Jiangsu AI+制造 notice
excerpt (jiangsu_gxt_detail_ai-manufacturing-diagnosis_text-excerpt.txt), the MIIT
and SAMR detail pages and the SAMR list title with raw line breaks
(samr_list_unit-api_zjdc_trimmed.json). URLs come from sites.md §1.1, §1.2, §2, §6.
"""

from __future__ import annotations

import hashlib
import unicodedata

import pytest

from tracker.normalize import (
    article_id_from_url,
    canonical_url,
    document_key,
    normalize_text,
    normalize_title,
    text_hash,
)

# The Jiangsu page text as extracted (samples/jiangsu_…_text-excerpt.txt, first lines),
# including its breadcrumb, the "字体: 打印" widget line and blank lines.
JIANGSU_RAW = """当前位置:
首页
>新闻中心>文件通知

关于印发江苏省“人工智能+制造”诊断工作方案(2026-2027)的通知

江苏省工信厅  gxt.jiangsu.gov.cn  日期:2026-03-09
字体: 打印

苏工信信发〔2026〕63号

各设区市工信局:

现将《江苏省“人工智能+制造”诊断工作方案(2026-2027)》印发给你们,请认真贯彻落实。
"""

MIIT_PARA = ("根据标准化工作的总体安排，现将申请立项的《饲料加工机械卫生规范》等14项强制性国家标准"
             "制修订计划项目予以公示（见附件1）。")


# -- normalize_text -------------------------------------------------------------------------


def test_jiangsu_text_lines_are_collapsed_and_widget_line_dropped():
    assert normalize_text(JIANGSU_RAW).split("\n") == [
        "当前位置:",
        "首页",
        ">新闻中心>文件通知",
        "关于印发江苏省“人工智能+制造”诊断工作方案(2026-2027)的通知",
        "江苏省工信厅 gxt.jiangsu.gov.cn 日期:2026-03-09",
        "苏工信信发〔2026〕63号",
        "各设区市工信局:",
        "现将《江苏省“人工智能+制造”诊断工作方案(2026-2027)》印发给你们,请认真贯彻落实。",
    ]


def test_whitespace_inside_lines_collapses_including_ideographic_space():
    text = "  附件：1.强制性国家标准\u3000\u3000制修订计划 \t（征求意见稿）  \r\n\r\n\n   \n　　　2.标准立项反馈意见表  "
    assert normalize_text(text) == "附件:1.强制性国家标准 制修订计划 (征求意见稿)\n2.标准立项反馈意见表"


def test_full_width_and_half_width_forms_normalise_to_the_same_text():
    full = "公示时间：２０２６年９月４日—２０２６年９月１４日（见附件１）"
    half = "公示时间:2026年9月4日—2026年9月14日(见附件1)"
    assert normalize_text(full) == normalize_text(half) == half


def test_zero_width_characters_are_removed():
    text = "\ufeff工信部联科\u200b〔2025〕\u200c279号\u200d"
    assert normalize_text(text) == "工信部联科〔2025〕279号"


def test_whitespace_only_changes_give_the_same_hash():
    a = MIIT_PARA + "\n联系电话：010-64102958，010-68205261"
    b = "\u3000\u3000" + MIIT_PARA + "  \r\n\n   联系电话：010-64102958，010-68205261\t\n"
    assert text_hash(normalize_text(a)) == text_hash(normalize_text(b))


def test_a_space_added_inside_a_line_is_still_a_difference():
    # collapsing keeps one space: "14项 强制性" is not the same text as "14项强制性"
    assert normalize_text(MIIT_PARA.replace("14项", "14项 ")) != normalize_text(MIIT_PARA)


@pytest.mark.parametrize("line", [
    "浏览次数：123",
    "浏览次数: 4567 次",
    "阅读次数：89",
    "访问量：12",
    "点击数：3",
    "【打印】【关闭】",
    "【打印本页】 【关闭窗口】",
    "字号：大 中 小",
    "【字体：大 中 小】",
    "字体: 打印",  # as on the Jiangsu page
    "分享到：",
    "分享到: 微信 微博 QQ空间",
    "扫一扫在手机打开当前页",
    "【返回顶部】",
    "上一篇：关于开展2026年度智能工厂梯度培育行动的通知",
    "下一篇：没有了",
    "上一条: 关于组织开展国家算力互联互通节点建设工作的通知",
])
def test_pure_furniture_lines_are_removed(line):
    text = f"{MIIT_PARA}\n{line}\n联系电话：010-64102958"
    assert normalize_text(text) == f"{normalize_text(MIIT_PARA)}\n联系电话:010-64102958"


@pytest.mark.parametrize("line", [
    "推进3D打印装备在重点行业的应用。",
    "关闭落后产能，推动企业分享数据。",
    "短视频点击量100万次以上的账号。",
    "上述字号大小应符合GB/T 9704的要求。",
])
def test_lines_that_only_mention_furniture_words_are_kept(line):
    assert normalize_text(line) == unicodedata.normalize("NFKC", line)


def test_a_view_counter_inside_a_metadata_line_is_cut_not_the_line():
    a = normalize_text("发布时间：2026-03-09 浏览次数：123 来源：科技司")
    b = normalize_text("发布时间：2026-03-09 浏览次数：124 来源：科技司")
    assert a == b == "发布时间:2026-03-09 来源:科技司"


def test_counter_ticking_does_not_change_the_hash():
    page1 = f"{MIIT_PARA}\n浏览次数：1023\n【打印】【关闭】"
    page2 = f"{MIIT_PARA}\n浏览次数：1024\n【打印】 【关闭】\n下一篇：关于某某的通知"
    assert text_hash(normalize_text(page1)) == text_hash(normalize_text(page2))


def test_real_edit_changes_the_hash():
    edited = MIIT_PARA.replace("14项", "15项")
    assert text_hash(normalize_text(MIIT_PARA)) != text_hash(normalize_text(edited))


def test_empty_text():
    assert normalize_text("") == ""
    assert normalize_text("\n \u3000\n") == ""


# -- normalize_title, text_hash -------------------------------------------------------------


def test_title_with_raw_line_breaks_from_the_samr_list():
    raw = "市场监管总局关于公开征求《关于出口\n转内销产品强制性产品认证便利化试点的通知\n（征求意见稿）》意见的通知"
    assert normalize_title(raw) == (
        "市场监管总局关于公开征求《关于出口 转内销产品强制性产品认证便利化试点的通知 (征求意见稿)》意见的通知")


def test_title_full_width_space_and_padding():
    assert normalize_title("\u3000 关于印发「人工智能＋制造」\r\n\t诊断工作方案的通知 \u200b") == (
        "关于印发「人工智能+制造」 诊断工作方案的通知")


def test_text_hash_is_sha256_hex_of_utf8():
    text = "苏工信信发〔2026〕63号"
    assert text_hash(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert len(text_hash("")) == 64
    assert text_hash("a") != text_hash("b")


# -- canonical_url --------------------------------------------------------------------------


def test_canonical_url_lowercases_scheme_and_host_but_not_path():
    assert canonical_url("HTTPS://WWW.MIIT.GOV.CN/zwgk/Art/2026/ART_X.html") == \
        "https://www.miit.gov.cn/zwgk/Art/2026/ART_X.html"


def test_canonical_url_keeps_the_scheme_given():
    assert canonical_url("http://gxt.jiangsu.gov.cn/col/col6278/index.html") == \
        "http://gxt.jiangsu.gov.cn/col/col6278/index.html"


@pytest.mark.parametrize("url, expected", [
    ("http://gxt.jiangsu.gov.cn:80/a.html", "http://gxt.jiangsu.gov.cn/a.html"),
    ("https://www.samr.gov.cn:443/a.html", "https://www.samr.gov.cn/a.html"),
    ("http://www.samr.gov.cn:443/a.html", "http://www.samr.gov.cn:443/a.html"),  # not the default for http
    ("https://www.samr.gov.cn:80/a.html", "https://www.samr.gov.cn:80/a.html"),
    ("http://127.0.0.1:8123/list.html", "http://127.0.0.1:8123/list.html"),
])
def test_canonical_url_drops_only_default_ports(url, expected):
    assert canonical_url(url) == expected


def test_canonical_url_drops_fragment_and_tracking_params_and_sorts_the_rest():
    url = ("https://www.gov.cn/zhengce/content/202609/content_7081587.htm?utm_source=weibo&b=2&spm=a.b.c"
           "&from=timeline&isappinstalled=0&a=1&share_token=xyz&_t=1700000000&timestamp=1700000000"
           "&UTM_Campaign=x#para3")
    assert canonical_url(url) == "https://www.gov.cn/zhengce/content/202609/content_7081587.htm?a=1&b=2"


def test_canonical_url_keeps_meaningful_params_and_drops_an_empty_query():
    assert canonical_url("https://gdii.gd.gov.cn/gkmlpt/api/all/0?sid=756&page=2") == \
        "https://gdii.gd.gov.cn/gkmlpt/api/all/0?page=2&sid=756"
    assert canonical_url("https://www.gov.cn/a.htm?utm_medium=x") == "https://www.gov.cn/a.htm"
    assert canonical_url("https://www.gov.cn/a.htm?") == "https://www.gov.cn/a.htm"


def test_canonical_url_collapses_slashes_and_fills_empty_path():
    assert canonical_url("https://jxj.beijing.gov.cn//zwgk///2024zcwj/") == "https://jxj.beijing.gov.cn/zwgk/2024zcwj/"
    assert canonical_url("https://jxj.beijing.gov.cn") == "https://jxj.beijing.gov.cn/"
    assert canonical_url("https://jxj.beijing.gov.cn?x=1") == "https://jxj.beijing.gov.cn/?x=1"


def test_canonical_url_unifies_percent_escape_case():
    assert canonical_url("https://a.gov.cn/f?fileName=%e9%99%84") == canonical_url("https://a.gov.cn/f?fileName=%E9%99%84")


# -- document_key ---------------------------------------------------------------------------

MIIT_ANCHOR = "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2026/art_01010414608a4226b30687773bb21bdf.html"


def test_document_key_example_from_the_brief():
    expected = "miit.gov.cn/art_01010414608a4226b30687773bb21bdf"
    assert document_key(MIIT_ANCHOR.replace("https:", "http:")) == expected
    assert document_key(
        "https://www.miit.gov.cn:443/zwgk/zcwj/wjfb/tz/art/2026/art_01010414608a4226b30687773bb21bdf.html#x") == expected


def test_jpaas_same_article_in_another_column_collides():
    other_column = "https://www.miit.gov.cn/jgsj/kjs/wjfb/art/2026/art_01010414608a4226b30687773bb21bdf.html"
    assert document_key(other_column) == document_key(MIIT_ANCHOR)
    assert document_key(MIIT_ANCHOR.upper().replace("HTTPS://WWW.MIIT.GOV.CN", "https://www.miit.gov.cn")) == \
        document_key(MIIT_ANCHOR)  # hex case does not matter


def test_different_jpaas_articles_differ():
    other = "https://www.miit.gov.cn/jgsj/kjs/wjfb/art/2026/art_5ea5b1663f264fcea69df0ab00d1f6f3.html"
    assert document_key(other) == "miit.gov.cn/art_5ea5b1663f264fcea69df0ab00d1f6f3"
    assert document_key(other) != document_key(MIIT_ANCHOR)


def test_samr_jpaas_key():
    url = "https://www.samr.gov.cn/hd/zjdc/art/2026/art_7690dba6fb90477cae8299c67f7966d9.html"
    assert document_key(url) == "samr.gov.cn/art_7690dba6fb90477cae8299c67f7966d9"


def test_hanweb_key_uses_the_article_id_not_the_column():
    jiangsu = "http://gxt.jiangsu.gov.cn/art/2026/3/9/art_6278_11739347.html"
    assert document_key(jiangsu) == "gxt.jiangsu.gov.cn/art_11739347"
    assert document_key("https://gxt.jiangsu.gov.cn/art/2026/3/9/art_89736_11739347.html") == \
        "gxt.jiangsu.gov.cn/art_11739347"
    assert document_key("http://gxt.jiangsu.gov.cn/art/2026/3/9/art_6278_11739348.html") != document_key(jiangsu)


def test_trs_key():
    assert document_key("https://jxj.beijing.gov.cn/zwgk/2024zcwj/202606/t20260630_4739968.html") == \
        "jxj.beijing.gov.cn/t20260630_4739968"
    assert document_key("https://www.beijing.gov.cn/zhengce/zhengcefagui/202605/t20260513_4649243.html") == \
        "beijing.gov.cn/t20260513_4649243"


def test_gkmlpt_and_nfcms_post_keys():
    nfcms = "https://gdii.gd.gov.cn/zwgk/tzgg1011/content/post_4908393.html"
    gkmlpt = "https://gdii.gd.gov.cn/gkmlpt/content/4/4908/post_4908393.html"
    mobile = "https://gdii.gd.gov.cn/gkmlpt/content/4/4908/mpost_4908393.html"
    assert document_key(nfcms) == document_key(gkmlpt) == document_key(mobile) == "gdii.gd.gov.cn/post_4908393"


def test_govcn_content_key():
    assert document_key("https://www.gov.cn/zhengce/zhengceku/202601/content_7054201.htm") == \
        "gov.cn/content_7054201"
    assert document_key("http://www.gov.cn/zhengce/zhengceku/2026-01/07/content_7054201.htm") == \
        "gov.cn/content_7054201"


def test_sheitc_hex_key():
    url = "https://sheitc.sh.gov.cn/cyfz/20260717/7986191fa75f49a698259f01c829df52.html"
    assert document_key(url) == "sheitc.sh.gov.cn/7986191fa75f49a698259f01c829df52"


def test_loopback_keeps_its_port_so_test_sites_do_not_collide():
    a = document_key("http://127.0.0.1:8123/art/2026/art_01010414608a4226b30687773bb21bdf.html")
    b = document_key("http://127.0.0.1:8124/art/2026/art_01010414608a4226b30687773bb21bdf.html")
    assert a == "127.0.0.1:8123/art_01010414608a4226b30687773bb21bdf"
    assert a != b


def test_fallback_key_is_the_canonical_url_without_scheme():
    a = document_key("http://www.example.gov.cn//notice/view.jsp?id=42&utm_source=x#top")
    b = document_key("https://WWW.example.gov.cn:443/notice/view.jsp?id=42")
    assert a == b == "example.gov.cn/notice/view.jsp?id=42"
    assert document_key("https://www.example.gov.cn/notice/view.jsp?id=43") != a


def test_page_article_id_is_used_when_the_url_has_none():
    assert document_key("https://www.example.gov.cn/view.jsp?id=42", "manuscript-99") == \
        "example.gov.cn/manuscript-99"
    # the URL's own id wins: the poll keys list entries before reading any page
    assert document_key(MIIT_ANCHOR, "something-else") == document_key(MIIT_ANCHOR)
    assert document_key("https://www.example.gov.cn/view.jsp?id=42", "  ") == "example.gov.cn/view.jsp?id=42"


def test_article_id_from_url_shapes():
    assert article_id_from_url("https://a/art/2026/art_01010414608a4226b30687773bb21bdf.html") == \
        "art_01010414608a4226b30687773bb21bdf"
    assert article_id_from_url("https://a/col/col1659217/index.html") is None
    assert article_id_from_url("https://a/zwgk/tzgg1011/index_2.html") is None
