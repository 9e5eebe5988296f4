"""Normal forms: the text whose hash decides "changed", titles, URLs and document identity.

Only a difference in `normalize_text` output counts as a change, and the diff is
computed from the same text, so a re-rendered page (other whitespace, full-width
digits, a view counter that ticked) never produces an empty "revised" event.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import unquote, urlsplit, urlunsplit

# Zero-width space/joiners, word joiner and BOM: invisible, but editors and CMSes sprinkle them.
_ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")
_SPACES = re.compile(r"\s+")  # str patterns match Unicode spaces, U+3000 included

# A view counter carries a number that changes on every visit, even inside a line
# that holds real metadata ("发布时间：2026-03-09 浏览次数：123"). The colon is
# required so a sentence such as "点击量100万次" in a body is left alone.
_COUNTER = re.compile(r"(?:浏览|阅读|访问|点击)(?:次数|量|数)\s*[:：]\s*\d+\s*次?")

# Lines that are nothing but page furniture. Separators and brackets are removed
# first, then the rest must be made only of these words.
_FURNITURE_SEPARATORS = re.compile(r"[\s【】\[\]()（）〔〕|｜丨/\\·•:：,，、>》<《-]+")
_FURNITURE_WORD = (
    r"(?:浏览|阅读|访问|点击)(?:次数|量|数)\d*次?"
    r"|字[体号](?:[大中小]|默认|放大|缩小)*"
    r"|打印(?:本页|此页|文章|页面)?|关闭(?:窗口|本页|页面)?|收藏(?:本页)?|返回顶部|返回|顶部"
    r"|分享(?:到|至)?(?:微信(?:好友|朋友圈)?|朋友圈|新浪微博|腾讯微博|微博|qq空间|qq|人人网|豆瓣)*"
    r"|(?:微信|手机)?扫一扫(?:在手机上?(?:打开|查看|浏览)当前页面?)?"
)
_FURNITURE_LINE = re.compile(rf"(?:{_FURNITURE_WORD})+", re.I)
# Previous/next-article navigation under the body: the linked titles change when
# neighbours are published, so the whole line goes.
_NAVIGATION_LINE = re.compile(r"^(?:上一篇|下一篇|上一条|下一条|上篇|下篇)\s*[:：]?")


def normalize_text(text: str) -> str:
    """Document text in its comparable form: one paragraph per line, no furniture."""
    if not text:
        return ""
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text))
    lines = []
    for raw in text.splitlines():
        line = _SPACES.sub(" ", raw).strip()
        if not line or _is_furniture(line):
            continue
        line = _SPACES.sub(" ", _COUNTER.sub("", line)).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def _is_furniture(line: str) -> bool:
    if _NAVIGATION_LINE.match(line):
        return True
    rest = _FURNITURE_SEPARATORS.sub("", line)
    return bool(rest) and _FURNITURE_LINE.fullmatch(rest) is not None


def normalize_title(text: str) -> str:
    """Titles carry raw line breaks and full-width spaces: one line, single spaces."""
    if not text:
        return ""
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text))
    return _SPACES.sub(" ", text).strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Parameters that only say where a visitor came from; they never select a document.
_TRACKING_PARAMS = {"spm", "from", "isappinstalled", "share_token", "_t", "timestamp"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")


def _host_port(parts) -> tuple[str, int | None]:
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a garbage port: keep it out of the key rather than crash
        port = None
    return host, port


def _netloc(parts, scheme: str, *, strip_www: bool = False) -> str:
    host, port = _host_port(parts)
    if strip_www and host.startswith("www."):
        host = host[4:]
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return host


def _is_tracking(param: str) -> bool:
    key = unquote(param.split("=", 1)[0]).strip().lower()
    return key.startswith("utm_") or key in _TRACKING_PARAMS


def _clean_query(query: str) -> str:
    # Raw pieces are kept as they are (servers can be picky about + and %20);
    # only the percent-escape case is unified so %e4 and %E4 compare equal.
    pieces = [_PERCENT.sub(lambda m: m.group(0).upper(), p) for p in query.split("&") if p]
    return "&".join(sorted(p for p in pieces if not _is_tracking(p)))


def _clean_path(path: str) -> str:
    path = re.sub(r"/{2,}", "/", path)
    return _PERCENT.sub(lambda m: m.group(0).upper(), path) or "/"


def canonical_url(url: str) -> str:
    """The URL with noise removed: case, default port, fragment, tracking parameters, // in the path."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    netloc = _netloc(parts, scheme)
    if parts.username or parts.password:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    return urlunsplit((scheme, netloc, _clean_path(parts.path), _clean_query(parts.query), ""))


# The site's own article id, per CMS family (sites.md §2). Order matters: the
# Hanweb shape must be tried before the generic JPaaS one.
_ARTICLE_IDS: list[tuple[re.Pattern, str]] = [
    # Hanweb jcms /art/2026/3/9/art_6278_11739347.html: the column id varies, the article id does not
    (re.compile(r"/art/\d{4}/\d{1,2}/\d{1,2}/art_\d+_(\d+)\.s?html?$", re.I), "art_{0}"),
    # Hanweb JPaaS /art/2026/art_<32 hex>.html (also a dashed uuid on some Zhejiang sites)
    (re.compile(r"/art/\d{4}/art_([0-9a-f]{32}|[0-9a-f-]{36})\.s?html?$", re.I), "art_{0}"),
    # TRS WCM ./202605/t20260513_4649243.html
    (re.compile(r"/t(\d{8})_(\d+)\.s?html?$", re.I), "t{0}_{1}"),
    # NFCMS / gkmlpt content/post_4908393.html and the mobile mpost_ twin
    (re.compile(r"/m?post_(\d+)\.s?html?$", re.I), "post_{0}"),
    # gov.cn /zhengce/zhengceku/202601/content_7054201.htm
    (re.compile(r"/content_(\d+)\.s?html?$", re.I), "content_{0}"),
    # sheitc /cyfz/20260717/<32 hex>.html
    (re.compile(r"/\d{8}/([0-9a-f]{32})\.s?html?$", re.I), "{0}"),
]


def article_id_from_url(url: str) -> str | None:
    path = re.sub(r"/{2,}", "/", urlsplit(url.strip()).path)
    for pattern, template in _ARTICLE_IDS:
        m = pattern.search(path)
        if m:
            return template.format(*(g.lower() for g in m.groups()))
    return None


def document_key(url: str, article_id: str | None = None) -> str:
    """Identity of a document: host (no www., no default port) + the site's article id.

    The id in the URL wins over the page's own `article_id` because the poll
    computes the key from the list entry's URL before it reads any page; the
    page's id is used only when the URL shape is not a known one. Without any id
    the key is the canonical URL minus its scheme, so http/https copies collide.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = _netloc(parts, scheme, strip_www=True)
    found = article_id_from_url(url) or (article_id.strip() if article_id and article_id.strip() else None)
    if found:
        return f"{host}/{found}"
    rest = _clean_path(parts.path)
    query = _clean_query(parts.query)
    return f"{host}{rest}" + (f"?{query}" if query else "")
