"""cms = "html": any server-rendered list page, read with the selectors in sources.toml.

`[sources.list]` gives item/link/title/date selectors; "sel@attr" reads an
attribute. The title falls back to the link text when the attribute is missing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .. import extract as ex
from ..config import Source
from ..errors import Empty, ParseError
from ..model import Entry
from .base import Http
from .common import DetailRules, PageAdapter


def pick(el, spec: str | None) -> str | None:
    """Apply 'css' or 'css@attr' (or '@attr' on the element itself) to el."""
    if not spec:
        return None
    sel, _, attr = spec.partition("@")
    target = el.select_one(sel) if sel.strip() else el
    if target is None:
        return None
    if attr:
        value = target.get(attr)
        return value.strip() if isinstance(value, str) and value.strip() else None
    return ex.clean(target.get_text(" ")) or None


def entries_from_html(html: str, base_url: str, selectors: dict[str, str]) -> list[Entry]:
    soup = ex.parse_html(html)
    try:
        items = soup.select(selectors["item"])
    except Exception as e:
        raise ParseError(f"bad item selector {selectors['item']!r}: {e}") from None
    entries: list[Entry] = []
    seen: set[str] = set()
    for item in items:
        url = ex.absolute(base_url, pick(item, selectors["link"]))
        if not url or urlsplit(url).scheme not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        title = ex.clean(pick(item, selectors.get("title")))
        if not title:
            link_sel = selectors["link"].partition("@")[0]
            link_el = item.select_one(link_sel) if link_sel.strip() else item
            title = ex.clean(link_el.get_text(" ")) if link_el is not None else ""
        date_text = pick(item, selectors.get("date"))
        entries.append(Entry(url=url, title=title, list_date=ex.parse_date(date_text) or ex.date_from_url(url)))
    return entries


class HtmlAdapter(PageAdapter):
    cms = "html"
    rules = DetailRules()

    def entries(self, source: Source, http: Http, resp) -> list[Entry]:
        entries = entries_from_html(resp.text, resp.final_url, source.list)
        if not entries:
            raise Empty(f"the list selector {source.list['item']!r} matched no entries on {source.url}",
                        url=source.url)
        return entries


ADAPTER = HtmlAdapter()
