"""cms = "trs": TRS WCM static column pages (Beijing jxj, scjgj and many ministries).

sites.md §2, §6.5, §6.7. A column is `index.html`, then `index_1.html`, `index_2.html` … in the
same folder (page k ≥ 2 is `index_{k-1}.html`); the inline `createPageHTML(total, current,
"index", "html")` says how many pages exist. Articles are `./YYYYMM/tYYYYMMDD_<n>.html`;
attachments `./YYYYMM/P0YYYYMMDD….pdf`, both relative to the page that links them.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from bs4 import Tag

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

ARTICLE = re.compile(r"(?:^|/)t\d{8}_\d+\.s?html?(?:$|[?#])", re.I)
_ARTICLE_ID = re.compile(r"t\d{8}_(\d+)\.s?html?", re.I)
_PAGER = re.compile(r"createPageHTML\s*\(([^)]*)\)")
_ARG = re.compile(r"'([^']*)'|\"([^\"]*)\"|([^,\s]+)")
_EXTENSIONS = ("html", "htm", "shtml")

RULES = DetailRules(
    title=["h1", ".article-title", "h2"],
    body=[".TRS_Editor", ".TRS_UEDITOR", ".trs_editor_view", "#zoom", ".view", ".article"],
    info_table=['table:-soup-contains("发文字号", "文号", "索引号", "发布机构"):not(:has(table))'],
    # TRS uploads (P0….pdf) often sit in an "附件" box outside the text; these find their parents.
    attachments=[':has(> a[href*="P0"])', ".fj", ".attachment", ".attachments", "#attachment"],
)


def pager(page: str) -> tuple[int, str, str] | None:
    """(total pages, file stem, extension) from createPageHTML(...), in either argument order:
    (10, 0, "index", "html") or ('page_div', 10, 0, 'index', 'shtml', 195).

    Pages that inline the function's definition name it first; its arguments are not numbers.
    """
    scripts = ex.inline_scripts(page)
    for m in _PAGER.finditer(scripts):
        args = [a or b or c for a, b, c in _ARG.findall(m.group(1))]
        numbers = [int(a) for a in args if a.isdigit()]
        ext_at = next((i for i, a in enumerate(args) if a.lower() in _EXTENSIONS and i > 0), None)
        if numbers and ext_at is not None:
            return max(numbers[0], 1), args[ext_at - 1], args[ext_at]
    return None


def page_url(first: str, k: int, stem: str = "index", ext: str = "html") -> str:
    return first if k == 1 else urljoin(first, f"{stem}_{k - 1}.{ext}")


def row_date(link: Tag, url: str) -> str | None:
    """The date printed beside a link (2026-06-30, [2026-06-30], (2026-06-30)), else the tYYYYMMDD URL.

    Walks up from the link until a row holds a date, but never into the list itself (an
    ancestor with other article links).
    """
    node: Tag | None = link
    for _ in range(3):
        node = node.parent
        if node is None or _other_articles(node, link):
            break
        found = date_element_beside(node, link) or date_in_row_text(node, link)
        if found:
            return found
    return ex.date_from_url(url)


def _other_articles(node: Tag, link: Tag) -> bool:
    return any(a is not link and ARTICLE.search(a["href"]) for a in node.find_all("a", href=True))


def entries_from_page(page: str, base: str) -> list[Entry]:
    soup = ex.parse_html(page)
    entries = []
    for a in soup.find_all("a", href=True):
        if not ARTICLE.search(a["href"].strip()):
            continue
        url = ex.absolute(base, a["href"])
        if url and urlsplit(url).scheme in ("http", "https"):
            entries.append(Entry(url=url, title=link_title(a), list_date=row_date(a, url)))
    return entries


class TrsAdapter(PageAdapter):
    cms = "trs"
    rules = RULES

    def entries(self, source: Source, http: Http, resp) -> list[Entry]:
        first = resp.final_url
        entries = entries_from_page(resp.text, first)
        paging = pager(resp.text)
        if not entries:
            if paging is None:
                raise ParseError(f"no TRS article links (tYYYYMMDD_N.html) and no createPageHTML pager on "
                                 f"{source.url}", url=source.url)
            raise Empty(f"no article links (tYYYYMMDD_N.html) on {source.url}", url=source.url)
        # Without a pager the page count is unknown: guessing index_1.html would only log 404s.
        total, stem, ext = paging or (1, "index", "html")
        for k in range(2, min(source.pages, total) + 1):
            more = http.fetch(page_url(first, k, stem, ext))
            entries += entries_from_page(more.text, more.final_url)
        return dedupe(entries)

    def article_id(self, url: str) -> str | None:
        m = _ARTICLE_ID.search(urlsplit(url).path)
        return m.group(1) if m else None


ADAPTER = TrsAdapter()
