"""Load and validate sources.toml.

Every problem is reported as one ConfigError naming the file, the source id and
the key (and the line when it can be found), before anything is written.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

CMS_FAMILIES = ("html", "jpaas", "hanweb", "trs", "gkmlpt", "govcn", "miit-search")
DEFAULT_USER_AGENT = "tracker/0.1 (policy follow-up tracker; +https://github.com/)"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID = re.compile(r"^[a-z0-9-]+$")


def parse_duration(text: str) -> float:
    """'90s', '5m', '6h', '1d' -> seconds. Raises ValueError on anything else."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, (int, float)):
        return float(text)
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"bad duration {text!r} (use a number with s, m, h or d, e.g. \"6h\")")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class Settings:
    data_dir: Path
    interval: float = 6 * 3600
    recheck: float = 86400
    recheck_for: float = 180 * 86400
    feed_size: int = 100
    feed_base_url: str = "http://localhost:8080"
    timeout: float = 30
    host_delay: float = 5
    concurrency: int = 4
    user_agent: str = DEFAULT_USER_AGENT
    max_bytes: int = 20 * 1024 * 1024
    fail_threshold: int = 3
    max_backoff: float = 86400
    jitter: float = 600
    retries: int = 3
    token: str | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tracker.db"

    @property
    def feeds_dir(self) -> Path:
        return self.data_dir / "feeds"


@dataclass
class Topic:
    id: str
    name: str
    cites: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)


@dataclass
class Source:
    id: str
    name: str
    agency: str
    region: str
    cms: str
    url: str
    interval: float
    recheck: float
    recheck_for: float
    enabled: bool = True
    pages: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    verify: bool = True
    host_delay: float | None = None
    timeout: float | None = None
    query: str | None = None  # search keyword for search-API kinds (govcn search, miit-search)
    category: str | None = None  # gkmlpt category id
    params: dict[str, str] = field(default_factory=dict)  # extra API query parameters
    list: dict[str, str] = field(default_factory=dict)  # cms = "html": list selectors
    detail: dict[str, str] = field(default_factory=dict)  # detail selectors (any cms may override)


@dataclass
class Config:
    path: Path
    settings: Settings
    topics: list[Topic]
    sources: list[Source]

    def source(self, source_id: str) -> Source:
        for s in self.sources:
            if s.id == source_id:
                return s
        known = ", ".join(s.id for s in self.sources) or "none"
        raise ConfigError(f"{self.path}: no source with id {source_id!r} (known: {known})")

    def topic(self, topic_id: str) -> Topic:
        for t in self.topics:
            if t.id == topic_id:
                return t
        raise ConfigError(f"{self.path}: no topic with id {topic_id!r}")


SETTINGS_KEYS = {
    "data_dir": str, "interval": "duration", "recheck": "duration", "recheck_for": "duration",
    "feed_size": int, "feed_base_url": str, "timeout": "duration", "host_delay": "duration",
    "concurrency": int, "user_agent": str, "max_bytes": int, "fail_threshold": int,
    "max_backoff": "duration", "jitter": "duration", "retries": int, "token": str,
}
TOPIC_KEYS = {"id": str, "name": str, "cites": list, "keywords": list, "exclude": list}
SOURCE_KEYS = {
    "id": str, "name": str, "agency": str, "region": str, "cms": str, "url": str,
    "interval": "duration", "recheck": "duration", "recheck_for": "duration", "enabled": bool,
    "pages": int, "headers": dict, "verify": bool, "host_delay": "duration", "timeout": "duration",
    "query": str, "category": str, "params": dict, "list": dict, "detail": dict,
}
SOURCE_REQUIRED = ("id", "name", "agency", "region", "cms", "url")
LIST_KEYS = {"item", "link", "title", "date"}
DETAIL_KEYS = {"title", "content", "date", "doc_number", "issuer", "attachments"}


def default_config_path() -> Path:
    return Path(os.environ.get("TRACKER_CONFIG") or "sources.toml")


class _Reporter:
    """Builds error messages that point at the file, source, key and line."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = text.splitlines()

    def line_of(self, key: str, source_id: str | None = None, section: str | None = None) -> int | None:
        start = 0
        if source_id is not None:
            pat = re.compile(r"^\s*id\s*=\s*[\"']" + re.escape(source_id) + r"[\"']")
            for i, line in enumerate(self.lines):
                if pat.match(line):
                    start = i
                    # the block begins at the nearest [[...]] header above
                    for j in range(i, -1, -1):
                        if self.lines[j].lstrip().startswith("[["):
                            start = j
                            break
                    break
        elif section is not None:
            for i, line in enumerate(self.lines):
                if line.strip() == f"[{section}]":
                    start = i
                    break
        key_pat = re.compile(r"^\s*(\[+\s*)?[\w.\"-]*\b" + re.escape(key) + r"\b[\"]?\s*(=|\])")
        for i in range(start, len(self.lines)):
            if i > start and source_id is not None and self.lines[i].lstrip().startswith("[[") :
                break
            if key_pat.match(self.lines[i]):
                return i + 1
        return None

    def error(self, message: str, *, key: str | None = None, source_id: str | None = None,
              section: str | None = None, where: str | None = None) -> ConfigError:
        parts = [str(self.path)]
        line = self.line_of(key, source_id, section) if key else None
        if line:
            parts[0] += f":{line}"
        label = where or (f"source {source_id!r}" if source_id else section)
        if label:
            parts.append(label)
        if key:
            parts.append(f"key {key!r}")
        return ConfigError(": ".join(parts) + f": {message}")


def _check_value(rep: _Reporter, kind, value, key, **ctx):
    if kind == "duration":
        try:
            return parse_duration(value)
        except ValueError as e:
            raise rep.error(str(e), key=key, **ctx) from None
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise rep.error(f"expected a whole number, got {value!r}", key=key, **ctx)
    if kind is not int and not isinstance(value, kind):
        names = {str: "a string", list: "a list", dict: "a table", bool: "true or false"}
        raise rep.error(f"expected {names.get(kind, kind)}, got {value!r}", key=key, **ctx)
    return value


def _unknown(rep: _Reporter, table: dict, allowed, **ctx) -> None:
    for key in table:
        if key not in allowed:
            hint = ", ".join(sorted(allowed))
            raise rep.error(f"unknown key (allowed: {hint})", key=key, **ctx)


def load(path: str | Path | None = None) -> Config:
    path = Path(path) if path else default_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found (use --config PATH or $TRACKER_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read configuration: {e}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return parse(raw, path, text)


def parse(raw: dict, path: Path, text: str = "") -> Config:
    rep = _Reporter(path, text)
    base = path.resolve().parent
    _unknown(rep, raw, {"settings", "topics", "sources"}, where="top level")
    settings = _parse_settings(rep, raw.get("settings", {}), base)
    topics = _parse_topics(rep, raw.get("topics", []))
    sources = _parse_sources(rep, raw.get("sources", []), settings)
    return Config(path=path, settings=settings, topics=topics, sources=sources)


def _parse_settings(rep: _Reporter, table, base: Path) -> Settings:
    if not isinstance(table, dict):
        raise rep.error("[settings] must be a table", where="settings")
    ctx = {"section": "settings"}
    _unknown(rep, table, SETTINGS_KEYS, **ctx)
    values = {k: _check_value(rep, SETTINGS_KEYS[k], v, k, **ctx) for k, v in table.items()}
    for key in ("feed_size", "concurrency", "max_bytes", "fail_threshold"):
        if key in values and values[key] < 1:
            raise rep.error("must be at least 1", key=key, **ctx)
    if values.get("retries", 0) < 0:
        raise rep.error("must not be negative", key="retries", **ctx)
    data_dir = Path(values.pop("data_dir", "data"))
    if not data_dir.is_absolute():
        data_dir = base / data_dir
    if "feed_base_url" in values:
        values["feed_base_url"] = values["feed_base_url"].rstrip("/")
    return Settings(data_dir=data_dir, **values)


def _parse_topics(rep: _Reporter, items) -> list[Topic]:
    if not isinstance(items, list):
        raise rep.error("[[topics]] must be an array of tables", where="topics")
    topics: list[Topic] = []
    seen: set[str] = set()
    for n, item in enumerate(items, 1):
        tid = item.get("id") if isinstance(item, dict) else None
        ctx = {"where": f"topic {tid!r}" if tid else f"topic #{n}"}
        if not isinstance(item, dict):
            raise rep.error("each [[topics]] entry must be a table", **ctx)
        _unknown(rep, item, TOPIC_KEYS, **ctx)
        for key in ("id", "name"):
            if key not in item:
                raise rep.error("missing required key", key=key, **ctx)
        values = {k: _check_value(rep, TOPIC_KEYS[k], v, k, **ctx) for k, v in item.items()}
        for key in ("cites", "keywords", "exclude"):
            if any(not isinstance(x, str) or not x.strip() for x in values.get(key, [])):
                raise rep.error("must be a list of non-empty strings", key=key, **ctx)
        if not _ID.match(values["id"]):
            raise rep.error("ids use lower-case letters, digits and '-'", key="id", **ctx)
        if values["id"] in seen:
            raise rep.error("duplicate topic id", key="id", **ctx)
        seen.add(values["id"])
        topics.append(Topic(**values))
    return topics


def _parse_sources(rep: _Reporter, items, settings: Settings) -> list[Source]:
    if not isinstance(items, list):
        raise rep.error("[[sources]] must be an array of tables", where="sources")
    sources: list[Source] = []
    seen: set[str] = set()
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise rep.error("each [[sources]] entry must be a table", where=f"source #{n}")
        sid = item.get("id")
        ctx = {"source_id": sid} if isinstance(sid, str) else {"where": f"source #{n}"}
        _unknown(rep, item, SOURCE_KEYS, **ctx)
        for key in SOURCE_REQUIRED:
            if key not in item:
                raise rep.error("missing required key", key=key, **ctx)
        values = {k: _check_value(rep, SOURCE_KEYS[k], v, k, **ctx) for k, v in item.items()}
        if not _ID.match(values["id"]):
            raise rep.error("ids use lower-case letters, digits and '-'", key="id", **ctx)
        if values["id"] in seen:
            raise rep.error("duplicate source id", key="id", **ctx)
        seen.add(values["id"])
        if values["cms"] not in CMS_FAMILIES:
            raise rep.error(f"unknown cms {values['cms']!r} (known: {', '.join(CMS_FAMILIES)})", key="cms", **ctx)
        if not re.match(r"^https?://[^/\s]+", values["url"]):
            raise rep.error("url must start with http:// or https://", key="url", **ctx)
        if values.get("pages", 1) < 1:
            raise rep.error("must be at least 1", key="pages", **ctx)
        _check_tables(rep, values, ctx)
        values.setdefault("interval", settings.interval)
        values.setdefault("recheck", settings.recheck)
        values.setdefault("recheck_for", settings.recheck_for)
        sources.append(Source(**values))
    return sources


def _check_tables(rep: _Reporter, values: dict, ctx: dict) -> None:
    for key in ("headers", "params"):
        for k, v in values.get(key, {}).items():
            if not isinstance(v, str):
                raise rep.error(f"{key}.{k} must be a string", key=k, **ctx)
    _unknown(rep, values.get("list", {}), LIST_KEYS, **ctx)
    _unknown(rep, values.get("detail", {}), DETAIL_KEYS, **ctx)
    for table in ("list", "detail"):
        for k, v in values.get(table, {}).items():
            if not isinstance(v, str) or not v.strip():
                raise rep.error(f"{table}.{k} must be a non-empty CSS selector string", key=k, **ctx)
    if values["cms"] == "html":
        for key in ("item", "link"):
            if key not in values.get("list", {}):
                raise rep.error("cms = \"html\" needs [sources.list] with item and link selectors",
                                key=key, **ctx)
