"""Every site adapter through the real CLI: `tracker poll`, `tracker sources test`, `tracker sources add`.

Each family scenario is a loopback TestSite over that family's fixtures (tests/fixtures/<family>/,
see the READMEs there). A sources.toml naming the site is written to a temporary folder, the real
`tracker` command polls it, and the results are read back the way a user would: `tracker log
--json` for the events, and the SQLite database for the stored documents and versions.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import FIXTURES, write_config
from tracker.config import load
from tracker.normalize import normalize_text, normalize_title
from tracker.testsite import TestSite

AI = ["ai-manufacturing"]


@dataclass
class Known:
    """One document of a scenario whose every field is known from its fixture page."""

    path: str
    title: str
    published: str
    doc_number: str | None
    issuer: str | None
    body: str  # a line of the body
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (name, path)


@dataclass
class Scenario:
    root: str  # fixture folder under tests/fixtures
    sources: str  # [[sources]] blocks; {base} is the test site's base URL
    documents: int  # documents stored after one poll (every page asked for, duplicates once)
    topical: set[str]  # paths of the documents that match a topic: the only baseline events
    known: list[Known]


def source(sid: str, cms: str, path: str, extra: str = "") -> str:
    return f"""
[[sources]]
id = "{sid}"
name = "{sid}"
agency = "Agency of {sid}"
region = "Region"
cms = "{cms}"
url = "{{base}}{path}"
{extra}
"""


GOVCN_OPINIONS = Known(
    "/zhengce/zhengceku/202601/content_7054201.htm",
    "工业和信息化部等八部门关于印发《“人工智能+制造”专项行动实施意见》的通知", "2026-01-07", "工信部联科〔2025〕279号",
    "工业和信息化部 中央网信办 国家发展改革委 教育部 商务部 国务院国资委 市场监管总局 国家数据局", "工业和信息化部等八部门",
    [("1.人工智能赋能制造业重点行业转型指引", "/zhengce/zhengceku/202601/W020260107000001.pdf")])

SCENARIOS = {
    # MIIT 意见征集: unit API page 1 (4 rows) + page 2 (3 rows, one repeated).
    "jpaas-miit": Scenario(
        "jpaas/miit", source("miit-yjzj", "jpaas", "/gzcy/yjzj/index.html", "pages = 2"), 6,
        {"/gzcy/yjzj/art/2026/art_0f1e2d3c4b5a69788796a5b4c3d2e1f0.html"},  # 人工智能+制造 in its title
        [Known("/gzcy/yjzj/art/2026/art_3c2e4c31f3174237ba8575b3d8a8745d.html",
               "关于公开征求《饲料加工机械卫生规范》等14项强制性国家标准制修订计划项目意见的公示",
               "2026-09-03T18:30:00+08:00", "工信厅科函〔2026〕123号", "科技司",
               "公示时间：2026年9月4日—2026年9月18日",
               [("强制性国家标准制修订计划（征求意见稿）",
                 "/cms_files/filemanager/1226211233/attach/20269/9835b003f6b34a1ca06934bcd0233271.pdf"),
                ("标准立项反馈意见表",
                 "/cms_files/filemanager/1226211233/attach/20268/c54e3c50fa1241b6bb7f66c2c3071e51.doc")])],
    ),
    # SAMR 征集调查: nothing matches a topic, so the baseline stores five documents silently.
    "jpaas-samr": Scenario(
        "jpaas/samr", source("samr-zjdc", "jpaas", "/hd/zjdc/index.html", "pages = 2"), 5, set(),
        [Known("/hd/zjdc/art/2026/art_7690dba6fb90477cae8299c67f7966d9.html",
               "市场监管总局关于公开征求《关于出口 转内销产品强制性产品认证便利化试点的通知 （征求意见稿）》意见的通知",
               "2026-09-17T14:00:00+08:00", None, "认证监管司", "意见反馈截止时间为2026年10月17日。",
               [("关于出口转内销产品强制性产品认证便利化试点的通知（征求意见稿）.pdf",
                 "/cms_files/filemanager/1647978232/attach/20269/34517ae879b14556b0d4418a01edc801.pdf"
                 "?fileName=附件1：关于出口转内销产品强制性产品认证便利化试点的通知（征求意见稿）.pdf"),
                ("《关于出口转内销产品强制性产品认证便利化试点的通知（征求意见稿）》的起草说明.pdf",
                 "/cms_files/filemanager/1647978232/attach/20269/009b4e96539c467dbbe360c980f51b5f.pdf"
                 "?fileName=附件2：《关于出口转内销产品强制性产品认证便利化试点的通知（征求意见稿）》的起草说明.pdf")])],
    ),
    # MIIT policy-library search, two pages (totalCount 5, one row repeated).
    "miit-search": Scenario(
        "miitsearch/search",
        source("miit-search-ai", "miit-search", "/search-front-server/api/search/info",
               'query = "人工智能"\npages = 2'), 3,
        {"/zwgk/zcwj/wjfb/tz/art/2026/art_01010414608a4226b30687773bb21bdf.html",
         "/zwgk/zcjd/art/2026/art_9b87c46fe9bb4f59851b59c4200515f5.html"},  # 279号 / the opinions' title
        [Known("/zwgk/zcwj/wjfb/tz/art/2026/art_01010414608a4226b30687773bb21bdf.html",
               "工业和信息化部等八部门关于印发《“人工智能+制造”专项行动实施意见》的通知",
               "2026-01-07T19:00:00+08:00", "工信部联科〔2025〕279号", "科技司",
               "现将《“人工智能+制造”专项行动实施意见》印发给你们，请结合实际认真贯彻落实。",
               [("1.人工智能赋能制造业重点行业转型指引.pdf",
                 "/cms_files/filemanager/1226211233/attach/20261/1a2b3c4d5e6f47788990aabbccddeeff.pdf"),
                ("2.制造业企业人工智能应用指南.pdf",
                 "/cms_files/filemanager/1226211233/attach/20261/ffeeddccbbaa09988776655443322110.pdf")])],
    ),
    # gov.cn: the rolling JSON feed (a synthetic item added to a real excerpt) ...
    "govcn-feed": Scenario(
        "govcn/site", source("govcn-latest", "govcn", "/zhengce/zuixin/ZUIXINZHENGCE.json"), 4,
        {"/zhengce/zhengceku/202601/content_7054201.htm"},
        [GOVCN_OPINIONS,
         Known("/zhengce/content/202609/content_7081587.htm",
               "中共中央办公厅 国务院办公厅印发 《关于分类推进高校改革的意见》",  # a line break in div.share-title
               "2026-09-20T18:05:00+08:00", None, "新华社", "（正文为测试用合成文本）")],
    ),
    # ... and the policy-library search, two pages.
    "govcn-search": Scenario(
        "govcn/site", source("govcn-search-ai", "govcn", "/search-gov/data", 'query = "人工智能+制造"\npages = 2'),
        3, {"/zhengce/zhengceku/202601/content_7054201.htm"}, [GOVCN_OPINIONS],
    ),
    # Jiangsu 工信厅: the embedded datastore (3 rows) and dataproxy records 4-6.
    "hanweb-jiangsu": Scenario(
        "hanweb/jiangsu", source("jiangsu-gxt", "hanweb", "/col/col6278/index.html", "pages = 2"), 5,
        {"/art/2026/3/9/art_6278_11739347.html", "/art/2026/3/12/art_6278_11741020.html"},  # cite the opinions
        [Known("/art/2026/3/9/art_6278_11739347.html",
               "关于印发江苏省“人工智能+制造”诊断工作方案(2026-2027)的通知", "2026-03-09",
               "苏工信信发〔2026〕63号", "江苏省工业和信息化厅", "各设区市工信局:",
               [("江苏省“人工智能+制造”诊断工作方案(2026-2027)",
                 "/module/download/downfile.jsp?classid=0&filename=2603091512345.pdf")]),
         Known("/art/2026/3/12/art_6278_11741020.html", "关于组织申报2026年度江苏省智能制造示范工厂的通知",
               "2026-03-12", "苏工信装备〔2026〕18号", "江苏省工业和信息化厅", "江苏省工业和信息化厅",
               [("1.江苏省智能制造示范工厂申报书.docx",
                 "/module/download/downfile.jsp?classid=0&filename=2603121000001.docx"),
                ("2.江苏省智能制造示范工厂申报指南.pdf", "/attach/0/2603121000002.pdf"),
                ("3.申报汇总表", "/attach/0/2603121000003.xlsx")])],
    ),
    # Beijing 经信局: 通知公告 over index.html + index_1.html, and the 政策文件 column.
    "trs-beijing": Scenario(
        "trs/beijing",
        source("beijing-tzgg", "trs", "/jxdt/tzgg/index.html", "pages = 2")
        + source("beijing-zcwj", "trs", "/zwgk/2024zcwj/index.html"), 8,
        {"/jxdt/tzgg/202606/t20260625_4735001.html", "/zwgk/2024zcwj/202606/t20260630_4739968.html"},  # cite it
        [Known("/jxdt/tzgg/202606/t20260625_4735001.html",
               "关于组织推荐2026年北京市人工智能赋能制造业典型场景的通知", "2026-06-25T10:30:00+08:00",
               "京经信函〔2026〕88号", None, "各区经济和信息化主管部门，有关企业："),
         Known("/zwgk/2024zcwj/202606/t20260630_4739968.html", "2026年第三批AI赋能新型工业化高质量数据集需求清单",
               "2026-06-30", "京经信发〔2026〕15号", "北京市经济和信息化局",
               "各有关单位：",
               [("需求清单说明.docx", "/zwgk/2024zcwj/202606/P020260630512345678901.docx"),
                ("2026年第三批数据集需求清单.pdf", "/zwgk/2024zcwj/202606/P020260630512345678902.pdf"),
                ("申报表", "/zwgk/2024zcwj/202606/P020260630512345678903.ofd")])],
    ),
    # Guangdong 工信厅 catalogue: API pages 1-2 (post_count 5, one pinned article repeated).
    "gkmlpt-gdii": Scenario(
        "gkmlpt/gdii", source("gdii", "gkmlpt", "/gkmlpt/index", "pages = 2"), 4,
        {"/gkmlpt/content/4/4908/post_4908393.html", "/gkmlpt/content/4/4901/post_4901111.html"},
        [Known("/gkmlpt/content/4/4908/post_4908393.html",
               "广东省工业和信息化厅关于印发《广东省“人工智能+制造”专项行动方案》的通知",
               "2026-06-20T10:00:00+08:00", "粤工信规字〔2026〕3号", "广东省工业和信息化厅",
               "各地级以上市工业和信息化主管部门：",  # only in the page's embedded DETAIL JSON
               [("广东省“人工智能+制造”专项行动方案.pdf", "/attachment/0/590/590123/4908393.pdf")]),
         Known("/gkmlpt/content/4/4901/post_4901111.html",
               "广东省工业和信息化厅关于组织申报2026年省级智能制造示范项目的通知", "2026-06-12",
               "粤工信函〔2026〕45号", "广东省工业和信息化厅", "各地级以上市工业和信息化主管部门：",
               [("1.申报书模板.docx", "/attachment/0/589/589001/4901111.docx"),
                ("2.推荐汇总表.xlsx", "/attachment/0/589/589002/4901111.xlsx")])],
    ),
}


@pytest.fixture(scope="module")
def sites():
    """sites(root): that fixture folder's TestSite, started once for this module."""
    opened: dict[str, TestSite] = {}

    def get(root: str) -> TestSite:
        if root not in opened:
            opened[root] = TestSite(FIXTURES / root).start()
        return opened[root]

    yield get
    for s in opened.values():
        s.stop()


def documents(tmp_path: Path) -> dict[str, dict]:
    """url -> the stored document with its current version's body and attachments."""
    with closing(sqlite3.connect(tmp_path / "data" / "tracker.db")) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("""SELECT d.url, d.source, d.title, d.published, d.doc_number, d.issuer,
                                    v.body, v.attachments
                             FROM documents d JOIN versions v ON v.id = d.version_id""").fetchall()
    return {r["url"]: {**dict(r), "attachments": json.loads(r["attachments"])} for r in rows}


def poll_scenario(name: str, sites, tmp_path: Path, make_cli):
    sc = SCENARIOS[name]
    site = sites(sc.root)
    cli = make_cli(write_config(tmp_path, sc.sources.replace("{base}", site.base_url)))
    return sc, site, cli


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_poll_stores_every_listed_document_with_its_fields(name, sites, tmp_path, make_cli):
    sc, site, cli = poll_scenario(name, sites, tmp_path, make_cli)
    code, out, err = cli("poll")
    assert code == 0, out + err
    assert "error" not in out.split("\n", 2)[-1]
    docs = documents(tmp_path)
    assert len(docs) == sc.documents, sorted(docs)
    for url, doc in docs.items():
        assert url.startswith(site.base_url + "/"), url
        assert doc["title"] and doc["body"], url
        assert doc["published"] and doc["published"][:4] == "2026", (url, doc["published"])
        for a in doc["attachments"]:
            assert a["url"].startswith(site.base_url + "/") and a["name"], a
    for k in sc.known:
        doc = docs[site.url(k.path)]
        assert doc["title"] == normalize_title(k.title)  # titles and text are stored normalised
        assert doc["published"] == k.published
        assert doc["doc_number"] == k.doc_number
        assert doc["issuer"] == k.issuer
        assert normalize_text(k.body) in doc["body"].splitlines()
        assert [(a["name"], a["url"]) for a in doc["attachments"]] == [(n, site.url(p)) for n, p in k.attachments]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_baseline_announces_only_topic_documents(name, sites, tmp_path, make_cli):
    sc, site, cli = poll_scenario(name, sites, tmp_path, make_cli)
    assert cli("poll")[0] == 0
    events = cli.log()
    assert {e["url"] for e in events} == {site.url(p) for p in sc.topical}
    for ev in events:
        assert ev["kind"] == "document.new" and ev["baseline"] is True
        assert ev["topics"] == AI, ev
        assert "baseline" in ev["summary"].lower()
    known = {site.url(k.path): k for k in sc.known}
    for ev in events:
        if ev["url"] in known:
            k = known[ev["url"]]
            assert (ev["title"], ev["doc_number"], ev["issuer"], ev["published"]) == \
                (normalize_title(k.title), k.doc_number, k.issuer, k.published[:10])
    # a second poll of unchanged pages: no new events, nothing stored twice
    assert cli("poll")[0] == 0
    assert len(cli.log()) == len(events)
    assert len(documents(tmp_path)) == sc.documents


def test_topic_documents_cite_the_opinions_or_name_them(sites, tmp_path, make_cli):
    """Why the gkmlpt documents matched: the reasons name the citation or the keyword."""
    sc, site, cli = poll_scenario("gkmlpt-gdii", sites, tmp_path, make_cli)
    cli("poll")
    reasons = {e["url"]: " ".join(e["reasons"]["ai-manufacturing"]) for e in cli.log()}
    assert "人工智能+制造" in reasons[site.url("/gkmlpt/content/4/4908/post_4908393.html")]
    assert "人工智能+制造" in reasons[site.url("/gkmlpt/content/4/4901/post_4901111.html")]


@pytest.mark.parametrize("name,sid,title", [
    ("jpaas-miit", "miit-yjzj", "关于公开征求《饲料加工机械卫生规范》等14项强制性国家标准制修订计划项目意见的公示"),
    ("jpaas-samr", "samr-zjdc", "市场监管总局关于公开征求《国家标准外文版管理办法（征求意见稿）》意见的通知"),
    ("miit-search", "miit-search-ai", "工业和信息化部等八部门关于印发《“人工智能+制造”专项行动实施意见》的通知"),
    ("govcn-search", "govcn-search-ai", "工业和信息化部关于印发《“人工智能+信息通信”创新发展实施意见（2026—2028年）》的通知"),
    ("hanweb-jiangsu", "jiangsu-gxt", "关于开展2026年江苏省“智改数转网联”诊断服务商遴选工作的通知"),
    ("trs-beijing", "beijing-tzgg", "关于征集2026年工业软件优秀产品的通知"),
    ("gkmlpt-gdii", "gdii", "广东省工业和信息化厅关于公布2026年广东省工业互联网产业生态供给资源池的通知"),
])
def test_sources_test_prints_entries_and_first_detail_and_stores_nothing(name, sid, title, sites, tmp_path,
                                                                        make_cli):
    sc, site, cli = poll_scenario(name, sites, tmp_path, make_cli)
    code, out, err = cli("sources", "test", sid)
    assert code == 0, out + err
    head, _, detail = out.partition("First detail page:")
    assert title in head  # an entry of the last page asked for: every page was read
    assert site.base_url in head
    fields = dict(line.strip().split(":", 1) for line in detail.splitlines()
                  if ":" in line and not line.strip().startswith("|"))
    first_url = head.split("\n")[2].strip()  # "  1. date  title\n     url"
    assert fields["url"].strip() == first_url
    assert fields["title"].strip() not in ("", "-")
    assert fields["body"].strip().split()[0].isdigit() and int(fields["body"].split()[0]) > 0
    assert not (tmp_path / "data" / "tracker.db").exists()


# -- sources add -------------------------------------------------------------------------------

@pytest.mark.parametrize("root,path,cms", [
    ("jpaas/miit", "/gzcy/yjzj/index.html", "jpaas"),
    ("hanweb/jiangsu", "/col/col6278/index.html", "hanweb"),
    ("gkmlpt/gdii", "/gkmlpt/index", "gkmlpt"),
    ("trs/beijing", "/jxdt/tzgg/index.html", "trs"),
    ("html/ministry", "/notices/index.html", "html"),
])
def test_sources_add_recognises_the_family_and_the_block_polls(root, path, cms, sites, tmp_path, make_cli):
    site = sites(root)
    config = write_config(tmp_path, "")
    cli = make_cli(config)
    before = config.read_text(encoding="utf-8")
    code, out, err = cli("sources", "add", site.url(path), "--id", "added", "--agency", "某厅", "--region", "Somewhere")
    assert code == 0, out + err
    assert f": {cms} — " in out
    printed = [line.strip() for line in out.splitlines()[1:] if line.strip().startswith(site.base_url)]
    assert printed
    after = config.read_text(encoding="utf-8")
    assert after.startswith(before) and "[[sources]]" in after[len(before):]
    [added] = load(config).sources
    assert (added.id, added.cms, added.url, added.agency, added.region) == \
        ("added", cms, site.url(path), "某厅", "Somewhere")
    code, out, err = cli("poll")
    assert code == 0, out + err
    docs = documents(tmp_path)
    assert set(printed) <= set(docs)  # every entry it showed is now a stored document
    assert all(d["source"] == "added" and d["title"] for d in docs.values())


@pytest.mark.parametrize("root,path,says", [
    ("hanweb/variants", "/col/col1/index.html", "no known CMS family"),  # a page with nothing to follow
    ("trs/variants", "/empty/index.html", "reading the list failed"),  # looks like TRS, lists nothing
    ("jpaas/miit", "/no/such/page.html", "cannot fetch"),
])
def test_sources_add_without_a_readable_list_changes_nothing(root, path, says, sites, tmp_path, make_cli):
    site = sites(root)
    config = write_config(tmp_path, "")
    before = config.read_bytes()
    code, out, err = make_cli(config)("sources", "add", site.url(path))
    assert code != 0
    assert says in out + err
    assert config.read_bytes() == before


# -- two sources listing one document ---------------------------------------------------------

def overlapping_govcn(sites, tmp_path: Path, make_cli, settings: str = ""):
    """The gov.cn feed and search both list the 279号 opinions (as the bundled sources do)."""
    site = sites("govcn/site")
    blocks = SCENARIOS["govcn-feed"].sources + SCENARIOS["govcn-search"].sources
    return site, make_cli(write_config(tmp_path, blocks.replace("{base}", site.base_url), settings=settings))


def test_a_document_listed_by_two_sources_is_stored_once(sites, tmp_path, make_cli):
    site, cli = overlapping_govcn(sites, tmp_path, make_cli, settings="concurrency = 1")
    code, out, err = cli("poll")
    assert code == 0, out + err
    docs = documents(tmp_path)
    assert len(docs) == 4 + 3 - 1
    opinions = site.url(GOVCN_OPINIONS.path)
    assert [e["url"] for e in cli.log()] == [opinions]  # one announcement, by the source that read it first
    with closing(sqlite3.connect(tmp_path / "data" / "tracker.db")) as db:
        listed_by = db.execute("SELECT l.source FROM listings l JOIN documents d ON d.id = l.document_id "
                               "WHERE d.url = ? ORDER BY l.source", (opinions,)).fetchall()
    assert [r[0] for r in listed_by] == ["govcn-latest", "govcn-search-ai"]


def test_two_sources_polled_at_once_share_a_new_document(sites, tmp_path, make_cli):
    # Several rounds: whether both threads see the document as unknown depends on timing.
    for n in range(6):
        (tmp_path / str(n)).mkdir()
        site, cli = overlapping_govcn(sites, tmp_path / str(n), make_cli)
        code, out, err = cli("poll")
        assert code == 0, out + err
        assert len(documents(tmp_path / str(n))) == 6
