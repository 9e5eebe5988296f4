"""cms = "hanweb": Hanweb (大汉) jcms column pages with the jpage list component.

Jiangsu gxt, Shandong gxt and the older Zhejiang jxt (sites.md §2, §6.2, §6.3, §6.6).
A column page `/col/col<ID>/index.html` carries its first records inside
`<div id="<unitid>"><script type="text/xml"><datastore>…<record><![CDATA[<li>…]]></record>`;
later records come from POST `/module/web/jpage/dataproxy.jsp?startrecord=a&endrecord=b&perpage=n`
(the same XML). Detail pages `/art/YYYY/M/D/art_<col>_<id>.html` mark the text with
`<!--ZJEG_RSS.content.begin-->` … `<!--ZJEG_RSS.content.end-->` (DetailRules.markers).
"""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

from .. import extract as ex
from ..config import Source
from ..errors import Empty, ParseError
from ..model import Entry
from .base import Http
from .common import (
    DetailRules,
    PageAdapter,
    date_element_beside,
    date_in_row_text,
    dedupe,
    link_title,
)

PROXY_PATH = "/module/web/jpage/dataproxy.jsp"
# jcms detail pages, and the JPaaS shapes some jcms columns link to.
ART_URL = re.compile(r"/art/\d{4}/\d{1,2}/\d{1,2}/art_\d+_\d+\.s?html?|/art/\d{4}/art_[0-9a-f]{32}\.html", re.I)
_ART_ID = re.compile(r"art_(?:\d+_)?(\w+)\.s?html?", re.I)
_XML_SCRIPT = re.compile(r"<script\b[^>]*\btype\s*=\s*['\"]?text/xml['\"]?[^>]*>(.*?)</script\s*>", re.S | re.I)
_RECORD = re.compile(r"<record\b[^>]*>(.*?)</record\s*>", re.S | re.I)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)
_UNIT_DIV = re.compile(r"<div\b[^>]*\bid\s*=\s*['\"]?(\d+)['\"]?[^>]*>", re.I)
_COLUMN = re.compile(r"/col/col(\d+)/")
# Keys of the jpage form as they appear in the column page's scripts and <nextgroup> link.
_FORM_KEYS = ("webid", "columnid", "unitid", "sourceContentType", "webname", "permissiontype")
_FORM_DEFAULTS = {"col": "1", "appid": "1", "path": "/", "permissiontype": "0",
                  # Every jpage example seen uses 1 for ordinary article columns (Jiangsu: 9) [I].
                  "sourceContentType": "1"}

RULES = DetailRules(
    title=["h1", ".sp_title", ".article-title", ".title"],
    body=["div.scroll_main.bfr_article_content", "#zoom", ".bt-article", ".article-content", ".bfr_article_content",
          "#barrierfree_container .article"],
    info_table=['table:-soup-contains("文件编号", "索引号", "发布机构"):not(:has(table))'],
    markers=[(r"<!--\s*ZJEG_RSS\.content\.begin\s*-->", r"<!--\s*ZJEG_RSS\.content\.end\s*-->")],
)


# -- list ------------------------------------------------------------------------------


@dataclass
class Datastore:
    """One jpage <datastore>: its records (HTML fragments) and what it says about paging."""

    records: list[str]
    unitid: str | None = None
    total: int | None = None
    nextgroup: str = ""
    form: dict[str, str] = field(default_factory=dict)


def parse_datastore(xml: str, unitid: str | None = None) -> Datastore:
    records = []
    for raw in _RECORD.findall(xml):
        chunks = _CDATA.findall(raw)
        # Records without CDATA carry escaped markup (&lt;li&gt;…).
        records.append("".join(chunks) if chunks else htmllib.unescape(raw))
    total = re.search(r"<totalrecord>\s*(\d+)\s*</totalrecord>", xml, re.I)
    nextgroup = re.search(r"<nextgroup>(.*?)</nextgroup>", xml, re.S | re.I)
    return Datastore(records=records, unitid=unitid, total=int(total.group(1)) if total else None,
                     nextgroup=htmllib.unescape(nextgroup.group(1)) if nextgroup else "")


def datastores(page: str) -> list[Datastore]:
    """Every <script type="text/xml"> datastore on a page, with the id of its unit <div>.

    Read with regular expressions: HTML parsers end a script at the first `</li>` of
    the CDATA or drop the CDATA markers, which loses records.
    """
    found = []
    for m in _XML_SCRIPT.finditer(page):
        if not re.search(r"<(recordset|datastore)\b", m.group(1), re.I):
            continue
        divs = _UNIT_DIV.findall(page, 0, m.start())
        found.append(parse_datastore(m.group(1), divs[-1] if divs else None))
    return found


def record_entry(fragment: str, base: str) -> Entry | None:
    soup = BeautifulSoup(fragment, "html.parser")
    links = [a for a in soup.find_all("a", href=True) if ex.absolute(base, a["href"])]
    if not links:
        return None
    link = next((a for a in links if ART_URL.search(a["href"])), links[0])
    url = ex.absolute(base, link["href"])
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    return Entry(url=url, title=link_title(link), list_date=item_date(soup, link, url))


def item_date(item: Tag, link: Tag, url: str) -> str | None:
    """A list row's date: a date-only element beside the link, else the URL, else the row text."""
    return date_element_beside(item, link) or ex.date_from_url(url) or date_in_row_text(item, link)


def _jpage_value(text: str, key: str) -> str | None:
    # Every jpage key but webname is a number; requiring one keeps prose and other scripts out.
    value = r"([^'\"&,;}\s<>]+)" if key == "webname" else r"(\d+)"
    m = re.search(r"(?<![A-Za-z_])" + key + r"\s*[=:]\s*['\"]?" + value, text, re.I)
    return unquote(m.group(1)) if m else None  # <nextgroup> values are URL-encoded


def jpage_form(page: str, store: Datastore, url: str, params: dict[str, str]) -> dict[str, str]:
    """The dataproxy form: the datastore's <nextgroup> link first, then the page's scripts,
    the unit <div> id and the column number in the URL; source.params override all."""
    form = dict(_FORM_DEFAULTS)
    page = re.sub(r"<!--.*?-->", "", page, flags=re.S)
    for key in _FORM_KEYS:
        value = _jpage_value(store.nextgroup, key) or _jpage_value(page, key)
        if value:
            form[key] = value
    if store.unitid:
        form["unitid"] = store.unitid
    elif "unitid" not in form:
        m = re.search(r"jpageform_(\d+)", page)
        if m:
            form["unitid"] = m.group(1)
    col = _COLUMN.search(urlsplit(url).path)
    if col and "columnid" not in form:
        form["columnid"] = col.group(1)
    form.update({k: v for k, v in params.items() if k not in ("startrecord", "endrecord", "perpage")})
    return form


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and int(text) > 0 else None


def _static_entries(page: str, base: str) -> list[Entry]:
    """Columns rendered without jpage: every link with the article URL shape."""
    soup = ex.parse_html(page)
    entries = []
    for a in soup.find_all("a", href=True):
        if ART_URL.search(a["href"]):
            url = ex.absolute(base, a["href"])
            entries.append(Entry(url=url, title=link_title(a), list_date=item_date(a.parent or a, a, url)))
    return entries


def _entries(fragments: list[str], base: str) -> list[Entry]:
    return [e for e in (record_entry(f, base) for f in fragments) if e is not None]


def _pick_store(stores: list[Datastore], params: dict[str, str]) -> Datastore:
    wanted = params.get("unitid")
    for store in stores:
        if wanted and store.unitid == wanted:
            return store
    # Side boxes (hot news, related columns) are jpage units too; the column list is the longest.
    return max(stores, key=lambda s: len(s.records))


class HanwebAdapter(PageAdapter):
    cms = "hanweb"
    rules = RULES

    def entries(self, source: Source, http: Http, resp) -> list[Entry]:
        page, base = resp.text, resp.final_url
        stores = datastores(page)
        if not stores:
            entries = dedupe(_static_entries(page, base))
            if not entries:
                raise ParseError(f"no jpage datastore (<script type=\"text/xml\"> with <recordset>) and no "
                                 f"/art/YYYY/M/D/art_<col>_<id>.html links on {source.url}", url=source.url)
            return entries
        store = _pick_store(stores, source.params)
        entries = _entries(store.records, base)
        if not entries:
            raise Empty(f"the jpage datastore on {source.url} has no records with links", url=source.url)
        if source.pages > 1:
            entries += self._more(source, http, page, base, store)
        return dedupe(entries)

    def _more(self, source: Source, http: Http, page: str, base: str, store: Datastore) -> list[Entry]:
        """Pages 2..n from the dataproxy, each `perpage` records after those already read."""
        form = jpage_form(page, store, base, source.params)
        if "webid" not in form or "unitid" not in form or "columnid" not in form:
            missing = [k for k in ("webid", "unitid", "columnid") if k not in form]
            raise ParseError(f"cannot page {source.url}: no {', '.join(missing)} on the column page "
                             f"(set them in [sources.params])", url=source.url)
        perpage = _int(source.params.get("perpage") or _jpage_value(page, "perpage")) or len(store.records)
        read, total, entries = len(store.records), store.total, []
        proxy = urljoin(base, PROXY_PATH)
        headers = {"X-Requested-With": "XMLHttpRequest", "Referer": source.url}
        for _ in range(source.pages - 1):
            if total is not None and read >= total:
                break
            query = {"startrecord": str(read + 1), "endrecord": str(read + perpage), "perpage": str(perpage)}
            resp = http.fetch(proxy, method="POST", params=query, data=form, headers=headers)
            if not re.search(r"<(datastore|recordset)\b", resp.text, re.I):
                raise ParseError(f"dataproxy answer for {source.url} (records {query['startrecord']}-"
                                 f"{query['endrecord']}) is not a jpage datastore", url=resp.url)
            more = parse_datastore(resp.text)
            if not more.records:
                break
            entries += _entries(more.records, base)
            read += len(more.records)
            total = more.total if more.total is not None else total
        return entries

    def article_id(self, url: str) -> str | None:
        art = _ART_ID.search(urlsplit(url).path)
        return art.group(1) if art else None


ADAPTER = HanwebAdapter()
