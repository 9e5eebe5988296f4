"""RSS and Atom feeds: views of the immutable events.

Each entry is a frozen event: its id, dates and content come from the stored
event, never from the time of rendering, so writing the feeds twice with no new
events gives byte-identical files and readers never see an item "change".
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator

from .config import Config
from .store import EventRow, Store, parse_iso

LABELS = {
    "document.new": "[NEW]",
    "document.revised": "[REVISED]",
    "document.attachments": "[ATTACHMENTS]",
    "document.withdrawn": "[WITHDRAWN]",
    "source.blocked": "[BLOCKED]",
    "source.failing": "[FAILING]",
    "source.broken": "[BROKEN]",
    "source.recovered": "[RECOVERED]",
}
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # "updated" of a feed with no events yet
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str | None) -> str:
    return _ILLEGAL_XML.sub("", text or "")


@dataclass
class FeedSpec:
    """One feed: which events, and where it lives relative to feeds/."""

    path: str  # e.g. "all", "topics/ai-manufacturing", "sources/miit-tz"
    title: str
    filters: dict


def feed_specs(config: Config) -> list[FeedSpec]:
    specs = [FeedSpec("all", "All changes", {})]
    specs += [FeedSpec(f"topics/{t.id}", f"Topic: {t.name}", {"topic": t.id}) for t in config.topics]
    specs += [FeedSpec(f"sources/{s.id}", f"Source: {s.name}", {"source": s.id}) for s in config.sources]
    return specs


def entry_title(ev: EventRow) -> str:
    label = LABELS.get(ev.kind, f"[{ev.kind}]")
    return xml_safe(" ".join(p for p in (label, ev.agency, ev.title) if p))


def tag_uri(base_url: str, what: str) -> str:
    host = urlsplit(base_url).hostname or "localhost"
    return f"tag:{host},2026:{what}"


def entry_html(ev: EventRow, topic_names: dict[str, str], base_url: str) -> str:
    e = html.escape
    rows = []
    if ev.baseline:
        rows.append("<p><em>Already published when tracking began: recorded in the baseline.</em></p>")
    if ev.summary:
        rows.append(f"<p>{e(ev.summary)}</p>")
    facts = [("Issuing body", ev.issuer), ("文号", ev.doc_number),
             ("Published", ev.published[:10] if ev.published else None),
             ("Agency", ev.agency), ("Region", ev.region), ("Source", ev.source), ("Kind", ev.kind)]
    rows.append("<ul>" + "".join(f"<li>{e(k)}: {e(v)}</li>" for k, v in facts if v) + "</ul>")
    if ev.topics:
        items = "".join(
            f"<li>{e(topic_names.get(t, t))}: {e('; '.join(ev.reasons.get(t, [])))}</li>" for t in ev.topics
        )
        rows.append(f"<p>Matches topics:</p><ul>{items}</ul>")
    if ev.diff_html:
        rows.append(f"<div>{ev.diff_html}</div>")  # escaped when the diff was computed
    rows.append(f'<p><a href="{e(base_url)}/events/{ev.id}">Change log entry #{ev.id}</a></p>')
    return xml_safe("".join(rows))


def build_feed(events: list[EventRow], *, title: str, path: str, config: Config) -> FeedGenerator:
    """A feed of these events (given newest first). Entries are added oldest first."""
    base = config.settings.feed_base_url
    topic_names = {t.id: t.name for t in config.topics}
    fg = FeedGenerator()
    fg.id(tag_uri(base, f"feed/{path}"))
    fg.title(xml_safe(f"tracker: {title}"))
    fg.description(xml_safe(f"Policy follow-up tracker — {title}"))
    fg.link(href=f"{base}/", rel="alternate")
    fg.link(href=f"{base}/feeds/{path}.atom", rel="self")
    fg.language("zh-CN")
    fg.generator("tracker")
    newest = parse_iso(events[0].detected_at) if events else EPOCH
    fg.updated(newest)
    fg.lastBuildDate(newest)
    for ev in reversed(events):
        when = parse_iso(ev.detected_at)
        fe = fg.add_entry()
        fe.id(tag_uri(base, f"event/{ev.id}"))
        fe.guid(tag_uri(base, f"event/{ev.id}"), permalink=False)
        fe.title(entry_title(ev))
        fe.link(href=ev.url or f"{base}/events/{ev.id}")
        fe.published(when)
        fe.updated(when)
        fe.content(entry_html(ev, topic_names, base), type="html")
        cats = [ev.agency, ev.region, ev.kind, *ev.topics]
        fe.category([{"term": xml_safe(c)} for c in cats if c])
    return fg


def render(fg: FeedGenerator, fmt: str) -> bytes:
    return fg.atom_str(pretty=True) if fmt == "atom" else fg.rss_str(pretty=True)


def atomic_write(path: Path, data: bytes) -> bool:
    """Replace path with data via write, fsync, rename; False when already identical."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


def write_feeds(config: Config, store: Store) -> list[Path]:
    """Rewrite every feed file; returns the files whose bytes changed."""
    out_dir = config.settings.feeds_dir
    changed: list[Path] = []
    for spec in feed_specs(config):
        events = store.events(limit=config.settings.feed_size, **spec.filters)
        fg = build_feed(events, title=spec.title, path=spec.path, config=config)
        for fmt, ext in (("rss", "rss"), ("atom", "atom")):
            target = out_dir / f"{spec.path}.{ext}"
            if atomic_write(target, render(fg, fmt)):
                changed.append(target)
    return changed
