"""What every site family shares: detail-page reading, URL and header helpers, list paging.

`read_detail` applies the rules the issue asks of all adapters: the ArticleTitle
meta (the CMS's own field) before the family's title selectors unless the source
names its own; the family's body selectors (or the CMS's content markers), then
the largest text container when none matches; the visible date preferred over
the meta date but both kept, and dates or 来源 written in labelled header lines
read only outside the body, so a deadline in the text never becomes the
publication date; 文号 from a metadata table, else the first lines of the body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from bs4 import BeautifulSoup, Tag

from .. import extract as ex
from ..config import Source
from ..errors import Empty, ParseError
from ..model import Attachment, Detail, Entry
from .base import Http, Listing

DOC_NUMBER_LABELS = ("文号", "发文字号", "文件编号", "发文号", "文件号")
ISSUER_LABELS = ("发文机关", "发布机构", "发文单位", "所属机构", "发布单位", "来源")
SIGNED_LABELS = ("成文日期", "签发日期", "生成日期", "印发日期")
PUBLISHED_LABELS = ("发布日期", "发布时间", "公开日期")
KEPT_METAS = {"articletitle", "pubdate", "contentsource", "columnname", "siteidcode", "maketime",
              "firstpublishedtime", "lastmodifiedtime", "manuscriptid", "keywords"}
# [sources.detail] key -> DetailRules attribute
_CONFIG_KEYS = {"title": "title", "content": "body", "date": "date", "issuer": "issuer",
                "doc_number": "doc_number", "attachments": "attachments"}


@dataclass
class DetailRules:
    """Selectors of one family; each list is tried in order."""

    title: list[str] = field(default_factory=lambda: ["h1"])
    body: list[str] = field(default_factory=lambda: ["#zoom", ".TRS_Editor", ".TRS_UEDITOR", ".article-content",
                                                     ".content", "article"])
    date: list[str] = field(default_factory=list)
    issuer: list[str] = field(default_factory=list)
    doc_number: list[str] = field(default_factory=list)
    info_table: list[str] = field(default_factory=list)  # metadata table (文号, 成文日期 …)
    attachments: list[str] = field(default_factory=list)  # containers (or links) holding attachments
    # (begin, end) regexes of comments the CMS puts around the text (Hanweb's ZJEG_RSS markers);
    # they beat the body selectors unless the source sets its own content selector.
    markers: list[tuple[str, str]] = field(default_factory=list)
    configured: frozenset[str] = frozenset()  # attributes the source's [sources.detail] set

    def overridden(self, selectors: dict[str, str]) -> DetailRules:
        """Rules with a source's [sources.detail] selectors tried first."""
        changes: dict = {}
        for key, attr in _CONFIG_KEYS.items():
            if selectors.get(key):
                changes[attr] = [selectors[key], *getattr(self, attr)]
        return replace(self, **changes, configured=self.configured | set(changes))


# -- detail pages -------------------------------------------------------------------------------

@dataclass
class _Body:
    root: Tag | None
    outside: BeautifulSoup | None = None  # the page without the marked text (markers only)
    container: Tag | None = None  # the selector body around the markers: its links count too


def read_detail(html: str, url: str, rules: DetailRules, *, article_id: str | None = None) -> Detail:
    soup = ex.parse_html(html)
    meta = ex.metas(soup)
    info: dict[str, str] = {}
    for sel in rules.info_table:
        info.update(ex.labelled_values(soup.select_one(sel)))
    body = _find_body(html, soup, rules)
    text = ex.text_of(body.root)
    title = _title(soup, meta, rules, info)
    if not title and not text:
        raise ParseError(f"no title and no text found on {url}", url=url)
    date_el = ex.select_first(soup, rules.date)
    visible = ex.parse_datetime(ex.clean(date_el.get_text(" "))) if date_el is not None else None
    published_meta = ex.parse_datetime(meta.get("pubdate") or meta.get("firstpublishedtime")
                                       or meta.get("publishdate"))
    issuer = (_strip_label(_first_text(soup, rules.issuer)) or _label(info, ISSUER_LABELS)
              or meta.get("contentsource") or None)
    doc_number = _doc_number(soup, rules, info, text, title)
    files = _attachments(soup, body, rules, url)
    # Last, as it takes the body out of the page: what is written outside the body. A date
    # selector that matched is the visible date, even when its text holds none.
    outside = _outside_strings(soup, body) if date_el is None or not issuer else []
    published = ((visible if date_el is not None else ex.labelled_date(outside))
                 or ex.parse_datetime(_label(info, PUBLISHED_LABELS)) or published_meta or ex.date_from_url(url))
    return Detail(
        url=url,
        title=title,
        body=text,
        published=published,
        published_meta=published_meta,
        signed=ex.parse_date(_label(info, SIGNED_LABELS)),
        modified=ex.parse_datetime(meta.get("lastmodifiedtime")),
        doc_number=doc_number,
        issuer=issuer or ex.labelled_issuer(outside),
        attachments=files,
        article_id=article_id,
        meta={k: v for k, v in meta.items() if k in KEPT_METAS},
    )


def _find_body(html: str, soup: BeautifulSoup, rules: DetailRules) -> _Body:
    selected = ex.select_first(soup, rules.body)
    if "body" not in rules.configured:
        for begin, end in rules.markers:
            m = re.search(f"{begin}(.*?){end}", html, re.S | re.I)
            if m is None:
                continue
            root = ex.parse_html(m.group(1))
            if ex.text_of(root):  # markers around nothing but an embedded viewer say nothing
                return _Body(root, outside=ex.parse_html(html[:m.start()] + html[m.end():]), container=selected)
    return _Body(selected if selected is not None else ex.largest_text_block(soup))


def _outside_strings(soup: BeautifulSoup, body: _Body) -> list[str]:
    """The page's text nodes without the body, so dates and sources inside the document never count.

    Text nodes, not lines: header items are often adjacent <span>s that a line join would run together.
    """
    page = body.outside
    if page is None:
        page = soup
        if body.root is not None:
            body.root.decompose()
    for el in page.find_all(["script", "style", "noscript", "template"]):
        el.decompose()
    return [t for t in (ex.clean(s) for s in page.stripped_strings) if t]


def _title(soup, meta: dict[str, str], rules: DetailRules, info: dict[str, str]) -> str:
    # ArticleTitle is the CMS's own field; an h1 is often a banner or a shortened title.
    if meta.get("articletitle") and "title" not in rules.configured:
        return ex.clean(meta["articletitle"])
    text = _first_text(soup, rules.title)
    if text:
        return text
    if meta.get("articletitle"):
        return ex.clean(meta["articletitle"])
    if info.get("标题"):
        return info["标题"]
    return page_title(soup)


def page_title(soup) -> str:
    """<title> without the site and column names sites append to it."""
    if soup.title and soup.title.string:
        return strip_title_suffix(ex.clean(soup.title.string))
    return ""


# "_", "|", "｜" anywhere; "-", "–", "—" only between spaces, or unspaced before a site-like name.
_TITLE_SEP = re.compile(r"\s*(?:[_|｜]|\s[-–—]\s)\s*|\s*[-–—]\s*")
_SITE_WORDS = ("网", "网站", "门户", "政府", "部", "厅", "局", "委", "委员会", "办", "办公室", "署", "院", "中心",
               "栏目", "文件", "公告", "通知", "动态", "政策", "解读", "公开", "首页", "新闻", "要闻", "资讯",
               "专栏", "频道", "法规", "规章", "库", "信息")
_NOT_A_NAME = re.compile(r"关于|的|[()（）《》“”\"'0-9]")


def strip_title_suffix(title: str) -> str:
    """'标题_国务院部门文件_中国政府网' -> '标题': at most two trailing site or column names.

    A segment is cut only when it looks like a name (ends with 网/厅/局/文件/公告 …, has no
    关于/的/brackets/digits), so '…方案(2026-2027)的通知' keeps its end.
    """
    for _ in range(2):
        seps = list(_TITLE_SEP.finditer(title))
        if not seps:
            break
        sep = seps[-1]
        head, tail = title[:sep.start()], title[sep.end():]
        if not (2 <= len(tail) <= 30 and len(head) >= 2 and tail.endswith(_SITE_WORDS)
                and not _NOT_A_NAME.search(tail)):
            break
        title = head.rstrip()
    return title


def _first_text(soup, selectors: list[str]) -> str | None:
    el = ex.select_first(soup, selectors)
    return ex.clean(el.get_text(" ")) if el is not None else None


def _doc_number(soup, rules: DetailRules, info: dict[str, str], body: str, title: str) -> str | None:
    """A 文号 selector, then the metadata table, then the first lines of the body, then the title.

    The table's own wording wins even when it is not of the 〔year〕 shape (国务院令第812号):
    the body's first lines often cite another document's 文号.
    """
    selected = _first_text(soup, rules.doc_number)
    if selected and ex.find_doc_number(selected):
        return ex.find_doc_number(selected)
    table = _label(info, DOC_NUMBER_LABELS)
    if table and re.search(r"\d", table):  # not 无 / － placeholders
        return ex.normalize_doc_number(table)
    return ex.head_doc_number(body) or ex.find_doc_number(title)


def _label(info: dict[str, str], labels) -> str | None:
    return next((info[k] for k in labels if info.get(k)), None)


def _strip_label(text: str | None) -> str | None:
    if not text:
        return None
    text = re.sub(r"^.*?(来源|发布机构|发文机关)\s*[:：]\s*", "", text)
    return ex.clean(text) or None


def _attachments(soup, body: _Body, rules: DetailRules, url: str) -> list[Attachment]:
    """The body's file links, then those in the family's attachment containers."""
    roots: list[Tag | None] = [body.root, body.container]
    for sel in rules.attachments:
        try:
            roots += soup.select(sel)
        except Exception:  # an invalid selector from config is treated as no match
            continue
    files: dict[str, Attachment] = {}
    for root in roots:
        for a in ex.attachments(root, url):
            files.setdefault(a.url, a)
    return list(files.values())


# -- URLs, headers, entries ---------------------------------------------------------------------

def canonical_url(url: str, page_url: str) -> str:
    """Same-host http:// links on an https page become https; fragments are dropped.

    MIIT lists mix root-relative and absolute http:// hrefs for the same site,
    so without this one article could appear under two URLs.
    """
    parts = urlsplit(url)
    page = urlsplit(page_url)
    scheme = parts.scheme
    if scheme == "http" and page.scheme == "https" and parts.netloc == page.netloc:
        scheme = "https"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


def split_query(url: str) -> tuple[str, dict[str, str]]:
    """URL without its query string, and that query as a dict.

    httpx replaces a URL's query when params are given, so a query written into
    a configured URL has to be carried over as params.
    """
    parts = urlsplit(url)
    bare = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return bare, dict(parse_qsl(parts.query, keep_blank_values=True))


def default_headers(source: Source, defaults: dict[str, str]) -> dict[str, str]:
    """The adapter's headers, minus any the source sets itself (the source wins)."""
    own = {k.lower() for k in source.headers}
    return {k: v for k, v in defaults.items() if k.lower() not in own}


def link_title(a: Tag) -> str:
    # Link text is often cut with "…"; the title attribute holds the whole title.
    return ex.clean(a.get("title")) or ex.clean(a.get_text(" "))


# Elements that hold a list row's date beside its link.
DATE_TAGS = ["span", "b", "em", "i", "font", "td", "div", "p", "dd"]


def date_element_beside(row: Tag, link: Tag) -> str | None:
    """The date in an element of a list row that neither holds nor is inside a link."""
    for el in row.find_all(DATE_TAGS):
        if el is link or any(p is link for p in el.parents) or el.find("a"):
            continue
        found = ex.parse_date(el.get_text(" "))
        if found:
            return found
    return None


def date_in_row_text(row: Tag, link: Tag) -> str | None:
    """A date in the row's bare text, the title removed (its own words may hold a year)."""
    return ex.parse_date(ex.clean(row.get_text(" ")).replace(ex.clean(link.get_text(" ")), " "))


def dedupe(entries: Iterable[Entry]) -> list[Entry]:
    """One entry per URL, in first-seen order; a later duplicate fills what the first lacked
    (picture links have no text, pinned rows no date)."""
    by_url: dict[str, Entry] = {}
    for e in entries:
        kept = by_url.setdefault(e.url, e)
        kept.title = kept.title or e.title
        kept.list_date = kept.list_date or e.list_date
    return list(by_url.values())


# -- paged JSON search APIs (gov.cn, MIIT) ------------------------------------------------------

@dataclass
class SearchApi:
    """One search API: how to read an answer, and what to call it in messages."""

    name: str  # "gov.cn search"
    rows: Callable[[object, str], tuple[list[dict], int | None]]  # (payload, url) -> (rows, total)
    entry: Callable[[dict, str], Entry | None]  # (row, api url) -> entry
    per_page: int | None = None  # None: `total` counts pages; else it counts rows, this many a page

    def last_page(self, page: int, total: int | None) -> bool:
        if total is None:
            return False
        return page >= total if self.per_page is None else page * self.per_page >= total


def search_pages(api: SearchApi, http: Http, source: Source, url: str, params: dict[str, str],
                 headers: dict[str, str]) -> Listing:
    """Pages 1..source.pages of a search (page number in `p`); only page 1 is conditional."""
    entries: list[Entry] = []
    row_count = 0
    for page in range(1, source.pages + 1):
        resp = http.fetch(url, params={**params, "p": str(page)}, headers=headers, conditional=page == 1)
        if resp.not_modified:
            return Listing(not_modified=True)
        rows, total = api.rows(resp.json(), resp.url)
        row_count += len(rows)
        entries += [e for e in (api.entry(row, url) for row in rows) if e is not None]
        if not rows or api.last_page(page, total):
            break
    if row_count and not entries:
        raise ParseError(f"{api.name} rows from {source.url} carry no url/title fields", url=source.url)
    if not entries:
        raise Empty(f"{api.name} for {params.get('q', '')!r} returned no results at {source.url}", url=source.url)
    return Listing(entries=dedupe(entries))


# -- the adapter base ---------------------------------------------------------------------------

class PageAdapter:
    """The shape most families share: a list read from the source's own page, detail pages read
    with the family's rules. Families whose list lives elsewhere (an API) override list()."""

    cms: str
    rules: DetailRules = DetailRules()

    def list(self, source: Source, http: Http) -> Listing:
        resp = http.fetch(source.url, conditional=True)
        if resp.not_modified:
            return Listing(not_modified=True)
        return Listing(entries=self.entries(source, http, resp))

    def entries(self, source: Source, http: Http, resp) -> list[Entry]:
        """Entries from the source's page (a fetch.Response), and from any later pages."""
        raise NotImplementedError

    def detail(self, source: Source, entry: Entry, http: Http, *, conditional: bool = False) -> Detail | None:
        resp = http.fetch(entry.url, conditional=conditional)
        if resp.not_modified:
            return None
        return self.read(resp.text, resp.final_url, source)

    def read(self, html: str, url: str, source: Source) -> Detail:
        return read_detail(html, url, self.rules.overridden(source.detail), article_id=self.article_id(url))

    def article_id(self, url: str) -> str | None:
        return None
