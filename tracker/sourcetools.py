"""`tracker sources test` and `tracker sources add`: checking and adding sources by hand."""

from __future__ import annotations

import re
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from . import extract as ex
from .config import Config, Source, default_config_path, load, parse
from .errors import ConfigError, FetchError
from .fetch import Fetcher, Session
from .sites import get_adapter

SHOW = 10


def test_source(config: Config, source_id: str, out=None) -> int:
    """Fetch a source once, print its entries and the first detail page's fields; store nothing."""
    out = out or sys.stdout  # looked up now: a default bound at import would outlive a redirected stdout
    source = config.source(source_id)
    adapter = get_adapter(source.cms)
    with Fetcher(config.settings) as fetcher:
        session = Session(fetcher, source)
        try:
            listing = adapter.list(source, session)
        except FetchError as e:
            print(f"{source.id}: list failed: {e.outcome}: {e}", file=out)
            return 1
        print(f"{source.id}: {len(listing.entries)} entries ({source.cms}, {source.url})", file=out)
        for n, entry in enumerate(listing.entries, 1):
            extra = "  ".join(x for x in (entry.doc_number, entry.issuer) if x)
            print(f"{n:3}. {entry.list_date or '----------'}  {entry.title}  {extra}\n     {entry.url}", file=out)
        if not listing.entries:
            return 1
        first = listing.entries[0]
        try:
            detail = adapter.detail(source, first, session)
        except FetchError as e:
            print(f"first detail page failed: {e.outcome}: {e}", file=out)
            return 1
    print("\nFirst detail page:", file=out)
    fields = [("url", detail.url), ("title", detail.title), ("published", detail.published),
              ("published (meta)", detail.published_meta), ("signed", detail.signed),
              ("modified", detail.modified), ("文号", detail.doc_number), ("issuer", detail.issuer)]
    for k, v in fields:
        print(f"  {k + ':':<18} {v or '-'}", file=out)
    for a in detail.attachments:
        print(f"  {'attachment:':<18} {a.name} <{a.url}>", file=out)
    body = detail.body
    print(f"  {'body:':<18} {len(body)} characters", file=out)
    for line in body.splitlines()[:6]:
        print(f"    | {line[:100]}", file=out)
    return 0


# -- detection -------------------------------------------------------------------------------
@dataclass
class Detection:
    cms: str
    reason: str
    selectors: dict[str, str] | None = None  # cms = "html": the guessed list selectors


def detect_family(html: str) -> Detection | None:
    """Recognise the CMS family of a column page, in the order that worked for others."""
    if "AuthorizedRead/unitbuild.js" in html or "unitbuild.js" in html:
        return Detection("jpaas", "a unitbuild.js <script> tag (Hanweb JPaaS)")
    if re.search(r"<script[^>]+type=[\"']text/xml[\"']", html, re.I) and "<recordset" in html:
        return Detection("hanweb", "a text/xml datastore with <recordset> (Hanweb jcms)")
    if re.search(r"jpageform_?\d*|unitid=\d+", html):
        return Detection("hanweb", "a jpage form / unitid (Hanweb jcms)")
    if "window._CONFIG" in html and re.search(r"\bSID\b", html):
        return Detection("gkmlpt", "window._CONFIG with SID (Guangdong gkmlpt)")
    if "createPageHTML(" in html:
        return Detection("trs", "createPageHTML( pagination (TRS WCM)")
    guess = guess_list_selectors(html)
    if guess:
        return Detection("html", f"a repeated list of links with dates ({guess['item']})", guess)
    return None


def guess_list_selectors(html: str) -> dict[str, str] | None:
    """Find the repeated element that holds one link and a date: the notice list."""
    soup = ex.parse_html(html)
    groups: Counter = Counter()
    for el in soup.find_all(["li", "tr", "dd", "div", "p"]):
        links = el.find_all("a", href=True)
        if len(links) != 1 or ex.parse_date(el.get_text(" ")) is None:
            continue
        parent = el.parent
        if parent is None:
            continue
        groups[(_selector(parent), el.name)] += 1
    if not groups:
        return None
    (parent_sel, tag), count = groups.most_common(1)[0]
    if count < 3:
        return None
    item = f"{parent_sel} > {tag}"
    sample = soup.select(item)
    selectors = {"item": item, "link": "a@href"}
    # the html adapter falls back on the link text where a row has no title attribute
    if any(el.find("a").get("title") for el in sample[:5]):
        selectors["title"] = "a@title"
    for date_tag in ("span", "em", "i", "td", "font", "b"):
        if all(el.find(date_tag) and ex.parse_date(el.find(date_tag).get_text()) for el in sample[:5]):
            selectors["date"] = date_tag
            break
    return selectors


def _selector(el) -> str:
    if el.get("id") and re.fullmatch(r"[A-Za-z][\w-]*", el["id"]):
        return f"{el.name}#{el['id']}"
    classes = [c for c in el.get("class", []) if re.fullmatch(r"[A-Za-z][\w-]*", c)]
    if classes:
        return el.name + "".join(f".{c}" for c in classes[:2])
    parent = el.parent
    if parent is not None and parent.name not in ("[document]", "html", "body"):
        return f"{_selector(parent)} > {el.name}"
    return el.name


def derive_id(url: str, taken: set[str]) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "source").removeprefix("www.").split(".")[0]
    tail = [p for p in re.split(r"[/_.]", parts.path) if p and p not in ("index", "html", "htm", "shtml")]
    base = "-".join([host] + tail[-2:]).lower()
    base = re.sub(r"[^a-z0-9-]+", "-", base).strip("-") or "source"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def source_block(source_id: str, url: str, det: Detection, *, name: str, agency: str, region: str,
                 entries: list) -> str:
    lines = [
        "",
        f"# Added by `tracker sources add` on {date.today().isoformat()}: {det.reason}.",
        f"# First entries seen: {len(entries)}; check with `tracker sources test {source_id}`.",
        "[[sources]]",
        f"id = {_toml_str(source_id)}",
        f"name = {_toml_str(name)}",
        f"agency = {_toml_str(agency)}",
        f"region = {_toml_str(region)}",
        f"cms = {_toml_str(det.cms)}",
        f"url = {_toml_str(url)}",
    ]
    if det.selectors:
        lines.append("[sources.list]")
        lines += [f"{k} = {_toml_str(v)}" for k, v in det.selectors.items()]
    return "\n".join(lines) + "\n"


def add_source(config_path: Path | None, url: str, *, source_id: str | None, name: str | None,
               agency: str, region: str, out=None) -> int:
    out = out or sys.stdout
    path = config_path or default_config_path()
    config = load(path)
    taken = {s.id for s in config.sources}
    if source_id and source_id in taken:
        raise ConfigError(f"{path}: a source with id {source_id!r} exists already")
    if not re.match(r"^https?://", url):
        raise ConfigError(f"not an http(s) URL: {url!r}")
    with Fetcher(config.settings) as fetcher:
        try:
            page = Session(fetcher, None).fetch(url)
        except FetchError as e:
            print(f"cannot fetch {url}: {e.outcome}: {e}", file=out)
            return 1
        det = detect_family(page.text)
        if det is None:
            print(f"{url}: no known CMS family and no list of dated links recognised; nothing written.", file=out)
            return 1
        sid = source_id or derive_id(url, taken)
        title = ex.clean(ex.parse_html(page.text).title.get_text()) if "<title" in page.text else ""
        probe = Source(id=sid, name=name or title or sid, agency=agency, region=region, cms=det.cms, url=url,
                       interval=config.settings.interval, recheck=config.settings.recheck,
                       recheck_for=config.settings.recheck_for, list=det.selectors or {})
        try:
            listing = get_adapter(det.cms).list(probe, Session(fetcher, probe))
        except FetchError as e:
            print(f"{url}: looks like {det.cms} ({det.reason}) but reading the list failed: "
                  f"{e.outcome}: {e}; nothing written.", file=out)
            return 1
    print(f"{url}: {det.cms} — {det.reason}", file=out)
    for entry in listing.entries[:SHOW]:
        print(f"  {entry.list_date or '----------'}  {entry.title}\n      {entry.url}", file=out)
    block = source_block(sid, url, det, name=probe.name, agency=agency, region=region, entries=listing.entries)
    text = path.read_text(encoding="utf-8")
    new_text = text + ("" if text.endswith("\n") else "\n") + block
    parse(tomllib.loads(new_text), path, new_text)  # never write a file that would not load
    with open(path, "a", encoding="utf-8") as f:
        f.write(("" if text.endswith("\n") else "\n") + block)
    print(f"appended source {sid!r} to {path}", file=out)
    return 0
