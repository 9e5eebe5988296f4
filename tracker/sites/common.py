"""Detail-page reading shared by every family.

`read_detail` applies the rules the issue asks of all adapters: the family's
known selectors first, then the ArticleTitle/PubDate/ContentSource metas, then
the largest text container when no body selector matches; the visible date is
preferred over the meta date but both are kept; 文号 from a metadata table or
the first lines of the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import extract as ex
from ..errors import ParseError
from ..model import Attachment, Detail

TITLE_SUFFIX = re.compile(r"\s*[_|\-–—]\s*[^_|\-–—]{2,30}$")
DOC_NUMBER_LABELS = ("文号", "发文字号", "文件编号", "发文号", "文件号")
ISSUER_LABELS = ("发文机关", "发布机构", "发文单位", "所属机构", "发布单位", "来源")
SIGNED_LABELS = ("成文日期", "签发日期", "生成日期", "印发日期")
PUBLISHED_LABELS = ("发布日期", "发布时间", "公开日期")


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
    attachments: list[str] = field(default_factory=list)  # extra containers holding attachment links

    def overridden(self, selectors: dict[str, str]) -> "DetailRules":
        """Rules with a source's [sources.detail] selectors tried first."""
        mapping = {"title": "title", "content": "body", "date": "date", "issuer": "issuer",
                   "doc_number": "doc_number", "attachments": "attachments"}
        rules = DetailRules(**{k: list(v) for k, v in self.__dict__.items()})
        for key, attr in mapping.items():
            if selectors.get(key):
                setattr(rules, attr, [selectors[key]] + getattr(rules, attr))
        return rules


def read_detail(html: str, url: str, rules: DetailRules, *, article_id: str | None = None) -> Detail:
    soup = ex.parse_html(html)
    meta = ex.metas(soup)
    info = {}
    for sel in rules.info_table:
        info.update(ex.labelled_values(soup.select_one(sel)))
    body_el = ex.select_first(soup, rules.body)
    if body_el is None:
        body_el = ex.largest_text_block(soup)
    body = ex.text_of(body_el)
    title = _title(soup, meta, rules, info)
    if not title and not body:
        raise ParseError(f"no title and no text found on {url}", url=url)
    visible = _first_text(soup, rules.date)
    published_visible = ex.parse_datetime(visible) if visible else None
    published_meta = ex.parse_datetime(meta.get("pubdate") or meta.get("firstpublishedtime")
                                       or meta.get("publishdate"))
    published_table = ex.parse_datetime(_label(info, PUBLISHED_LABELS))
    published = published_visible or published_table or published_meta or ex.date_from_url(url)
    doc_number = (_first_doc_number(soup, rules.doc_number) or ex.find_doc_number(_label(info, DOC_NUMBER_LABELS))
                  or _doc_number_in_head(body, title))
    issuer = (_strip_label(_first_text(soup, rules.issuer)) or _label(info, ISSUER_LABELS)
              or meta.get("contentsource") or None)
    files = ex.attachments(body_el, url)
    for sel in rules.attachments:
        for el in soup.select(sel):
            files += [a for a in ex.attachments(el, url) if a not in files]
    return Detail(
        url=url,
        title=title,
        body=body,
        published=published,
        published_meta=published_meta,
        signed=ex.parse_date(_label(info, SIGNED_LABELS)),
        modified=ex.parse_datetime(meta.get("lastmodifiedtime")),
        doc_number=doc_number,
        issuer=issuer,
        attachments=_unique(files),
        article_id=article_id,
        meta={k: v for k, v in meta.items() if k in KEPT_METAS},
    )


KEPT_METAS = {"articletitle", "pubdate", "contentsource", "columnname", "siteidcode", "maketime",
              "firstpublishedtime", "lastmodifiedtime", "manuscriptid", "keywords"}


def _title(soup, meta, rules: DetailRules, info: dict) -> str:
    text = _first_text(soup, rules.title)
    if text:
        return text
    if meta.get("articletitle"):
        return ex.clean(meta["articletitle"])
    if info.get("标题"):
        return info["标题"]
    if soup.title and soup.title.string:
        return TITLE_SUFFIX.sub("", ex.clean(soup.title.string))
    return ""


def _first_text(soup, selectors: list[str]) -> str | None:
    el = ex.select_first(soup, selectors)
    return ex.clean(el.get_text(" ")) if el is not None else None


def _first_doc_number(soup, selectors: list[str]) -> str | None:
    text = _first_text(soup, selectors)
    return ex.find_doc_number(text) if text else None


def _label(info: dict[str, str], labels) -> str | None:
    for label in labels:
        if info.get(label):
            return info[label]
    return None


def _strip_label(text: str | None) -> str | None:
    if not text:
        return None
    text = re.sub(r"^.*?(来源|发布机构|发文机关)\s*[:：]\s*", "", text)
    return ex.clean(text) or None


def _doc_number_in_head(body: str, title: str) -> str | None:
    """文号 on one of the first lines of the body (how most notices print it)."""
    for line in body.splitlines()[:6]:
        if len(line) <= 40:
            found = ex.find_doc_number(line)
            if found:
                return found
    return ex.find_doc_number(title)


def _unique(files: list[Attachment]) -> list[Attachment]:
    seen, out = set(), []
    for f in files:
        if f.url not in seen:
            seen.add(f.url)
            out.append(f)
    return out
