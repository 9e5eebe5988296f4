"""cms = "hanweb": jcms column pages with jpage datastores, dataproxy paging, detail pages.

Fixtures: tests/fixtures/hanweb/ (synthetic, built from sites.md §2, §6.2, §6.3, §6.6; the Jiangsu
AI+制造 detail wraps the real text excerpt from shared/samples). See its README.md.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import FIXTURES, make_source, replay, scenarios_fixture
from tracker.errors import Empty, HttpError, ParseError
from tracker.fetch import Session
from tracker.model import Entry
from tracker.sites import get_adapter
from tracker.sites.hanweb import ADAPTER, datastores, jpage_form, parse_datastore
from tracker.testsite import TestSite

AI_TITLE = "关于印发江苏省“人工智能+制造”诊断工作方案(2026-2027)的通知"

site = scenarios_fixture("hanweb")


def test_registry_maps_hanweb():
    assert get_adapter("hanweb") is ADAPTER
    assert ADAPTER.cms == "hanweb"


# -- list ----------------------------------------------------------------------------------


def test_first_page_comes_from_the_embedded_datastore(http, site):
    s = site("jiangsu")
    src = make_source("hanweb", s.url("/col/col6278/index.html"))
    listing = ADAPTER.list(src, http(src))
    b = s.base_url
    assert [e.url for e in listing.entries] == [
        f"{b}/art/2026/3/9/art_6278_11739347.html",      # root-relative
        f"{b}/art/2026/3/12/art_6278_11741020.html",     # ../../ relative to /col/col6278/
        f"{b}/art/2026/2/27/art_6278_11730001.html",     # absolute http://
    ]
    assert [e.title for e in listing.entries] == [
        AI_TITLE,
        "关于组织申报2026年度江苏省 智能制造示范工厂的通知",  # raw line break in the title attribute
        "省工业和信息化厅关于公布2025年度江苏省工业互联网标杆工厂名单的通知",
    ]
    # rows are not in date order; the last one has no date element -> date from the /art/ URL
    assert [e.list_date for e in listing.entries] == ["2026-03-09", "2026-03-12", "2026-02-27"]
    # the side-box datastore (unit 405470) is not the column list
    assert not any("art_6279_" in e.url for e in listing.entries)
    assert [(r.method, r.path) for r in s.requests()] == [("GET", "/col/col6278/index.html")]
    assert not listing.not_modified


def test_more_pages_come_from_the_dataproxy(http, site):
    s = site("jiangsu")
    src = make_source("hanweb", s.url("/col/col6278/index.html"), pages=5)
    listing = ADAPTER.list(src, http(src))
    urls = [e.url for e in listing.entries]
    assert len(urls) == len(set(urls)) == 5  # the pinned notice repeated on page 2 is kept once
    assert urls[-2:] == [s.url("/art/2026/1/15/art_6278_11700456.html"),
                         s.url("/art/2026/2/3/art_6278_11712345.html")]
    assert listing.entries[-1].list_date == "2026-02-03"
    posts = [r for r in s.requests() if r.method == "POST"]
    # totalrecord = 6: records 7.. are never asked for
    assert len(posts) == 1
    post = posts[0]
    assert post.path == "/module/web/jpage/dataproxy.jsp"
    assert post.query["startrecord"] == "4" and post.query["endrecord"] == "6" and post.query["perpage"] == "3"
    assert post.headers["X-Requested-With"] == "XMLHttpRequest"
    assert post.headers["Referer"] == src.url
    form = dict(p.split("=", 1) for p in post.body.decode().split("&"))
    assert form["webid"] == "23" and form["unitid"] == "405463" and form["columnid"] == "6278"
    assert "startrecord" not in form  # paging goes in the query string, the unit in the form


def test_not_modified_column_page(http, site):
    s = site("jiangsu")
    src = make_source("hanweb", s.url("/col/col6278/index.html"))
    first = http(src)
    assert ADAPTER.list(src, first).entries
    listing = ADAPTER.list(src, http(src, validators=replay(first)))
    assert listing.not_modified and listing.entries == []
    assert s.requests()[-1].headers.get("If-None-Match")
    assert s.requests()[-1].status == 304


def test_zhejiang_lb_list_records(http, site):
    s = site("zhejiang")
    src = make_source("hanweb", s.url("/col/col1659217/index.html?uid=5031616&pageNum=1"))
    entries = ADAPTER.list(src, http(src)).entries
    assert [e.list_date for e in entries] == ["2026-04-20", "2026-04-02", "2026-04-28"]
    assert entries[0].title == "浙江省经济和信息化厅关于印发《浙江省“人工智能+制造” 行动方案》的通知"
    assert entries[0].url == s.url("/art/2026/4/20/art_1659217_58912345.html")


def test_params_supply_what_the_page_lacks(http, site):
    s = site("shandong")
    src = make_source("hanweb", s.url("/col/col15201/index.html"), pages=2, params={"webid": "78"})
    entries = ADAPTER.list(src, http(src)).entries
    assert [e.list_date for e in entries] == ["2026-05-08", "2026-05-11", "2026-04-27"]  # "[YYYY-MM-DD]"
    assert entries[2].url == s.url("/art/2026/4/27/art_15201_10340001.html")
    assert entries[0].title.startswith("山东省工业和信息化厅关于开展2026年度“人工智能+制造” 标杆企业")


def test_paging_without_webid_is_a_parse_error(http, site):
    s = site("shandong")
    src = make_source("hanweb", s.url("/col/col15201/index.html"), pages=2)
    with pytest.raises(ParseError, match="webid") as err:
        ADAPTER.list(src, http(src))
    assert src.url in str(err.value)
    assert not [r for r in s.requests() if r.method == "POST"]


def test_one_page_needs_no_paging_parameters(http, site):
    s = site("shandong")
    src = make_source("hanweb", s.url("/col/col15201/index.html"))
    assert len(ADAPTER.list(src, http(src)).entries) == 2


def test_dataproxy_answer_that_is_not_a_datastore(http, site):
    s = site("jiangsu")
    s.override("/module/web/jpage/dataproxy.jsp", body="<html><body>系统维护中</body></html>")
    src = make_source("hanweb", s.url("/col/col6278/index.html"), pages=2)
    with pytest.raises(ParseError, match="not a jpage datastore"):
        ADAPTER.list(src, http(src))


def test_dataproxy_http_error_propagates(http, site):
    s = site("jiangsu")
    s.override("/module/web/jpage/dataproxy.jsp", status=500, body="error")
    src = make_source("hanweb", s.url("/col/col6278/index.html"), pages=2)
    with pytest.raises(HttpError):
        ADAPTER.list(src, http(src))


def test_page_without_datastore_or_articles_is_a_parse_error(http, site):
    s = site("variants")
    src = make_source("hanweb", s.url("/col/col1/index.html"))
    with pytest.raises(ParseError, match="datastore") as err:
        ADAPTER.list(src, http(src))
    assert src.url in str(err.value)


def test_empty_recordset_is_empty(http, site):
    s = site("variants")
    src = make_source("hanweb", s.url("/col/col2/index.html"))
    with pytest.raises(Empty):
        ADAPTER.list(src, http(src))


def test_static_column_falls_back_to_article_url_shape(http, site):
    s = site("variants")
    src = make_source("hanweb", s.url("/col/col3/index.html"))
    entries = ADAPTER.list(src, http(src)).entries
    assert [(e.url, e.title, e.list_date) for e in entries] == [
        (s.url("/art/2026/6/1/art_3_100.html"), "关于报送2026年 重点技改项目的通知", "2026-06-01"),
        (s.url("/art/2026/5/25/art_3_98.html"), "相对链接的通知", "2026-05-25"),
        (s.url("/art/2026/5/20/art_3_99.html"), "无日期的通知", "2026-05-20"),
    ]


def test_jpage_form_from_the_nextgroup_link():
    page = (FIXTURES / "hanweb/zhejiang/state0/col/col1659217/index.html").read_text(encoding="utf-8")
    [store] = datastores(page)
    form = jpage_form(page, store, "http://x/col/col1659217/index.html", {"sourceContentType": "9"})
    assert form == {"col": "1", "appid": "1", "path": "/", "permissiontype": "0", "sourceContentType": "9",
                    "webid": "3185", "columnid": "1659217", "unitid": "5031616", "webname": "浙江省经济和信息化厅"}


def test_records_without_cdata_are_unescaped():
    store = parse_datastore("<datastore><recordset><record>&lt;li&gt;&lt;a href=\"/art/2026/1/2/art_1_2.html\" "
                            "title=\"T\"&gt;t&lt;/a&gt;&lt;/li&gt;</record></recordset>"
                            "<totalrecord>9</totalrecord></datastore>")
    assert store.records == ['<li><a href="/art/2026/1/2/art_1_2.html" title="T">t</a></li>'] and store.total == 9


def test_datastore_scripts_keep_their_cdata():
    page = ('<div id="77"><script type="text/xml"><datastore><recordset><record><![CDATA[<li><a href="/a">x</a>'
            '</li>]]></record><record><![CDATA[<li>y</li>]]></record></recordset></datastore></script></div>')
    [store] = datastores(page)
    assert store.unitid == "77" and store.records == ['<li><a href="/a">x</a></li>', "<li>y</li>"]


# -- detail --------------------------------------------------------------------------------


def detail(s: TestSite, http: Callable[..., Session], path: str, **source_kw):
    src = make_source("hanweb", s.url("/col/col1/index.html"), **source_kw)
    return ADAPTER.detail(src, Entry(url=s.url(path), title="list title"), http(src))


def test_jiangsu_detail_uses_the_content_markers(http, site):
    s = site("jiangsu")
    d = detail(s, http, "/art/2026/3/9/art_6278_11739347.html")
    assert d.title == AI_TITLE
    assert d.published == "2026-03-09"  # the visible 日期 line
    assert d.published_meta == "2026-03-10T09:30:00+08:00"  # PubDate meta disagrees; kept beside it
    assert d.doc_number == "苏工信信发〔2026〕63号"
    assert d.issuer == "江苏省工业和信息化厅"
    assert d.article_id == "11739347"
    lines = d.body.splitlines()
    assert lines[0] == "苏工信信发〔2026〕63号" and lines[1] == "各设区市工信局:"
    assert "工业和信息化部等八部门“人工智能+制造”专项行动实施意见" in d.body
    assert d.body.endswith("选择重点优质企")
    # outside the markers (share box in the same container, breadcrumb, header, footer)
    for furniture in ("相关阅读", "当前位置", "gxt.jiangsu.gov.cn", "主办单位"):
        assert furniture not in d.body
    assert [(a.name, a.url) for a in d.attachments] == [
        ("江苏省“人工智能+制造”诊断工作方案(2026-2027)",
         s.url("/module/download/downfile.jsp?classid=0&filename=2603091512345.pdf"))]
    assert d.meta["maketime"] == "2026-03-10 09:31:05"


def test_attachment_list_and_square_bracket_doc_number(http, site):
    s = site("jiangsu")
    d = detail(s, http, "/art/2026/3/12/art_6278_11741020.html")
    assert d.doc_number == "苏工信装备〔2026〕18号"
    assert d.published == "2026-03-12" and d.published_meta == "2026-03-12T15:02:00+08:00"
    assert [(a.name, a.url) for a in d.attachments] == [
        ("1.江苏省智能制造示范工厂申报书.docx", s.url("/module/download/downfile.jsp?classid=0&filename=2603121000001.docx")),
        ("2.江苏省智能制造示范工厂申报指南.pdf", s.url("/attach/0/2603121000002.pdf")),
        ("3.申报汇总表", s.url("/attach/0/2603121000003.xlsx")),
    ]


def test_zhejiang_detail_reads_the_info_table(http, site):
    s = site("zhejiang")
    d = detail(s, http, "/art/2026/4/20/art_1659217_58912345.html")
    assert d.doc_number == "浙经信技术〔2026〕12号"  # [2026] in the table
    assert d.issuer == "浙江省经济和信息化厅"  # 发布机构 beats the ContentSource meta
    assert d.signed == "2026-04-18"
    assert d.published == "2026-04-20"
    assert d.published_meta == "2026-04-20T10:00:00+08:00"
    assert d.body.splitlines()[0] == "各市经信局："
    assert "索引号" not in d.body and "浏览次数" not in d.body


def test_no_known_selector_falls_back_to_the_largest_text(http, site):
    s = site("shandong")
    d = detail(s, http, "/art/2026/5/8/art_15201_10345678.html")
    assert d.title == "山东省工业和信息化厅关于开展2026年度“人工智能+制造”标杆企业培育工作的通知"
    assert d.body.splitlines()[0] == "鲁工信技（2026）45号"
    assert "二、工作程序" in d.body
    assert "国家部委" not in d.body and "相关链接" not in d.body
    assert d.doc_number == "鲁工信技〔2026〕45号"  # （2026） normalised
    assert d.published == "2026-05-08T16:20:00+08:00"  # only the visible 发布时间 line has it
    assert d.published_meta is None
    assert d.issuer == "山东省工业和信息化厅"  # from the visible 来源： line


def test_a_date_inside_the_body_is_not_the_publication_date(http, site):
    s = site("variants")
    d = detail(s, http, "/art/2026/6/1/art_3_100.html")
    assert d.published == "2026-06-01T08:45:00+08:00"  # meta, not the 时间：2026年6月15日 deadline
    assert d.title == "关于报送2026年 重点技改项目的通知"  # ArticleTitle before the h1 banner


def test_date_from_the_art_url_when_nothing_else(http, site):
    s = site("variants")
    s.override("/art/2026/5/20/art_3_99.html", body="<html><body><div id='zoom'><p>正文内容。</p></div></body></html>")
    d = detail(s, http, "/art/2026/5/20/art_3_99.html")
    assert d.published == "2026-05-20" and d.body == "正文内容。"


def test_source_detail_selectors_override_the_markers(http, site):
    s = site("jiangsu")
    d = detail(s, http, "/art/2026/3/9/art_6278_11739347.html",
               detail={"content": "div.scroll_main", "title": "div.sp_title"})
    assert "相关阅读" in d.body  # the whole container, not the marked slice
    assert d.title == AI_TITLE


def test_detail_conditional_not_modified(http, site):
    s = site("jiangsu")
    src = make_source("hanweb", s.url("/col/col6278/index.html"))
    entry = Entry(url=s.url("/art/2026/3/9/art_6278_11739347.html"), title="t")
    first = http(src)
    assert ADAPTER.detail(src, entry, first) is not None
    again = http(src, validators=replay(first))
    assert ADAPTER.detail(src, entry, again, conditional=True) is None
    # without conditional the validators are not sent and the page is read again
    assert ADAPTER.detail(src, entry, again) is not None
