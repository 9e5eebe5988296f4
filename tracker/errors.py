"""Typed failures. Each fetch failure carries the outcome class stored for the poll."""

from __future__ import annotations


class TrackerError(Exception):
    """Base of every error the tracker reports to a user."""


class ConfigError(TrackerError):
    """A bad sources.toml: the message names the file, the source and the key."""


class FetchError(TrackerError):
    """A response that must never become a version or an event."""

    outcome = "network_error"

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class Blocked(FetchError):
    outcome = "blocked"  # anti-bot challenge or interstitial (Ruishu, Jiasule, 安全验证 …)


class SoftNotFound(FetchError):
    outcome = "soft_404"  # "page not found" served with 200, or a redirect to the site root


class HttpError(FetchError):
    outcome = "http_error"


class NetworkError(FetchError):
    outcome = "network_error"


class TLSError(FetchError):
    outcome = "tls_error"


class TooLarge(FetchError):
    outcome = "too_large"


class ParseError(FetchError):
    """The page or API answer does not have the shape the adapter expects."""

    outcome = "parse_error"


class Empty(FetchError):
    """The list matched no entries (a redesign, not a mass removal)."""

    outcome = "empty"


OUTCOMES = (
    "ok",
    "not_modified",
    "blocked",
    "soft_404",
    "http_error",
    "network_error",
    "tls_error",
    "too_large",
    "parse_error",
    "empty",
)
