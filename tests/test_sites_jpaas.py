"""cms = "jpaas": MIIT, SAMR and Zhejiang JPaaS columns served by a loopback TestSite."""

from __future__ import annotations

import json

import pytest

from conftest import make_source, replay, scenario_fixture
from tracker.errors import Blocked, Empty, ParseError
from tracker.model import Attachment, Entry
from tracker.sites import get_adapter
from tracker.sites.common import canonical_url
from tracker.sites.jpaas import ADAPTER, find_unit_spec, parse_query_data

UNIT = "/api-gateway/jpaas-publish-server/front/page/build/unit"
ART = "/gzcy/yjzj/art/2026/art_{}.html"

miit = scenario_fixture("jpaas", "miit")
samr = scenario_fixture("jpaas", "samr")
zhejiang = scenario_fixture("jpaas", "zhejiang")


def by_url(entries: list[Entry]) -> dict[str, Entry]:
    return {e.url: e for e in entries}


# -- list -------------------------------------------------------------------------------

def test_registry_maps_jpaas():
    assert get_adapter("jpaas") is ADAPTER
    assert ADAPTER.cms == "jpaas"


def test_miit_list_reads_the_unit_api_with_the_shell_parameters(miit, http):
    src = make_source("jpaas", miit.url("/gzcy/yjzj/index.html"))
    listing = ADAPTER.list(src, http(src))
    assert not listing.not_modified
    entries = by_url(listing.entries)
    assert len(listing.entries) == 4
    # root-relative, absolute and relative hrefs all end up absolute on the site
    assert set(entries) == {miit.url(ART.format(x)) for x in (
        "ebc8c235df1b4582bcbdb5b54a1d0125", "03d6631242cd45c5bef6e8d62571beff",
        "8f612a418b71457e9cc49b424cc01937", "3c2e4c31f3174237ba8575b3d8a8745d")}
    # the title attribute (with a raw line break) wins over the truncated link text
    hydrogen = entries[miit.url(ART.format("03d6631242cd45c5bef6e8d62571beff"))]
    assert hydrogen.title == "公开征求《氢能装备（碱性水电解制氢装备）制造行业规范条件 （2026年本）（征求意见稿）》的意见"
    assert hydrogen.list_date == "2026-09-20"
    assert entries[miit.url(ART.format("3c2e4c31f3174237ba8575b3d8a8745d"))].list_date == "2026-09-04"
    assert entries[miit.url(ART.format("ebc8c235df1b4582bcbdb5b54a1d0125"))].extra["article_id"] == \
        "ebc8c235df1b4582bcbdb5b54a1d0125"

    api = miit.requests(UNIT)
    assert len(api) == 1
    # the list unit, not the header unit listed first on the page
    # (UTF-8 on the wire: a GBK-encoded tagId would not decode back to this)
    assert api[0].query["tagId"] == "右侧内容"
    assert api[0].query["parseType"] == "buildstatic"
    assert api[0].query["pageId"] == "ff3aac0962cb45e48e8e4da69450e847"
    assert api[0].query["editType"] == "null"
    assert "paramJson" not in api[0].query
    assert api[0].headers["Referer"] == miit.url("/gzcy/yjzj/index.html")


def test_miit_list_follows_pages_with_param_json(miit, http):
    src = make_source("jpaas", miit.url("/gzcy/yjzj/index.html"), pages=5)
    listing = ADAPTER.list(src, http(src))
    urls = [e.url for e in listing.entries]
    assert len(urls) == len(set(urls)) == 6  # page 2 repeats one page-1 article under its absolute URL
    assert miit.url(ART.format("a1b2c3d4e5f60718293a4b5c6d7e8f90")) in urls
    assert by_url(listing.entries)[miit.url(ART.format("0f1e2d3c4b5a69788796a5b4c3d2e1f0"))].list_date == "2026-08-30"
    api = miit.requests(UNIT)
    # rows=4, count=7: two pages cover it, so no third request even though pages=5
    assert len(api) == 2
    assert json.loads(api[1].query["paramJson"]) == {"pageNo": 2, "pageSize": 4}
    assert api[1].query["tagId"] == "右侧内容"


def test_miit_list_not_modified_on_the_list_api(miit, http):
    src = make_source("jpaas", miit.url("/gzcy/yjzj/index.html"))
    first = http(src)
    ADAPTER.list(src, first)
    again = http(src, validators=replay(first))
    listing = ADAPTER.list(src, again)
    assert listing.not_modified and listing.entries == []
    shell_requests = miit.requests("/gzcy/yjzj/index.html")
    # the shell never changes when documents are added: it is always fetched in full
    assert "If-None-Match" not in shell_requests[-1].headers
    assert miit.requests(UNIT)[-1].status == 304


def test_api_referer_is_the_column_page_even_with_source_headers(samr, http):
    # sources.toml sets a site-wide Referer for SAMR pages; the unit call still names the column
    src = make_source("jpaas", samr.url("/hd/zjdc/index.html"),
                      headers={"Referer": "https://www.samr.gov.cn/", "Accept": "text/html"})
    ADAPTER.list(src, http(src))
    api = samr.requests(UNIT)[0]
    assert api.headers["Referer"] == samr.url("/hd/zjdc/index.html")
    assert api.headers["Accept"] == "text/html"  # other defaults yield to the source
    assert samr.requests("/hd/zjdc/index.html")[0].headers["Referer"] == "https://www.samr.gov.cn/"


def test_rejected_parameters_are_a_parse_error(miit, http):
    src = make_source("jpaas", miit.url("/bad/index.html"))
    with pytest.raises(ParseError) as err:
        ADAPTER.list(src, http(src))
    assert not isinstance(err.value, (Blocked, Empty))
    assert "unit API rejected the parameters" in str(err.value)
    assert err.value.outcome == "parse_error"


def test_fragment_without_articles_is_empty(miit, http):
    src = make_source("jpaas", miit.url("/empty/index.html"))
    with pytest.raises(Empty):
        ADAPTER.list(src, http(src))


def test_page_without_unit_script_is_a_parse_error(miit, http):
    src = make_source("jpaas", miit.url("/noscript/index.html"))
    with pytest.raises(ParseError) as err:
        ADAPTER.list(src, http(src))
    assert "unitbuild.js" in str(err.value)
    assert miit.url("/noscript/index.html") in str(err.value)


def test_unit_api_answering_html_is_a_parse_error(miit, http):
    miit.override(UNIT, body="<html><body>维护中</body></html>")
    src = make_source("jpaas", miit.url("/gzcy/yjzj/index.html"))
    with pytest.raises(ParseError, match="invalid JSON"):
        ADAPTER.list(src, http(src))


def test_samr_consultation_list(samr, http):
    src = make_source("jpaas", samr.url("/hd/zjdc/index.html"))
    listing = ADAPTER.list(src, http(src))
    entries = by_url(listing.entries)
    assert len(entries) == 5
    first = entries[samr.url("/hd/zjdc/art/2026/art_7690dba6fb90477cae8299c67f7966d9.html")]
    # title attribute split over three lines in the real answer
    assert first.title == ("市场监管总局关于公开征求《关于出口 转内销产品强制性产品认证便利化试点的通知 "
                           "（征求意见稿）》意见的通知")
    # 征集调查 shows the consultation period: the list date is its first day
    assert first.list_date == "2026-09-17"
    api = samr.requests(UNIT)[0]
    assert api.query["parseType"] == "bulidstatic"  # lower-case querydata attribute read
    assert api.query["webId"] == "29e9522dc89d4e088a953d8cede72f4c"


def test_samr_ordinary_column_dates_in_sibling_li(samr, http):
    src = make_source("jpaas", samr.url("/zw/zjwj/gsgg/index.html"), pages=3)
    listing = ADAPTER.list(src, http(src))
    entries = by_url(listing.entries)
    assert set(entries) == {
        samr.url("/zw/zfxxgk/fdzdgknr/rzjgs/art/2026/art_5b7e1c2d3a4f40689b1c2d3e4f5a6b7c.html"),
        samr.url("/zw/zfxxgk/fdzdgknr/fgs/art/2026/art_9d8c7b6a5f4e4d3c2b1a09f8e7d6c5b4.html"),
    }  # the .txt link is not an article
    std = entries[samr.url("/zw/zfxxgk/fdzdgknr/rzjgs/art/2026/art_5b7e1c2d3a4f40689b1c2d3e4f5a6b7c.html")]
    assert std.list_date == "2026-06-26"
    assert std.title == "市场监管总局 国家标准委关于发布《人工智能 智能体互联》 系列国家标准的公告"
    assert len(samr.requests(UNIT)) == 1  # count=2 fits on page one


def test_zhejiang_list_picks_the_information_list_unit(zhejiang, http):
    src = make_source("jpaas", zhejiang.url("/col/col1659217/index.html"), pages=2)
    listing = ADAPTER.list(src, http(src))
    api = zhejiang.requests(UNIT)
    entries = by_url(listing.entries)
    notice = entries[zhejiang.url("/art/2026/3/9/art_1659217_58921234.html")]
    assert notice.title == "浙江省经济和信息化厅关于开展2026年度“人工智能+制造” 标杆企业培育工作的通知"
    assert notice.list_date == "2026-03-09"
    assert notice.extra["article_id"] == "1659217_58921234"
    other = entries[zhejiang.url("/art/2026/2/27/art_1659217_58870011.html")]
    assert other.title == "关于公布2026年第一批省级工业互联网平台名单的通知"  # link text: no title attribute
    assert other.list_date == "2026-02-27"  # no date element: from the URL
    assert api[0].query["tagId"] == "信息列表"
    assert api[0].query["webId"] == "3185"  # unquoted number in the pseudo-JSON


# -- detail -------------------------------------------------------------------------------

def test_miit_detail_prefers_the_visible_date(miit, http):
    src = make_source("jpaas", miit.url("/gzcy/yjzj/index.html"))
    url = miit.url(ART.format("3c2e4c31f3174237ba8575b3d8a8745d"))
    d = ADAPTER.detail(src, Entry(url=url, title="x"), http(src))
    assert d.title == "关于公开征求《饲料加工机械卫生规范》等14项强制性国家标准制修订计划项目意见的公示"
    assert d.published == "2026-09-03T18:30:00+08:00"
    assert d.published_meta == "2026-09-04T10:06:00+08:00"
    assert d.issuer == "科技司"
    assert d.doc_number == "工信厅科函〔2026〕123号"  # written [2026] on the page
    assert d.article_id == "3c2e4c31f3174237ba8575b3d8a8745d"
    assert d.attachments == [
        Attachment("强制性国家标准制修订计划（征求意见稿）",
                   miit.url("/cms_files/filemanager/1226211233/attach/20269/9835b003f6b34a1ca06934bcd0233271.pdf")),
        Attachment("标准立项反馈意见表",
                   miit.url("/cms_files/filemanager/1226211233/attach/20268/c54e3c50fa1241b6bb7f66c2c3071e51.doc")),
    ]
    assert d.body.splitlines()[1].startswith("根据标准化工作的总体安排")
    assert "字体" not in d.body and "发布时间" not in d.body


def test_miit_detail_from_metas_only(miit, http):
    src = make_source("jpaas", miit.url("/gzcy/yjzj/index.html"))
    url = miit.url(ART.format("ebc8c235df1b4582bcbdb5b54a1d0125"))
    d = ADAPTER.detail(src, Entry(url=url, title="x"), http(src))
    assert d.title == "公开征求对《中华人民共和国无线电频率划分规定（征求意见稿）》的意见"
    assert d.published == "2026-09-14T20:26:00+08:00"
    assert d.issuer == "无线电管理局"
    assert d.doc_number is None
    assert [a.name for a in d.attachments] == ["《中华人民共和国无线电频率划分规定（征求意见稿）》修订部分.pdf"]
    assert d.body.endswith("（正文其余段落已裁剪）")


def test_detail_without_known_body_selector_uses_largest_block(miit, http):
    src = make_source("jpaas", miit.url("/gzcy/yjzj/index.html"))
    url = miit.url(ART.format("03d6631242cd45c5bef6e8d62571beff"))
    d = ADAPTER.detail(src, Entry(url=url, title="x"), http(src))
    assert d.title == "公开征求《氢能装备（碱性水电解制氢装备）制造行业规范条件（2026年本）（征求意见稿）》的意见"
    assert d.body.startswith("为推动氢能装备制造业高质量发展")
    assert "机构设置" not in d.body and "主办单位" not in d.body
    assert d.issuer == "节能与综合利用司"


def test_detail_selector_override(miit, http):
    src = make_source("jpaas", miit.url("/gzcy/yjzj/index.html"), detail={"content": "div.side"})
    url = miit.url(ART.format("03d6631242cd45c5bef6e8d62571beff"))
    d = ADAPTER.detail(src, Entry(url=url, title="x"), http(src))
    assert d.body == "意见征集在线访谈"


def test_detail_conditional_not_modified(miit, http):
    src = make_source("jpaas", miit.url("/gzcy/yjzj/index.html"))
    url = miit.url(ART.format("ebc8c235df1b4582bcbdb5b54a1d0125"))
    first = http(src)
    assert ADAPTER.detail(src, Entry(url=url, title="x"), first) is not None
    again = http(src, validators=replay(first))
    assert ADAPTER.detail(src, Entry(url=url, title="x"), again, conditional=True) is None
    # without conditional the validators are not sent and the page is read again
    assert ADAPTER.detail(src, Entry(url=url, title="x"), again) is not None


def test_samr_detail_reads_the_ul_metadata_table(samr, http):
    src = make_source("jpaas", samr.url("/hd/zjdc/index.html"))
    url = samr.url("/hd/zjdc/art/2026/art_645badc2faaa4f7fa52f9ba11ba7a0bd.html")
    d = ADAPTER.detail(src, Entry(url=url, title="x"), http(src))
    assert d.title == "市场监管总局关于公开征求《食糖生产许可审查细则（征求意见稿）》意见的通知"
    assert d.doc_number == "国市监食生〔2026〕88号"  # written （2026） in the table
    assert d.signed == "2026-09-12"
    assert d.published == "2026-09-16"  # the visible table date
    assert d.published_meta == "2026-09-16T10:09:00+08:00"
    assert d.issuer == "市场监管总局食品生产经营司"  # 所属机构 beats the ContentSource meta
    assert d.body.startswith("为进一步规范食糖生产许可审查工作")
    assert "bm30000012" not in d.body  # the table is not body text
    base = "/cms_files/filemanager/1647978232/attach/20269/"
    assert [a.name for a in d.attachments] == [
        "食糖生产许可审查细则（征求意见稿）.docx",
        "《食糖生产许可审查细则（征求意见稿）》起草说明.docx",
        "公开征求意见反馈表.wps",
    ]
    assert d.attachments[2].url == samr.url(base + "4037540917b14f80b3b6adb397e61d51.wps?fileName=附件3：公开征求意见反馈表.wps")


def test_samr_detail_without_table(samr, http):
    src = make_source("jpaas", samr.url("/hd/zjdc/index.html"))
    url = samr.url("/hd/zjdc/art/2026/art_7690dba6fb90477cae8299c67f7966d9.html")
    d = ADAPTER.detail(src, Entry(url=url, title="x"), http(src))
    assert d.published == "2026-09-17T14:00:00+08:00"
    assert d.issuer == "认证监管司"
    assert d.signed is None and d.doc_number is None
    assert len(d.attachments) == 2
    assert all(a.url.startswith(samr.url("/cms_files/filemanager/1647978232/attach/")) for a in d.attachments)
    assert "意见反馈截止时间为2026年10月17日。" in d.body.splitlines()


def test_zhejiang_detail_info_table(zhejiang, http):
    src = make_source("jpaas", zhejiang.url("/col/col1659217/index.html"))
    url = zhejiang.url("/art/2026/3/9/art_1659217_58921234.html")
    d = ADAPTER.detail(src, Entry(url=url, title="x"), http(src))
    assert d.body.splitlines()[0] == "各市经信局："
    assert d.doc_number == "浙经信数字〔2026〕15号"  # from the table, not the parent 文号 cited in the body
    assert d.issuer == "浙江省经济和信息化厅（数字化处）"
    assert d.signed == "2026-03-06"
    assert d.published == "2026-03-09T16:20:00+08:00"
    assert d.article_id == "1659217_58921234"
    assert d.attachments == [
        Attachment("申报书模板.docx", zhejiang.url("/module/download/downfile.jsp?classid=0&filename=2603091620.docx"))]


# -- helpers --------------------------------------------------------------------------------

def test_parse_query_data_variants():
    assert parse_query_data("{'parseType':'buildstatic','tagId':'右侧内容','editType':'null'}") == {
        "parseType": "buildstatic", "tagId": "右侧内容", "editType": "null"}
    assert parse_query_data("{'webId':3185, 'editType':null , 'search':''}") == {
        "webId": "3185", "editType": "null", "search": ""}
    assert parse_query_data('{"pageId":"abc","n":2}') == {"pageId": "abc", "n": "2"}


def test_canonical_url_upgrades_same_host_http_links_only():
    page = "https://www.miit.gov.cn/xwfb/zxzc/index.html"
    assert canonical_url("http://www.miit.gov.cn/xwfb/zxzc/art/2026/art_x.html#top", page) == \
        "https://www.miit.gov.cn/xwfb/zxzc/art/2026/art_x.html"
    assert canonical_url("http://wap.miit.gov.cn/a.html", page) == "http://wap.miit.gov.cn/a.html"


def test_find_unit_spec_prefers_parse_type_and_resolves_url():
    html = """
    <script src="/js/AuthorizedRead/unitbuild.js" url="/other/unit" queryData="{'tagId':'页脚','pageId':'a'}"></script>
    <script src="/js/AuthorizedRead/unitbuild.js" parseType="bulidstatic"
            url="https://api.example.gov.cn/unit?x=1" queryData="{'tagId':'列表','pageId':'b'}"></script>"""
    spec = find_unit_spec(html, "https://www.example.gov.cn/col/index.html")
    assert spec.url == "https://api.example.gov.cn/unit"
    assert spec.params == {"x": "1", "tagId": "列表", "pageId": "b"}
