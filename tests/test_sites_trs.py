"""cms = "trs": TRS WCM static columns (index.html, index_1.html …) and tYYYYMMDD_N.html detail pages.

Fixtures: tests/fixtures/trs/ (synthetic, built from sites.md §2, §6.5, §6.7). See its README.md.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import make_source, replay, scenarios_fixture
from tracker.errors import Empty, ParseError
from tracker.fetch import Session
from tracker.model import Entry
from tracker.sites import get_adapter
from tracker.sites.trs import ADAPTER, page_url, pager
from tracker.testsite import TestSite

site = scenarios_fixture("trs")


def listed(s: TestSite, http: Callable[..., Session], path: str, **kw):
    src = make_source("trs", s.url(path), **kw)
    return ADAPTER.list(src, http(src))


def test_registry_maps_trs():
    assert get_adapter("trs") is ADAPTER and ADAPTER.cms == "trs"


def test_pager_arguments():
    assert pager('<script>createPageHTML(2, 0, "index", "html");</script>') == (2, "index", "html")
    assert pager("<script>createPageHTML('page_div', 7, 3, 'index', 'shtml', 130)</script>") == (7, "index", "shtml")
    assert pager("<script>function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){}\n"
                 "createPageHTML(4, 0, \"index\", \"htm\")</script>") == (4, "index", "htm")
    assert pager("<p>no pager</p>") is None
    assert pager('<!-- createPageHTML(9, 0, "index", "html") --><p>createPageHTML(9, 0, "index", "html")</p>') is None
    assert page_url("http://h/jxdt/tzgg/", 1) == "http://h/jxdt/tzgg/"
    assert page_url("http://h/jxdt/tzgg/index.html", 3) == "http://h/jxdt/tzgg/index_2.html"


# -- list ----------------------------------------------------------------------------------


def test_list_reads_pages_up_to_the_pager_count(http, site):
    s = site("beijing")
    entries = listed(s, http, "/jxdt/tzgg/", pages=5).entries
    # createPageHTML(2, …): index.html and index_1.html only, never index_2.html
    assert [r.path for r in s.requests()] == ["/jxdt/tzgg/", "/jxdt/tzgg/index_1.html"]
    got = [(e.url.removeprefix(s.base_url), e.title, e.list_date) for e in entries]
    assert got == [
        # the banner picture link comes first; its title comes from the list row with the same URL
        ("/jxdt/tzgg/202606/t20260625_4735001.html", "关于组织推荐2026年北京市人工智能赋能制造业典型场景的通知",
         "2026-06-25"),
        ("/jxdt/tzgg/202606/t20260630_4730001.html",  # ./ relative; title attribute with a line break
         "关于发布2026年第三批AI赋能新型工业化 高质量数据集需求清单的通知", "2026-06-30"),
        ("/jxdt/tzgg/202607/t20260723_4780574.html", "关于开展2026年度智能工厂梯度培育行动的通知", "2026-07-23"),
        ("/jxdt/tzgg/202607/t20260702_4750000.html", "关于征集2026年工业软件优秀产品的通知", "2026-07-02"),
        ("/jxdt/tzgg/202605/t20260513_4649243.html", "北京市AI赋能工业互联网高质量发展实施方案（2026—2028年）",
         "2026-05-13"),
        ("/jxdt/tzgg/202606/t20260611_4700123.html", "关于开展2026年北京市专精特新中小企业认定工作的通知",
         "2026-06-11"),
    ]
    assert all(e.url.startswith("http://127.0.0.1:") for e in entries)


def test_one_page_by_default(http, site):
    s = site("beijing")
    entries = listed(s, http, "/jxdt/tzgg/index.html").entries
    assert len(entries) == 4
    assert [r.path for r in s.requests()] == ["/jxdt/tzgg/index.html"]


def test_single_page_column_never_asks_for_index_1(http, site):
    s = site("beijing")
    entries = listed(s, http, "/zwgk/2024zcwj/index.html", pages=3).entries
    assert [e.url for e in entries] == [s.url("/zwgk/2024zcwj/202606/t20260630_4739968.html"),
                                       s.url("/zwgk/2024zcwj/202605/t20260510_4649000.html")]
    assert len(s.requests()) == 1


def test_other_trs_site_with_shtml_pages_and_bare_dates(http, site):
    s = site("beijing")
    entries = listed(s, http, "/xxgk/tz/index.shtml", pages=2).entries
    assert [r.path for r in s.requests()] == ["/xxgk/tz/index.shtml", "/xxgk/tz/index_1.shtml"]
    assert [(e.url.removeprefix(s.base_url), e.list_date) for e in entries] == [
        ("/xxgk/tz/202608/t20260812_6001001.shtml", "2026-08-12"),
        ("/xxgk/tz/202608/t20260805_6000990.shtml", "2026-08-05"),
        ("/xxgk/tz/202607/t20260730_6000900.shtml", "2026-07-30"),
    ]
    assert entries[0].title == "关于印发《人工智能+能源行动方案》的通知"


def test_without_a_pager_only_the_first_page_is_read(http, site):
    s = site("variants")
    entries = listed(s, http, "/static/index.html", pages=3).entries
    assert [e.title for e in entries] == ["一月通知"]
    assert [r.path for r in s.requests()] == ["/static/index.html"]


def test_no_articles_and_no_pager_is_a_parse_error(http, site):
    s = site("variants")
    with pytest.raises(ParseError, match="createPageHTML") as err:
        listed(s, http, "/nopager/index.html")
    assert s.url("/nopager/index.html") in str(err.value)


def test_pager_without_rows_is_empty(http, site):
    s = site("variants")
    with pytest.raises(Empty):
        listed(s, http, "/empty/index.html")


def test_not_modified_first_page(http, site):
    s = site("beijing")
    src = make_source("trs", s.url("/jxdt/tzgg/"), pages=2)
    first = http(src)
    assert ADAPTER.list(src, first).entries
    s.log.clear()
    listing = ADAPTER.list(src, http(src, validators=replay(first)))
    assert listing.not_modified and not listing.entries
    assert [(r.path, r.status) for r in s.requests()] == [("/jxdt/tzgg/", 304)]


# -- detail --------------------------------------------------------------------------------


def detail(s: TestSite, http: Callable[..., Session], path: str, **kw):
    src = make_source("trs", s.url("/jxdt/tzgg/"), **kw)
    return ADAPTER.detail(src, Entry(url=s.url(path), title="list title"), http(src))


def test_trs_editor_detail(http, site):
    s = site("beijing")
    d = detail(s, http, "/zwgk/2024zcwj/202606/t20260630_4739968.html")
    assert d.title == "2026年第三批AI赋能新型工业化高质量数据集需求清单"
    assert d.published == "2026-06-30"  # visible 发布时间
    assert d.published_meta == "2026-07-01T09:00:00+08:00"  # the disagreeing PubDate meta
    assert d.doc_number == "京经信发〔2026〕15号"  # written （2026）
    assert d.issuer == "北京市经济和信息化局"
    assert d.article_id == "4739968"
    assert d.body.splitlines()[1] == "各有关单位："
    assert "margin-top" not in d.body and "政务公开" not in d.body and "版权所有" not in d.body
    folder = "/zwgk/2024zcwj/202606/"
    assert [(a.name, a.url) for a in d.attachments] == [
        ("需求清单说明.docx", s.url(folder + "P020260630512345678901.docx")),  # inside the text
        ("2026年第三批数据集需求清单.pdf", s.url(folder + "P020260630512345678902.pdf")),  # 附件 box
        ("申报表", s.url(folder + "P020260630512345678903.ofd")),
    ]


def test_detail_without_known_selectors_uses_the_largest_text(http, site):
    s = site("beijing")
    d = detail(s, http, "/jxdt/tzgg/202606/t20260625_4735001.html")
    assert d.title == "关于组织推荐2026年北京市人工智能赋能制造业典型场景的通知"  # <title> minus the site suffix
    assert d.body.splitlines()[0] == "京经信函〔2026〕88号"
    assert d.body.splitlines()[-1] == "二、推荐程序：企业自愿申报，各区主管部门推荐。"
    assert "通知公告" not in d.body and "浏览次数" not in d.body
    assert d.doc_number == "京经信函〔2026〕88号"
    assert d.published == "2026-06-25T10:30:00+08:00" and d.published_meta is None
    assert d.attachments == []


def test_detail_selector_override(http, site):
    s = site("beijing")
    d = detail(s, http, "/zwgk/2024zcwj/202606/t20260630_4739968.html",
               detail={"content": "div.fujian", "date": "div.art-info span"})
    assert d.body.startswith("附件：")
    assert d.published == "2026-06-30"


def test_detail_not_modified(http, site):
    s = site("beijing")
    src = make_source("trs", s.url("/jxdt/tzgg/"))
    entry = Entry(url=s.url("/jxdt/tzgg/202606/t20260625_4735001.html"), title="t")
    first = http(src)
    assert ADAPTER.detail(src, entry, first, conditional=True) is not None
    assert ADAPTER.detail(src, entry, http(src, validators=replay(first)), conditional=True) is None
