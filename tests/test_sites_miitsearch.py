"""cms = "miit-search": MIIT's search API answered by a loopback TestSite."""

from __future__ import annotations

import json

import pytest

from conftest import make_source, replay, scenario_fixture
from tracker.config import Source
from tracker.errors import Empty, ParseError
from tracker.model import Entry
from tracker.sites import get_adapter
from tracker.sites.miitsearch import ADAPTER
from tracker.testsite import TestSite

API = "/search-front-server/api/search/info"
ANCHOR = "/zwgk/zcwj/wjfb/tz/art/2026/art_01010414608a4226b30687773bb21bdf.html"
ETHICS = "/jgsj/kjs/wjfb/art/2026/art_2995f16b28504ddcbb604e918eb15759.html"

site = scenario_fixture("miitsearch", "search")


def search_source(site: TestSite, query: str = "人工智能", **kw) -> Source:
    return make_source("miit-search", site.url(API), query=query, **kw)


def test_registry_maps_miit_search():
    assert get_adapter("miit-search") is ADAPTER


def test_list_reads_rows_in_both_shapes(site, http):
    src = search_source(site, params={"pg": "3"})
    listing = ADAPTER.list(src, http(src))
    entries = {e.url: e for e in listing.entries}
    assert set(entries) == {
        site.url(ANCHOR),
        site.url("/zwgk/zcwj/wjfb/tz/art/2026/art_7d6c5b4a39284756a1b2c3d4e5f60718.html"),
        site.url("/zwgk/zcjd/art/2026/art_9b87c46fe9bb4f59851b59c4200515f5.html"),
    }  # one page only (pages=1); the department copy inside groupData is not a second document
    anchor = entries[site.url(ANCHOR)]
    assert anchor.title == "工业和信息化部等八部门关于印发《“人工智能+制造”专项行动实施意见》的通知"  # <em> stripped
    assert anchor.doc_number == "工信部联科〔2025〕279号"
    assert anchor.issuer == "科技司"
    assert anchor.list_date == "2026-01-07"
    assert anchor.published == "2026-01-07T19:00:00+08:00"
    assert anchor.extra["typename"] == "通知"
    data_row = entries[site.url("/zwgk/zcwj/wjfb/tz/art/2026/art_7d6c5b4a39284756a1b2c3d4e5f60718.html")]
    assert data_row.doc_number == "工信厅信发函〔2026〕64号"  # written [2026]
    assert data_row.list_date == "2026-03-10"  # no jsearch_date: from deploytime (Beijing day)
    assert data_row.issuer == "信息技术发展司"
    jiedu = entries[site.url("/zwgk/zcjd/art/2026/art_9b87c46fe9bb4f59851b59c4200515f5.html")]
    assert jiedu.doc_number is None

    (req,) = site.requests(API)
    assert req.query["q"] == "人工智能"
    assert req.query["p"] == "1"
    assert req.query["pg"] == "3"  # source.params win over the defaults
    assert req.query["websiteid"] == "110000000000000"
    assert req.query["group"] == "distinct"
    assert json.loads(req.query["sortFields"]) == [{"name": "deploytime", "type": "desc"}]
    assert req.headers["Referer"] == site.url("/search/zcwjk.html")


def test_list_pages_until_total_count(site, http):
    src = search_source(site, pages=4, params={"pg": "3"})
    listing = ADAPTER.list(src, http(src))
    urls = [e.url for e in listing.entries]
    assert len(urls) == len(set(urls)) == 4  # page 2 repeats the anchor
    assert site.url(ETHICS) in urls
    ethics = next(e for e in listing.entries if e.url == site.url(ETHICS))
    assert ethics.doc_number == "工信部联科〔2026〕52号"  # written （2026）
    # totalCount 5 with pg=3: two pages, not four
    assert [r.query["p"] for r in site.requests(API)] == ["1", "2"]


def test_list_stops_at_an_empty_page(site, http):
    # pg=1 claims five pages of one row; page 3 comes back empty and ends the walk
    src = search_source(site, pages=6, params={"pg": "1"})
    listing = ADAPTER.list(src, http(src))
    assert len(listing.entries) == 4
    assert [r.query["p"] for r in site.requests(API)] == ["1", "2", "3"]


def test_zero_hits_without_search_result_is_empty(site, http):
    src = search_source(site, query="无结果")
    with pytest.raises(Empty):
        ADAPTER.list(src, http(src))


def test_refused_query_is_a_parse_error(site, http):
    src = search_source(site, query="出错")
    with pytest.raises(ParseError, match="refused"):
        ADAPTER.list(src, http(src))


def test_not_modified_first_page(site, http):
    src = search_source(site, params={"pg": "3"})
    first = http(src)
    ADAPTER.list(src, first)
    again = http(src, validators=replay(first))
    assert ADAPTER.list(src, again).not_modified


def test_detail_uses_miit_rules(site, http):
    src = search_source(site)
    d = ADAPTER.detail(src, Entry(url=site.url(ANCHOR), title="x"), http(src))
    assert d.title == "工业和信息化部等八部门关于印发《“人工智能+制造”专项行动实施意见》的通知"
    assert d.doc_number == "工信部联科〔2025〕279号"
    assert d.issuer == "科技司"
    assert d.published == "2026-01-07T19:00:00+08:00"
    assert [a.name for a in d.attachments] == ["1.人工智能赋能制造业重点行业转型指引.pdf", "2.制造业企业人工智能应用指南.pdf"]
    assert d.attachments[0].url == site.url("/cms_files/filemanager/1226211233/attach/20261/"
                                            "1a2b3c4d5e6f47788990aabbccddeeff.pdf")
    assert d.article_id == "01010414608a4226b30687773bb21bdf"


def test_detail_reports_only_what_the_page_says(site, http):
    src = search_source(site)
    entry = Entry(url=site.url(ETHICS), title="x", doc_number="工信部联科〔2026〕52号", issuer="科技司")
    d = ADAPTER.detail(src, entry, http(src))
    # the poll falls back on the entry's fields; the adapter must not invent them
    assert d.doc_number is None and d.issuer is None
    assert d.published == "2026-03-20T10:00:00+08:00"


def test_detail_rules_are_shared_with_jpaas():
    from tracker.sites import jpaas

    assert ADAPTER.rules is jpaas.RULES
