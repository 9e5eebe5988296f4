"""Turn response bytes into text without trusting httpx's guess.

httpx assumes UTF-8 when the Content-Type has no charset, and many Chinese
government pages are GBK declared only in a <meta> tag (or not at all), so we
decode the bytes ourselves, in this order:

1. the charset in the Content-Type header,
2. a byte-order mark,
3. <meta charset> / http-equiv (or an XML declaration) in the first 4 KB,
4. detection (charset-normalizer),
5. UTF-8 with replacement characters.

A declared charset is used only if the bytes really decode with it: servers
often send nginx's default `charset=utf-8` in front of a GBK page. If no
declaration fits and detection finds nothing, the first declaration is used
with replacement characters, so a single bad byte does not change the codec.

GB2312 and GBK are decoded as GB18030, their superset: pages labelled gb2312
routinely contain characters outside it.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

SNIFF_BYTES = 4096
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "x-gbk", "csgb2312", "gb_2312-80", "chinese", "euc-cn"}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
# <meta charset="gbk"> and <meta http-equiv="Content-Type" content="text/html; charset=gbk">
_META_CHARSET = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_XML_ENCODING = re.compile(rb"^\s*<\?xml\b[^>]*?encoding\s*=\s*[\"']([\w.:-]+)", re.I)


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # Python codec name actually used, e.g. "utf-8", "gb18030"
    source: str  # where it came from: header, bom, meta, detected, utf-8-sig, fallback, empty


def codec_name(label: str | None) -> str | None:
    """A charset label as a Python codec name, or None if Python does not know it."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _GB_FAMILY:
        return "gb18030"
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return "gb18030" if name in _GB_FAMILY else name


def header_charset(content_type: str | None) -> str | None:
    m = _HEADER_CHARSET.search(content_type or "")
    return codec_name(m.group(1)) if m else None


def bom_charset(content: bytes) -> str | None:
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name
    return None


def meta_charset(content: bytes) -> str | None:
    head = content[:SNIFF_BYTES]
    m = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    return codec_name(m.group(1).decode("ascii", "replace")) if m else None


def is_json_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def decode(content: bytes, content_type: str | None = None) -> Decoded:
    """Decode a response body. JSON media types skip the <meta> sniffing, so JSON is
    read as the header charset, else UTF-8 with or without BOM (utf-8-sig)."""
    if not content:
        return Decoded("", header_charset(content_type) or "utf-8", "empty")
    declared: list[tuple[str, str]] = []
    for source, name in (("header", header_charset(content_type)), ("bom", bom_charset(content)),
                         ("meta", None if is_json_type(content_type) else meta_charset(content))):
        if name and all(name != d for _, d in declared):
            declared.append((source, name))
    for source, name in declared:
        text = _strict(content, name)
        if text is not None:
            return Decoded(text, name, source)
    guessed = _detect(content)
    if guessed:
        return guessed
    source, name = declared[0] if declared else ("fallback", "utf-8")
    return Decoded(_strip_bom(content.decode(name, errors="replace")), name, source)


def _strict(content: bytes, name: str) -> str | None:
    try:
        return _strip_bom(content.decode(name))
    except (UnicodeDecodeError, LookupError):
        return None


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def _detect(content: bytes) -> Decoded | None:
    # Valid UTF-8 with non-ASCII bytes is almost never anything else; checking it
    # first is cheap and avoids detector noise on short pages.
    text = _strict(content, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", "detected")
    best = from_bytes(content).best()
    name = codec_name(best.encoding) if best else None
    if not name:
        return None
    text = _strict(content, name)
    return Decoded(text, name, "detected") if text is not None else None
