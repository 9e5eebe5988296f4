"""Tell a usable page from a block, a disguised 404 or an HTTP error.

A response that is blocked or a soft 404 must never become a version or an
event, so every response the Fetcher reads passes through `diagnose` before an
adapter sees it. Signatures come from sites.md §8: Ruishu (瑞数) and Jiasule
(加速乐) JavaScript challenges, generic interstitials, and the "page not found"
pages Chinese CMSs serve with status 200 or by redirecting to the home page.

Interstitial keywords such as 验证码 also appear in real notices, so they only
count on short pages: the amount of visible text decides, not the byte size
(challenge pages carry large scripts but say little).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .decode import is_json_type

SMALL_PAGE_BYTES = 20 * 1024  # challenge stubs are ~3-10 KB; a 200 page above this is not a stub
INTERSTITIAL_MAX_TEXT = 600  # visible characters; a real notice page with navigation has more
JSL_TINY_SCRIPT_BYTES = 4096
SHORT_TITLE = 30  # characters
GONE = (404, 410)

_RUISHU_MARK = re.compile(r"\$_ts\b|<(?:script|meta)\b[^>]*\br\s*=\s*['\"]m['\"]", re.I)
_JSL_CLEARANCE = re.compile(r"__jsl_clearance|\bgo\(\{[^}]*\"(?:bts|chars|tn)\"", re.I)
_JSL_COOKIE_SCRIPT = re.compile(r"document\.cookie\s*=.*?location\.href\s*=", re.I | re.S)
_INTERSTITIAL = re.compile(
    r"访问频繁|访问过于频繁|请求过于频繁|安全验证|人机验证|验证码|环境异常|请求被拒绝|访问被拒绝|"
    r"Access Denied|Request Blocked|Too Many Requests", re.I)
_NOT_FOUND_TITLE = re.compile(
    r"页面不存在|页面已删除|页面已被删除|访问受限|页面未找到|找不到(?:该|您要访问的|您访问的)?页面|"
    r"信息不存在|信息已删除|文章不存在|not found|\b40[34]\b|\b404\s*(?:错误|页面|error)", re.I)
_ERROR_PATH = re.compile(r"(?:^|/)(?:40[34]|50\d|error|errors|notfound|not[-_]found)(?:[./_-][^/]*)?$", re.I)
_ROOT_PATHS = {"", "/", "/index.html", "/index.htm", "/index.shtml", "/index.jsp", "/index.php",
               "/default.html", "/default.htm"}
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_INVISIBLE = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Verdict:
    outcome: str  # an errors.OUTCOMES value other than ok
    reason: str  # for people: why, in a few words


def classify(status: int, headers: dict[str, str], body_bytes: bytes, text: str, final_url: str,
             requested_url: str, history: list[str]) -> str | None:
    """The outcome class of a response ("blocked", "soft_404", "http_error"), None if usable."""
    verdict = diagnose(status, headers, body_bytes, text, final_url, requested_url, history)
    return verdict.outcome if verdict else None


def diagnose(status: int, headers: dict[str, str], body_bytes: bytes, text: str, final_url: str,
             requested_url: str, history: list[str]) -> Verdict | None:
    """Like `classify`, with the reason. Order matters: a challenge answered with 412 or
    521 is a block, not an HTTP error; a real 404/410 stays an HTTP error (withdrawal
    detection relies on the status)."""
    size = len(body_bytes)
    challenge = _challenge(status, headers, text, size)
    if challenge:
        return Verdict("blocked", challenge)
    page = not is_json_type(_header(headers, "content-type"))  # JSON data may quote any phrase
    if page and status not in GONE:
        interstitial = _interstitial(text)
        if interstitial:
            return Verdict("blocked", interstitial)
    if status >= 300:
        return Verdict("http_error", f"HTTP {status}")
    soft = _soft_404(text if page else "", final_url, requested_url, history)
    if soft:
        return Verdict("soft_404", soft)
    return None


def _challenge(status: int, headers: dict[str, str], text: str, size: int) -> str | None:
    small = size < SMALL_PAGE_BYTES
    if (status in (412, 202) or (200 <= status < 300 and small)) and _RUISHU_MARK.search(text):
        return f"Ruishu (瑞数) JavaScript challenge, HTTP {status}"
    cookies = _header(headers, "set-cookie")
    if (status == 521 or small) and _JSL_CLEARANCE.search(text):
        return f"Jiasule (加速乐) clearance challenge, HTTP {status}"
    if size < JSL_TINY_SCRIPT_BYTES and _JSL_COOKIE_SCRIPT.search(text) and (status == 521 or "__jsl" in cookies):
        return f"Jiasule (加速乐) cookie script, HTTP {status}"
    if status == 521 and ("__jsluid" in cookies or size < JSL_TINY_SCRIPT_BYTES and "document.cookie" in text):
        return "Jiasule (加速乐) challenge, HTTP 521"
    return None


def _interstitial(text: str) -> str | None:
    if not _INTERSTITIAL.search(text):  # cheap test first: most pages never get past here
        return None
    visible = visible_text(text)
    if len(visible) > INTERSTITIAL_MAX_TEXT:
        return None
    m = _INTERSTITIAL.search(title_of(text)) or _INTERSTITIAL.search(visible)
    return f"interstitial page ({m.group(0)})" if m else None


def _soft_404(text: str, final_url: str, requested_url: str, history: list[str]) -> str | None:
    if history:
        asked, landed = urlsplit(requested_url).path, urlsplit(final_url).path
        if landed in _ROOT_PATHS and asked not in _ROOT_PATHS:
            return "redirect landed on the site root"
        if _ERROR_PATH.search(landed) and not _ERROR_PATH.search(asked):
            return "redirect landed on an error page"
    title = title_of(text)
    m = _NOT_FOUND_TITLE.search(title)
    # a long title is a document's own ("关于……访问受限……的通知") unless it starts with the phrase
    if m and (len(title) <= SHORT_TITLE or not title[: m.start()].strip(" \t-_|·:：,，!！")):
        return f"'not found' page (title {title!r})"
    return None


def title_of(text: str) -> str:
    m = _TITLE.search(text[:65536])
    return _SPACE.sub(" ", m.group(1)).strip() if m else ""


def visible_text(text: str) -> str:
    """Text a reader would see, whitespace collapsed: enough to judge 'short page'."""
    return _SPACE.sub(" ", _TAG.sub(" ", _INVISIBLE.sub(" ", text))).strip()


def _header(headers: dict[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""
