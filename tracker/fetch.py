"""HTTP for the tracker: polite, bounded, classified.

Contract used by adapters and by `poll`:

    fetcher = Fetcher(settings, validators=lookup)      # lookup(key) -> (etag, last_modified)
    resp = fetcher.fetch(url, source=src, params=..., conditional=True)
    resp.text / resp.content / resp.json() / resp.not_modified / resp.validators

A response that is not usable raises a FetchError subclass (errors.py) whose
`outcome` is the stored classification. 304 is not an error: it returns a
Response with not_modified=True and an empty body.

One Fetcher is shared by sources polled in parallel threads. It keeps:
- a minimum gap between two requests to the same host (one request at a time
  per host; the next starts `host_delay` after the previous one ended), while
  different hosts never wait for each other;
- a global cap of `concurrency` requests in flight;
- one httpx client per TLS-verification setting.
Redirects are followed here, hop by hop, so every hop is spaced, size-capped and
checked against the loopback guard, and the chain ends up in Response.history.

Failures that may pass (connect errors, timeouts, resets, 429, 5xx) are tried
again up to `settings.retries` more times, with exponential backoff and jitter,
honouring Retry-After, within a total time budget. Bodies are streamed and
capped at `settings.max_bytes`, decoded from bytes (decode.py) and classified
(classify.py) before any adapter sees them.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from .classify import Verdict, diagnose
from .config import Settings, Source
from .decode import decode
from .errors import (
    Blocked,
    FetchError,
    HttpError,
    NetworkError,
    ParseError,
    SoftNotFound,
    TLSError,
    TooLarge,
)

Validators = tuple[str | None, str | None]

DEFAULT_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5",
}
MAX_REDIRECTS = 10
RETRY_BUDGET_S = 120.0  # total time one fetch may spend, tries and waits included
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 60.0
BODY_TIME_FACTOR = 10  # a body may take this many read timeouts in all (slow-drip servers)
LOOPBACK_ENV = "TRACKER_LOOPBACK_ONLY"
_ERRORS: dict[str, type[FetchError]] = {"blocked": Blocked, "soft_404": SoftNotFound, "http_error": HttpError}


@dataclass
class Response:
    url: str  # the URL asked for (with params)
    final_url: str
    status: int
    headers: dict[str, str]
    content: bytes
    text: str
    encoding: str
    history: list[str] = field(default_factory=list)  # URLs that redirected, in order
    fetched_at: str = ""
    not_modified: bool = False
    validators: Validators = (None, None)

    @property
    def key(self) -> str:
        return self.url

    def json(self):
        try:
            return json.loads(self.text.lstrip("\ufeff"))
        except ValueError as e:
            raise ParseError(f"invalid JSON from {self.url}: {e}", url=self.url, status=self.status) from None


def request_key(url: str, params: dict | None = None) -> str:
    return str(httpx.URL(url, params=params)) if params else url


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retryable_status(status: int) -> bool:
    return status == 429 or (500 <= status < 600 and status not in (501, 505))


@dataclass(frozen=True)
class _Plan:
    """Everything one fetch needs, resolved once from settings, source and arguments."""

    key: str
    method: str
    url: str
    params: dict | None
    data: dict | None
    content: bytes | None
    headers: httpx.Headers
    timeout: float
    delay: float
    verify: bool
    sent_validators: Validators


@dataclass
class _Raw:
    final_url: str
    status: int
    headers: dict[str, str]
    content: bytes
    history: list[str]


class _Retry(Exception):
    """A transient failure: retry after `wait` seconds (None: use backoff), else raise `error`."""

    def __init__(self, error: FetchError, wait: float | None = None):
        super().__init__(str(error))
        self.error = error
        self.wait = wait


@dataclass
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    free_at: float = float("-inf")  # monotonic time the last request to this host ended


class HostGate:
    """One request at a time per host, `delay` seconds apart; hosts are independent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {}

    @contextmanager
    def slot(self, host: str, delay: float) -> Iterator[None]:
        with self._lock:
            h = self._hosts.setdefault(host, _Host())
        with h.lock:
            wait = h.free_at + delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                h.free_at = time.monotonic()


class Fetcher:
    def __init__(self, settings: Settings, *, validators: Callable[[str], Validators] | None = None,
                 sleep: Callable[[float], None] = time.sleep, retry_budget: float = RETRY_BUDGET_S,
                 backoff_base: float = BACKOFF_BASE_S):
        self.settings = settings
        self.validators = validators or (lambda key: (None, None))
        self.sleep = sleep  # waits between tries only; injectable so tests run fast
        self.retry_budget = retry_budget
        self.backoff_base = backoff_base
        self.gate = HostGate()
        self._slots = threading.BoundedSemaphore(max(1, settings.concurrency))
        self._clients: dict[bool, httpx.Client] = {}
        self._clients_lock = threading.Lock()

    def close(self) -> None:
        with self._clients_lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- public --------------------------------------------------------------------------
    def fetch(self, url: str, *, source: Source | None = None, method: str = "GET",
              params: dict | None = None, data: dict | str | None = None,
              headers: dict | None = None, conditional: bool = False) -> Response:
        plan = self._plan(url, source, method.upper(), params, data, headers, conditional)
        tries = self.settings.retries + 1  # `retries` counts the tries after the first
        started = time.monotonic()
        for attempt in range(1, tries + 1):
            try:
                return self._attempt(plan)
            except _Retry as r:
                wait = r.wait if r.wait is not None else self._backoff(attempt)
                if attempt == tries or time.monotonic() - started + wait > self.retry_budget:
                    raise _final(r.error, attempt, wait if attempt < tries else None) from None
                self.sleep(wait)
        raise AssertionError("unreachable")

    # -- one try ---------------------------------------------------------------------------
    def _attempt(self, plan: _Plan) -> Response:
        raw = self._exchange(plan)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        validators = (raw.headers.get("etag"), raw.headers.get("last-modified"))
        if raw.status == 304:
            kept = (validators[0] or plan.sent_validators[0], validators[1] or plan.sent_validators[1])
            return Response(plan.key, raw.final_url, 304, raw.headers, b"", "", "", raw.history, now, True, kept)
        decoded = decode(raw.content, raw.headers.get("content-type"))
        verdict = diagnose(raw.status, raw.headers, raw.content, decoded.text, raw.final_url, plan.key, raw.history)
        if verdict is None:
            return Response(plan.key, raw.final_url, raw.status, raw.headers, raw.content, decoded.text,
                            decoded.encoding, raw.history, now, False, validators)
        error = _error(verdict, plan.key, raw)
        if verdict.outcome == "http_error" and retryable_status(raw.status):
            raise _Retry(error, retry_after(raw.headers.get("retry-after")))
        raise error

    def _exchange(self, plan: _Plan) -> _Raw:
        """Send the request and follow redirects hop by hop; returns the last response read."""
        client = self._client(plan.verify)
        try:
            request = client.build_request(plan.method, plan.url, params=plan.params, data=plan.data,
                                           content=plan.content, headers=plan.headers, timeout=plan.timeout)
        except httpx.InvalidURL as e:
            raise NetworkError(f"{plan.key}: invalid URL: {e}", url=plan.key) from None
        history: list[str] = []
        for _ in range(MAX_REDIRECTS + 1):
            url = str(request.url)
            _guard(request.url)
            with self.gate.slot(_host_key(request.url), plan.delay), self._slots:
                try:
                    response = client.send(request, stream=True, follow_redirects=False)
                    try:
                        if response.next_request is None:
                            content = self._read(response, url, plan.timeout)
                            return _Raw(url, response.status_code, dict(response.headers), content, history)
                    finally:
                        response.close()
                except httpx.HTTPError as e:
                    raise _transport_error(e, url) from None
            history.append(url)
            request = response.next_request
        raise NetworkError(f"{plan.key}: more than {MAX_REDIRECTS} redirects", url=plan.key)

    def _read(self, response: httpx.Response, url: str, timeout: float) -> bytes:
        """The body, streamed: stop as soon as it passes max_bytes, never hold more."""
        limit = self.settings.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise TooLarge(f"{url}: body of {declared} bytes exceeds max_bytes={limit} (not read)",
                           url=url, status=response.status_code)
        deadline = time.monotonic() + timeout * BODY_TIME_FACTOR
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"{url}: body exceeds max_bytes={limit} (stopped reading at {size} bytes)",
                               url=url, status=response.status_code)
            if time.monotonic() > deadline:
                raise _Retry(NetworkError(f"{url}: body still arriving after {timeout * BODY_TIME_FACTOR:g}s",
                                          url=url, status=response.status_code))
            chunks.append(chunk)
        return b"".join(chunks)

    # -- set-up ------------------------------------------------------------------------------
    def _plan(self, url: str, source: Source | None, method: str, params: dict | None,
              data: dict | str | None, headers: dict | None, conditional: bool) -> _Plan:
        key = request_key(url, params)
        hdrs = httpx.Headers({"User-Agent": self.settings.user_agent, **DEFAULT_HEADERS})
        if source:
            hdrs.update(source.headers)  # per-source headers win over the defaults
        hdrs.update(headers or {})
        sent: Validators = (None, None)
        if conditional and method == "GET":
            sent = self.validators(key)
            if sent[0]:
                hdrs["If-None-Match"] = sent[0]
            if sent[1]:
                hdrs["If-Modified-Since"] = sent[1]
        content = None
        if isinstance(data, str):
            # a raw body: JSON if it looks like JSON, else an already-encoded form
            content, data = data.encode("utf-8"), None
            if "content-type" not in hdrs:
                looks_json = content.lstrip()[:1] in (b"{", b"[")
                hdrs["Content-Type"] = "application/json" if looks_json else "application/x-www-form-urlencoded"
        timeout = source.timeout if source and source.timeout is not None else self.settings.timeout
        delay = source.host_delay if source and source.host_delay is not None else self.settings.host_delay
        verify = source.verify if source else True
        return _Plan(key, method, url, params, data, content, hdrs, timeout, delay, verify, sent)

    def _client(self, verify: bool) -> httpx.Client:
        with self._clients_lock:
            client = self._clients.get(verify)
            if client is None:
                # an environment proxy must not carry test traffic off the machine
                client = httpx.Client(verify=verify, follow_redirects=False, timeout=self.settings.timeout,
                                      trust_env=not _loopback_only())
                self._clients[verify] = client
            return client

    def _backoff(self, attempt: int) -> float:
        base = min(BACKOFF_CAP_S, self.backoff_base * 2 ** (attempt - 1))
        return base + random.uniform(0, base / 2)


# -- helpers ---------------------------------------------------------------------------------
def _error(verdict: Verdict, url: str, raw: _Raw) -> FetchError:
    where = url if raw.final_url == url else f"{url} (redirected to {raw.final_url})"
    return _ERRORS[verdict.outcome](f"{where}: {verdict.reason}", url=url, status=raw.status)


def _final(error: FetchError, tries: int, wait: float | None) -> FetchError:
    note = f"gave up after {tries} {'try' if tries == 1 else 'tries'}"
    if wait is not None:
        note += f"; next wait {wait:.1f}s exceeds the time budget"
    return type(error)(f"{error} ({note})", url=error.url, status=error.status)


def _transport_error(e: httpx.HTTPError, url: str) -> Exception:
    """Map an httpx failure to our classes; transient ones come wrapped in _Retry."""
    if isinstance(e, httpx.ConnectError) and _is_tls(e):
        return TLSError(f"{url}: TLS error: {e}", url=url)
    if isinstance(e, httpx.TimeoutException):
        return _Retry(NetworkError(f"{url}: timed out ({type(e).__name__})", url=url))
    if isinstance(e, httpx.TransportError) and not isinstance(e, httpx.UnsupportedProtocol | httpx.ProxyError):
        return _Retry(NetworkError(f"{url}: {type(e).__name__}: {e}", url=url))
    return NetworkError(f"{url}: {type(e).__name__}: {e}", url=url)


def _is_tls(e: BaseException) -> bool:
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(e).upper()
    return "CERTIFICATE" in text or "SSL" in text


def _host_key(url: httpx.URL) -> str:
    return f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"


def _loopback_only() -> bool:
    return bool(os.environ.get(LOOPBACK_ENV))


def _guard(url: httpx.URL) -> None:
    """With TRACKER_LOOPBACK_ONLY set (the test suite), refuse any host outside 127.0.0.0/8."""
    if not _loopback_only():
        return
    host = url.host
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise NetworkError(f"{url}: refusing non-loopback host {host!r} ({LOOPBACK_ENV} is set)",
                           url=url)


@dataclass
class FetchRecord:
    """One request as stored in the fetch log: what was asked and how it was classified."""

    url: str
    outcome: str
    status: int | None
    at: str
    detail: str = ""


class Session:
    """A source's view of the shared Fetcher.

    Adds the source's headers and politeness settings to every request, records
    every fetch with its classification, and collects the validators (ETag,
    Last-Modified) seen during the poll; `poll` stores those only when the poll's
    results commit, so a failed poll never turns into a 304 next time.
    """

    def __init__(self, fetcher: Fetcher, source: Source | None):
        self.fetcher = fetcher
        self.source = source
        self.records: list[FetchRecord] = []
        self.new_validators: dict[str, Validators] = {}

    def fetch(self, url: str, *, method: str = "GET", params: dict | None = None,
              data: dict | str | None = None, headers: dict | None = None,
              conditional: bool = False) -> Response:
        try:
            resp = self.fetcher.fetch(url, source=self.source, method=method, params=params, data=data,
                                      headers=headers, conditional=conditional)
        except FetchError as e:
            at = datetime.now(UTC).isoformat(timespec="seconds")
            self.records.append(FetchRecord(request_key(url, params), e.outcome, e.status, at, str(e)))
            raise
        outcome = "not_modified" if resp.not_modified else "ok"
        detail = f"redirected to {resp.final_url}" if resp.history else ""
        self.records.append(FetchRecord(resp.url, outcome, resp.status, resp.fetched_at, detail))
        if method.upper() == "GET" and not resp.not_modified and any(resp.validators):
            self.new_validators[resp.url] = resp.validators
        return resp
