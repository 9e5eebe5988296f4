"""The core, end to end through the real CLI against the loopback test site.

Scenario (tests/fixtures/html/ministry): state 0 is the baseline, state 1 adds an
irrelevant and a topic-matching notice, state 2 revises one character and adds
an attachment.
"""

from __future__ import annotations

import re

import feedparser
import pytest

from conftest import html_source, write_config

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")


@pytest.fixture
def cli(tmp_path, site, make_cli):
    return make_cli(write_config(tmp_path, html_source(site)))


def feed(tmp_path, name: str):
    parsed = feedparser.parse((tmp_path / "data" / "feeds" / name).read_bytes())
    assert not parsed.bozo, parsed.bozo_exception
    return parsed


def test_baseline_records_everything_but_announces_only_topic_matches(cli, tmp_path):
    code, out, err = cli("poll")
    assert code == 0, err
    assert "prov-notices" in out and "ok" in out
    events = cli.log()
    assert [e["kind"] for e in events] == ["document.new"]
    ev = events[0]
    assert ev["baseline"] is True
    assert ev["topics"] == ["ai-manufacturing"]
    assert ev["doc_number"] == "某工信信发〔2026〕63号"
    assert ev["published"] == "2026-03-09"
    assert ev["url"].endswith("/notices/2026/doc-ai.html")
    code, out, _ = cli("sources")
    assert re.search(r"prov-notices\s+yes\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+ok\s+ok\s+3\s", out), out
    topic = feed(tmp_path, "topics/ai-manufacturing.atom")
    assert [e.title for e in topic.entries] == [
        "[NEW] 某省工信厅 关于印发某省“人工智能+制造”诊断工作方案(2026-2027)的通知"]
    assert "already published when tracking began" in topic.entries[0].content[0].value.lower()
    assert feed(tmp_path, "topics/bio-manufacturing.rss").entries == []


def test_new_documents_after_baseline(cli, site, tmp_path):
    assert cli("poll")[0] == 0
    site.set_state(1)
    code, out, err = cli("poll")
    assert code == 0, err
    new = [e for e in cli.log("--kind", "document.new") if not e["baseline"]]
    by_title = {e["title"]: e for e in new}
    assert set(by_title) == {"关于做好2026年安全生产月活动的通知", "关于组织开展2026年工业智能体典型应用场景征集工作的通知"}
    assert by_title["关于做好2026年安全生产月活动的通知"]["topics"] == []
    ai = by_title["关于组织开展2026年工业智能体典型应用场景征集工作的通知"]
    assert ai["topics"] == ["ai-manufacturing"]
    assert ai["doc_number"] == "某工信信函〔2026〕88号"
    all_titles = [e.title for e in feed(tmp_path, "all.rss").entries]
    topic_titles = [e.title for e in feed(tmp_path, "topics/ai-manufacturing.rss").entries]
    assert any("安全生产月" in t for t in all_titles)
    assert not any("安全生产月" in t for t in topic_titles)
    assert any("工业智能体" in t for t in topic_titles)
    assert all_titles[0].startswith("[NEW]")
    # nothing changed: no event
    before = len(cli.log())
    assert cli("poll")[0] == 0
    assert len(cli.log()) == before


def test_one_character_revision_and_attachment_change(cli, site, tmp_path):
    cli("poll")
    site.set_state(1)
    cli("poll")
    site.set_state(2)
    code, _, err = cli("poll")
    assert code == 0, err
    revised = cli.log("--kind", "document.revised")
    assert len(revised) == 1
    rev = revised[0]
    assert rev["title"].startswith("关于印发某省“人工智能+制造”诊断工作方案")
    assert "1 paragraph changed" in rev["summary"]
    code, out, _ = cli("show", str(rev["id"]))
    assert code == 0
    assert "8" in out and "Diff:" in out
    assert "ai-manufacturing: cites" in out
    atom = feed(tmp_path, "all.atom")
    entry = next(e for e in atom.entries if e.title.startswith("[REVISED]"))
    html = entry.content[0].value
    assert re.search(r"<del>7</del>", html) and re.search(r"<ins>8</ins>", html), html
    assert "2026-202" in html  # context around the one changed character, not the whole paragraph
    assert "加快推进人工智能与制造业深度融合" not in html
    files = cli.log("--kind", "document.attachments")
    assert len(files) == 1 and "2026年工业智能体典型应用场景申报书.docx" in files[0]["summary"]


def test_log_json_fields_and_filters(cli, site):
    cli("poll")
    site.set_state(1)
    cli("poll")
    events = cli.log()
    required = {"id", "kind", "detected_at", "source", "agency", "region", "title", "url", "published",
                "doc_number", "topics", "baseline", "summary"}
    for ev in events:
        assert required <= set(ev)
        assert ISO_WITH_OFFSET.match(ev["detected_at"])
        assert ev["source"] == "prov-notices" and ev["agency"] == "某省工信厅" and ev["region"] == "Jiangsu"
        assert isinstance(ev["topics"], list) and isinstance(ev["baseline"], bool)
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)
    topic = cli.log("--topic", "ai-manufacturing")
    assert {e["id"] for e in topic} < {e["id"] for e in events}
    assert all("ai-manufacturing" in e["topics"] for e in topic)
    assert cli.log("--since", "1d") == events
    assert cli.log("--since", "2999-01-01") == []
    code, out, _ = cli("log", "--json", "--limit", "1")
    assert code == 0 and len(out.splitlines()) == 1
    code, _, err = cli("log", "--topic", "nope")
    assert code == 2 and "nope" in err


def test_feeds_are_valid_and_byte_identical_when_rewritten(cli, site, tmp_path):
    cli("poll")
    site.set_state(1)
    cli("poll")
    feeds_dir = tmp_path / "data" / "feeds"
    files = sorted(p for p in feeds_dir.rglob("*") if p.is_file())
    names = {str(p.relative_to(feeds_dir)) for p in files}
    assert {"all.rss", "all.atom", "topics/ai-manufacturing.rss", "topics/ai-manufacturing.atom",
            "sources/prov-notices.rss", "sources/prov-notices.atom"} <= names
    first = {p: p.read_bytes() for p in files}
    code, out, _ = cli("feed")
    assert code == 0 and "0 file(s) changed" in out
    assert {p: p.read_bytes() for p in files} == first
    for p in files:
        parsed = feedparser.parse(p.read_bytes())
        assert not parsed.bozo, (p, parsed.bozo_exception)
    atom = feed(tmp_path, "all.atom")
    for e in atom.entries:
        assert e.id.startswith("tag:")
        assert e.published == e.updated
    rss = feed(tmp_path, "all.rss")
    assert all(e.guidislink is False for e in rss.entries)
    assert {t.term for t in atom.entries[0].tags} >= {"某省工信厅", "Jiangsu", "document.new"}


def test_poll_through_the_installed_entry_point(tmp_path, site, make_cli):
    cli = make_cli(write_config(tmp_path, html_source(site)))
    proc = cli.subprocess("poll")
    assert proc.returncode == 0, proc.stderr
    assert "source" in proc.stdout and "prov-notices" in proc.stdout
    # not a terminal: quiet lines, no progress bar control characters
    assert "\r" not in proc.stderr
    proc = cli.subprocess("poll", "no-such-source")
    assert proc.returncode == 2 and "no-such-source" in proc.stderr


def test_failed_source_exits_1_and_writes_no_document(tmp_path, site, make_cli):
    src = html_source(site).replace("/notices/index.html", "/missing/index.html")
    cli = make_cli(write_config(tmp_path, src))
    code, out, err = cli("poll")
    assert code == 1
    assert "http_error" in out
    assert cli.log() == []


def test_second_poll_of_an_unchanged_site_gets_304s_and_fetches_no_detail_page(tmp_path, site, make_cli):
    cli = make_cli(write_config(tmp_path, html_source(site, recheck="1d")))
    assert cli("poll")[0] == 0
    details = [r for r in site.requests() if r.path != "/notices/index.html"]
    assert len(details) == 3
    site.log.clear()
    code, out, _ = cli("poll")
    assert code == 0 and "not_modified" in out
    assert [(r.path, r.status) for r in site.requests()] == [("/notices/index.html", 304)]
    assert site.requests()[0].headers.get("If-None-Match")
