"""Failures never become changes: source health episodes, backoff and withdrawal, through `tracker poll`."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import feedparser
import pytest

from conftest import FIXTURES, html_source, write_config

LIST = "/notices/index.html"
DOC = "/notices/2026/doc-ai.html"
RUISHU = (FIXTURES / "faults" / "state0" / "ruishu.html")
EMPTY_LIST = "<html><head><title>通知公告</title></head><body><ul class='list'></ul></body></html>"


@pytest.fixture
def cli(tmp_path, site, make_cli):
    return make_cli(write_config(tmp_path, html_source(site), settings='max_backoff = "1d"\nretries = 0'))


def db(tmp_path) -> sqlite3.Connection:
    conn = sqlite3.connect(tmp_path / "data" / "tracker.db")
    conn.row_factory = sqlite3.Row
    return conn


def counts(tmp_path) -> dict[str, int]:
    with db(tmp_path) as c:
        return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("documents", "versions")} | {
            "doc_events": c.execute("SELECT count(*) FROM events WHERE kind LIKE 'document.%'").fetchone()[0]}


def kinds(cli, prefix: str = "source.") -> list[str]:
    return [e["kind"] for e in reversed(cli.log()) if e["kind"].startswith(prefix)]


def ruishu_body() -> str:
    return RUISHU.read_text(encoding="utf-8")


def test_blocked_source_gives_one_event_per_episode_and_one_recovery(cli, site, tmp_path):
    assert cli("poll")[0] == 0
    before = counts(tmp_path)
    site.override(LIST, status=412, body=ruishu_body())
    outcomes = []
    for _ in range(5):
        code, out, _ = cli("poll")
        assert code == 1
        outcomes.append("blocked" in out)
    assert all(outcomes)
    assert kinds(cli) == ["source.blocked"]
    assert counts(tmp_path) == before  # no version, no document event from a challenge page
    with db(tmp_path) as c:
        row = c.execute("SELECT consecutive_failures, health, last_outcome FROM sources").fetchone()
    assert tuple(row) == (5, "blocked", "blocked")
    site.clear(LIST)
    assert cli("poll")[0] == 0
    assert cli("poll")[0] == 0
    assert kinds(cli) == ["source.blocked", "source.recovered"]
    assert counts(tmp_path) == before
    # health goes to the all and source feeds, never to topic feeds
    feeds = tmp_path / "data" / "feeds"
    all_titles = [e.title for e in feedparser.parse((feeds / "all.atom").read_bytes()).entries]
    topic_titles = [e.title for e in feedparser.parse((feeds / "topics/ai-manufacturing.atom").read_bytes()).entries]
    assert any(t.startswith("[BLOCKED]") for t in all_titles)
    assert any(t.startswith("[RECOVERED]") for t in all_titles)
    assert not any(t.startswith(("[BLOCKED]", "[RECOVERED]")) for t in topic_titles)


def test_a_list_that_stops_matching_is_broken_not_a_mass_removal(cli, site, tmp_path):
    assert cli("poll")[0] == 0
    before = counts(tmp_path)
    site.override(LIST, status=200, body=EMPTY_LIST)
    for _ in range(4):
        code, out, _ = cli("poll")
        assert code == 1 and "empty" in out
    assert kinds(cli) == ["source.broken"]
    assert counts(tmp_path) == before
    site.clear(LIST)
    cli("poll")
    assert kinds(cli) == ["source.broken", "source.recovered"]


def test_failing_source_backs_off_doubling_up_to_max_backoff(cli, site, tmp_path):
    assert cli("poll")[0] == 0
    site.override(LIST, status=500, body="oops")
    gaps = []
    for _ in range(5):
        cli("poll")
        with db(tmp_path) as c:
            row = c.execute("SELECT last_poll_at, next_poll_at FROM sources").fetchone()
        gaps.append((datetime.fromisoformat(row[1]) - datetime.fromisoformat(row[0])).total_seconds())
    hours = [g / 3600 for g in gaps]
    # interval 6h: 6, 12, 24 (capped at 1d), 24, 24 — with up to 10% jitter below
    for got, want in zip(hours, [6, 12, 24, 24, 24], strict=True):
        assert want * 0.89 <= got <= want, hours
    assert kinds(cli) == ["source.failing"]
    site.clear(LIST)
    cli("poll")
    with db(tmp_path) as c:
        row = c.execute("SELECT last_poll_at, next_poll_at, consecutive_failures FROM sources").fetchone()
    assert (datetime.fromisoformat(row[1]) - datetime.fromisoformat(row[0])).total_seconds() == 6 * 3600
    assert row[2] == 0


def test_withdrawal_after_two_rechecks_and_restoration(cli, site, tmp_path):
    assert cli("poll")[0] == 0
    site.override(DOC, status=404, body="<html><title>404</title></html>")
    cli("poll")
    assert kinds(cli, "document.withdrawn") == []
    cli("poll")
    assert kinds(cli, "document.withdrawn") == ["document.withdrawn"]
    cli("poll")
    assert kinds(cli, "document.withdrawn") == ["document.withdrawn"]  # once, not once per poll
    feeds = tmp_path / "data" / "feeds"
    titles = [e.title for e in feedparser.parse((feeds / "topics/ai-manufacturing.rss").read_bytes()).entries]
    assert titles[0].startswith("[WITHDRAWN]")
    site.clear(DOC)
    cli("poll")
    revised = cli.log("--kind", "document.revised")
    assert len(revised) == 1 and "restored" in revised[0]["summary"]


def test_faults_leave_the_same_documents_events_and_feeds_as_a_fault_free_run(tmp_path, make_cli):
    from tracker.testsite import TestSite

    def run(root, faults: bool):
        with TestSite(FIXTURES / "html" / "ministry") as site:
            cli = make_cli(write_config(root, html_source(site), settings="retries = 0"))
            for state in (0, 1, 2):
                site.set_state(state)
                if faults:
                    # a detail page failing (a partial baseline in state 0), then three bad list polls
                    for path, kw in ((DOC, {"status": 503, "body": "busy"}),
                                     (LIST, {"status": 412, "body": ruishu_body()}),
                                     (LIST, {"status": 200, "body": EMPTY_LIST}),
                                     (LIST, {"action": "reset"})):
                        site.override(path, **kw)
                        cli("poll")
                        site.clear(path)
                cli("poll")
            events = [(e["kind"], e["title"], e["summary"], e["topics"]) for e in reversed(cli.log())
                      if e["kind"].startswith("document.")]
            with db(root) as c:
                docs = [tuple(r) for r in c.execute(
                    "SELECT substr(key, instr(key, '/')) AS path, title, published, doc_number, issuer, withdrawn"
                    " FROM documents ORDER BY path")]
                versions = c.execute("SELECT count(*) FROM versions").fetchone()[0]
            topic_feed = feedparser.parse((root / "data/feeds/topics/ai-manufacturing.atom").read_bytes())
            return events, docs, versions, [e.title for e in topic_feed.entries], kinds(cli)

    (clean_root := tmp_path / "clean").mkdir()
    (faulty_root := tmp_path / "faulty").mkdir()
    clean = run(clean_root, False)
    faulty = run(faulty_root, True)
    # a fault delays an event to a later poll, so compare what was found, not the order it was found in
    events, docs, versions, topic_titles, _ = faulty
    assert sorted(events) == sorted(clean[0])
    assert docs == clean[1]
    assert versions == clean[2]
    assert sorted(topic_titles) == sorted(clean[3])
    assert clean[4] == []
    assert "source.recovered" in faulty[4]
