"""cms = "jpaas": Hanweb JPaaS sites (MIIT, SAMR, MOFCOM, newer Zhejiang departments).

Column pages are JavaScript shells. The list lives behind a "page build unit"
API named by a `<script src=".../AuthorizedRead/unitbuild.js" url="…"
queryData="{'k':'v',…}">` tag: GET that URL with every queryData key as a query
parameter and read the HTML fragment in the JSON answer's data.html
(sites.md §2, §3.2, §4.2, §6.3). Detail pages are server-rendered (§3.3, §4.3).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag

from .. import extract as ex
from ..config import Source
from ..errors import Empty, ParseError
from ..model import Entry
from .base import Http, Listing
from .common import DetailRules, PageAdapter, canonical_url, default_headers, split_query

UNIT_SCRIPT = re.compile(r"AuthorizedRead/unitbuild\.js", re.I)
# The unit holding a column's document list, by tagId (MIIT, Zhejiang, SAMR names).
LIST_TAGS = ("信息列表", "右侧内容", "内容区域", "当前栏目list")
LIST_PARSE_TYPES = ("buildstatic", "bulidstatic")  # SAMR/MOFCOM spell it "bulid"
DEFAULT_PAGE_SIZE = 24
# /<column path>/art/2026/art_<32 hex>.html  or  /art/2026/3/9/art_6278_11739347.html
ARTICLE_PATH = re.compile(
    r"/art/(?P<y>(?:19|20)\d{2})/(?:art_(?P<hex>[0-9a-fA-F]{32})"
    r"|(?P<m>\d{1,2})/(?P<d>\d{1,2})/art_(?P<col>\d+)_(?P<n>\d+))\.html?$"
)
LIST_DATE_SELECTORS = ("span.fr", "[class*=contenttime]", ".doctime", ".date", ".time")
_PAIR = re.compile(r"""['"]?([\w$-]+)['"]?\s*:\s*(?:'([^']*)'|"([^"]*)"|([^,}\s]*))""")

API_HEADERS = {
    "X-Requested-With": "XMLHttpRequest",
    "Accept": "application/json, text/javascript, */*; q=0.01",
}

# MIIT (§3.3), SAMR (§4.3) and Zhejiang (§6.3) detail templates. The title falls
# through to the ArticleTitle meta, which every JPaaS page carries.
RULES = DetailRules(
    title=["h1#con_title", "#con_title"],
    body=["#con_con", ".ccontent", ".Three_xilan_07", "#zoom", ".TRS_UEDITOR", ".TRS_Editor"],
    date=["#con_time"],
    issuer=['.cinfo span:-soup-contains("来源")'],
    info_table=[".Three_xilan01_01", 'table:-soup-contains("索引号"):not(:has(table))'],
    attachments=["ul.contentLeft0102box"],
)


def article_id(url: str) -> str | None:
    m = ARTICLE_PATH.search(urlsplit(url).path)
    if not m:
        return None
    return m["hex"].lower() if m["hex"] else f"{m['col']}_{m['n']}"


# -- the unitbuild script ---------------------------------------------------------------

@dataclass
class UnitSpec:
    url: str  # absolute API URL, without query
    params: dict[str, str]  # queryData keys (plus any query the url attribute carried)


def parse_query_data(text: str) -> dict[str, str]:
    """"{'parseType':'buildstatic','webId':'8d82…'}" -> dict (single-quoted pseudo-JSON)."""
    body = text.strip()
    if body.startswith("{"):
        try:
            value = json.loads(body)
            if isinstance(value, dict):
                return {str(k): _str(v) for k, v in value.items()}
        except ValueError:
            pass  # the usual case: single quotes
    body = body.strip("{} \n\t")
    out: dict[str, str] = {}
    for m in _PAIR.finditer(body):
        value = next((g for g in (m.group(2), m.group(3), m.group(4)) if g is not None), "")
        out[m.group(1)] = value
    return out


def _str(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _script_rank(tag: Tag, query: dict[str, str]) -> int:
    rank = 0
    if query.get("tagId") in LIST_TAGS:
        rank += 2
    parse_type = (tag.get("parsetype") or query.get("parseType") or "").lower()
    if parse_type in LIST_PARSE_TYPES:
        rank += 1
    return rank


def find_unit_spec(html: str, page_url: str) -> UnitSpec:
    soup = ex.parse_html(html)
    candidates: list[tuple[int, int, Tag, dict[str, str]]] = []
    for i, tag in enumerate(soup.find_all("script", src=UNIT_SCRIPT)):
        raw = tag.get("querydata") or tag.get("queryData")
        query = parse_query_data(raw) if raw else {}
        if tag.get("url") and query:
            candidates.append((_script_rank(tag, query), -i, tag, query))
    if not candidates:
        raise ParseError(f"no JPaaS unitbuild.js script with url and queryData attributes on {page_url}",
                         url=page_url)
    _, _, tag, query = max(candidates, key=lambda c: (c[0], c[1]))
    api, extra = split_query(ex.absolute(page_url, tag["url"]) or page_url)
    return UnitSpec(url=api, params={**extra, **query})


# -- the list fragment -----------------------------------------------------------------

def _article_links(root: Tag, base_url: str) -> list[tuple[Tag, str]]:
    out = []
    for a in root.find_all("a", href=True):
        url = ex.absolute(base_url, a["href"])
        if url and urlsplit(url).scheme in ("http", "https") and ARTICLE_PATH.search(urlsplit(url).path):
            out.append((a, canonical_url(url, base_url)))
    return out


def _item_container(a: Tag, link_count) -> Tag | None:
    """The largest ancestor (up to 4 levels) holding this one article link and no other."""
    best = None
    node = a.parent
    for _ in range(4):
        if node is None or not isinstance(node, Tag) or node.name in ("[document]", "html", "body"):
            break
        if link_count(node) > 1:
            break
        best = node
        node = node.parent
    return best


def _item_date(a: Tag, container: Tag | None) -> str | None:
    if container is None:
        return None
    for sel in LIST_DATE_SELECTORS:
        for el in container.select(sel):
            if el is a or _inside(el, a):
                continue
            found = ex.parse_date(el.get_text(" "))
            if found:
                return found
    # any date written in the item outside the link (the title may hold a year)
    texts = [s for s in container.find_all(string=True) if not _inside(s, a)]
    return ex.parse_date(" ".join(texts))


def _inside(node, ancestor: Tag) -> bool:
    # identity, not ==: bs4 compares tags by markup, and list rows look alike
    return any(p is ancestor for p in node.parents)


def entries_from_fragment(html: str, base_url: str) -> list[Entry]:
    soup = BeautifulSoup(html, "lxml")
    links = _article_links(soup, base_url)
    link_tags = {id(a) for a, _ in links}

    def link_count(node: Tag) -> int:
        return sum(1 for x in node.find_all("a", href=True) if id(x) in link_tags)

    entries: list[Entry] = []
    seen: set[str] = set()
    for a, url in links:
        if url in seen:
            continue
        seen.add(url)
        title = ex.clean(a.get("title")) or ex.clean(a.get_text(" "))
        list_date = _item_date(a, _item_container(a, link_count)) or ex.date_from_url(url)
        entries.append(Entry(url=url, title=title, list_date=list_date,
                             extra={"article_id": article_id(url)}))
    return entries


def _pagination(html: str) -> tuple[int | None, int | None]:
    """(rows per page, total count) from the fragment's div.pagination, when present."""
    el = BeautifulSoup(html, "lxml").select_one(".pagination[rows], .pagination[count], [unitid][count]")
    if el is None:
        return None, None
    return _int(el.get("rows")), _int(el.get("count"))


def _int(value) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


def unit_html(resp, api_url: str) -> str:
    """data.html of a unit API answer; ParseError for anything else."""
    payload = resp.json()
    if not isinstance(payload, dict):
        raise ParseError(f"unit API at {api_url} did not answer with a JSON object", url=resp.url)
    if payload.get("success") is False or str(payload.get("code", "200")) not in ("200", ""):
        msg = payload.get("message") or payload.get("msg") or ""
        raise ParseError(f"unit API rejected the parameters (success={payload.get('success')!r}, "
                         f"code={payload.get('code')!r} {msg}) at {resp.url}", url=resp.url)
    data = payload.get("data")
    html = data.get("html") if isinstance(data, dict) else None
    if not isinstance(html, str):
        raise ParseError(f"unit API answer from {resp.url} has no data.html fragment", url=resp.url)
    return html


# -- the adapter -------------------------------------------------------------------------

class JpaasAdapter(PageAdapter):
    cms = "jpaas"
    rules = RULES

    def list(self, source: Source, http: Http) -> Listing:
        # The shell is static JavaScript that need not change when documents are
        # added, so only the list API call itself is conditional.
        shell = http.fetch(source.url)
        spec = find_unit_spec(shell.text, shell.final_url)
        params = {**spec.params, **source.params}
        # Referer is what the site's own script sends (the column page), whatever
        # the source sets for its pages; the other defaults yield to source.headers.
        headers = {**default_headers(source, API_HEADERS), "Referer": shell.final_url}
        first = http.fetch(spec.url, params=params, headers=headers, conditional=True)
        if first.not_modified:
            return Listing(not_modified=True)
        html = unit_html(first, spec.url)
        entries = entries_from_fragment(html, shell.final_url)
        rows, count = _pagination(html)
        size = rows or len(_article_links(BeautifulSoup(html, "lxml"), shell.final_url)) or DEFAULT_PAGE_SIZE
        seen = {e.url for e in entries}
        for page in range(2, source.pages + 1):
            if count is not None and (page - 1) * size >= count:
                break
            paged = {**params, "paramJson": json.dumps({"pageNo": page, "pageSize": size}, separators=(",", ":"))}
            resp = http.fetch(spec.url, params=paged, headers=headers)
            new = [e for e in entries_from_fragment(unit_html(resp, spec.url), shell.final_url) if e.url not in seen]
            if not new:  # an empty page, or a server that ignores pageNo and repeats page 1
                break
            seen.update(e.url for e in new)
            entries += new
        if not entries:
            raise Empty(f"the JPaaS list unit of {source.url} returned no article links", url=source.url)
        return Listing(entries=entries)

    def article_id(self, url: str) -> str | None:
        return article_id(url)


ADAPTER = JpaasAdapter()
