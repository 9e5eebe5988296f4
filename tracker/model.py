"""Records that flow through the tracker: list entries, document details, attachments.

Every site adapter returns these shapes, whatever the CMS, so `poll` never needs
to know which family a source belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attachment:
    name: str
    url: str  # absolute


@dataclass
class Entry:
    """One row of a list page (or of a list API)."""

    url: str  # absolute
    title: str
    list_date: str | None = None  # YYYY-MM-DD, Beijing time
    # Fields some list APIs already carry (gkmlpt, gov.cn search, MIIT search):
    # the poll prefers the detail page but falls back on these.
    doc_number: str | None = None
    issuer: str | None = None
    published: str | None = None  # ISO 8601 with +08:00, or YYYY-MM-DD
    modified: str | None = None  # a revision signal when the API gives one
    attachments: list[Attachment] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


@dataclass
class Detail:
    """What a detail page says about one document."""

    url: str  # the final URL after redirects
    title: str
    body: str  # plain text, one paragraph per line
    published: str | None = None  # visible date preferred; ISO 8601 (+08:00) or YYYY-MM-DD
    published_meta: str | None = None  # PubDate/firstpublishedtime meta, kept beside the visible one
    signed: str | None = None  # 成文日期
    modified: str | None = None  # lastmodifiedtime meta
    doc_number: str | None = None  # 文号
    issuer: str | None = None  # 发文机关 / 来源
    attachments: list[Attachment] = field(default_factory=list)
    article_id: str | None = None  # the site's own id when the page carries one
    meta: dict = field(default_factory=dict)
