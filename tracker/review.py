"""Review and export: the analyst's side of the change log.

A review is a note and a significance attached to an event, kept in its own
table: events stay immutable and the feeds never depend on review state (a feed
item that changed when someone reviewed it would come back as unread).

Export writes events with the fields of their documents, for spreadsheets: CSV
is UTF-8 with a byte-order mark (Excel otherwise reads Chinese text as the
local code page) and a header row; JSON is a UTF-8 array of objects.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime

from .store import EventRow, Store, iso, utcnow

SIGNIFICANCE = ("high", "normal", "low")
CSV_COLUMNS = [
    "event_id", "kind", "detected_at", "source", "agency", "region", "title", "url", "published", "doc_number",
    "issuer", "topics", "baseline", "summary", "document_id", "doc_first_seen_at", "doc_published", "doc_signed",
    "doc_number_current", "doc_issuer", "doc_url", "doc_withdrawn", "review_significance", "review_note",
    "reviewed_at",
]


class NoSuchEvent(LookupError):
    pass


def set_review(store: Store, event_id: int, *, note: str | None = None, significance: str | None = None,
               now: datetime | None = None) -> dict:
    """Create or update the review of an event; a field not given keeps its value."""
    if significance is not None and significance not in SIGNIFICANCE:
        raise ValueError(f"significance must be one of {', '.join(SIGNIFICANCE)}")
    when = iso(now or utcnow())
    with store.transaction() as c:
        if c.execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone() is None:
            raise NoSuchEvent(event_id)
        c.execute(
            """INSERT INTO reviews (event_id, note, significance, reviewed_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (event_id) DO UPDATE SET
                   note = COALESCE(excluded.note, reviews.note),
                   significance = COALESCE(excluded.significance, reviews.significance),
                   reviewed_at = excluded.reviewed_at""",
            (event_id, note, significance, when),
        )
    return dict(store.review(event_id))


# -- export ---------------------------------------------------------------------------------
def export_records(store: Store, *, since: str | None = None, topic: str | None = None) -> list[dict]:
    """Events newest first, each with its document's fields and its review."""
    events = store.events(since=since, topic=topic)
    docs = _by_id(store, "documents", "id", {e.document_id for e in events if e.document_id})
    reviews = _by_id(store, "reviews", "event_id", {e.id for e in events})
    return [_record(ev, docs.get(ev.document_id), reviews.get(ev.id)) for ev in events]


def _by_id(store: Store, table: str, key: str, ids: set[int]) -> dict[int, sqlite3.Row]:
    out: dict[int, sqlite3.Row] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), 500):  # stay under SQLite's bound-parameter limit
        chunk = ordered[i:i + 500]
        marks = ",".join("?" for _ in chunk)
        out.update({r[key]: r for r in store.q(f"SELECT * FROM {table} WHERE {key} IN ({marks})", chunk)})
    return out


def _record(ev: EventRow, doc: sqlite3.Row | None, rv: sqlite3.Row | None) -> dict:
    return {
        "event_id": ev.id, "kind": ev.kind, "detected_at": ev.detected_at, "source": ev.source,
        "agency": ev.agency, "region": ev.region, "title": ev.title, "url": ev.url, "published": ev.published,
        "doc_number": ev.doc_number, "issuer": ev.issuer, "topics": ev.topics, "reasons": ev.reasons,
        "baseline": ev.baseline, "summary": ev.summary, "document_id": ev.document_id,
        "document": None if doc is None else {
            "id": doc["id"], "first_seen_at": doc["first_seen_at"], "published": doc["published"],
            "signed": doc["signed"], "doc_number": doc["doc_number"], "issuer": doc["issuer"], "url": doc["url"],
            "title": doc["title"], "withdrawn": bool(doc["withdrawn"]),
        },
        "review": None if rv is None else {
            "significance": rv["significance"], "note": rv["note"], "reviewed_at": rv["reviewed_at"],
        },
    }


def csv_row(rec: dict) -> list:
    doc = rec["document"] or {}
    rv = rec["review"] or {}
    return [
        rec["event_id"], rec["kind"], rec["detected_at"], rec["source"], rec["agency"], rec["region"],
        rec["title"], rec["url"], rec["published"], rec["doc_number"], rec["issuer"], ";".join(rec["topics"]),
        int(rec["baseline"]), rec["summary"], rec["document_id"], doc.get("first_seen_at"), doc.get("published"),
        doc.get("signed"), doc.get("doc_number"), doc.get("issuer"), doc.get("url"),
        "" if not doc else int(doc["withdrawn"]), rv.get("significance"), rv.get("note"), rv.get("reviewed_at"),
    ]


def to_csv(records: Iterable[dict]) -> str:
    """CSV text beginning with a BOM, header row first."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for rec in records:
        w.writerow(["" if v is None else v for v in csv_row(rec)])
    return "\ufeff" + buf.getvalue()


def to_json(records: list[dict]) -> str:
    return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
