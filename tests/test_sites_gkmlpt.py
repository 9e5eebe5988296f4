"""cms = "gkmlpt": the Guangdong open-government catalogue (SID from window._CONFIG, JSON list API, detail
pages with DETAIL JSON).

Fixtures: tests/fixtures/gkmlpt/ (synthetic, built from sites.md §2, §6.1). See its README.md.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import make_source, replay, scenarios_fixture
from tracker.errors import Empty, ParseError
from tracker.fetch import Session
from tracker.model import Attachment, Entry
from tracker.sites import get_adapter
from tracker.sites.gkmlpt import ADAPTER, embedded_detail, find_sid, parse_attachments
from tracker.testsite import TestSite

AI_TITLE = "广东省工业和信息化厅关于印发《广东省“人工智能+制造”专项行动方案》的通知"

site = scenarios_fixture("gkmlpt")


def listed(s: TestSite, http: Callable[..., Session], **kw):
    src = make_source("gkmlpt", s.url("/gkmlpt/index"), **kw)
    return ADAPTER.list(src, http(src))


def test_registry_maps_gkmlpt():
    assert get_adapter("gkmlpt") is ADAPTER and ADAPTER.cms == "gkmlpt"


def test_sid_quoting_styles():
    assert find_sid("<script>window._CONFIG = {SID:'755', TREE:[{id:1}]};</script>") == "755"
    assert find_sid('<script>window._CONFIG={"TREE":[{"id":1,"x":{}}],"SID":"gd_amr"}</script>') == "gd_amr"
    assert find_sid("<script>window._CONFIG = {'SID' : \"abc\"}</script>") == "abc"
    assert find_sid("<script>window._CONFIG = {SEARCH_SID:'x'}</script>") is None
    assert find_sid("<!-- window._CONFIG = {SID:'c'} --><p>window._CONFIG = {SID:'p'}</p>") is None


def test_attachment_field_shapes():
    base = "http://h/gkmlpt/index"
    want = [Attachment("a.pdf", "http://h/f/a.pdf")]
    assert parse_attachments('[{"name":"a.pdf","url":"/f/a.pdf"}]', base) == want
    assert parse_attachments([{"title": "a.pdf", "link": "/f/a.pdf"}], base) == want
    assert parse_attachments({"filename": "a.pdf", "path": "../f/a.pdf"}, base) == want
    assert parse_attachments('<a href="/f/a.pdf">a.pdf</a>', base) == want
    assert parse_attachments("", base) == parse_attachments(None, base) == parse_attachments("[]", base) == []


def test_embedded_detail_json_and_loose_objects():
    assert embedded_detail('<script>x = {DETAIL: {"id": 1, "content": "<p>a<\\/p>"}};</script>') == {
        "id": 1, "content": "<p>a</p>"}
    # not strict JSON (unquoted key inside): only the content string is recovered
    assert embedded_detail('<script>x = {DETAIL: {id: 1, "content": "<p>b<\\/p>"}}</script>') == {"content": "<p>b</p>"}
    assert embedded_detail("<p>DETAIL: {\"content\": \"x\"}</p>") == {}


# -- list ----------------------------------------------------------------------------------


def test_list_reads_api_pages_until_all_posts_are_read(http, site):
    s = site("gdii")
    entries = listed(s, http, pages=5).entries
    # post_count = 5: page 3 is never asked for
    assert [(r.path, r.query) for r in s.requests()] == [
        ("/gkmlpt/index", {}),
        ("/gkmlpt/api/all/0", {"page": "1", "sid": "755"}),
        ("/gkmlpt/api/all/0", {"page": "2", "sid": "755"}),
    ]
    assert [e.url.removeprefix(s.base_url) for e in entries] == [
        "/gkmlpt/content/4/4908/post_4908393.html",   # absolute http:// url (repeated on page 2: kept once)
        "/gkmlpt/content/4/4901/post_4901111.html",   # url empty -> post_url
        "/gkmlpt/content/4/4911/post_4911000.html",   # relative url
        "/gkmlpt/content/4/4880/post_4880000.html",
    ]
    first, second, third, fourth = entries
    assert first.title == AI_TITLE
    assert first.list_date == "2026-06-20" and first.published == "2026-06-20T10:00:00+08:00"
    assert first.doc_number == "粤工信规字〔2026〕3号"  # [2026]
    assert first.issuer == "广东省工业和信息化厅"
    assert first.attachments == [Attachment("广东省“人工智能+制造”专项行动方案.pdf",
                                            s.url("/attachment/0/590/590123/4908393.pdf"))]
    assert first.extra == {"id": 4908393, "identifier": "006940167/2026-00123"}
    assert second.doc_number == "粤工信函〔2026〕45号"  # （2026）
    assert second.published == "2026-06-12T16:30:00+08:00"
    assert [a.url for a in second.attachments] == [s.url("/attachment/0/589/589001/4901111.docx"),
                                                  s.url("/attachment/0/589/589002/4901111.xlsx")]
    assert third.title == "关于2026年第二批工业互联网 标杆示范项目拟入选名单的公示"
    assert third.published == "2026-06-28T09:15:00+08:00"  # display_publish_time as text
    assert third.doc_number is None and third.issuer is None and third.attachments == []
    assert fourth.list_date == "2026-05-29" and fourth.doc_number == "粤工信〔2026〕12号"  # from created_at


def test_one_page_by_default(http, site):
    s = site("gdii")
    assert len(listed(s, http).entries) == 3
    assert [r.query.get("page") for r in s.requests()] == [None, "1"]


def test_category_and_params(http, site):
    s = site("gdii")
    entries = listed(s, http, category="2563", params={"order": "desc"}).entries
    assert [e.title for e in entries] == ["关于举办2026年广东省人工智能赋能制造业对接会的通知"]
    api = s.requests()[-1]
    assert api.path == "/gkmlpt/api/all/2563" and api.query == {"order": "desc", "page": "1", "sid": "755"}


def test_double_quoted_config_on_another_site(http, site):
    s = site("amr")
    [entry] = listed(s, http).entries
    assert entry.url == s.url("/gkmlpt/content/5/5123/mpost_5123456.html")
    assert entry.doc_number == "粤市监通〔2026〕7号" and entry.issuer == "广东省市场监督管理局"
    assert entry.attachments == [Attachment("抽查产品目录.pdf", s.url("/attachment/0/600/600001/5123456.pdf"))]


def test_missing_sid_is_a_parse_error(http, site):
    s = site("gdii")
    s.override("/gkmlpt/index", body="<html><script>window._CONFIG = {TREE:[]};</script></html>")
    with pytest.raises(ParseError, match="SID") as err:
        listed(s, http)
    assert s.url("/gkmlpt/index") in str(err.value)
    assert len(s.requests()) == 1


def test_no_articles_is_empty(http, site):
    s = site("gdii")
    s.override("/gkmlpt/api/all/0", body='{"articles": [], "classify": {"post_count": 0}, "total": 0}',
               headers={"Content-Type": "application/json"})
    with pytest.raises(Empty):
        listed(s, http, pages=3)
    assert len(s.requests()) == 2


def test_api_answer_without_articles_is_a_parse_error(http, site):
    s = site("gdii")
    s.override("/gkmlpt/api/all/0", body='{"code": 500, "msg": "error"}',
               headers={"Content-Type": "application/json"})
    with pytest.raises(ParseError, match="articles"):
        listed(s, http)


def test_api_answer_that_is_not_json_is_a_parse_error(http, site):
    s = site("gdii")
    s.override("/gkmlpt/api/all/0", body="<html><body>" + "系统繁忙，请稍后再试。" * 20 + "</body></html>")
    with pytest.raises(ParseError):
        listed(s, http)


def test_not_modified_comes_from_the_api_not_the_shell(http, site):
    s = site("gdii")
    src = make_source("gkmlpt", s.url("/gkmlpt/index"))
    first = http(src)
    assert ADAPTER.list(src, first).entries
    s.log.clear()
    listing = ADAPTER.list(src, http(src, validators=replay(first)))
    assert listing.not_modified and not listing.entries
    shell, api = s.requests()
    assert "If-None-Match" not in shell.headers and shell.status == 200  # the shell never says "no change"
    assert api.headers.get("If-None-Match") and api.status == 304


# -- detail --------------------------------------------------------------------------------


def detail(s: TestSite, http: Callable[..., Session], path: str, **kw):
    src = make_source("gkmlpt", s.url("/gkmlpt/index"), **kw)
    return ADAPTER.detail(src, Entry(url=s.url(path), title="list title"), http(src))


def test_body_from_the_detail_json_when_the_page_has_none(http, site):
    s = site("gdii")
    d = detail(s, http, "/gkmlpt/content/4/4908/post_4908393.html")
    assert d.title == AI_TITLE
    lines = d.body.splitlines()
    assert lines[0] == "粤工信规字〔2026〕3号" and lines[-1] == "2026年6月18日"
    assert "政府信息公开" not in d.body and "SID" not in d.body
    assert d.doc_number == "粤工信规字〔2026〕3号"
    assert d.published == "2026-06-20T10:00:00+08:00" == d.published_meta
    assert d.issuer == "广东省工业和信息化厅"
    assert d.article_id == "4908393"
    assert d.attachments == [Attachment("广东省“人工智能+制造”专项行动方案.pdf",
                                        s.url("/attachment/0/590/590123/4908393.pdf"))]


def test_server_rendered_detail_with_metadata_table(http, site):
    s = site("gdii")
    d = detail(s, http, "/gkmlpt/content/4/4901/post_4901111.html")
    assert d.body.splitlines()[-1] == "（此件主动公开）"  # div.article-content, not the shorter DETAIL copy
    assert "索引号" not in d.body
    assert d.doc_number == "粤工信函〔2026〕45号"
    assert d.published == "2026-06-12"  # visible 发布日期
    assert d.published_meta == "2026-06-13T08:00:00+08:00"
    assert d.signed == "2026-06-10"
    assert d.issuer == "广东省工业和信息化厅"
    assert d.attachments == [
        Attachment("1.申报书模板.docx", s.url("/attachment/0/589/589001/4901111.docx")),
        Attachment("2.推荐汇总表.xlsx", s.url("/attachment/0/589/589002/4901111.xlsx")),
    ]


def test_mpost_detail_without_known_selectors(http, site):
    s = site("amr")
    d = detail(s, http, "/gkmlpt/content/5/5123/mpost_5123456.html")
    assert d.article_id == "5123456"
    assert d.body.splitlines()[0] == "粤市监通〔2026〕7号" and "通知公告" not in d.body
    assert d.published == "2026-07-08T10:20:00+08:00" and d.published_meta is None
    assert d.issuer == "广东省市场监督管理局"
    assert [a.name for a in d.attachments] == ["抽查产品目录.pdf"]


def test_detail_not_modified(http, site):
    s = site("gdii")
    src = make_source("gkmlpt", s.url("/gkmlpt/index"))
    entry = Entry(url=s.url("/gkmlpt/content/4/4908/post_4908393.html"), title="t")
    first = http(src)
    assert ADAPTER.detail(src, entry, first, conditional=True) is not None
    assert ADAPTER.detail(src, entry, http(src, validators=replay(first)), conditional=True) is None
