"""Which configured topics a document belongs to, and why.

Follow-up documents cite their parent policy in many typographic variants:
《“人工智能+制造”专项行动实施意见》, 「人工智能 + 制造」, 工信部联科[2025]279号,
工信部联科（2025）279号. Both the document and the configured strings are
brought to one matching form before a plain substring test.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from .config import Topic

# After NFKC: straight and curly quotes, corner brackets, guillemets and the
# book-title marks, which citations add or omit at will.
_QUOTES = re.compile("[\"'“”‘’„‟‚‛「」『』«»‹›《》〈〉〝〞〟]")
_OPEN = str.maketrans({c: "(" for c in "〔[【(［（〖﹝⦅"} | {c: ")" for c in "〕]】)］）〗﹞⦆"})
# Dashes and minus signs in year ranges (2026—2027, 2026-2027).
_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−﹣－"})
_SPACE = re.compile(r"\s+")
_ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")


@dataclass
class TopicMatch:
    topic: str
    reasons: list[str] = field(default_factory=list)


def match_text(text: str) -> str:
    """The form both sides are compared in: width-folded, no quotes, one bracket pair, no spaces, lower case."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = _QUOTES.sub("", text).translate(_OPEN).translate(_DASHES)
    return _SPACE.sub("", _ZERO_WIDTH.sub("", text)).lower()


def _found(needles: Iterable[str], haystack: str) -> list[str]:
    """The configured strings (as written) whose matching form occurs in haystack."""
    out: list[str] = []
    for needle in needles:
        key = match_text(needle)
        # A needle made only of quotes/spaces would match everything: ignore it.
        if key and key in haystack and needle not in out:
            out.append(needle)
    return out


def match_topics(topics: Iterable[Topic], title: str, body: str) -> list[TopicMatch]:
    """Topics (in config order) that the document matches, each with every reason found."""
    t = match_text(title)
    b = match_text(body)
    matches: list[TopicMatch] = []
    for topic in topics:
        if _found(topic.exclude, t):
            continue
        reasons = [f"cites {c}" for c in _found(topic.cites, t + "\n" + b)]
        reasons += [f"title keyword {k}" for k in _found(topic.keywords, t)]
        reasons += [f"body keyword {k}" for k in _found(topic.keywords, b)]
        if reasons:
            matches.append(TopicMatch(topic.id, list(dict.fromkeys(reasons))))
    return matches


def explain(matches: list[TopicMatch]) -> str:
    """One line for people: 'ai-manufacturing: cites …; title keyword …' (topics joined by ' | ')."""
    if not matches:
        return "no topic matched"
    return " | ".join(f"{m.topic}: {'; '.join(m.reasons)}" for m in matches)
