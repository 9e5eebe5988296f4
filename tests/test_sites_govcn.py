"""cms = "govcn": the gov.cn JSON feed, the policy-library search and gov.cn detail pages."""

from __future__ import annotations

import pytest

from conftest import make_source, replay, scenario_fixture
from tracker.errors import Empty, ParseError
from tracker.model import Attachment, Entry
from tracker.sites import get_adapter
from tracker.sites.govcn import ADAPTER, BROWSER_UA, is_feed, read_govcn_detail

FEED = "/zhengce/zuixin/ZUIXINZHENGCE.json"
SEARCH = "/search-gov/data"
ANCHOR = "/zhengce/zhengceku/202601/content_7054201.htm"

site = scenario_fixture("govcn", "site")


def test_registry_maps_govcn():
    assert get_adapter("govcn") is ADAPTER


def test_mode_by_url():
    assert is_feed("https://www.gov.cn/zhengce/zuixin/ZUIXINZHENGCE.json")
    assert not is_feed("https://sousuo.www.gov.cn/search-gov/data?t=zhengcelibrary_bm")
    assert not is_feed("https://sousuo.www.gov.cn/search-gov/data.json")


# -- feed ----------------------------------------------------------------------------------

def test_feed_with_bom(site, http):
    src = make_source("govcn", site.url(FEED))
    listing = ADAPTER.list(src, http(src))
    entries = {e.url: e for e in listing.entries}
    assert len(entries) == 4
    rv = entries[site.url("/zhengce/content/202609/content_7081441.htm")]
    assert rv.title == "国务院办公厅转发文化和旅游部等部门《关于促进房车消费的若干措施》的通知"
    assert rv.list_date == "2026-09-18"
    assert rv.extra == {"subtitle": "房车消费"}
    assert entries[site.url(ANCHOR)].list_date == "2026-01-07"
    # a plain feed is not the search: no browser UA forced on it
    assert site.requests(FEED)[0].headers["User-Agent"] != BROWSER_UA


def test_feed_not_modified(site, http):
    src = make_source("govcn", site.url(FEED))
    first = http(src)
    ADAPTER.list(src, first)
    again = http(src, validators=replay(first))
    assert ADAPTER.list(src, again).not_modified


def test_empty_feed_is_empty(site, http):
    src = make_source("govcn", site.url("/zhengce/empty/EMPTY.json"))
    with pytest.raises(Empty):
        ADAPTER.list(src, http(src))


def test_feed_that_is_not_an_array_is_a_parse_error(site, http):
    src = make_source("govcn", site.url("/zhengce/bad/BAD.json"))
    with pytest.raises(ParseError, match="not a JSON array"):
        ADAPTER.list(src, http(src))


# -- search --------------------------------------------------------------------------------

def test_search_rows_and_request(site, http):
    src = make_source("govcn", site.url(SEARCH), query="人工智能+制造", params={"n": "2"})
    listing = ADAPTER.list(src, http(src))
    assert len(listing.entries) == 2  # pages = 1
    anchor = next(e for e in listing.entries if e.url == site.url(ANCHOR))
    assert anchor.title == "工业和信息化部等八部门关于印发《“人工智能+制造”专项行动实施意见》的通知"
    assert anchor.doc_number == "工信部联科〔2025〕279号"
    assert anchor.issuer.startswith("工业和信息化部 中央网信办")
    assert anchor.published == "2026-01-07T21:43:58+08:00"
    assert anchor.list_date == "2026-01-07"
    assert anchor.extra["summary"] == "现将《“人工智能+制造”专项行动实施意见》印发给你们"
    ict = next(e for e in listing.entries if e is not anchor)
    assert ict.doc_number == "工信部信管〔2026〕101号"  # written [2026]

    (req,) = site.requests(SEARCH)
    assert req.query == {"t": "zhengcelibrary_bm", "q": "人工智能+制造", "sort": "pubtime", "sortType": "1",
                         "p": "1", "n": "2"}
    assert req.headers["User-Agent"] == BROWSER_UA
    assert "Chrome/" in req.headers["User-Agent"]
    assert req.headers["Referer"] == "https://sousuo.www.gov.cn/"


def test_search_pages_until_total_page(site, http):
    src = make_source("govcn", site.url(SEARCH), query="人工智能+制造", pages=5, params={"n": "2"})
    listing = ADAPTER.list(src, http(src))
    assert [r.query["p"] for r in site.requests(SEARCH)] == ["1", "2"]  # totalpage = 2
    std = next(e for e in listing.entries if "7073465" in e.url)
    assert std.doc_number is None
    assert std.published is None
    assert std.list_date == "2026-06-26"  # from pubtimeStr 2026.06.26


def test_search_user_agent_from_source_wins(site, http):
    src = make_source("govcn", site.url(SEARCH), query="人工智能+制造", headers={"user-agent": "MyBrowser/1.0"})
    ADAPTER.list(src, http(src))
    sent = {k.lower(): v for k, v in site.requests(SEARCH)[0].headers.items()}
    assert sent["user-agent"] == "MyBrowser/1.0"


def test_search_rows_under_cat_map(site, http):
    src = make_source("govcn", site.url(SEARCH + "?t=zhengcelibrary&searchfield=title&sort=score"), query="人工智能")
    listing = ADAPTER.list(src, http(src))
    assert {e.url for e in listing.entries} == {
        site.url(ANCHOR), site.url("/zhengce/zhengceku/202606/content_7071755.htm"),
        site.url("/lianbo/202606/content_7073465.htm")}
    req = site.requests(SEARCH)[0]
    # the query written into the configured URL is kept (httpx would drop it)
    assert req.query["t"] == "zhengcelibrary" and req.query["sort"] == "score" and req.query["searchfield"] == "title"


def test_search_without_hits_is_empty(site, http):
    src = make_source("govcn", site.url(SEARCH), query="无结果")
    with pytest.raises(Empty):
        ADAPTER.list(src, http(src))


def test_search_answer_without_search_vo_is_a_parse_error(site, http):
    src = make_source("govcn", site.url(SEARCH), query="出错")
    with pytest.raises(ParseError, match="no searchVO"):
        ADAPTER.list(src, http(src))


# -- detail ----------------------------------------------------------------------------------

def detail(site, http, path: str, **kw):
    src = make_source("govcn", site.url(FEED), **kw)
    return ADAPTER.detail(src, Entry(url=site.url(path), title="x"), http(src))


def test_zhengceku_detail_metadata_table(site, http):
    d = detail(site, http, ANCHOR)
    assert d.title == "工业和信息化部等八部门关于印发《“人工智能+制造”专项行动实施意见》的通知"
    assert d.doc_number == "工信部联科〔2025〕279号"
    assert d.issuer.startswith("工业和信息化部 中央网信办") and d.issuer.endswith("国家数据局")
    assert d.signed == "2025-12-25"
    assert d.published == "2026-01-07"
    assert d.published_meta == "2026-01-07T21:43:58+08:00"
    assert d.modified == "2026-01-08T09:10:00+08:00"
    assert d.article_id == "7054201"
    assert d.body.splitlines()[1] == "现将《“人工智能+制造”专项行动实施意见》印发给你们，请结合实际认真贯彻落实。"
    assert "索引号" not in d.body and "主办单位" not in d.body
    assert d.attachments == [Attachment("1.人工智能赋能制造业重点行业转型指引",
                                        site.url("/zhengce/zhengceku/202601/W020260107000001.pdf"))]


def test_template_a_table_without_bd1_class(site, http):
    d = detail(site, http, "/zhengce/content/202609/content_7081441.htm")
    assert d.title == "国务院办公厅转发文化和旅游部等部门《关于促进房车消费的若干措施》的通知"
    assert d.doc_number == "国办函〔2026〕88号"  # written （2026）
    assert d.issuer == "国务院办公厅"
    assert d.signed == "2026-09-15"
    assert d.published == "2026-09-18"
    assert d.modified == "2026-09-19T08:00:00+08:00"


def test_template_b_article(site, http):
    d = detail(site, http, "/zhengce/content/202609/content_7081587.htm")
    assert d.title == "中共中央办公厅 国务院办公厅印发 《关于分类推进高校改革的意见》"
    assert d.published == "2026-09-20T18:05:00+08:00"  # the visible time …
    assert d.published_meta == "2026-09-20T18:00:00+08:00"  # … and the meta that disagrees
    assert d.issuer == "新华社"
    assert d.doc_number is None
    assert d.body.startswith("新华社北京9月20日电")


def test_unknown_template_falls_back(site, http):
    d = detail(site, http, "/zhengce/content/202609/content_7081400.htm")
    assert d.title == "国务院关于促进白酒产业高质量发展的指导意见"
    assert d.body.splitlines()[0] == "各省、自治区、直辖市人民政府，国务院各部委、各直属机构："
    assert "数据" not in d.body
    assert d.published == "2026-09-17T16:00:00+08:00"  # only the meta


def test_title_override_wins(site, http):
    d = detail(site, http, ANCHOR, detail={"title": "div.BreadcrumbNav"})
    assert d.title.startswith("首页 > 政策")


def test_detail_conditional(site, http):
    src = make_source("govcn", site.url(FEED))
    entry = Entry(url=site.url(ANCHOR), title="x")
    first = http(src)
    ADAPTER.detail(src, entry, first)
    again = http(src, validators=replay(first))
    assert ADAPTER.detail(src, entry, again, conditional=True) is None


def test_table_doc_number_without_year_beats_a_cited_one():
    html = """<html><head><title>某条例_国务院文件_中国政府网</title></head><body>
    <table><tr><td><b>发文字号：</b></td><td>国务院令第812号</td><td><b>发文机关：</b></td><td>国务院</td></tr></table>
    <div id="UCAP-CONTENT"><p>根据工信部联科〔2025〕279号，制定本条例。</p><p>第一条 ……</p></div></body></html>"""
    d = read_govcn_detail(html, "https://www.gov.cn/zhengce/content/202609/content_1.htm",
                          make_source("govcn", "https://www.gov.cn/zhengce/zuixin/ZUIXINZHENGCE.json"))
    assert d.doc_number == "国务院令第812号"
    assert d.title == "某条例"
    assert d.article_id == "1"
