"""A loopback HTTP site that serves recorded pages, for tests, the demo and benchmarks.

A scenario is a folder of states:

    scenario/
      state0/               the baseline: files laid out by URL path
        list/index.html     -> GET /list/index.html (and /list/)
      state1/               only what changed; missing files fall back to earlier states
      routes.json           optional: [{"path": "/api/unit", "query": {"pageNo": "2"},
                                        "file": "api/unit_p2.json", "status": 200,
                                        "headers": {...}, "method": "GET", "state": 1}]

Text files may contain {{BASE}}, replaced by this site's own base URL, so
fixtures can hold absolute links without ever naming a real host.

Behaviour the tests need is switchable at run time: `set_state(n)` moves the
whole site; `override(path, ...)` makes one path answer with a given status,
body, headers, delay, a connection reset, a stall or an endless chunked body
("flood"), for a number of requests. Every request is logged with its time,
host, headers and how many body bytes were sent. The server only binds
to loopback addresses.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".json": "application/json",
    ".xml": "text/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
    ".js": "application/javascript",
}


@dataclass
class Override:
    status: int = 200
    body: bytes | str | None = None
    file: str | None = None  # a scenario file to serve instead of body
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    action: str | None = None  # "reset": close without answer; "stall": hang for `delay` mid-body;
    # "flood": a chunked body without Content-Length that goes on until the client hangs up
    times: int | None = None  # how many requests it applies to (None: until cleared)
    etag: bool = False


@dataclass
class LoggedRequest:
    at: float
    host: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0
    body: bytes = b""
    sent: int = 0  # body bytes written to the client


FLOOD_LIMIT = 256 * 1024 * 1024  # a "flood" stops here even if nobody hangs up


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # clients hanging up (size caps, timeouts, failed TLS handshakes) are expected here
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError | TimeoutError):
            return
        super().handle_error(request, client_address)


class TestSite:
    __test__ = False  # not a pytest class

    def __init__(self, root: str | Path, host: str = "127.0.0.1", port: int = 0, state: int = 0,
                 tls: tuple[str | Path, str | Path] | None = None):
        """`tls=(certfile, keyfile)` serves HTTPS with that (test-only, self-signed) certificate."""
        if not host.startswith("127."):
            raise ValueError("the test site only binds to loopback addresses (127.0.0.0/8)")
        self.root = Path(root)
        self.host = host
        self.state = state
        self.log: list[LoggedRequest] = []
        self.overrides: dict[str, Override] = {}
        self.etags = True
        self._lock = threading.Lock()
        self._server = _Server((host, port), self._handler_class())
        self.port = self._server.server_address[1]
        self.scheme = "https" if tls else "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> TestSite:
        # a short poll interval makes stop() quick (serve_forever checks for shutdown this often)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> TestSite:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- control ---------------------------------------------------------------------
    def set_state(self, state: int) -> None:
        with self._lock:
            self.state = state

    def override(self, path: str, **kwargs) -> None:
        with self._lock:
            self.overrides[path] = Override(**kwargs)

    def clear(self, path: str | None = None) -> None:
        with self._lock:
            if path is None:
                self.overrides.clear()
            else:
                self.overrides.pop(path, None)

    def requests(self, path: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.log if path is None or r.path == path]

    # -- resolution --------------------------------------------------------------------
    def _routes(self) -> list[dict]:
        f = self.root / "routes.json"
        return json.loads(f.read_text(encoding="utf-8")) if f.exists() else []

    def find_file(self, rel: str) -> Path | None:
        for state in range(self.state, -1, -1):
            p = self.root / f"state{state}" / rel
            if p.is_file():
                return p
        return None

    def resolve(self, method: str, path: str, query: dict[str, str]) -> tuple[int, Path | None, dict]:
        best = None
        for route in self._routes():
            if route.get("path") != path or route.get("method", "GET") != method:
                continue
            if "state" in route and route["state"] > self.state:
                continue
            want = route.get("query", {})
            if any(query.get(k) != str(v) for k, v in want.items()):
                continue
            # most specific match (most query keys), later states win on ties
            rank = (len(want), route.get("state", 0))
            if best is None or rank >= best[0]:
                best = (rank, route)
        if best:
            route = best[1]
            f = self.find_file(route["file"]) if route.get("file") else None
            return route.get("status", 200 if f or not route.get("file") else 404), f, route.get("headers", {})
        rel = path.lstrip("/")
        if not rel or rel.endswith("/"):
            rel += "index.html"
        f = self.find_file(rel)
        return (200, f, {}) if f else (404, None, {})

    def render(self, f: Path) -> bytes:
        data = f.read_bytes()
        if f.suffix in CONTENT_TYPES and b"{{BASE}}" in data:
            data = data.replace(b"{{BASE}}", self.base_url.encode())
        return data

    def _handler_class(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def do_HEAD(self):
                self._serve("HEAD")

            def _serve(self, method: str):
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                length = int(self.headers.get("Content-Length") or 0)
                body_in = self.rfile.read(length) if length else b""
                if method == "POST" and body_in:
                    query.update(dict(parse_qsl(body_in.decode("utf-8", "replace"), keep_blank_values=True)))
                rec = LoggedRequest(time.monotonic(), self.headers.get("Host", ""), method, parts.path,
                                    query, dict(self.headers), body=body_in)
                with site._lock:
                    site.log.append(rec)
                    ov = site.overrides.get(parts.path)
                    if ov is not None and ov.times is not None:
                        ov.times -= 1
                        if ov.times <= 0:
                            site.overrides.pop(parts.path, None)
                if ov is not None:
                    self._serve_override(ov, rec)
                    return
                status, f, headers = site.resolve(method, parts.path, query)
                if f is None:
                    body = b"<html><head><title>404 Not Found</title></head><body>not found</body></html>"
                    headers = {"Content-Type": "text/html; charset=utf-8", **headers}
                    status = 404 if status == 200 else status
                else:
                    body = site.render(f)
                    headers = {"Content-Type": CONTENT_TYPES.get(f.suffix, "application/octet-stream"), **headers}
                if site.etags and status == 200:
                    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                    headers.setdefault("ETag", etag)
                    if self.headers.get("If-None-Match") == headers["ETag"]:
                        status, body = 304, b""
                rec.status = status
                self._send(status, headers, body, head=(method == "HEAD"))
                rec.sent = 0 if method == "HEAD" or status == 304 else len(body)

            def _serve_override(self, ov: Override, rec: LoggedRequest):
                if ov.action == "reset":
                    rec.status = -1
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                if ov.delay and ov.action != "stall":
                    time.sleep(ov.delay)
                if ov.file:
                    f = site.find_file(ov.file)
                    body = site.render(f) if f else b""
                    ctype = CONTENT_TYPES.get(Path(ov.file).suffix, "application/octet-stream")
                else:
                    body = ov.body.encode("utf-8") if isinstance(ov.body, str) else (ov.body or b"")
                    ctype = "text/html; charset=utf-8"
                headers = {"Content-Type": ctype, **ov.headers}
                rec.status = ov.status
                if ov.action == "flood":
                    self._flood(ov.status, headers, body or b"<p>flood</p>", rec)
                    return
                if ov.action == "stall":
                    # headers and half the body, then silence: a read timeout, not a connect error
                    self.send_response(ov.status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body) + 10))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    rec.sent = len(body) // 2
                    time.sleep(ov.delay or 5)
                    self.close_connection = True
                    return
                self._send(ov.status, headers, body)
                rec.sent = len(body)

            def _flood(self, status: int, headers: dict, unit: bytes, rec: LoggedRequest):
                self.close_connection = True
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = unit * max(1, 65536 // len(unit))
                frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
                try:
                    while rec.sent < FLOOD_LIMIT:
                        self.wfile.write(frame)
                        rec.sent += len(chunk)
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass  # the client stopped reading and closed: what a size cap should do

            def _send(self, status: int, headers: dict, body: bytes, head: bool = False):
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head and status != 304:
                    self.wfile.write(body)

        return Handler
