"""The one contract every site adapter follows.

An adapter turns a source's pages into Entry and Detail records. It fetches only
through the `http` session it is given (politeness, classification and
conditional GET live there) and raises typed errors (errors.py) for pages it
cannot read: ParseError for a shape it does not recognise, Empty when a list
yields no entries. It never touches the store and never decides events.

Most families build on common.PageAdapter (a list read from the source's own page,
detail pages read by common.read_detail with the family's DetailRules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..config import Source
from ..model import Detail, Entry


class Http(Protocol):
    """What adapters may call: fetch.Session.fetch."""

    def fetch(self, url: str, *, method: str = "GET", params: dict | None = None,
              data: dict | str | None = None, headers: dict | None = None,
              conditional: bool = False): ...


@dataclass
class Listing:
    entries: list[Entry] = field(default_factory=list)
    # The first list page answered 304: nothing on the list changed, nothing was parsed.
    not_modified: bool = False


class Adapter(Protocol):
    cms: str

    def list(self, source: Source, http: Http) -> Listing:
        """Entries of the first `source.pages` list pages, de-duplicated, absolute URLs."""

    def detail(self, source: Source, entry: Entry, http: Http, *, conditional: bool = False) -> Detail | None:
        """The entry's detail page; None only when conditional and the server said 304."""
