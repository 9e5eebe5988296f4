"""The SQLite store: schema, migrations and every query the tracker makes.

One Store per thread (sqlite3 connections must not be shared). WAL lets a
manual `tracker poll` run beside `tracker serve`; writers use BEGIN IMMEDIATE so
two pollers queue on the busy timeout instead of failing half-way. Events are
immutable: triggers refuse UPDATE and DELETE on them.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

BUSY_TIMEOUT_S = 60

migrations = Migrations("tracker")


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run DDL statement by statement: executescript would COMMIT the migration's transaction."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.conn.execute(pending)
            pending = ""


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        CREATE TABLE sources (
            id TEXT PRIMARY KEY,
            baseline_at TEXT,              -- set when the first successful poll committed
            last_poll_at TEXT,
            last_outcome TEXT,
            last_error TEXT,
            last_ok_at TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            failing_since TEXT,
            health TEXT NOT NULL DEFAULT 'ok', -- ok | blocked | failing | broken (an open episode)
            had_entries INTEGER NOT NULL DEFAULT 0,
            next_poll_at TEXT,
            last_new_at TEXT,
            last_new_title TEXT,
            last_job_error TEXT,
            lock_owner TEXT,
            lock_expires TEXT
        );
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            url TEXT NOT NULL,
            title TEXT NOT NULL,
            list_date TEXT,
            published TEXT,
            published_meta TEXT,
            signed TEXT,
            modified TEXT,
            doc_number TEXT,
            issuer TEXT,
            topics TEXT NOT NULL DEFAULT '[]',
            reasons TEXT NOT NULL DEFAULT '{}',
            first_seen_at TEXT NOT NULL,
            last_checked_at TEXT,
            version_id INTEGER,
            withdrawn INTEGER NOT NULL DEFAULT 0,
            misses INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX documents_source ON documents(source);
        CREATE TABLE listings (
            source TEXT NOT NULL,
            document_id INTEGER NOT NULL REFERENCES documents(id),
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            PRIMARY KEY (source, document_id)
        );
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents(id),
            fetched_at TEXT NOT NULL,
            url TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            body_hash TEXT NOT NULL,
            attachments TEXT NOT NULL DEFAULT '[]',
            published TEXT,
            published_meta TEXT,
            doc_number TEXT,
            issuer TEXT,
            meta TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX versions_document ON versions(document_id);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            detected_at TEXT NOT NULL,
            source TEXT NOT NULL,
            agency TEXT,
            region TEXT,
            document_id INTEGER REFERENCES documents(id),
            version_id INTEGER,
            prev_version_id INTEGER,
            title TEXT NOT NULL,
            url TEXT,
            published TEXT,
            doc_number TEXT,
            issuer TEXT,
            topics TEXT NOT NULL DEFAULT '[]',
            reasons TEXT NOT NULL DEFAULT '{}',
            baseline INTEGER NOT NULL DEFAULT 0,
            summary TEXT NOT NULL DEFAULT '',
            diff_html TEXT,
            diff_text TEXT,
            outcome TEXT
        );
        CREATE INDEX events_source ON events(source, id);
        CREATE INDEX events_kind ON events(kind, id);
        CREATE INDEX events_document ON events(document_id);
        -- one event of a kind per version: a retried or concurrent poll cannot duplicate it
        CREATE UNIQUE INDEX events_once ON events(document_id, kind, version_id)
            WHERE document_id IS NOT NULL AND version_id IS NOT NULL;
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'events are immutable'); END;
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'events are immutable'); END;
        CREATE TABLE event_topics (
            event_id INTEGER NOT NULL REFERENCES events(id),
            topic TEXT NOT NULL,
            PRIMARY KEY (topic, event_id)
        );
        CREATE TABLE http_cache (
            key TEXT PRIMARY KEY,
            etag TEXT,
            last_modified TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE polls (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            entries INTEGER NOT NULL DEFAULT 0,
            new INTEGER NOT NULL DEFAULT 0,
            revised INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            message TEXT
        );
        CREATE INDEX polls_source ON polls(source, id);
        CREATE TABLE fetches (
            id INTEGER PRIMARY KEY,
            poll_id INTEGER NOT NULL REFERENCES polls(id),
            url TEXT NOT NULL,
            outcome TEXT NOT NULL,
            status INTEGER,
            at TEXT NOT NULL,
            detail TEXT
        );
        CREATE TABLE reviews (
            event_id INTEGER PRIMARY KEY REFERENCES events(id),
            note TEXT,
            significance TEXT,
            reviewed_at TEXT NOT NULL
        );
        """
    )


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass
class EventRow:
    """An event as read back, with its JSON columns decoded."""

    id: int
    kind: str
    detected_at: str
    source: str
    agency: str | None
    region: str | None
    document_id: int | None
    version_id: int | None
    prev_version_id: int | None
    title: str
    url: str | None
    published: str | None
    doc_number: str | None
    issuer: str | None
    topics: list[str]
    reasons: dict[str, list[str]]
    baseline: bool
    summary: str
    diff_html: str | None
    diff_text: str | None
    outcome: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> EventRow:
        d = dict(row)
        d["topics"] = json.loads(d["topics"] or "[]")
        d["reasons"] = json.loads(d["reasons"] or "{}")
        d["baseline"] = bool(d["baseline"])
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous = FULL")  # an event that was reported is on disk
        conn.execute("PRAGMA foreign_keys = ON")
        if migrations.pending(self.db):
            # Two processes starting at once must not both create the schema: hold the
            # write lock for the whole migration (each one runs in a savepoint inside it).
            with self.transaction():
                migrations.apply(self.db)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing writes; BEGIN IMMEDIATE takes the write lock up front."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def q(self, sql: str, params=()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params=()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    # -- sources ------------------------------------------------------------------------
    def source_state(self, source_id: str) -> sqlite3.Row:
        row = self.one("SELECT * FROM sources WHERE id = ?", (source_id,))
        if row is None:
            self.conn.execute("INSERT OR IGNORE INTO sources (id) VALUES (?)", (source_id,))
            self.conn.commit()
            row = self.one("SELECT * FROM sources WHERE id = ?", (source_id,))
        return row

    def all_source_states(self) -> dict[str, sqlite3.Row]:
        return {r["id"]: r for r in self.q("SELECT * FROM sources")}

    def acquire_lock(self, source_id: str, ttl: float) -> str | None:
        """Take the per-source poll lock; None when another live poller holds it."""
        owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        now = utcnow()
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO sources (id) VALUES (?)", (source_id,))
            row = c.execute("SELECT lock_owner, lock_expires FROM sources WHERE id = ?", (source_id,)).fetchone()
            held = row["lock_owner"] and not _lock_stale(row["lock_owner"], row["lock_expires"], now)
            if held:
                return None
            c.execute("UPDATE sources SET lock_owner = ?, lock_expires = ? WHERE id = ?",
                      (owner, iso(now + timedelta(seconds=ttl)), source_id))
        return owner

    def release_lock(self, source_id: str, owner: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE sources SET lock_owner = NULL, lock_expires = NULL WHERE id = ? AND lock_owner = ?",
                      (source_id, owner))

    # -- documents ------------------------------------------------------------------------
    def document_by_key(self, key: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM documents WHERE key = ?", (key,))

    def document(self, doc_id: int) -> sqlite3.Row | None:
        return self.one("SELECT * FROM documents WHERE id = ?", (doc_id,))

    def version(self, version_id: int | None) -> sqlite3.Row | None:
        if version_id is None:
            return None
        return self.one("SELECT * FROM versions WHERE id = ?", (version_id,))

    def versions_of(self, doc_id: int) -> list[sqlite3.Row]:
        return self.q("SELECT * FROM versions WHERE document_id = ? ORDER BY id", (doc_id,))

    def due_rechecks(self, source_id: str, now: datetime, recheck: float, recheck_for: float) -> list[sqlite3.Row]:
        """Topic-matching documents of this source whose page is due to be fetched again."""
        return self.q(
            """SELECT * FROM documents
               WHERE source = ? AND topics != '[]'
                 AND first_seen_at >= ?
                 AND (last_checked_at IS NULL OR last_checked_at <= ?)
               ORDER BY id""",
            (source_id, iso(now - timedelta(seconds=recheck_for)), iso(now - timedelta(seconds=recheck))),
        )

    def count_documents(self, source_id: str) -> int:
        return self.one("SELECT count(*) FROM listings WHERE source = ?", (source_id,))[0]

    # -- http cache ------------------------------------------------------------------------
    def validators(self, key: str) -> tuple[str | None, str | None]:
        row = self.one("SELECT etag, last_modified FROM http_cache WHERE key = ?", (key,))
        return (row["etag"], row["last_modified"]) if row else (None, None)

    # -- events ----------------------------------------------------------------------------
    def add_event(self, c: sqlite3.Connection, **fields) -> int:
        topics = fields.get("topics") or []
        fields["topics"] = json.dumps(topics, ensure_ascii=False)
        fields["reasons"] = json.dumps(fields.get("reasons") or {}, ensure_ascii=False)
        fields["baseline"] = int(bool(fields.get("baseline")))
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        cur = c.execute(f"INSERT INTO events ({cols}) VALUES ({marks})", tuple(fields.values()))
        event_id = cur.lastrowid
        c.executemany("INSERT INTO event_topics (event_id, topic) VALUES (?, ?)", [(event_id, t) for t in topics])
        return event_id

    def event(self, event_id: int) -> EventRow | None:
        row = self.one("SELECT * FROM events WHERE id = ?", (event_id,))
        return EventRow.from_row(row) if row else None

    def events(self, *, since: str | None = None, source: str | None = None, topic: str | None = None,
               kind: str | None = None, agency: str | None = None, region: str | None = None,
               kinds_prefix: str | None = None, limit: int | None = None, offset: int = 0,
               before_id: int | None = None) -> list[EventRow]:
        """Events newest first, filtered; every filter is an indexed or cheap condition."""
        where, params = [], []
        if topic:
            where.append("id IN (SELECT event_id FROM event_topics WHERE topic = ?)")
            params.append(topic)
        for col, val in (("source", source), ("kind", kind), ("agency", agency), ("region", region)):
            if val:
                where.append(f"{col} = ?")
                params.append(val)
        if kinds_prefix:
            where.append("kind LIKE ?")
            params.append(kinds_prefix + "%")
        if since:
            where.append("detected_at >= ?")
            params.append(since)
        if before_id:
            where.append("id < ?")
            params.append(before_id)
        sql = "SELECT * FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return [EventRow.from_row(r) for r in self.q(sql, params)]

    def count_events(self) -> int:
        return self.one("SELECT count(*) FROM events")[0]

    def newest_event(self) -> EventRow | None:
        row = self.one("SELECT * FROM events ORDER BY id DESC LIMIT 1")
        return EventRow.from_row(row) if row else None

    def review(self, event_id: int) -> sqlite3.Row | None:
        return self.one("SELECT * FROM reviews WHERE event_id = ?", (event_id,))


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch a new database to WAL once; the switch ignores the busy timeout, so retry it."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _lock_stale(owner: str, expires: str | None, now: datetime) -> bool:
    if expires and parse_iso(expires) < now:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.split(":", 1)[0]
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True  # the poller died (SIGKILL, power cut): its lock means nothing
        except PermissionError:
            return False
    return False
