"""The web side of `tracker serve`: feeds over HTTP and the change-log pages.

Starlette + Jinja2, server-rendered, no JavaScript. Every value that came from a
crawled page goes through Jinja's autoescaping; the one exception is the stored
diff HTML, which the diff module built from escaped text (<del>/<ins> only).

Feeds are the same bytes as the feed files (tracker.feeds builds both). Their
ETag and Last-Modified come from the newest event in the feed: events are
immutable and append-only, so the newest event id fixes the whole window of the
feed, and a 304 needs one indexed query and no rendering.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from array import array
from bisect import bisect_left
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from . import __version__
from .config import Config
from .feeds import EPOCH, LABELS, build_feed, feed_specs, render, tag_uri
from .store import EventRow, Store, parse_iso

HERE = Path(__file__).parent
PAGE_SIZE = 50
FEED_TYPES = {"rss": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8"}
# query filters on /feeds/all.rss|.atom (source too, so any view of the change log has its feed)
FEED_FILTERS = ("agency", "region", "kind", "topic", "source")
LOG_FILTERS = ("topic", "source", "agency", "region", "kind")
EVENT_KINDS = tuple(LABELS)

# China's 31 provincial-level regions: (English name used in sources.toml, short and full Chinese names)
REGIONS: list[tuple[str, str, str]] = [
    ("Beijing", "北京", "北京市"), ("Tianjin", "天津", "天津市"), ("Hebei", "河北", "河北省"),
    ("Shanxi", "山西", "山西省"), ("Inner Mongolia", "内蒙古", "内蒙古自治区"), ("Liaoning", "辽宁", "辽宁省"),
    ("Jilin", "吉林", "吉林省"), ("Heilongjiang", "黑龙江", "黑龙江省"), ("Shanghai", "上海", "上海市"),
    ("Jiangsu", "江苏", "江苏省"), ("Zhejiang", "浙江", "浙江省"), ("Anhui", "安徽", "安徽省"),
    ("Fujian", "福建", "福建省"), ("Jiangxi", "江西", "江西省"), ("Shandong", "山东", "山东省"),
    ("Henan", "河南", "河南省"), ("Hubei", "湖北", "湖北省"), ("Hunan", "湖南", "湖南省"),
    ("Guangdong", "广东", "广东省"), ("Guangxi", "广西", "广西壮族自治区"), ("Hainan", "海南", "海南省"),
    ("Chongqing", "重庆", "重庆市"), ("Sichuan", "四川", "四川省"), ("Guizhou", "贵州", "贵州省"),
    ("Yunnan", "云南", "云南省"), ("Tibet", "西藏", "西藏自治区"), ("Shaanxi", "陕西", "陕西省"),
    ("Gansu", "甘肃", "甘肃省"), ("Qinghai", "青海", "青海省"), ("Ningxia", "宁夏", "宁夏回族自治区"),
    ("Xinjiang", "新疆", "新疆维吾尔自治区"),
]
NATIONAL = ("National", "全国", "中央")
_NATIONAL_ALIASES = {"national", "china", "全国", "中央", "国家", "cn", "prc"}
_REGION_ALIASES = {"xizang": "Tibet", "neimenggu": "Inner Mongolia", "innermongolia": "Inner Mongolia"}


def region_key(value: str | None) -> str | None:
    """'Jiangsu', 'jiangsu', '江苏', '江苏省' -> 'Jiangsu'; national spellings -> 'National'; else None."""
    text = (value or "").strip()
    flat = text.lower().replace(" ", "").replace("-", "").replace("_", "")
    if not flat or flat in _NATIONAL_ALIASES:
        return "National"
    if flat in _REGION_ALIASES:
        return _REGION_ALIASES[flat]
    for en, short, full in REGIONS:
        if flat in (en.lower().replace(" ", ""), short, full):
            return en
    return None


# -- per-thread stores ----------------------------------------------------------------------
class Stores:
    """One sqlite connection per worker thread (sync endpoints run in a thread pool)."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._all: list[Store] = []
        self._lock = threading.Lock()

    def get(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store(self.path)
            self._local.store = store
            with self._lock:
                self._all.append(store)
        return store

    def close(self) -> None:
        with self._lock:
            for s in self._all:
                s.close()
            self._all.clear()


# -- token ------------------------------------------------------------------------------------
def request_token(request: Request) -> str | None:
    if request.query_params.get("token"):
        return request.query_params["token"]
    if request.headers.get("x-tracker-token"):
        return request.headers["x-tracker-token"]
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


class TokenGuard:
    """With settings.token set, every page, feed and /health needs it (query or header)."""

    def __init__(self, app, token: str | None):
        self.app = app
        self.token = token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.token or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        given = request_token(Request(scope))
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            resp = PlainTextResponse("401: this tracker needs its token (?token=… or an X-Tracker-Token header)\n",
                                     status_code=401, headers={"WWW-Authenticate": 'Bearer realm="tracker"'})
            await resp(scope, receive, send)
            return
        await self.app(scope, receive, send)


# -- templates ----------------------------------------------------------------------------------
def safe_href(url: str | None) -> str | None:
    """Only http(s) links become hrefs: a crawled 'javascript:' URL stays text."""
    if not url:
        return None
    return url if urlsplit(url).scheme.lower() in ("http", "https") else None


def short_time(value: str | None) -> str:
    return (value or "")[:16].replace("T", " ")


def make_templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                      autoescape=select_autoescape(["html"], default_for_string=True))
    env.filters["href"] = safe_href
    env.filters["when"] = short_time
    env.filters["day"] = lambda v: (v or "")[:10]
    env.globals["LABELS"] = LABELS
    return Jinja2Templates(env=env)


@dataclass
class Links:
    """Builds internal links; a token given in the query string is carried along."""

    token: str | None = None

    def __call__(self, path: str, **params) -> str:
        query = {k: v for k, v in params.items() if v not in (None, "")}
        if self.token:
            query["token"] = self.token
        return path + ("?" + urlencode(query) if query else "")


@dataclass
class App:
    config: Config
    stores: Stores
    templates: Jinja2Templates
    scheduler: object | None = None  # a tracker.schedule.PollScheduler when scheduling is on
    topic_names: dict[str, str] = field(default_factory=dict)
    modified: ModifiedClock = field(default_factory=lambda: ModifiedClock())

    def page(self, request: Request, name: str, context: dict, status: int = 200):
        links = Links(request.query_params.get("token") or None)
        base = {"config": self.config, "u": links, "token": links.token, "topic_names": self.topic_names}
        return self.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


def _app(request: Request) -> App:
    return request.app.state.tracker


# -- feeds ----------------------------------------------------------------------------------------
class ModifiedClock:
    """A Last-Modified second per event that strictly increases with the event id.

    detected_at cannot serve directly: several events share a second, and a poll
    stamps its events with its start time but commits them later, so a feed can
    gain an event whose detected_at is not newer than the Last-Modified a reader
    already has. Readers built on libcurl's time condition (newsboat) then throw
    the new feed away as "not modified". Here event i gets
    max(detected_at(i), modified(i-1) + 1 s): derived from the immutable events
    only, so every process computes the same value, and a feed's Last-Modified
    moves forward whenever its newest event changes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = array("q")
        self._secs = array("q")

    def at(self, store: Store, event_id: int) -> datetime:
        with self._lock:
            if not self._ids or self._ids[-1] < event_id:
                self._extend(store)
            i = bisect_left(self._ids, event_id)
            if i == len(self._ids) or self._ids[i] != event_id:
                raise KeyError(event_id)
            return datetime.fromtimestamp(self._secs[i], UTC)

    def _extend(self, store: Store) -> None:
        last_id = self._ids[-1] if self._ids else 0
        prev = self._secs[-1] if self._secs else None
        for event_id, detected in store.conn.execute(
                "SELECT id, detected_at FROM events WHERE id > ? ORDER BY id", (last_id,)):
            sec = int(parse_iso(detected).timestamp())
            prev = sec if prev is None else max(sec, prev + 1)
            self._ids.append(event_id)
            self._secs.append(prev)


def feed_etag(config: Config, stem: str, fmt: str, filters: dict, newest_id: int) -> str:
    """Newest event id plus everything else that shapes the bytes (never the render time)."""
    topic_names = sorted((t.id, t.name) for t in config.topics)
    shape = json.dumps([__version__, stem, fmt, sorted(filters.items()), config.settings.feed_size,
                        config.settings.feed_base_url, topic_names, [(s.id, s.name) for s in config.sources]],
                       ensure_ascii=False)
    return f'"{newest_id}-{hashlib.sha256(shape.encode()).hexdigest()[:16]}"'


def not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    inm = request.headers.get("if-none-match")
    if inm is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
        tags = [t.strip() for t in inm.split(",")]
        return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and last_modified.replace(microsecond=0) <= since
    return False


def feed(request: Request) -> Response:
    app = _app(request)
    stem, _, fmt = request.path_params["path"].rpartition(".")
    specs = {s.path: s for s in feed_specs(app.config)}
    if fmt not in FEED_TYPES or stem not in specs:
        return PlainTextResponse("404: no such feed\n", status_code=404)
    spec = specs[stem]
    extra = {k: request.query_params[k] for k in FEED_FILTERS if stem == "all" and request.query_params.get(k)}
    filters = {**spec.filters, **extra}
    store = app.stores.get()
    newest = store.events(limit=1, **filters)
    newest_id = newest[0].id if newest else 0
    when = app.modified.at(store, newest_id) if newest else EPOCH
    etag = feed_etag(app.config, stem, fmt, extra, newest_id)
    headers = {"ETag": etag, "Last-Modified": format_datetime(when, usegmt=True), "Cache-Control": "no-cache"}
    if not_modified(request, etag, when):
        return Response(status_code=304, headers=headers)
    events = store.events(limit=app.config.settings.feed_size, **filters)
    title = spec.title + (" (" + ", ".join(f"{k}={v}" for k, v in sorted(extra.items())) + ")" if extra else "")
    fg = build_feed(events, title=title, path=stem, config=app.config)
    if extra:
        # a filtered view is a feed of its own: its own id and self link
        base = app.config.settings.feed_base_url
        query = urlencode(sorted(extra.items()))
        fg.id(tag_uri(base, f"feed/{stem}?{query}"))
        fg.link([{"href": f"{base}/", "rel": "alternate"},
                 {"href": f"{base}/feeds/{stem}.{fmt}?{query}", "rel": "self"}], replace=True)
    return Response(render(fg, fmt), media_type=FEED_TYPES[fmt], headers=headers)


# -- pages ------------------------------------------------------------------------------------------
def _reviews(store: Store, ids: list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    marks = ",".join("?" for _ in ids)
    return {r["event_id"]: dict(r) for r in store.q(f"SELECT * FROM reviews WHERE event_id IN ({marks})", ids)}


def _choices(app: App, store: Store) -> dict[str, list]:
    agencies = {s.agency for s in app.config.sources if s.agency}
    regions = {s.region for s in app.config.sources if s.region}
    agencies |= {r[0] for r in store.q("SELECT DISTINCT agency FROM events WHERE agency IS NOT NULL")}
    regions |= {r[0] for r in store.q("SELECT DISTINCT region FROM events WHERE region IS NOT NULL")}
    return {
        "topic": [(t.id, t.name) for t in app.config.topics],
        "source": [(s.id, s.name) for s in app.config.sources],
        "agency": [(a, a) for a in sorted(agencies)],
        "region": [(r, r) for r in sorted(regions)],
        "kind": [(k, f"{LABELS[k]} {k}") for k in EVENT_KINDS],
    }


def _page_number(request: Request) -> int:
    try:
        return max(int(request.query_params.get("page", "1")), 1)
    except ValueError:
        return 1


def index(request: Request):
    app = _app(request)
    store = app.stores.get()
    filters = {k: request.query_params.get(k) or None for k in LOG_FILTERS}
    page = _page_number(request)
    rows = store.events(limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE, **filters)
    events, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    active = {k: v for k, v in filters.items() if v}
    filtered_feed = ("/feeds/all", active) if active else None
    return app.page(request, "index.html", {
        "events": events, "reviews": _reviews(store, [e.id for e in events]), "filters": filters,
        "active": active, "choices": _choices(app, store), "page": page, "more": more,
        "filtered_feed": filtered_feed, "feeds": feed_specs(app.config),
    })


def event_page(request: Request):
    app = _app(request)
    store = app.stores.get()
    ev = store.event(request.path_params["event_id"])
    if ev is None:
        return app.page(request, "error.html", {"message": "No such event."}, status=404)
    doc = store.document(ev.document_id) if ev.document_id else None
    version = store.version(ev.version_id)
    return app.page(request, "event.html", {
        "ev": ev, "doc": doc, "review": store.review(ev.id),
        "attachments": json.loads(version["attachments"]) if version else [],
        "prev": store.version(ev.prev_version_id), "version": version,
    })


def document_page(request: Request):
    app = _app(request)
    store = app.stores.get()
    doc = store.document(request.path_params["doc_id"])
    if doc is None:
        return app.page(request, "error.html", {"message": "No such document."}, status=404)
    versions = [{**dict(v), "files": json.loads(v["attachments"])} for v in store.versions_of(doc["id"])]
    events = [EventRow.from_row(r) for r in
              store.q("SELECT * FROM events WHERE document_id = ? ORDER BY id DESC", (doc["id"],))]
    listed = store.q("SELECT * FROM listings WHERE document_id = ? ORDER BY first_seen_at", (doc["id"],))
    return app.page(request, "document.html", {
        "doc": doc, "topics": json.loads(doc["topics"]), "reasons": json.loads(doc["reasons"]),
        "versions": versions, "events": events, "reviews": _reviews(store, [e.id for e in events]),
        "listings": listed,
    })


def _next_runs(app: App) -> dict:
    try:
        return app.scheduler.next_runs() if app.scheduler is not None else {}
    except Exception:  # the scheduler is stopping
        return {}


def sources_page(request: Request):
    app = _app(request)
    store = app.stores.get()
    states = store.all_source_states()
    next_runs = _next_runs(app)
    running = app.scheduler.running() if app.scheduler is not None else set()
    rows = []
    for s in app.config.sources:
        st = dict(states[s.id]) if s.id in states else {}
        nxt = next_runs.get(s.id)
        rows.append({"source": s, "st": st, "documents": store.count_documents(s.id),
                     "next_run": nxt.isoformat(timespec="seconds") if nxt else st.get("next_poll_at"),
                     "polling": s.id in running or bool(st.get("lock_owner"))})
    return app.page(request, "sources.html", {"rows": rows, "scheduled": app.scheduler is not None})


@dataclass
class Cell:
    count: int = 0
    latest_id: int | None = None
    latest_title: str = ""
    latest_day: str = ""


def coverage_cells(store: Store, topic: str) -> dict[tuple[str, str], Cell]:
    """(region as stored, agency) -> documents matching the topic, from the document events."""
    rows = store.q(
        """SELECT DISTINCT e.region, e.agency, d.id, d.title,
                  COALESCE(d.published, d.list_date, d.first_seen_at) AS day
           FROM event_topics t JOIN events e ON e.id = t.event_id JOIN documents d ON d.id = e.document_id
           WHERE t.topic = ? AND e.kind LIKE 'document.%'""",
        (topic,),
    )
    cells: dict[tuple[str, str], Cell] = {}
    seen: set[tuple[str, str, int]] = set()
    for r in rows:
        key = (r["region"] or "", r["agency"] or "")
        if (*key, r["id"]) in seen:
            continue
        seen.add((*key, r["id"]))
        cell = cells.setdefault(key, Cell())
        cell.count += 1
        day = (r["day"] or "")[:10]
        if cell.latest_id is None or (day, r["id"]) > (cell.latest_day, cell.latest_id):
            cell.latest_id, cell.latest_title, cell.latest_day = r["id"], r["title"], day
    return cells


def _merge(cells: list[Cell]) -> Cell | None:
    cells = [c for c in cells if c.count]
    if not cells:
        return None
    best = max(cells, key=lambda c: (c.latest_day, c.latest_id or 0))
    return Cell(sum(c.count for c in cells), best.latest_id, best.latest_title, best.latest_day)


def coverage_table(app: App, store: Store, topic: str) -> dict:
    raw = coverage_cells(store, topic)
    agencies = list(dict.fromkeys([s.agency for s in app.config.sources if s.enabled and s.agency]
                                  + sorted({a for _, a in raw if a})))
    grouped: dict[str, dict[str, list[Cell]]] = {}
    other: list[str] = []
    for (region, agency), cell in raw.items():
        key = region_key(region)
        if key is None:
            key = f"other:{region}"
            if region not in other:
                other.append(region)
        grouped.setdefault(key, {}).setdefault(agency, []).append(cell)
    # (grouping key, English label, Chinese name, full Chinese name)
    rows = [("National", *NATIONAL)] + [(en, en, short, full) for en, short, full in REGIONS]
    rows += [(f"other:{r}", r or "(no region)", "", "") for r in sorted(other)]
    table = []
    for key, label, short, full in rows:
        by_agency = grouped.get(key, {})
        table.append({"key": key, "region": label, "zh": short, "full": full,
                      "total": _merge([c for cs in by_agency.values() for c in cs]),
                      "cells": [_merge(by_agency.get(a, [])) for a in agencies]})
    provinces = {en for en, _, _ in REGIONS}
    covered = sum(1 for r in table if r["total"] and r["key"] in provinces)
    return {"agencies": agencies, "rows": table, "covered": covered}


def coverage_page(request: Request):
    app = _app(request)
    store = app.stores.get()
    chosen = request.query_params.get("topic")
    topics = [t for t in app.config.topics if not chosen or t.id == chosen]
    tables = [(t, coverage_table(app, store, t.id)) for t in topics]
    return app.page(request, "coverage.html", {"tables": tables, "chosen": chosen})


def health_data(app: App, store: Store) -> dict:
    states = store.all_source_states()
    counts = {"ok": 0, "failing": 0, "blocked": 0, "broken": 0, "never_polled": 0}
    for s in app.config.sources:
        if not s.enabled:
            continue
        st = states.get(s.id)
        if st is None or not st["last_poll_at"]:
            counts["never_polled"] += 1
        else:
            counts[st["health"]] = counts.get(st["health"], 0) + 1
    counts["disabled"] = sum(1 for s in app.config.sources if not s.enabled)
    last = store.one("SELECT max(last_poll_at) FROM sources")[0]
    bad = counts["failing"] + counts["blocked"] + counts["broken"]
    return {"status": "degraded" if bad else "ok", "sources": counts, "last_poll": last,
            "events": store.count_events(),
            "scheduler": "running" if app.scheduler is not None else "off", "version": __version__}


def health(request: Request):
    app = _app(request)
    return JSONResponse(health_data(app, app.stores.get()))


def not_found(request: Request, exc) -> Response:
    app = _app(request)
    return app.page(request, "error.html", {"message": "Not found."}, status=404)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket for uvicorn, bound before anything else starts.

    The socket must say IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted
    connections of such sockets, and without it every keep-alive request waits
    40 ms for a delayed ACK.
    """
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      proto=socket.IPPROTO_TCP)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class ServerThread:
    """The app served by uvicorn on a loopback port in a background thread (tests, demos)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.sock = listen(host, port)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port, log_level="warning",
                                                    access_log=False, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


# -- the application ---------------------------------------------------------------------------------
def create_app(config: Config, *, scheduler=None) -> Starlette:
    stores = Stores(config.settings.db_path)
    routes = [
        Route("/", index),
        Route("/events/{event_id:int}", event_page),
        Route("/documents/{doc_id:int}", document_page),
        Route("/sources", sources_page),
        Route("/coverage", coverage_page),
        Route("/health", health),
        Route("/feeds/{path:path}", feed),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]

    @asynccontextmanager
    async def lifespan(_app):
        yield
        stores.close()

    web = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: not_found})
    web.state.tracker = App(config, stores, make_templates(), scheduler, {t.id: t.name for t in config.topics})
    web.add_middleware(TokenGuard, token=config.settings.token)
    return web
