"""The served feeds in a real feed reader: newsboat (Debian package), run non-interactively.

newsboat reloads the feeds (`-x reload print-unread`) into its own sqlite cache
in a temporary directory; the test reads titles and read state from that cache.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess

import pytest

from conftest import html_source, write_config
from tracker.cli import run_poll
from tracker.config import load
from tracker.feeds import entry_title
from tracker.review import set_review
from tracker.store import Store
from tracker.web import ServerThread, create_app

NEWSBOAT = shutil.which("newsboat")
pytestmark = pytest.mark.skipif(NEWSBOAT is None, reason="newsboat is not installed (apt-get install newsboat)")


class Recorder:
    """ASGI wrapper keeping (path, status) of every response, to see the reader's 304s."""

    def __init__(self, app):
        self.app = app
        self.log: list[tuple[str, int]] = []

    async def __call__(self, scope, receive, send):
        async def record(message):
            if message["type"] == "http.response.start":
                self.log.append((scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, record if scope["type"] == "http" else send)


class Newsboat:
    def __init__(self, home, urls: list[str]):
        self.home = home
        (home / "urls").write_text("\n".join(urls) + "\n", encoding="utf-8")
        (home / "config").write_text("", encoding="utf-8")
        self.cache = home / "cache.db"

    def reload(self) -> int:
        """Reload every feed; the number of unread articles afterwards."""
        proc = subprocess.run(
            [NEWSBOAT, "-u", str(self.home / "urls"), "-c", str(self.cache), "-C", str(self.home / "config"),
             "-x", "reload", "print-unread"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(self.home)},
        )
        assert proc.returncode == 0, proc.stderr
        m = re.search(r"(\d+) unread articles?", proc.stdout)
        assert m, proc.stdout + proc.stderr
        return int(m.group(1))

    def items(self, feed_url: str) -> list[tuple[str, int]]:
        with sqlite3.connect(self.cache) as c:
            return c.execute("SELECT title, unread FROM rss_item WHERE feedurl = ? ORDER BY id",
                             (feed_url,)).fetchall()

    def read_everything(self) -> None:
        # what a reader does when the user has gone through the list
        with sqlite3.connect(self.cache) as c:
            c.execute("UPDATE rss_item SET unread = 0")


def expected_titles(cfg, **filters) -> set[str]:
    with Store(cfg.settings.db_path) as store:
        return {entry_title(ev) for ev in store.events(**filters)}


def test_newsboat_reads_the_served_feeds_and_sees_only_new_events(tmp_path, site):
    cfg = load(write_config(tmp_path, html_source(site)))
    site.set_state(0)
    run_poll(cfg)
    site.set_state(1)
    run_poll(cfg)
    app = Recorder(create_app(cfg))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with ServerThread(app) as srv:
        # one reader per feed: newsboat keeps one article per GUID, and an event is in several feeds
        all_atom = f"{srv.base_url}/feeds/all.atom"
        topic_rss = f"{srv.base_url}/feeds/topics/ai-manufacturing.rss"
        reader, topic_reader = Newsboat(tmp_path / "a", [all_atom]), Newsboat(tmp_path / "b", [topic_rss])

        assert reader.reload() == 3
        assert {t for t, _ in reader.items(all_atom)} == expected_titles(cfg)
        # the same feed again: the same three articles, none duplicated (newsboat 2.21 also
        # stores the ETag only on its second fetch of a feed, newsboat issue #2734)
        assert reader.reload() == 3 and len(reader.items(all_atom)) == 3
        assert topic_reader.reload() == 2
        topic_titles = {t for t, _ in topic_reader.items(topic_rss)}
        assert topic_titles == expected_titles(cfg, topic="ai-manufacturing")
        assert not any("安全生产月" in t for t in topic_titles)

        # nothing new (a review changes no feed): no new unread item, and the reader got a 304
        reader.read_everything()
        with Store(cfg.settings.db_path) as store:
            set_review(store, store.newest_event().id, note="seen", significance="high")
        app.log.clear()
        assert reader.reload() == 0
        assert app.log == [("/feeds/all.atom", 304)]
        assert len(reader.items(all_atom)) == 3

        # new events: exactly those are unread
        site.set_state(2)
        run_poll(cfg)
        assert reader.reload() == 2  # a revision and an attachment change
        fresh = [t for t, unread in reader.items(all_atom) if unread]
        assert sorted(t.split()[0] for t in fresh) == ["[ATTACHMENTS]", "[REVISED]"]
        assert {t for t, _ in reader.items(all_atom)} == expected_titles(cfg)
        assert reader.reload() == 2  # reloading again adds nothing
