"""The `tracker` command."""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from . import __version__, serve_cli
from .config import Config, ConfigError, load, parse_duration
from .errors import TrackerError
from .feeds import LABELS, write_feeds
from .fetch import Fetcher
from .store import EventRow, Store, iso, utcnow

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(TrackerError):
    pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tracker", description="Follow Chinese government sites for policy "
                                "follow-up documents and publish the changes as RSS/Atom feeds.")
    p.add_argument("--config", metavar="PATH", help="configuration file (default: $TRACKER_CONFIG or ./sources.toml)")
    p.add_argument("--version", action="version", version=f"tracker {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sp = sub.add_parser("poll", help="poll sources now (every enabled source when none is named)")
    sp.add_argument("source_ids", nargs="*", metavar="SOURCE_ID")
    sp.set_defaults(func=cmd_poll)

    sp = sub.add_parser("log", help="the change log, newest first")
    sp.add_argument("--since", help="7d, 12h or a date such as 2026-05-01")
    sp.add_argument("--source", metavar="ID")
    sp.add_argument("--topic", metavar="ID")
    sp.add_argument("--kind", metavar="KIND", help="e.g. document.new, document.revised, source.blocked")
    sp.add_argument("--limit", type=int, default=50, metavar="N", help="at most N events (default 50, 0 = all)")
    sp.add_argument("--json", action="store_true", help="one JSON object per line")
    sp.set_defaults(func=cmd_log)

    sp = sub.add_parser("show", help="one event in full")
    sp.add_argument("event_id", type=int, metavar="EVENT_ID")
    sp.set_defaults(func=cmd_show)

    sp = sub.add_parser("sources", help="every source with its health; 'sources test ID', 'sources add URL'")
    ssub = sp.add_subparsers(dest="sources_command", metavar="")
    sp.set_defaults(func=cmd_sources)
    t = ssub.add_parser("test", help="fetch a source once and print what it extracts; stores nothing")
    t.add_argument("source_id", metavar="ID")
    t.set_defaults(func=cmd_sources_test)
    a = ssub.add_parser("add", help="recognise a page's CMS family and append a [[sources]] block")
    a.add_argument("url", metavar="URL")
    a.add_argument("--id", dest="source_id", metavar="ID")
    a.add_argument("--name")
    a.add_argument("--agency", default="")
    a.add_argument("--region", default="national")
    a.set_defaults(func=cmd_sources_add)

    sp = sub.add_parser("feed", help="rewrite the feed files from the database")
    sp.set_defaults(func=cmd_feed)
    serve_cli.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, UsageError) as e:
        print(f"tracker: {e}", file=sys.stderr)
        return EXIT_USAGE
    except TrackerError as e:
        print(f"tracker: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("tracker: interrupted", file=sys.stderr)
        return 130


def _config(args) -> Config:
    return load(args.config)


# -- poll ---------------------------------------------------------------------------------
class Progress:
    """A one-line progress bar on a terminal, plain lines otherwise."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.stream = total, 0, stream
        self.tty = stream.isatty()
        self.lock = threading.Lock()

    def finished(self, r) -> None:
        with self.lock:
            self.done += 1
            if self.tty:
                width = 30
                filled = int(width * self.done / max(self.total, 1))
                bar = "#" * filled + "-" * (width - filled)
                self.stream.write(f"\r[{bar}] {self.done}/{self.total} {r.source[:30]:<30}")
                if self.done == self.total:
                    self.stream.write("\n")
            else:
                self.stream.write(f"polled {r.source}: {r.outcome}, {r.entries} entries, {r.new} new, "
                                  f"{r.revised} revised, {r.errors} errors\n")
            self.stream.flush()


def run_poll(config: Config, source_ids: list[str] | None = None, progress: Progress | None = None) -> list:
    """Poll sources in parallel (one store connection per thread), then rewrite the feeds."""
    sources = [config.source(s) for s in source_ids] if source_ids else [s for s in config.sources if s.enabled]
    local = threading.local()
    stores: list[Store] = []
    stores_lock = threading.Lock()

    def store() -> Store:
        if not hasattr(local, "store"):
            local.store = Store(config.settings.db_path)
            with stores_lock:
                stores.append(local.store)
        return local.store

    results: list = []
    fetcher = Fetcher(config.settings, validators=lambda key: store().validators(key))
    try:
        with ThreadPoolExecutor(max_workers=config.settings.concurrency) as pool:
            futures = {pool.submit(_poll_one, config, s, fetcher, store): s for s in sources}
            for fut in as_completed(futures):
                r = fut.result()
                results.append(r)
                if progress:
                    progress.finished(r)
        write_feeds(config, store())
    finally:
        fetcher.close()
        for s in stores:
            s.close()
    order = {s.id: i for i, s in enumerate(sources)}
    return sorted(results, key=lambda r: order[r.source])


def _poll_one(config: Config, source, fetcher: Fetcher, store):
    from .poll import PollResult, poll_source  # imported late: `log` and `show` need none of it

    try:
        return poll_source(config, source, fetcher, store())
    except Exception as e:  # a bug in one adapter must not stop the other sources
        return PollResult(source.id, "error", errors=1, message=f"{type(e).__name__}: {e}")


def cmd_poll(args) -> int:
    config = _config(args)
    for sid in args.source_ids:
        config.source(sid)  # unknown ids are a usage error before anything runs
    if not args.source_ids and not any(s.enabled for s in config.sources):
        raise UsageError(f"{config.path}: no enabled source to poll")
    results = run_poll(config, args.source_ids or None, Progress(len(args.source_ids or
                                                                     [s for s in config.sources if s.enabled])))
    print(format_table(["source", "outcome", "entries", "new", "revised", "errors"],
                       [[r.source, r.outcome, r.entries, r.new, r.revised, r.errors] for r in results]))
    for r in results:
        if r.message and (r.failed or r.errors):
            print(f"  {r.source}: {r.message}", file=sys.stderr)
    return EXIT_FAILED if any(r.failed or r.errors for r in results) else EXIT_OK


def format_table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal
    return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)


# -- log / show ---------------------------------------------------------------------------
def parse_since(text: str, now: datetime | None = None) -> str:
    now = now or utcnow()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise UsageError(f"--since: not a date: {text!r}") from None
        # a calendar date means that day in Beijing time, where the documents live
        return iso(datetime(day.year, day.month, day.day, tzinfo=timezone(timedelta(hours=8))))
    try:
        return iso(now - timedelta(seconds=parse_duration(text)))
    except ValueError:
        raise UsageError(f"--since takes a duration such as 7d or a date such as 2026-05-01, not {text!r}") from None


def event_json(ev: EventRow, store: Store | None = None) -> dict:
    d = {
        "id": ev.id, "kind": ev.kind, "detected_at": ev.detected_at, "source": ev.source, "agency": ev.agency,
        "region": ev.region, "title": ev.title, "url": ev.url,
        "published": ev.published[:10] if ev.published else None, "doc_number": ev.doc_number,
        "issuer": ev.issuer, "topics": ev.topics, "reasons": ev.reasons, "baseline": ev.baseline,
        "summary": ev.summary, "document_id": ev.document_id, "outcome": ev.outcome,
    }
    if store is not None:
        rv = store.review(ev.id)
        d["review"] = dict(rv) if rv else None
    return d


def cmd_log(args) -> int:
    config = _config(args)
    if args.source:
        config.source(args.source)
    if args.topic:
        config.topic(args.topic)
    if args.limit < 0:
        raise UsageError("--limit must be 0 (all) or more")
    since = parse_since(args.since) if args.since else None
    with Store(config.settings.db_path) as store:
        events = store.events(since=since, source=args.source, topic=args.topic, kind=args.kind,
                              limit=args.limit or None)
        if args.json:
            for ev in events:
                print(json.dumps(event_json(ev, store), ensure_ascii=False))
            return EXIT_OK
        if not events:
            print("no events")
            return EXIT_OK
        rows = [[ev.id, _short(ev.detected_at), LABELS.get(ev.kind, ev.kind), ev.source,
                 (ev.title[:40] + "…") if len(ev.title) > 41 else ev.title, ",".join(ev.topics),
                 ev.summary[:50], _review_mark(store.review(ev.id))] for ev in events]
        print(format_table(["id", "detected (UTC)", "kind", "source", "title", "topics", "summary", "review"],
                           rows))
    return EXIT_OK


def _review_mark(review) -> str:
    if review is None:
        return ""
    note = review["note"] or ""
    return " ".join(x for x in (review["significance"], (note[:20] + "…") if len(note) > 21 else note) if x) or "✓"


def cmd_show(args) -> int:
    config = _config(args)
    with Store(config.settings.db_path) as store:
        ev = store.event(args.event_id)
        if ev is None:
            raise UsageError(f"no event {args.event_id}")
        print(f"Event {ev.id}: {ev.kind}{' (baseline)' if ev.baseline else ''}")
        facts = [("Detected", ev.detected_at), ("Title", ev.title), ("URL", ev.url), ("Source", ev.source),
                 ("Agency", ev.agency), ("Region", ev.region), ("Issuing body", ev.issuer),
                 ("文号", ev.doc_number), ("Published", ev.published), ("Outcome", ev.outcome),
                 ("Summary", ev.summary)]
        doc = store.document(ev.document_id) if ev.document_id else None
        if doc is not None:
            facts += [("Document", f"#{doc['id']} first seen {doc['first_seen_at']}"),
                      ("Signed (成文日期)", doc["signed"]), ("Published (meta)", doc["published_meta"])]
        for k, v in facts:
            if v:
                print(f"  {k + ':':<18} {v}")
        if ev.topics:
            print("Why it matched:")
            for t in ev.topics:
                print(f"  {t}: {'; '.join(ev.reasons.get(t, []))}")
        rv = store.review(ev.id)
        if rv:
            print(f"Review: {rv['significance'] or ''} {rv['note'] or ''} ({rv['reviewed_at']})")
        if ev.diff_text:
            print("Diff:")
            print(ev.diff_text)
        elif doc is not None and ev.version_id:
            files = json.loads(store.version(ev.version_id)["attachments"])
            for f in files:
                print(f"  attachment: {f['name']} <{f['url']}>")
    return EXIT_OK


# -- sources ------------------------------------------------------------------------------
def cmd_sources(args) -> int:
    config = _config(args)
    with Store(config.settings.db_path) as store:
        states = store.all_source_states()
        rows = []
        for s in config.sources:
            st = states.get(s.id)

            def get(key: str, st=st):
                return st[key] if st is not None else None

            failing = f"{get('consecutive_failures')} since {_short(get('failing_since'))}" if get("failing_since") else ""
            rows.append([s.id, "yes" if s.enabled else "no", _short(get("last_poll_at")) or "never",
                         get("last_outcome") or "", get("health") or "", failing,
                         store.count_documents(s.id), (get("last_new_at") or "")[:10],
                         (get("last_new_title") or "")[:30], _short(get("next_poll_at")),
                         (get("last_job_error") or "")[:40]])
    print(format_table(["source", "enabled", "last poll (UTC)", "outcome", "health", "failures", "documents",
                        "last new", "last new title", "next poll", "job error"], rows))
    return EXIT_OK


def _short(ts: str | None) -> str:
    """'2026-11-27T07:41:09+00:00' -> '2026-11-27 07:41' (UTC, as the column header says)."""
    return ts[:16].replace("T", " ") if ts else ""


def cmd_sources_test(args) -> int:
    from .sourcetools import test_source

    return test_source(_config(args), args.source_id)


def cmd_sources_add(args) -> int:
    from .sourcetools import add_source

    return add_source(Path(args.config) if args.config else None, args.url, source_id=args.source_id,
                      name=args.name, agency=args.agency, region=args.region)


def cmd_feed(args) -> int:
    config = _config(args)
    with Store(config.settings.db_path) as store:
        changed = write_feeds(config, store)
    print(f"feeds written to {config.settings.feeds_dir} ({len(changed)} file(s) changed)")
    return EXIT_OK
