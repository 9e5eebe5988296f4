"""Feed rendering from stored events: escaping, control characters, frozen dates, ordering."""

from __future__ import annotations

import feedparser

from tracker.config import Config, Settings, Source, Topic
from tracker.feeds import build_feed, render, write_feeds
from tracker.store import Store


def make_config(tmp_path) -> Config:
    src = Source(id="s1", name="S1", agency="MIIT", region="national", cms="html", url="http://127.0.0.1:1/",
                 interval=3600, recheck=86400, recheck_for=86400 * 180, list={"item": "li", "link": "a@href"})
    return Config(path=tmp_path / "sources.toml", settings=Settings(data_dir=tmp_path, feed_size=2),
                  topics=[Topic(id="ai", name="AI")], sources=[src])


def add(store: Store, n: int, title: str, **extra) -> None:
    with store.transaction() as c:
        store.add_event(c, kind="document.new", detected_at=f"2026-05-0{n}T08:00:00+00:00", source="s1",
                        agency="MIIT", region="national", title=title, url=f"http://127.0.0.1:1/{n}.html",
                        topics=["ai"], reasons={"ai": ["title keyword AI"]}, summary="s", **extra)


def test_hostile_titles_are_escaped_and_control_characters_dropped(tmp_path):
    config = make_config(tmp_path)
    with Store(tmp_path / "t.db") as store:
        add(store, 1, "<script>alert(1)</script> 通知\x07\x1b")
        events = store.events()
    for fmt in ("rss", "atom"):
        raw = render(build_feed(events, title="All", path="all", config=config), fmt)
        assert b"<script>" not in raw and b"\x07" not in raw and b"CDATA" not in raw
        parsed = feedparser.parse(raw)
        assert not parsed.bozo
        assert parsed.entries[0].title == "[NEW] MIIT <script>alert(1)</script> 通知"


def test_feed_keeps_the_newest_events_and_dates_come_from_events(tmp_path):
    config = make_config(tmp_path)
    with Store(tmp_path / "data.db") as store:
        for n in (1, 2, 3):
            add(store, n, f"第{n}号")
        write_feeds(config, store)
    atom = feedparser.parse((tmp_path / "feeds" / "all.atom").read_bytes())
    assert [e.title for e in atom.entries] == ["[NEW] MIIT 第3号", "[NEW] MIIT 第2号"]
    assert atom.feed.updated == "2026-05-03T08:00:00+00:00"
    assert atom.entries[1].published == "2026-05-02T08:00:00+00:00"
    rss = feedparser.parse((tmp_path / "feeds" / "topics" / "ai.rss").read_bytes())
    assert rss.entries[0].id.startswith("tag:") and "event/3" in rss.entries[0].id
