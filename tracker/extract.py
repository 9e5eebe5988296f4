"""Shared extraction helpers for every site family: text, dates, 文号, metas, attachments.

Adapters call these so that every family returns the same field formats:
dates as YYYY-MM-DD or ISO 8601 with +08:00 (Beijing time, which the sites never
state), 文号 with the standard 〔〕 brackets, absolute attachment URLs.
"""

from __future__ import annotations

import html as htmllib
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

from bs4 import BeautifulSoup, Comment, NavigableString, Tag

from .model import Attachment

BEIJING = timezone(timedelta(hours=8))

BLOCK_TAGS = {
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table",
    "section", "article", "blockquote", "pre", "ul", "ol", "dd", "dt", "dl", "center",
}
# Page furniture that must not count as document text: it changes without the
# document changing (view counters, share widgets, font-size switches, navigation).
FURNITURE_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "iframe", "form",
                  "button", "select", "input", "object", "embed", "svg", "template")
ATTACHMENT_EXT = re.compile(r"\.(pdf|docx?|xlsx?|wps|et|ofd|zip|rar|7z|pptx?|txt|ceb|tif)(?:$|[?#])", re.I)

_DATE_PATTERNS = [
    # 2026-03-09 12:30[:00], 2026/3/9, 2026.03.09, 2026-03-09-21:50:00 (gov.cn meta)
    re.compile(r"(?P<y>(?:19|20)\d{2})\s*[-/.]\s*(?P<m>\d{1,2})\s*[-/.]\s*(?P<d>\d{1,2})"
               r"(?:[\sT-]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"),
    re.compile(r"(?P<y>(?:19|20)\d{2})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"
               r"(?:\s*(?P<H>\d{1,2})[:：时](?P<M>\d{2})(?:[:：分](?P<S>\d{2}))?)?"),
]
_URL_DATE = [
    re.compile(r"/art/(?P<y>20\d{2})/(?P<m>\d{1,2})/(?P<d>\d{1,2})/"),
    re.compile(r"/t(?P<y>20\d{2})(?P<m>\d{2})(?P<d>\d{2})_\d+"),
    re.compile(r"/(?P<y>20\d{2})(?P<m>\d{2})(?P<d>\d{2})/"),
]
DOC_NUMBER = re.compile(
    r"(?P<org>[\u4e00-\u9fa5A-Za-z]{1,20}?)\s*[〔\[［（(【]\s*(?P<year>(?:19|20)\d{2})\s*[〕\]］）)】]"
    r"\s*第?\s*(?P<num>\d{1,5})\s*号"
)


def parse_html(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "lxml")


def clean(text: str | None) -> str:
    """Collapse all whitespace (titles often carry raw line breaks) to single spaces."""
    if not text:
        return ""
    return re.sub(r"\s+", " ", text.replace("\u3000", " ")).strip()


_TAG = re.compile(r"<[^>]+>")
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script\s*>", re.S | re.I)


def strip_tags(text) -> str:
    """Markup (search highlighting such as <em>…</em>) and entities out of an API field."""
    return clean(htmllib.unescape(_TAG.sub("", str(text or ""))))


def inline_scripts(page: str) -> str:
    """The text of a page's <script> elements, so configuration read from scripts is never
    taken from comments or prose that quote it."""
    return "\n".join(_SCRIPT.findall(page))


def metas(soup: BeautifulSoup) -> dict[str, str]:
    """name/property -> content for every <meta>, names lower-cased."""
    out: dict[str, str] = {}
    for m in soup.find_all("meta"):
        name = m.get("name") or m.get("property") or m.get("http-equiv")
        content = m.get("content")
        if name and content is not None and name.lower() not in out:
            out[name.lower()] = content.strip()
    return out


def _valid(y: int, m: int, d: int) -> bool:
    try:
        datetime(y, m, d)
    except ValueError:
        return False
    return True


def parse_date(text: str | None) -> str | None:
    """First date in text as YYYY-MM-DD (time dropped), else None."""
    full = parse_datetime(text)
    return full[:10] if full else None


def parse_datetime(text: str | int | float | None) -> str | None:
    """First date in text: ISO 8601 with +08:00 when a time is given, else YYYY-MM-DD.

    Numbers (or digit strings of 10/13 digits) are epoch seconds / milliseconds.
    """
    if text is None:
        return None
    if isinstance(text, (int, float)) or re.fullmatch(r"\s*\d{10}(\d{3})?\s*", str(text)):
        value = float(text)
        if value > 1e11:
            value /= 1000
        if value <= 0:
            return None
        return datetime.fromtimestamp(value, BEIJING).isoformat(timespec="seconds")
    for pat in _DATE_PATTERNS:
        for m in pat.finditer(str(text)):
            y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
            if not _valid(y, mo, d):
                continue
            if m["H"] is not None and int(m["H"]) < 24 and int(m["M"]) < 60:
                sec = int(m["S"] or 0)
                return datetime(y, mo, d, int(m["H"]), int(m["M"]), min(sec, 59), tzinfo=BEIJING).isoformat()
            return f"{y:04d}-{mo:02d}-{d:02d}"
    return None


def date_from_url(url: str) -> str | None:
    for pat in _URL_DATE:
        m = pat.search(url)
        if m and _valid(int(m["y"]), int(m["m"]), int(m["d"])):
            return f"{int(m['y']):04d}-{int(m['m']):02d}-{int(m['d']):02d}"
    return None


# Words that precede a 文号 in running text but are not part of the issuer prefix.
_DOC_PREFIX_STOP = re.compile(r".*(?:关于|印发|根据|按照|依据|贯彻|落实|执行|实施|转发|文件|通知|号文|的|和|及|与|、|即)")


def _format_doc_number(m: re.Match) -> str:
    org = _DOC_PREFIX_STOP.sub("", m["org"])[-12:] or m["org"][-12:]
    return f"{org}〔{m['year']}〕{int(m['num'])}号"


def normalize_doc_number(text: str) -> str:
    """苏工信信发[2026]63号 / （2026） / 【2026】 -> 苏工信信发〔2026〕63号."""
    m = DOC_NUMBER.search(text)
    return _format_doc_number(m) if m else clean(text)


def find_doc_number(text: str | None) -> str | None:
    """The first 文号 in a text (title, first body lines, a metadata cell)."""
    if not text:
        return None
    m = DOC_NUMBER.search(text)
    return _format_doc_number(m) if m else None


def head_doc_number(body: str) -> str | None:
    """文号 printed on one of the first short lines of a body (how most notices print it)."""
    for line in body.splitlines()[:6]:
        found = find_doc_number(line) if len(line) <= 40 else None
        if found:
            return found
    return None


# Header lines such as "日期:2026-03-09" / "来源：江苏省工信厅", whose markup varies from site
# to site. A label must not follow another Chinese character: 日期 but not 成文日期/生成日期,
# 时间 but not 更新时间.
_LABELLED_DATE = re.compile(r"(?<![\u4e00-\u9fa5])(?:发布日期|发布时间|公开日期|日期|时间)\s*[:：]\s*(.{0,30})")
_LABELLED_ISSUER = re.compile(r"(?<![\u4e00-\u9fa5])(?:来源|发布机构|发文机关)\s*[:：]\s*([^\s|｜【\[(（]*)")


def _labelled(strings: list[str], pattern: re.Pattern):
    """The value after each label match; a bare label takes the next string."""
    for i, text in enumerate(strings):
        for m in pattern.finditer(text):
            yield m.group(1).strip() or (strings[i + 1] if i + 1 < len(strings) else "")


def labelled_date(strings: list[str]) -> str | None:
    """The first date written after a 日期/时间 label in a list of text strings."""
    return next((d for d in map(parse_datetime, _labelled(strings, _LABELLED_DATE)) if d), None)


def labelled_issuer(strings: list[str]) -> str | None:
    """The first name written after a 来源/发布机构/发文机关 label."""
    for value in _labelled(strings, _LABELLED_ISSUER):
        value = re.split(r"[\s|｜【\[(（]", value, maxsplit=1)[0]
        if len(value) >= 2:
            return value
    return None


def absolute(base: str, href: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith(("javascript:", "mailto:", "#", "data:")):
        return None
    return urljoin(base, href)


def text_of(el: Tag | None) -> str:
    """Readable text of an element: one line per block, furniture removed."""
    if el is None:
        return ""
    parts: list[str] = []

    def walk(node) -> None:
        for child in node.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, NavigableString):
                parts.append(str(child))
            elif isinstance(child, Tag):
                if child.name in FURNITURE_TAGS:
                    continue
                block = child.name in BLOCK_TAGS
                if block:
                    parts.append("\n")
                walk(child)
                if block:
                    parts.append("\n")

    walk(el)
    lines = []
    for line in "".join(parts).split("\n"):
        line = clean(line)
        if line:
            lines.append(line)
    return "\n".join(lines)


def select_first(soup: Tag, selectors) -> Tag | None:
    """First element matching any selector in order (a string may hold several, comma-free)."""
    if isinstance(selectors, str):
        selectors = [selectors]
    for sel in selectors:
        try:
            el = soup.select_one(sel)
        except Exception:  # an invalid selector from config is treated as no match
            el = None
        if el is not None and text_of(el):
            return el
    return None


def largest_text_block(soup: Tag) -> Tag | None:
    """Fallback body: the element with the most direct paragraph text.

    Scores each container by the text of its own paragraph-like children so the
    page wrapper (which contains everything) does not win over the article.
    """
    best, best_score = None, 0
    for el in soup.find_all(["div", "td", "article", "section"]):
        score = 0
        for child in el.find_all(["p", "span", "font"], recursive=False) or []:
            score += len(clean(child.get_text()))
        own = "".join(str(s) for s in el.find_all(string=True, recursive=False))
        score += len(clean(own))
        if score > best_score:
            best, best_score = el, score
    return best


def attachment_name_from_url(url: str) -> str:
    qs = parse_qs(urlsplit(url).query)
    for key in ("fileName", "filename", "name"):
        if qs.get(key):
            return qs[key][0]
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def is_attachment_url(url: str) -> bool:
    path = urlsplit(url).path
    return bool(ATTACHMENT_EXT.search(path) or "/cms_files/filemanager/" in path
                or "filename=" in url.lower())


def attachments(root: Tag | None, base: str) -> list[Attachment]:
    """Links in root that point at files; names from title, then text, then the URL."""
    if root is None:
        return []
    out: list[Attachment] = []
    seen: set[str] = set()
    # a selector may name the link itself (a.nfw-cms-attachment), not a container
    links = [root] if root.name == "a" and root.get("href") else root.find_all("a", href=True)
    for a in links:
        url = absolute(base, a["href"])
        if not url or not is_attachment_url(url) or url in seen:
            continue
        seen.add(url)
        name = clean(a.get("title")) or clean(a.get_text()) or attachment_name_from_url(url)
        name = re.sub(r"^附件\s*\d*\s*[:：]\s*", "", name) or attachment_name_from_url(url)
        out.append(Attachment(name=name, url=url))
    return out


# Labels of metadata tables. Cells holding exactly one of these are labels even without a
# colon (SAMR's li.Three_xilan01_02 "文　　号"), provided the next cell has the value.
KNOWN_LABELS = frozenset({
    "索引号", "主题分类", "发文机关", "发文字号", "文号", "成文日期", "发布日期", "标题", "所属机构", "文件编号",
    "发布机构", "生成日期", "有效性", "来源", "发文单位", "发布单位", "印发日期", "签发日期", "公开日期",
    "发布时间", "主题词", "组配分类", "体裁分类", "实施日期", "废止日期", "信息来源", "文件名称",
})


def labelled_values(root: Tag | None) -> dict[str, str]:
    """Label/value pairs of a metadata table: '发文字号：' -> value.

    Handles <td>label：</td><td>value</td>, <li>label</li><li>value</li> and
    'label：value' inside one cell; labels lose full-width padding and colons. A
    cell without a colon is a label only when it is a th/dt/b/strong, has a
    "label" class, or its text is one of KNOWN_LABELS followed by a value cell.
    """
    if root is None:
        return {}
    out: dict[str, str] = {}
    cells = root.find_all(["td", "th", "li", "span", "dt", "dd", "b", "strong"])
    for i, cell in enumerate(cells):
        if cell.find(["td", "li"]):
            continue
        raw = clean(cell.get_text())
        pair = re.match(r"^([\u4e00-\u9fa5\s\u3000]{2,8})[:：]\s*(.+)$", raw)
        if pair:
            out.setdefault(re.sub(r"[\s\u3000]", "", pair.group(1)), pair.group(2).strip())
            continue
        label = re.sub(r"[\s\u3000:：]", "", raw)
        if not label or len(label) > 8:
            continue
        value = None
        if raw.endswith((":", "：")) or cell.name in ("th", "dt", "b", "strong") or "label" in " ".join(cell.get("class", [])):
            value = _next_value_cell(cell, cells, i)
        elif label in KNOWN_LABELS:
            value = _sibling_text(cell)
        if value:
            out.setdefault(label, value)
    return out


def _sibling_text(cell: Tag) -> str | None:
    sib = cell.find_next_sibling()
    return (clean(sib.get_text()) or None) if sib is not None else None


def _next_value_cell(cell: Tag, cells: list[Tag], i: int) -> str | None:
    value = _sibling_text(cell)
    if value:
        return value
    if cell.parent is not None and cell.parent.name in ("b", "strong", "span"):
        return None
    if i + 1 < len(cells):
        return clean(cells[i + 1].get_text()) or None
    return None
