"""HTTP for the tracker. (Minimal first version: issue 4 makes it polite and robust.)

Contract used by adapters and by `poll`:

    fetcher = Fetcher(settings, validators=lookup)      # lookup(key) -> (etag, last_modified)
    resp = fetcher.fetch(url, source=src, params=..., conditional=True)
    resp.text / resp.content / resp.json() / resp.not_modified / resp.validators

A response that is not usable raises a FetchError subclass (errors.py) whose
`outcome` is the stored classification. 304 is not an error: it returns a
Response with not_modified=True and an empty body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

from .config import Settings, Source
from .errors import HttpError, NetworkError, ParseError, TLSError

Validators = tuple[str | None, str | None]


@dataclass
class Response:
    url: str  # the URL asked for (with params)
    final_url: str
    status: int
    headers: dict[str, str]
    content: bytes
    text: str
    encoding: str
    history: list[str] = field(default_factory=list)
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
            raise ParseError(f"invalid JSON from {self.url}: {e}", url=self.url) from None


def request_key(url: str, params: dict | None = None) -> str:
    return str(httpx.URL(url, params=params)) if params else url


class Fetcher:
    def __init__(self, settings: Settings, *, validators: Callable[[str], Validators] | None = None):
        self.settings = settings
        self.validators = validators or (lambda key: (None, None))
        self.client = httpx.Client(follow_redirects=True, timeout=settings.timeout)

    def close(self) -> None:
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def fetch(self, url: str, *, source: Source | None = None, method: str = "GET",
              params: dict | None = None, data: dict | str | None = None,
              headers: dict | None = None, conditional: bool = False) -> Response:
        key = request_key(url, params)
        hdrs = {"User-Agent": self.settings.user_agent}
        if source:
            hdrs.update(source.headers)
        hdrs.update(headers or {})
        if conditional:
            etag, lm = self.validators(key)
            if etag:
                hdrs["If-None-Match"] = etag
            if lm:
                hdrs["If-Modified-Since"] = lm
        try:
            r = self.client.request(method, url, params=params, data=data, headers=hdrs)
        except httpx.ConnectError as e:
            if "CERTIFICATE" in str(e).upper() or "SSL" in str(e).upper():
                raise TLSError(f"TLS error for {url}: {e}", url=url) from None
            raise NetworkError(f"cannot connect to {url}: {e}", url=url) from None
        except httpx.HTTPError as e:
            raise NetworkError(f"{type(e).__name__} for {url}: {e}", url=url) from None
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        validators = (r.headers.get("etag"), r.headers.get("last-modified"))
        if r.status_code == 304:
            return Response(key, str(r.url), 304, dict(r.headers), b"", "", "", [], now, True, validators)
        if r.status_code >= 400:
            raise HttpError(f"HTTP {r.status_code} for {url}", url=url, status=r.status_code)
        content = r.content
        text = content.decode(r.encoding or "utf-8", errors="replace")
        return Response(key, str(r.url), r.status_code, dict(r.headers), content, text,
                        r.encoding or "utf-8", [str(h.url) for h in r.history], now, False, validators)


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
        from .errors import FetchError

        try:
            resp = self.fetcher.fetch(url, source=self.source, method=method, params=params, data=data,
                                      headers=headers, conditional=conditional)
        except FetchError as e:
            at = datetime.now(timezone.utc).isoformat(timespec="seconds")
            self.records.append(FetchRecord(request_key(url, params), e.outcome, e.status, at, str(e)))
            raise
        outcome = "not_modified" if resp.not_modified else "ok"
        self.records.append(FetchRecord(resp.url, outcome, resp.status, resp.fetched_at))
        if method == "GET" and not resp.not_modified and any(resp.validators):
            self.new_validators[resp.url] = resp.validators
        return resp
