"""cms = "govcn": www.gov.cn (中国政府网) and its policy-library search (sites.md §5).

Two list modes, chosen by the configured URL:

- a static JSON feed such as /zhengce/zuixin/ZUIXINZHENGCE.json: an array of
  {TITLE, SUB_TITLE, URL, DOCRELPUBTIME}, rolling, no pages;
- the policy-library search (sousuo.www.gov.cn/search-gov/data, t=zhengcelibrary_bm):
  rows with 文号 (pcode) and 发文机关 (puborg), paged with p/n. Its WAF refuses
  non-browser User-Agents, so a browser UA is sent unless the source sets one.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .. import extract as ex
from ..config import Source
from ..errors import Empty, ParseError
from ..model import Detail, Entry
from .base import Http, Listing
from .common import (
    DetailRules,
    PageAdapter,
    SearchApi,
    default_headers,
    page_title,
    read_detail,
    search_pages,
    split_query,
)

BROWSER_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/126.0.0.0 Safari/537.36")
SEARCH_DEFAULTS = {"t": "zhengcelibrary_bm", "q": "", "sort": "pubtime", "sortType": "1", "n": "20"}
SEARCH_HEADERS = {"User-Agent": BROWSER_UA, "Accept": "application/json, text/plain, */*"}
SEARCH_REFERER = "https://sousuo.www.gov.cn/"
NO_MORE_RESULTS = 1001  # the search's code for a page past the end (seen in crawlers)
_CONTENT_ID = re.compile(r"content_(\d+)\.s?html?$")

# Template A / zhengceku pages: metadata table + #UCAP-CONTENT; Template B
# (articles): h1#ti or div.share-title, div.pages-date with span.font 来源.
RULES = DetailRules(
    title=[],  # chosen in _title: the metadata table first, then the page headings
    body=["#UCAP-CONTENT .trs_editor_view", "#UCAP-CONTENT .TRS_UEDITOR", "#UCAP-CONTENT",
          ".trs_editor_view", ".TRS_UEDITOR", ".pages_content", "#zoom"],
    date=["div.pages-date"],
    issuer=[],  # 发文机关 from the table; span.font 来源 only when there is no table
    info_table=["table.bd1", 'table:-soup-contains("发文机关"):not(:has(table))'],
)
SOURCE_SELECTORS = ["div.pages-date span.font", "span.font-zyygwj"]
TITLE_SELECTORS = ["div.share-title", "h1#ti"]


def is_feed(url: str) -> bool:
    path = urlsplit(url).path
    return path.lower().endswith(".json") and "search-gov" not in path


# -- the JSON feed ---------------------------------------------------------------------

def feed_entries(payload, url: str) -> list[Entry]:
    if not isinstance(payload, list):
        raise ParseError(f"gov.cn feed {url} is not a JSON array", url=url)
    entries: list[Entry] = []
    seen: set[str] = set()
    for item in payload:
        if not isinstance(item, dict):
            continue
        href = ex.absolute(url, str(item.get("URL") or "").strip())
        title = ex.strip_tags(item.get("TITLE"))
        if not href or not title or href in seen:
            continue
        seen.add(href)
        extra = {"subtitle": ex.strip_tags(item["SUB_TITLE"])} if item.get("SUB_TITLE") else {}
        entries.append(Entry(url=href, title=title, list_date=ex.parse_date(item.get("DOCRELPUBTIME")),
                             extra=extra))
    if payload and not entries:
        raise ParseError(f"gov.cn feed {url}: no item has TITLE and URL", url=url)
    return entries


# -- the policy-library search -----------------------------------------------------------

def search_rows(payload, url: str) -> tuple[list[dict], int | None]:
    """(rows, total pages): searchVO.listVO plus every searchVO.catMap.*.listVO."""
    if not isinstance(payload, dict):
        raise ParseError(f"gov.cn search at {url} did not answer with a JSON object", url=url)
    vo = payload.get("searchVO")
    if vo is None and isinstance(payload.get("data"), dict):
        vo = payload["data"].get("searchVO")
    if not isinstance(vo, dict):
        if payload.get("code") in (NO_MORE_RESULTS, str(NO_MORE_RESULTS)):
            return [], None
        raise ParseError(f"gov.cn search answer from {url} has no searchVO "
                         f"(code={payload.get('code')!r} {payload.get('msg') or ''})", url=url)
    rows = [r for r in vo.get("listVO") or [] if isinstance(r, dict)]
    cat_map = vo.get("catMap")
    if isinstance(cat_map, dict):
        for cat in cat_map.values():
            if isinstance(cat, dict):
                rows += [r for r in cat.get("listVO") or [] if isinstance(r, dict)]
    pages = vo.get("totalpage")
    return rows, int(pages) if str(pages or "").isdigit() else None


def search_entry(row: dict, api_url: str) -> Entry | None:
    href = ex.absolute(api_url, str(row.get("url") or "").strip())
    title = ex.strip_tags(row.get("title"))
    if not href or urlsplit(href).scheme not in ("http", "https") or not title:
        return None
    published = ex.parse_datetime(row.get("pubtime") or row.get("ptime") or None)
    list_date = (published[:10] if published else None) or ex.parse_date(row.get("pubtimeStr"))
    number = ex.strip_tags(row.get("pcode"))
    extra = {"summary": ex.strip_tags(row["summary"])} if row.get("summary") else {}
    return Entry(url=href, title=title, list_date=list_date,
                 doc_number=ex.normalize_doc_number(number) if number else None,
                 issuer=ex.strip_tags(row.get("puborg")) or None, published=published, extra=extra)


# -- the detail page -------------------------------------------------------------------------

def _title(soup, info: dict[str, str]) -> str | None:
    if info.get("标题"):
        return info["标题"]
    el = ex.select_first(soup, TITLE_SELECTORS)
    if el is not None:
        return ex.clean(el.get_text(" "))
    return page_title(soup) or None


def _table(soup) -> dict[str, str]:
    info: dict[str, str] = {}
    for sel in RULES.info_table:
        info.update(ex.labelled_values(soup.select_one(sel)))
    return info


def read_govcn_detail(html: str, url: str, source: Source) -> Detail:
    rules = RULES.overridden(source.detail)
    m = _CONTENT_ID.search(urlsplit(url).path)
    detail = read_detail(html, url, rules, article_id=m.group(1) if m else None)
    soup = ex.parse_html(html)
    if "title" not in rules.configured:
        # the table's 标题 and the page heading before ArticleTitle, which gov.cn fills loosely
        detail.title = _title(soup, _table(soup)) or detail.title
    if not detail.issuer:
        source_el = ex.select_first(soup, SOURCE_SELECTORS)
        text = ex.clean(source_el.get_text(" ")) if source_el is not None else ""
        detail.issuer = re.sub(r"^.*?来源\s*[:：]\s*", "", text) or None
    if not detail.article_id and detail.meta.get("manuscriptid"):
        detail.article_id = detail.meta["manuscriptid"]
    return detail


class GovcnAdapter(PageAdapter):
    cms = "govcn"
    rules = RULES

    def list(self, source: Source, http: Http) -> Listing:
        if is_feed(source.url):
            return super().list(source, http)  # the feed file itself, read by entries()
        return self._search(source, http)

    def entries(self, source: Source, http: Http, resp) -> list[Entry]:
        entries = feed_entries(resp.json(), resp.final_url)
        if not entries:
            raise Empty(f"gov.cn feed {source.url} is an empty array", url=source.url)
        return entries

    def _search(self, source: Source, http: Http) -> Listing:
        api, url_params = split_query(source.url)
        params = {**SEARCH_DEFAULTS, **url_params, **source.params}
        if source.query is not None:
            params["q"] = source.query
        # the UA yields to the source's; the Referer is the search page's own
        headers = {**default_headers(source, SEARCH_HEADERS), "Referer": SEARCH_REFERER}
        return search_pages(SearchApi("gov.cn search", search_rows, search_entry), http, source, api, params, headers)

    def read(self, html: str, url: str, source: Source) -> Detail:
        return read_govcn_detail(html, url, source)


ADAPTER = GovcnAdapter()
