"""One poll of one source: the only place that decides events.

Fetching and parsing happen first, with nothing written; then everything the
poll learned (documents, versions, events, validators, the source's health, the
poll record) commits in one transaction. A poll killed at any moment therefore
leaves either all of it or none of it: a baseline is complete or absent, and a
version never exists without its events.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import normalize
from .config import Config, Source
from .diff import diff_attachments, diff_text
from .errors import FetchError, HttpError, SoftNotFound
from .fetch import Fetcher, Session
from .model import Attachment, Detail, Entry
from .sites import get_adapter
from .store import Store, iso, utcnow
from .topics import TopicMatch, match_topics

LOCK_TTL_S = 3 * 3600
GONE_STATUSES = (404, 410)
WITHDRAW_AFTER = 2  # consecutive rechecks answering 404/410/soft-404


@dataclass
class PollResult:
    source: str
    outcome: str  # ok | not_modified | a failure class | locked | disabled
    entries: int = 0
    new: int = 0
    revised: int = 0
    errors: int = 0
    message: str = ""
    events: list[int] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.outcome not in ("ok", "not_modified")


@dataclass
class _Doc:
    """A document as this poll observed it, before anything is written."""

    entry: Entry
    key: str
    detail: Detail
    title: str
    body: str
    attachments: list[Attachment]
    matches: list[TopicMatch]


@dataclass
class _Recheck:
    doc_id: int
    detail: Detail | None = None  # None: 304 or gone
    gone: bool = False
    failed: bool = False


def poll_source(config: Config, source: Source, fetcher: Fetcher, store: Store,
                now: datetime | None = None) -> PollResult:
    owner = store.acquire_lock(source.id, LOCK_TTL_S)
    if owner is None:
        return PollResult(source.id, "locked", message="already being polled by another process")
    try:
        return _Poll(config, source, fetcher, store, now or utcnow()).run()
    finally:
        store.release_lock(source.id, owner)


class _Poll:
    def __init__(self, config: Config, source: Source, fetcher: Fetcher, store: Store, now: datetime):
        self.config, self.source, self.store, self.now = config, source, store, now
        self.session = Session(fetcher, source)
        self.adapter = get_adapter(source.cms)
        self.state = store.source_state(source.id)
        self.baseline = self.state["baseline_at"] is None
        self.result = PollResult(source.id, "ok")
        self.list_keys: set[str] = set()
        self.signalled: set[int] = set()  # known documents whose list entry carries a newer modified time

    # -- fetch and parse (nothing written) -------------------------------------------------
    def run(self) -> PollResult:
        started = iso(self.now)
        try:
            listing = self.adapter.list(self.source, self.session)
        except FetchError as e:
            self.result.outcome, self.result.message = e.outcome, str(e)
            self._commit(started, [], [], [])
            return self.result
        self.list_keys = set(self.session.new_validators)
        if listing.not_modified:
            self.result.outcome = "not_modified"
        self.result.entries = len(listing.entries)
        new_docs, seen_ids = self._read_new(listing.entries)
        rechecks = [] if self.baseline else self._recheck()
        self._commit(started, new_docs, seen_ids, rechecks)
        return self.result

    def _read_new(self, entries: list[Entry]) -> tuple[list[_Doc], list[int]]:
        new_docs: list[_Doc] = []
        seen_ids: list[int] = []
        keys: set[str] = set()
        for entry in entries:
            key = normalize.document_key(entry.url)
            if key in keys:
                continue
            keys.add(key)
            known = self.store.document_by_key(key)
            if known is not None:
                seen_ids.append(known["id"])
                if entry.modified and known["modified"] and entry.modified > known["modified"]:
                    self.signalled.add(known["id"])  # the list says the page changed: read it now
                continue
            try:
                detail = self.adapter.detail(self.source, entry, self.session)
            except FetchError as e:
                self._error(f"{entry.url}: {e}")
                continue
            if detail is None:  # 304 for a page we never stored: nothing to record yet
                continue
            new_docs.append(self._observe(entry, key, detail))
        return new_docs, seen_ids

    def _observe(self, entry: Entry, key: str, detail: Detail) -> _Doc:
        _merge_entry(detail, entry)
        title = normalize.normalize_title(detail.title or entry.title)
        body = normalize.normalize_text(detail.body)
        matches = match_topics(self.config.topics, title, body)
        return _Doc(entry, key, detail, title, body, detail.attachments, matches)

    def _recheck(self) -> list[_Recheck]:
        out: list[_Recheck] = []
        due = self.store.due_rechecks(self.source.id, self.now, self.source.recheck, self.source.recheck_for)
        due_ids = {d["id"] for d in due}
        due += [self.store.document(i) for i in sorted(self.signalled - due_ids)]
        for doc in due:
            entry = Entry(url=doc["url"], title=doc["title"], list_date=doc["list_date"])
            rc = _Recheck(doc["id"])
            try:
                rc.detail = self.adapter.detail(self.source, entry, self.session, conditional=True)
            except (SoftNotFound, HttpError) as e:
                if isinstance(e, SoftNotFound) or e.status in GONE_STATUSES:
                    rc.gone = True
                else:
                    rc.failed = True
                    self._error(f"recheck {doc['url']}: {e}")
            except FetchError as e:
                rc.failed = True
                self._error(f"recheck {doc['url']}: {e}")
            out.append(rc)
        return out

    def _error(self, message: str) -> None:
        self.result.errors += 1
        if not self.result.message:
            self.result.message = message

    # -- decide and write (one transaction) ------------------------------------------------
    def _commit(self, started: str, new_docs: list[_Doc], seen_ids: list[int], rechecks: list[_Recheck]) -> None:
        now = iso(self.now)
        ok = not self.result.failed
        with self.store.transaction() as c:
            for doc in new_docs:
                self._insert_document(c, doc, now)
            for doc_id in seen_ids:
                self._list(c, doc_id, now)
            for rc in rechecks:
                self._apply_recheck(c, rc, now)
            if ok:
                self._save_validators(c, now)
            self._update_health(c, now, ok)
            poll_id = c.execute(
                """INSERT INTO polls (source, started_at, finished_at, outcome, entries, new, revised, errors, message)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (self.source.id, started, iso(utcnow()), self.result.outcome, self.result.entries,
                 self.result.new, self.result.revised, self.result.errors, self.result.message or None),
            ).lastrowid
            c.executemany("INSERT INTO fetches (poll_id, url, outcome, status, at, detail) VALUES (?, ?, ?, ?, ?, ?)",
                          [(poll_id, r.url, r.outcome, r.status, r.at, r.detail or None)
                           for r in self.session.records])

    def _list(self, c, doc_id: int, now: str) -> None:
        c.execute("""INSERT INTO listings (source, document_id, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?)
                     ON CONFLICT (source, document_id) DO UPDATE SET last_seen_at = excluded.last_seen_at""",
                  (self.source.id, doc_id, now, now))

    def _save_validators(self, c, now: str) -> None:
        for key, (etag, lm) in self.session.new_validators.items():
            # A list page whose entries were not all read must be fetched in full next time,
            # or a 304 would hide the entries that failed this time.
            if key in self.list_keys and self.result.errors:
                continue
            c.execute("""INSERT INTO http_cache (key, etag, last_modified, updated_at) VALUES (?, ?, ?, ?)
                         ON CONFLICT (key) DO UPDATE SET etag = excluded.etag,
                         last_modified = excluded.last_modified, updated_at = excluded.updated_at""",
                      (key, etag, lm, now))

    def _insert_document(self, c, doc: _Doc, now: str) -> None:
        d = doc.detail
        existing = c.execute("SELECT id FROM documents WHERE key = ?", (doc.key,)).fetchone()
        if existing is not None:
            # Another source (polled in parallel) stored it after we read it: it is known, only listed here.
            self._list(c, existing["id"], now)
            return
        topics = [m.topic for m in doc.matches]
        reasons = {m.topic: m.reasons for m in doc.matches}
        doc_id = c.execute(
            """INSERT INTO documents (key, source, url, title, list_date, published, published_meta, signed,
                   modified, doc_number, issuer, topics, reasons, first_seen_at, last_checked_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (doc.key, self.source.id, doc.entry.url, doc.title, doc.entry.list_date, d.published, d.published_meta,
             d.signed, d.modified, d.doc_number, d.issuer, json.dumps(topics), json.dumps(reasons, ensure_ascii=False),
             now, now),
        ).lastrowid
        self._list(c, doc_id, now)
        version_id = self._insert_version(c, doc_id, d, doc.title, doc.body, doc.attachments, now)
        c.execute("UPDATE documents SET version_id = ? WHERE id = ?", (version_id, doc_id))
        if self.baseline and not topics:
            return  # silently into the baseline
        summary = _new_summary(d, self.baseline)
        self._event(c, "document.new", doc_id, version_id, None, doc.title, doc.entry.url, d, topics, reasons,
                    summary, now)
        self.result.new += 1

    def _insert_version(self, c, doc_id: int, d: Detail, title: str, body: str,
                        attachments: list[Attachment], now: str) -> int:
        files = [{"name": a.name, "url": a.url} for a in attachments]
        return c.execute(
            """INSERT INTO versions (document_id, fetched_at, url, title, body, body_hash, attachments, published,
                   published_meta, doc_number, issuer, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (doc_id, now, d.url, title, body, normalize.text_hash(title + "\n" + body),
             json.dumps(files, ensure_ascii=False), d.published, d.published_meta, d.doc_number, d.issuer,
             json.dumps(d.meta, ensure_ascii=False)),
        ).lastrowid

    def _apply_recheck(self, c, rc: _Recheck, now: str) -> None:
        doc = c.execute("SELECT * FROM documents WHERE id = ?", (rc.doc_id,)).fetchone()
        if rc.failed:
            return  # a failed fetch says nothing about the document; try again next time
        if rc.gone:
            self._gone(c, doc, now)
            return
        c.execute("UPDATE documents SET last_checked_at = ?, misses = 0 WHERE id = ?", (now, doc["id"]))
        if rc.detail is None:
            if doc["withdrawn"]:
                self._restored(c, doc, None, now)
            return
        self._compare(c, doc, rc.detail, now)

    def _compare(self, c, doc, detail: Detail, now: str) -> None:
        prev = c.execute("SELECT * FROM versions WHERE id = ?", (doc["version_id"],)).fetchone()
        _merge_entry(detail, Entry(url=doc["url"], title=doc["title"], doc_number=doc["doc_number"],
                                   issuer=doc["issuer"], published=doc["published"]))
        title = normalize.normalize_title(detail.title or doc["title"])
        body = normalize.normalize_text(detail.body)
        text_changed = normalize.text_hash(title + "\n" + body) != prev["body_hash"]
        old_files = [Attachment(**a) for a in json.loads(prev["attachments"])]
        files_changed = sorted((a.url, a.name) for a in old_files) != sorted((a.url, a.name) for a in detail.attachments)
        if not (text_changed or files_changed or doc["withdrawn"]):
            return
        matches = match_topics(self.config.topics, title, body)
        topics = [m.topic for m in matches] or json.loads(doc["topics"])
        reasons = {m.topic: m.reasons for m in matches} or json.loads(doc["reasons"])
        version_id = self._insert_version(c, doc["id"], detail, title, body, detail.attachments, now)
        c.execute("""UPDATE documents SET version_id = ?, title = ?, published = ?, published_meta = ?, modified = ?,
                     doc_number = ?, issuer = ?, topics = ?, reasons = ?, withdrawn = 0 WHERE id = ?""",
                  (version_id, title, detail.published, detail.published_meta, detail.modified, detail.doc_number,
                   detail.issuer, json.dumps(topics), json.dumps(reasons, ensure_ascii=False), doc["id"]))
        if doc["withdrawn"]:
            self._restored(c, doc, version_id, now, text_changed=text_changed)
        elif text_changed:
            diff = diff_text(prev["title"] + "\n" + prev["body"], title + "\n" + body)
            self._event(c, "document.revised", doc["id"], version_id, prev["id"], title, doc["url"], detail,
                        topics, reasons, diff.summary, now, diff_html=diff.html, diff_text=diff.text)
            self.result.revised += 1
        if files_changed and not doc["withdrawn"]:
            summary, html = diff_attachments(old_files, detail.attachments)
            self._event(c, "document.attachments", doc["id"], version_id, prev["id"], title, doc["url"], detail,
                        topics, reasons, summary, now, diff_html=html, diff_text=summary)
            self.result.revised += 1

    def _gone(self, c, doc, now: str) -> None:
        misses = doc["misses"] + 1
        c.execute("UPDATE documents SET misses = ?, last_checked_at = ? WHERE id = ?", (misses, now, doc["id"]))
        if misses == WITHDRAW_AFTER and not doc["withdrawn"]:
            c.execute("UPDATE documents SET withdrawn = 1 WHERE id = ?", (doc["id"],))
            prev = c.execute("SELECT * FROM versions WHERE id = ?", (doc["version_id"],)).fetchone()
            self._event(c, "document.withdrawn", doc["id"], None, prev["id"], doc["title"], doc["url"], None,
                        json.loads(doc["topics"]), json.loads(doc["reasons"]),
                        f"the page no longer answers (checked {WITHDRAW_AFTER} times)", now)

    def _restored(self, c, doc, version_id: int | None, now: str, text_changed: bool = False) -> None:
        c.execute("UPDATE documents SET withdrawn = 0 WHERE id = ?", (doc["id"],))
        summary = "restored: the page is reachable again" + (" with changed text" if text_changed else "")
        self._event(c, "document.revised", doc["id"], version_id, doc["version_id"],
                    doc["title"], doc["url"], None, json.loads(doc["topics"]), json.loads(doc["reasons"]),
                    summary, now)
        self.result.revised += 1

    def _event(self, c, kind: str, doc_id: int | None, version_id: int | None, prev_id: int | None, title: str,
               url: str | None, detail: Detail | None, topics: list[str], reasons: dict, summary: str, now: str,
               **extra) -> None:
        doc = c.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone() if doc_id else None

        def pick(key: str):
            # the page just read wins; a withdrawal (no page) falls back to what the document last said
            if detail is not None and getattr(detail, key):
                return getattr(detail, key)
            return doc[key] if doc else None

        event_id = self.store.add_event(
            c, kind=kind, detected_at=now, source=self.source.id, agency=self.source.agency,
            region=self.source.region, document_id=doc_id, version_id=version_id, prev_version_id=prev_id,
            title=title, url=url, published=pick("published"), doc_number=pick("doc_number"),
            issuer=pick("issuer"), topics=topics, reasons=reasons, baseline=self.baseline and kind == "document.new",
            summary=summary, **extra,
        )
        self.result.events.append(event_id)
        if kind == "document.new":
            c.execute("UPDATE sources SET last_new_at = ?, last_new_title = ? WHERE id = ?",
                      (now, title, self.source.id))

    # -- health ---------------------------------------------------------------------------
    def _update_health(self, c, now: str, ok: bool) -> None:
        st = c.execute("SELECT * FROM sources WHERE id = ?", (self.source.id,)).fetchone()
        threshold = self.config.settings.fail_threshold
        outcome = self.result.outcome
        if ok:
            if st["health"] != "ok":
                self._health_event(c, "source.recovered", f"polls succeed again after {st['consecutive_failures']}"
                                   f" failed polls since {st['failing_since']}", now)
            c.execute("""UPDATE sources SET last_poll_at = ?, last_outcome = ?, last_error = ?, last_ok_at = ?,
                         consecutive_failures = 0, failing_since = NULL, health = 'ok', next_poll_at = ?,
                         had_entries = had_entries OR ? WHERE id = ?""",
                      (now, outcome, self.result.message or None, now,
                       iso(self.now + timedelta(seconds=self.source.interval)),
                       int(self.result.entries > 0), self.source.id))
            if self.baseline and self._baseline_complete(c):
                c.execute("UPDATE sources SET baseline_at = ? WHERE id = ?", (now, self.source.id))
            return
        failures = st["consecutive_failures"] + 1
        since = st["failing_since"] or now
        health = st["health"]
        if failures >= threshold and health == "ok":
            if outcome == "blocked":
                health = "blocked"
            elif outcome == "empty" and st["had_entries"]:
                health = "broken"
            else:
                health = "failing"
            self._health_event(c, f"source.{health}", f"{failures} consecutive polls failed since {since}: "
                               f"{outcome}: {self.result.message}", now)
        backoff = min(self.source.interval * (2 ** min(failures - 1, 20)), max(self.config.settings.max_backoff,
                                                                               self.source.interval))
        c.execute("""UPDATE sources SET last_poll_at = ?, last_outcome = ?, last_error = ?,
                     consecutive_failures = ?, failing_since = ?, health = ?, next_poll_at = ? WHERE id = ?""",
                  (now, outcome, self.result.message or None, failures, since, health,
                   iso(self.now + timedelta(seconds=backoff * random.uniform(0.9, 1.0))), self.source.id))

    def _baseline_complete(self, c) -> bool:
        """A baseline is complete when every listed document was read.

        Documents whose detail page failed stay unknown and are read by the next poll,
        still as baseline. A page that never loads must not keep the source in baseline
        mode for ever (new documents would go unannounced), so after fail_threshold
        such polls the baseline is closed anyway.
        """
        if self.result.errors == 0:
            return True
        attempts = c.execute("SELECT count(*) FROM polls WHERE source = ? AND outcome IN ('ok', 'not_modified')",
                             (self.source.id,)).fetchone()[0]
        return attempts + 1 >= self.config.settings.fail_threshold

    def _health_event(self, c, kind: str, summary: str, now: str) -> None:
        title = f"{self.source.name} ({self.source.id})"
        event_id = self.store.add_event(
            c, kind=kind, detected_at=now, source=self.source.id, agency=self.source.agency,
            region=self.source.region, title=title, url=self.source.url, summary=summary,
            outcome=self.result.outcome,
        )
        self.result.events.append(event_id)


def _merge_entry(detail: Detail, entry: Entry) -> None:
    """Fill what the detail page lacks from what the list (or list API) said."""
    detail.title = detail.title or entry.title
    detail.doc_number = detail.doc_number or entry.doc_number
    detail.issuer = detail.issuer or entry.issuer
    detail.published = detail.published or entry.published or entry.list_date
    detail.modified = detail.modified or entry.modified
    if not detail.attachments and entry.attachments:
        detail.attachments = list(entry.attachments)


def _new_summary(d: Detail, baseline: bool) -> str:
    parts = []
    if baseline:
        parts.append("Already published when tracking began (baseline).")
    if d.doc_number:
        parts.append(d.doc_number)
    if d.published:
        parts.append(f"published {d.published[:10]}")
    if d.attachments:
        parts.append(f"{len(d.attachments)} attachment(s)")
    return "; ".join(parts) or "new document"

