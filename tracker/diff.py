"""What changed between two versions of a document, for people (HTML, terminal) and machines (ops).

Chinese has no spaces, so word diffs mark a whole paragraph for a one-character
edit. Here paragraphs (lines of the normalised text) are aligned first, and only
inside a pair of replaced paragraphs are characters compared, so a changed date
shows as that date with a little context on each side. Long inputs are bounded:
common prefixes/suffixes are cut before any quadratic work, over-large middles
fall back to sentence, then clause units, and beyond that to a whole deletion +
insertion (a paragraph with no punctuation at all).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from .model import Attachment
from .normalize import canonical_url

MINUS = "\u2212"  # the real minus sign, not a hyphen
ELLIPSIS = "…"
DISSIMILAR = 0.3  # below this character ratio a replaced pair is shown whole
PAIR_CANDIDATE = 0.2  # bigram similarity needed to try pairing two paragraphs
MAX_SHOWN = 400  # characters of one added/removed piece shown before "…"
CHAR_CAP = 4_000_000  # len(a) * len(b) allowed for one character-level SequenceMatcher
PAIR_CAP = 2500  # paragraph pairs scored in one replaced block before falling back to position
LINE_CAP = 25_000_000  # len(a) * len(b) of line lists before difflib's junk heuristic is allowed
# Units tried, coarsest first, when a paragraph pair is too long for characters.
_UNITS = [
    re.compile(r"[^。！？；!?;]*[。！？；!?;]+|[^。！？；!?;]+"),  # sentences
    re.compile(r"[^，、：,:]*[，、：,:]+|[^，、：,:]+"),  # clauses
]


@dataclass
class TextDiff:
    summary: str
    html: str
    text: str
    paragraphs_changed: int
    added: int  # characters inside the insertions shown (counted before truncation)
    removed: int  # characters inside the deletions shown (counted before truncation)
    # JSON-serialisable, in document order. Each op is one of
    #   {"op": "change", "old_line": i, "new_line": j, "added": n, "removed": m,
    #    "parts": [["=", text] | ["-", text] | ["+", text] | ["…", hidden_char_count], ...]}
    #   {"op": "add", "new_line": j, "text": text, "chars": n, "truncated": bool}
    #   {"op": "remove", "old_line": i, "text": text, "chars": n, "truncated": bool}
    # Line numbers are 1-based positions in the old/new text.
    ops: list = field(default_factory=list)


# -- character level ------------------------------------------------------------------------

Part = tuple[str, str]  # ("=" | "-" | "+", text)


def _common_prefix(a: Sequence, b: Sequence) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _common_suffix(a: Sequence, b: Sequence, limit: int) -> int:
    i = 0
    while i < limit and a[-1 - i] == b[-1 - i]:
        i += 1
    return i


def _sm_parts(a, b, join) -> list[tuple[str, object, object]]:
    sm = SequenceMatcher(None, a, b, autojunk=False)
    return [(tag, join(a[i1:i2]), join(b[j1:j2])) for tag, i1, i2, j1, j2 in sm.get_opcodes()]


def _char_parts(a: str, b: str, level: int = 0) -> list[Part]:
    """Minimal-ish edit of a into b as parts; bounded in time whatever the input."""
    p = _common_prefix(a, b)
    s = _common_suffix(a, b, min(len(a), len(b)) - p)
    am, bm = a[p:len(a) - s], b[p:len(b) - s]
    parts: list[Part] = [("=", a[:p])]
    if not am or not bm:
        parts += [("-", am), ("+", bm)]
    elif len(am) * len(bm) <= CHAR_CAP:
        parts += _opcode_parts(_sm_parts(am, bm, "".join))
    elif level < len(_UNITS):
        parts += _unit_parts(am, bm, level)
    else:  # no punctuation to cut at: give up on detail rather than on time
        parts += [("-", am), ("+", bm)]
    parts.append(("=", a[len(a) - s:] if s else ""))
    return [x for x in parts if x[1]]


def _opcode_parts(opcodes) -> list[Part]:
    out: list[Part] = []
    for tag, x, y in opcodes:
        if tag == "equal":
            out.append(("=", x))
        else:
            out += [("-", x), ("+", y)]
    return out


def _unit_parts(a: str, b: str, level: int) -> list[Part]:
    """Too long for characters: align sentences (then clauses), and characters inside replaced units."""
    out: list[Part] = []
    units = _UNITS[level]
    for tag, x, y in _sm_parts(units.findall(a), units.findall(b), "".join):
        if tag == "equal":
            out.append(("=", x))
        elif tag == "replace":
            out += _char_parts(x, y, level + 1)
        else:
            out += [("-", x), ("+", y)]
    return out


def _groups(parts: list[Part]) -> list[list[str]]:
    """Alternating ["=", text] and ["~", deleted, inserted] groups."""
    groups: list[list[str]] = []
    for tag, text in parts:
        if not text:
            continue
        if tag == "=":
            if groups and groups[-1][0] == "=":
                groups[-1][1] += text
            else:
                groups.append(["=", text])
            continue
        if not groups or groups[-1][0] != "~":
            groups.append(["~", "", ""])
        groups[-1][1 if tag == "-" else 2] += text
    return groups


def _absorb_short_equalities(groups: list[list[str]]) -> list[list[str]]:
    # Two unrelated phrases often share a stray 的 or 化; showing that one
    # character as unchanged cuts the edit into confetti. Same rule as
    # diff-match-patch's semantic cleanup: an equality no longer than the edits
    # on both sides of it becomes part of one edit.
    i = 1
    while i < len(groups) - 1:
        prev, eq, nxt = groups[i - 1], groups[i], groups[i + 1]
        if eq[0] == "=" and prev[0] == "~" and nxt[0] == "~":
            size = len(eq[1])
            if size <= max(len(prev[1]), len(prev[2])) and size <= max(len(nxt[1]), len(nxt[2])):
                groups[i - 1:i + 2] = [["~", prev[1] + eq[1] + nxt[1], prev[2] + eq[1] + nxt[2]]]
                i = max(i - 2, 1)  # the grown edit may now swallow the equality before it
                continue
        i += 1
    return groups


def _ratio(parts: list[Part], a: str, b: str) -> float:
    total = len(a) + len(b)
    same = sum(len(t) for tag, t in parts if tag == "=")
    return 2 * same / total if total else 1.0


# -- paragraph alignment --------------------------------------------------------------------


def _bigrams(line: str) -> Counter:
    padded = f"\x00{line}\x00"  # so one-character paragraphs still have features
    return Counter(padded[i:i + 2] for i in range(len(padded) - 1))


def _pairs(old: list[str], new: list[str], i0: int, j0: int) -> list[tuple[int | None, int | None]]:
    """Align a replaced block: (i, j) pairs, (i, None) removals, (None, j) additions, in order."""
    if len(old) * len(new) > PAIR_CAP:
        n = min(len(old), len(new))
        return ([(i0 + k, j0 + k) for k in range(n)] + [(i0 + k, None) for k in range(n, len(old))]
                + [(None, j0 + k) for k in range(n, len(new))])
    grams_a = [_bigrams(x) for x in old]
    grams_b = [_bigrams(x) for x in new]
    sizes_a = [sum(g.values()) for g in grams_a]
    sizes_b = [sum(g.values()) for g in grams_b]
    cache: dict[tuple[int, int], float] = {}

    def score(i: int, j: int) -> float:
        if (i, j) not in cache:
            shared = sum((grams_a[i] & grams_b[j]).values())
            cache[i, j] = 2 * shared / (sizes_a[i] + sizes_b[j])
        return cache[i, j]

    def align(ilo: int, ihi: int, jlo: int, jhi: int) -> list[tuple[int | None, int | None]]:
        best, bi, bj = PAIR_CANDIDATE, -1, -1
        for i in range(ilo, ihi):
            for j in range(jlo, jhi):
                # a cheap bound first: lengths alone limit the similarity
                la, lb = sizes_a[i], sizes_b[j]
                if 2 * min(la, lb) / (la + lb) > best and score(i, j) > best:
                    best, bi, bj = score(i, j), i, j
        if bi < 0:
            return [(i0 + i, None) for i in range(ilo, ihi)] + [(None, j0 + j) for j in range(jlo, jhi)]
        return align(ilo, bi, jlo, bj) + [(i0 + bi, j0 + bj)] + align(bi + 1, ihi, bj + 1, jhi)

    return align(0, len(old), 0, len(new))


def _line_opcodes(a: list[str], b: list[str]):
    """Line opcodes, with identical head and tail lines cut before difflib sees them."""
    p = _common_prefix(a, b)
    s = _common_suffix(a, b, min(len(a), len(b)) - p)
    am, bm = a[p:len(a) - s], b[p:len(b) - s]
    # On a huge rewrite of many short repeated lines (tables), exact matching is
    # quadratic; difflib's popular-item heuristic keeps it bounded.
    sm = SequenceMatcher(None, am, bm, autojunk=len(am) * len(bm) > LINE_CAP)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag != "equal":
            yield tag, i1 + p, i2 + p, j1 + p, j2 + p


# -- ops and rendering ----------------------------------------------------------------------


def _shown(text: str) -> tuple[str, bool]:
    if len(text) <= MAX_SHOWN:
        return text, False
    return text[:MAX_SHOWN], True


def _whole(kind: str, line: int, text: str) -> dict:
    shown, cut = _shown(text)
    key = "new_line" if kind == "add" else "old_line"
    return {"op": kind, key: line + 1, "text": shown, "chars": len(text), "truncated": cut}


def _elide(groups: list[list[str]], context: int) -> list[list]:
    parts: list[list] = []
    last = len(groups) - 1
    for n, g in enumerate(groups):
        if g[0] == "~":
            for tag, text in (("-", g[1]), ("+", g[2])):
                if text:
                    shown, cut = _shown(text)
                    parts.append([tag, shown])
                    if cut:
                        parts.append([ELLIPSIS, len(text) - len(shown)])
            continue
        text = g[1]
        keep_head = 0 if n == 0 else context
        keep_tail = 0 if n == last else context
        if len(text) <= keep_head + keep_tail + 1:
            parts.append(["=", text])
            continue
        if keep_head:
            parts.append(["=", text[:keep_head]])
        parts.append([ELLIPSIS, len(text) - keep_head - keep_tail])
        if keep_tail:
            parts.append(["=", text[len(text) - keep_tail:]])
    return parts


def _change(i: int, j: int, a: str, b: str, context: int) -> list[dict]:
    if a == b:
        return []
    parts = _char_parts(a, b)
    if _ratio(parts, a, b) < DISSIMILAR:
        return [_whole("remove", i, a), _whole("add", j, b)]
    groups = _absorb_short_equalities(_groups(parts))
    return [{
        "op": "change", "old_line": i + 1, "new_line": j + 1,
        "added": sum(len(g[2]) for g in groups if g[0] == "~"),
        "removed": sum(len(g[1]) for g in groups if g[0] == "~"),
        "parts": _elide(groups, max(context, 0)),
    }]


def _ops(old: list[str], new: list[str], context: int) -> list[dict]:
    ops: list[dict] = []
    for tag, i1, i2, j1, j2 in _line_opcodes(old, new):
        if tag == "delete":
            ops += [_whole("remove", i, old[i]) for i in range(i1, i2)]
        elif tag == "insert":
            ops += [_whole("add", j, new[j]) for j in range(j1, j2)]
        else:
            for i, j in _pairs(old[i1:i2], new[j1:j2], i1, j1):
                if i is not None and j is not None:
                    ops += _change(i, j, old[i], new[j], context)
                elif i is not None:
                    ops.append(_whole("remove", i, old[i]))
                else:
                    ops.append(_whole("add", j, new[j]))
    return ops


def _piece_html(tag: str, value) -> str:
    if tag == ELLIPSIS:
        return ELLIPSIS
    text = html.escape(value)
    return {"=": text, "-": f"<del>{text}</del>", "+": f"<ins>{text}</ins>"}[tag]


def _piece_text(tag: str, value) -> str:
    if tag == ELLIPSIS:
        return ELLIPSIS
    return {"=": value, "-": f"[-{value}-]", "+": f"{{+{value}+}}"}[tag]


def _render(op: dict) -> tuple[str, str]:
    """(html, text) of one op."""
    if op["op"] == "change":
        inner_html = "".join(_piece_html(t, v) for t, v in op["parts"])
        inner_text = "".join(_piece_text(t, v) for t, v in op["parts"])
        return (f'<p class="diff-change">{inner_html}</p>',
                f"~ ¶{op['new_line']}: {inner_text}")
    tail = ELLIPSIS if op["truncated"] else ""
    text = html.escape(op["text"]) + tail
    if op["op"] == "add":
        return f'<p class="diff-add"><ins>{text}</ins></p>', f"+ ¶{op['new_line']}: {op['text']}{tail}"
    return f'<p class="diff-remove"><del>{text}</del></p>', f"- ¶{op['old_line']}: {op['text']}{tail}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _summary(ops: list[dict], added: int, removed: int) -> str:
    if not ops:
        return "no textual change"
    counts = [(sum(1 for o in ops if o["op"] == kind), label)
              for kind, label in (("change", "changed"), ("add", "added"), ("remove", "removed"))]
    counts = [(n, label) for n, label in counts if n]
    head = [f"{_plural(counts[0][0], 'paragraph')} {counts[0][1]}"] + [f"{n} {label}" for n, label in counts[1:]]
    if added and removed:
        chars = f"+{added}/{MINUS}{removed} characters"
    elif added:
        chars = f"+{_plural(added, 'character')}"
    else:
        chars = f"{MINUS}{_plural(removed, 'character')}"
    return ", ".join(head + [chars])


def diff_text(old: str, new: str, *, context: int = 20) -> TextDiff:
    """Paragraph-aligned, character-level diff of two normalised texts (one paragraph per line)."""
    # Blank lines carry no text (normalize_text never emits them).
    old_lines = [x for x in (old or "").splitlines() if x.strip()]
    new_lines = [x for x in (new or "").splitlines() if x.strip()]
    ops = _ops(old_lines, new_lines, context) if old_lines != new_lines else []
    added = sum(o["added"] if o["op"] == "change" else o["chars"] for o in ops if o["op"] != "remove")
    removed = sum(o["removed"] if o["op"] == "change" else o["chars"] for o in ops if o["op"] != "add")
    rendered = [_render(o) for o in ops]
    return TextDiff(
        summary=_summary(ops, added, removed),
        html="\n".join(h for h, _ in rendered),
        text="\n".join(t for _, t in rendered),
        paragraphs_changed=len(ops),
        added=added,
        removed=removed,
        ops=ops,
    )


# -- attachments ----------------------------------------------------------------------------


def _url_key(url: str) -> str:
    try:
        return canonical_url(url)
    except ValueError:
        return url


def _names(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _by_url(files: list[Attachment]) -> dict[str, Attachment]:
    out: dict[str, Attachment] = {}
    for a in files:
        out.setdefault(_url_key(a.url), a)  # a page listing one file twice: the first label wins
    return out


def _link(a: Attachment) -> str:
    name = html.escape(a.name)
    if re.match(r"(?i)^https?://", a.url):
        return f'<a href="{html.escape(a.url, quote=True)}">{name}</a>'
    return name  # never turn a javascript: or data: URL into a link


def diff_attachments(old: list[Attachment], new: list[Attachment]) -> tuple[str, str]:
    """(summary, escaped HTML) of added, removed, renamed and replaced attachments.

    Same URL with another name = renamed. A removed and an added file with the
    same name = replaced (the site uploaded a new file under the old label).
    """
    old_by = _by_url(old)
    new_by = _by_url(new)
    renamed = [(old_by[k], new_by[k]) for k in new_by if k in old_by and old_by[k].name != new_by[k].name]
    gone = [a for k, a in old_by.items() if k not in new_by]
    came = [a for k, a in new_by.items() if k not in old_by]
    gone_names = {a.name for a in gone}
    replaced = [a for a in came if a.name in gone_names]
    replaced_names = {a.name for a in replaced}
    added = [a for a in came if a.name not in replaced_names]
    removed = [a for a in gone if a.name not in replaced_names]
    return _attachment_summary(added, removed, renamed, replaced), _attachment_html(added, removed, renamed, replaced)


def _attachment_summary(added, removed, renamed, replaced) -> str:
    parts = []
    if added:
        parts.append(f"{_plural(len(added), 'attachment')} added: {_names([a.name for a in added])}")
    if removed:
        parts.append(f"{_plural(len(removed), 'attachment')} removed: {_names([a.name for a in removed])}")
    if renamed:
        parts.append(f"{_plural(len(renamed), 'attachment')} renamed: "
                     + _names([f"{o.name} → {n.name}" for o, n in renamed]))
    if replaced:
        parts.append(f"{_plural(len(replaced), 'attachment')} replaced by a new file: "
                     + _names([a.name for a in replaced]))
    return "; ".join(parts) or "no attachment change"


def _attachment_html(added, removed, renamed, replaced) -> str:
    rows = [f"<li>added: <ins>{_link(a)}</ins></li>" for a in added]
    rows += [f"<li>removed: <del>{html.escape(a.name)}</del></li>" for a in removed]
    rows += [f"<li>renamed: <del>{html.escape(o.name)}</del> → <ins>{_link(n)}</ins></li>" for o, n in renamed]
    rows += [f"<li>replaced by a new file: {_link(a)}</li>" for a in replaced]
    return f"<ul>{''.join(rows)}</ul>" if rows else ""
