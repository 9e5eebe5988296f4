"""cms = "gkmlpt": the Guangdong open-government catalogue (政府信息公开目录), gdii, amr.gd and all GD depts.

sites.md §2, §6.1. The catalogue page `/gkmlpt/index` is a JS app whose
`window._CONFIG = {SID:'…', …}` names the site; the list is JSON from
`/gkmlpt/api/all/<category>?page=N&sid=<SID>` and already carries 文号, publisher and the
publication time. Detail pages `/gkmlpt/content/<a>/<b>/post_<n>.html` print the text in
`div.article-content` / `div.content`, or only inside an embedded `DETAIL: {…"content":"…"}` JSON.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin, urlsplit

from .. import extract as ex
from ..config import Source
from ..errors import Empty, ParseError
from ..model import Attachment, Detail, Entry
from .base import Http, Listing
from .common import DetailRules, PageAdapter, dedupe, read_detail

_CONFIG = re.compile(r"window\._CONFIG\s*=\s*\{")
_SID = re.compile(r"""['"]?\bSID['"]?\s*:\s*['"]([^'"]+)['"]""")
_DETAIL = re.compile(r"""['"]?\bDETAIL['"]?\s*:\s*(?=\{)""")
_CONTENT = re.compile(r'"content"\s*:\s*"((?:[^"\\]|\\.)*)"', re.S)
_POST_ID = re.compile(r"/m?post_(\d+)\.html?", re.I)
INJECTED = "tracker-detail-content"  # wrapper for the DETAIL JSON's HTML when the page has no text block
PAGE_BODY = ["div.article-content", "div.content"]

RULES = DetailRules(
    title=["h1", ".article-title", ".title"],
    body=[*PAGE_BODY, f"div.{INJECTED}"],
    info_table=['table:-soup-contains("索引号", "文号", "发布机构"):not(:has(table))', ".classify"],
    attachments=["a.nfw-cms-attachment"],
)


def find_sid(page: str) -> str | None:
    """SID from window._CONFIG (quotes single or double, the key quoted or not)."""
    page = ex.inline_scripts(page)
    config = _CONFIG.search(page)
    if not config:
        return None
    # SID leads the object in every copy seen; TREE (nested braces) follows, so search a window.
    m = _SID.search(page, config.end(), config.end() + 20000)
    return m.group(1) if m else None


def _first(article: dict, *keys: str):
    for key in keys:
        value = article.get(key)
        if value not in (None, "", 0, "0"):
            return value
    return None


def parse_attachments(value, base: str) -> list[Attachment]:
    """The article's `attachment` field: a JSON string, a list of {name, url}, one such dict, or HTML."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except ValueError:
            return ex.attachments(ex.parse_html(text), base)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return []
    out: list[Attachment] = []
    for item in value:
        if not isinstance(item, dict):
            continue
        url = ex.absolute(base, _first(item, "url", "link", "href", "path", "file_url", "fileUrl"))
        if url and url not in {a.url for a in out}:
            name = ex.clean(_first(item, "name", "title", "filename", "file_name", "fileName") or "")
            out.append(Attachment(name=name or ex.attachment_name_from_url(url), url=url))
    return out


def article_entry(article: dict, base: str) -> Entry | None:
    url = ex.absolute(base, _first(article, "url", "post_url"))
    if not url or urlsplit(url).scheme not in ("http", "https"):
        return None
    when = _first(article, "first_publish_time", "display_publish_time", "created_at", "date")
    published = ex.parse_datetime(when) if when is not None else None
    number = ex.clean(article.get("document_number") or "")
    return Entry(
        url=url,
        title=ex.clean(article.get("title")),
        list_date=published[:10] if published else None,
        doc_number=ex.normalize_doc_number(number) if number else None,
        issuer=ex.clean(article.get("publisher")) or None,
        published=published,
        attachments=parse_attachments(article.get("attachment"), base),
        extra={k: article[k] for k in ("id", "identifier") if article.get(k) not in (None, "")},
    )


def _articles(data, url: str) -> tuple[list[dict], int | None]:
    if not isinstance(data, dict) or not isinstance(data.get("articles"), list):
        raise ParseError(f"gkmlpt API answer from {url} has no \"articles\" list", url=url)
    classify = data.get("classify") if isinstance(data.get("classify"), dict) else {}
    total = classify.get("post_count", data.get("total"))
    return [a for a in data["articles"] if isinstance(a, dict)], int(total) if str(total).isdigit() else None


class GkmlptAdapter(PageAdapter):
    cms = "gkmlpt"
    rules = RULES

    def list(self, source: Source, http: Http) -> Listing:
        # The catalogue page is a static app shell: it does not change when articles do, so a 304 on
        # it says nothing. The first API page is the conditional request.
        shell = http.fetch(source.url)
        sid = find_sid(shell.text)
        if not sid:
            raise ParseError(f"no SID in window._CONFIG on {source.url} (not a gkmlpt catalogue page?)",
                             url=source.url)
        api = urljoin(shell.final_url, f"/gkmlpt/api/all/{source.category or '0'}")
        entries: list[Entry] = []
        read = 0
        for page in range(1, source.pages + 1):
            resp = http.fetch(api, params={**source.params, "page": str(page), "sid": sid}, conditional=page == 1)
            if resp.not_modified:
                return Listing(not_modified=True)
            articles, total = _articles(resp.json(), resp.url)
            entries += [e for e in (article_entry(a, shell.final_url) for a in articles) if e]
            read += len(articles)
            if not articles or (total is not None and read >= total):
                break
        if not entries:
            raise Empty(f"the gkmlpt catalogue {api} (sid {sid}) lists no articles", url=api)
        return Listing(entries=dedupe(entries))

    def read(self, html: str, url: str, source: Source) -> Detail:
        return read_gkmlpt(html, url, self.rules, source)


def embedded_detail(page: str) -> dict:
    """The DETAIL object embedded in the page's script; only its "content" when it is not strict JSON."""
    page = ex.inline_scripts(page)
    m = _DETAIL.search(page)
    if not m:
        return {}
    try:
        found, _ = json.JSONDecoder().raw_decode(page, m.end())
        return found if isinstance(found, dict) else {}
    except ValueError:
        content = _CONTENT.search(page, m.end())
        if not content:
            return {}
        try:
            return {"content": json.loads(f'"{content.group(1)}"')}
        except ValueError:
            return {}


def read_gkmlpt(page: str, url: str, rules: DetailRules, source: Source) -> Detail:
    rules = rules.overridden(source.detail)
    embedded = embedded_detail(page)
    content = embedded.get("content")
    if isinstance(content, str) and content.strip() and ex.select_first(ex.parse_html(page), rules.body) is None:
        page = _inject(page, content)
    post = _POST_ID.search(urlsplit(url).path)
    detail = read_detail(page, url, rules, article_id=post.group(1) if post else None)
    _fill_from_embedded(detail, embedded)
    return detail


def _inject(page: str, content: str) -> str:
    """Put the JSON's HTML into the page, so one reading path serves both page shapes."""
    block = f'<div class="{INJECTED}">{content}</div>'
    at = page.lower().rfind("</body>")
    return page + block if at < 0 else page[:at] + block + page[at:]


def _fill_from_embedded(detail: Detail, embedded: dict) -> None:
    """The DETAIL object's own fields, for what the page itself did not show."""
    if not detail.title and embedded.get("title"):
        detail.title = ex.clean(str(embedded["title"]))
    if not detail.doc_number and embedded.get("document_number"):
        detail.doc_number = ex.normalize_doc_number(str(embedded["document_number"]))
    if not detail.issuer and embedded.get("publisher"):
        detail.issuer = ex.clean(str(embedded["publisher"]))
    if not detail.published and embedded.get("first_publish_time"):
        detail.published = ex.parse_datetime(embedded["first_publish_time"])


ADAPTER = GkmlptAdapter()
