"""The web side of `tracker serve`, over real HTTP on loopback.

The database is filled by real polls of the loopback test site
(tests/fixtures/html/ministry: baseline, two new notices, a one-character
revision), then the app runs under uvicorn in a thread and httpx talks to it.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import feedparser
import httpx
import pytest

from conftest import html_source, write_config
from tracker.cli import run_poll
from tracker.config import load
from tracker.store import Store, iso, parse_iso, utcnow
from tracker.web import PAGE_SIZE, REGIONS, ServerThread, create_app, region_key

HOSTILE = "<script>alert(1)</script>"
HOSTILE_LIST = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>通知公告</title></head><body>
<ul class="list">
  <li><a href="/notices/2026/hostile.html" title="&lt;script&gt;alert(1)&lt;/script&gt;关于推进人工智能+制造的通知">x</a>
      <span>2026-04-03</span></li>
</ul></body></html>"""
HOSTILE_DETAIL = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>
<h1>&lt;script&gt;alert(1)&lt;/script&gt;关于推进人工智能+制造的通知</h1>
<div class="pubdate">发布时间：2026-04-03 10:00</div>
<div id="zoom"><p>某工信发[2026]9号</p><p>推进人工智能+制造。&lt;img src=x onerror=alert(2)&gt;</p>
<p><a href="javascript:alert(3)">附件</a></p></div>
</body></html>"""


def poll_states(config, site, states=(0, 1, 2)) -> None:
    for n in states:
        site.set_state(n)
        run_poll(config)


@pytest.fixture
def config(tmp_path, site):
    cfg = load(write_config(tmp_path, html_source(site)))
    poll_states(cfg, site)
    return cfg


@pytest.fixture
def server(config):
    with ServerThread(create_app(config)) as srv:
        yield srv


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def newest_event(config):
    with Store(config.settings.db_path) as store:
        return store.newest_event()


# -- feeds ---------------------------------------------------------------------------------------
def test_served_feeds_are_the_feed_files_with_the_right_content_type(http, config):
    cases = {"all.rss": "application/rss+xml; charset=utf-8", "all.atom": "application/atom+xml; charset=utf-8",
             "topics/ai-manufacturing.atom": "application/atom+xml; charset=utf-8",
             "sources/prov-notices.rss": "application/rss+xml; charset=utf-8"}
    for name, ctype in cases.items():
        r = http.get(f"/feeds/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"] == ctype
        assert r.content == (config.settings.feeds_dir / name).read_bytes(), name
        parsed = feedparser.parse(r.content)
        assert not parsed.bozo and parsed.entries, name
    assert http.get("/feeds/topics/no-such-topic.rss").status_code == 404
    assert http.get("/feeds/all.json").status_code == 404


def test_etag_and_last_modified_come_from_the_newest_event_and_give_304(http, config, site):
    newest = newest_event(config)
    r = http.get("/feeds/all.atom")
    etag, lm = r.headers["etag"], r.headers["last-modified"]
    assert etag.startswith(f'"{newest.id}-')
    # from the events, not the clock: the newest event's time, moved on one second per
    # earlier event of the same second (the scenario's events all share a few seconds)
    with Store(config.settings.db_path) as store:
        expected = None
        for ev in reversed(store.events()):
            sec = parse_iso(ev.detected_at)
            expected = sec if expected is None else max(sec, expected + timedelta(seconds=1))
    assert parsedate_to_datetime(lm) == expected
    again = http.get("/feeds/all.atom")
    assert (again.headers["etag"], again.headers["last-modified"], again.content) == (etag, lm, r.content)

    r304 = http.get("/feeds/all.atom", headers={"If-None-Match": etag})
    assert r304.status_code == 304 and r304.content == b"" and r304.headers["etag"] == etag
    assert http.get("/feeds/all.atom", headers={"If-Modified-Since": lm}).status_code == 304
    assert http.get("/feeds/all.atom", headers={"If-None-Match": '"other"'}).status_code == 200
    # the RSS view and a filtered view are other representations: other validators
    assert http.get("/feeds/all.rss").headers["etag"] != etag
    assert http.get("/feeds/all.atom", params={"region": "Jiangsu"}).headers["etag"] != etag
    # an older If-Modified-Since is answered in full
    older = format_datetime(parse_iso(newest.detected_at).replace(year=2020), usegmt=True)
    assert http.get("/feeds/all.atom", headers={"If-Modified-Since": older}).status_code == 200

    # an event stamped with the same second as the newest one still moves Last-Modified on
    # (a libcurl-based reader such as newsboat drops a 200 whose Last-Modified did not advance)
    with Store(config.settings.db_path) as store, store.transaction() as c:
        store.add_event(c, kind="source.recovered", detected_at=newest.detected_at, source="prov-notices",
                        title="same second")
    same_second = http.get("/feeds/all.atom", headers={"If-Modified-Since": lm})
    assert same_second.status_code == 200 and "same second" in same_second.text
    assert parsedate_to_datetime(same_second.headers["last-modified"]) > parsedate_to_datetime(lm)
    etag = same_second.headers["etag"]

    site.clear()
    site.override("/notices/index.html", status=404)  # three failed polls: a source.failing event
    for _ in range(3):
        run_poll(config)
    changed = http.get("/feeds/all.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "[FAILING]" in changed.text


def test_feed_query_filters(http):
    def titles(**params):
        parsed = feedparser.parse(http.get("/feeds/all.atom", params=params).content)
        assert not parsed.bozo
        return [e.title for e in parsed.entries]

    everything = titles()
    assert len(everything) >= 4
    assert titles(region="Jiangsu") == everything
    assert titles(region="Zhejiang") == []
    assert titles(agency="某省工信厅") == everything
    revised = titles(kind="document.revised")
    assert revised and all(t.startswith("[REVISED]") for t in revised)
    ai = titles(topic="ai-manufacturing")
    assert ai and set(ai) < set(everything)
    assert not any("安全生产月" in t for t in ai) and any("安全生产月" in t for t in everything)
    assert titles(topic="bio-manufacturing") == []
    assert titles(source="prov-notices") == everything and titles(source="other") == []
    assert titles(topic="ai-manufacturing", kind="document.new") == [t for t in ai if t.startswith("[NEW]")]
    feed = feedparser.parse(http.get("/feeds/all.rss", params={"kind": "document.new"}).content)
    assert "kind=document.new" in feed.feed.title
    assert all(e.title.startswith("[NEW]") for e in feed.entries)


# -- token -----------------------------------------------------------------------------------------
def test_token_guards_every_page_and_feed(tmp_path, site):
    cfg = load(write_config(tmp_path, html_source(site), settings='token = "s3cret"'))
    poll_states(cfg, site, (0,))
    with ServerThread(create_app(cfg)) as srv, httpx.Client(base_url=srv.base_url) as http:
        for path in ("/", "/events/1", "/documents/1", "/sources", "/coverage", "/health", "/feeds/all.rss",
                     "/feeds/topics/ai-manufacturing.atom"):
            denied = http.get(path)
            assert denied.status_code == 401, path
            assert "alert" not in denied.text and "人工智能" not in denied.text
            assert http.get(path, params={"token": "wrong"}).status_code == 401, path
            assert http.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401, path
            assert http.get(path, params={"token": "s3cret"}).status_code == 200, path
            assert http.get(path, headers={"X-Tracker-Token": "s3cret"}).status_code == 200, path
            assert http.get(path, headers={"Authorization": "Bearer s3cret"}).status_code == 200, path
        page = http.get("/", params={"token": "s3cret"}).text
        # links keep the token, so a browser session given ?token= keeps working
        assert 'href="/sources?token=s3cret"' in page
        assert 'href="/feeds/all.atom?token=s3cret"' in page
        assert http.get("/static/style.css").status_code == 200  # no data in it


# -- escaping ----------------------------------------------------------------------------------------
def test_hostile_page_text_stays_inert_in_pages_and_feeds(tmp_path, site):
    site.override("/notices/index.html", body=HOSTILE_LIST)
    site.override("/notices/2026/hostile.html", body=HOSTILE_DETAIL)
    cfg = load(write_config(tmp_path, html_source(site)))
    run_poll(cfg)
    ev = newest_event(cfg)
    assert ev is not None and ev.title.startswith(HOSTILE)  # stored as the literal text it is
    with ServerThread(create_app(cfg)) as srv, httpx.Client(base_url=srv.base_url) as http:
        for path in ("/", f"/events/{ev.id}", f"/documents/{ev.document_id}", "/coverage", "/sources"):
            text = http.get(path).text
            assert "<script" not in text, path
            assert "<img" not in text and "javascript:" not in text.replace("javascript:alert(3)</", ""), path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in http.get(f"/events/{ev.id}").text
        doc = http.get(f"/documents/{ev.document_id}").text
        assert "&lt;img src=x onerror=alert(2)&gt;" in doc
        for feed in ("all.rss", "all.atom"):
            raw = http.get(f"/feeds/{feed}").content
            assert b"<script" not in raw and b"<img" not in raw, feed
            assert not feedparser.parse(raw).bozo


# -- pages -------------------------------------------------------------------------------------------
def test_change_log_newest_first_with_filters_and_feed_links(http, config):
    page = http.get("/").text
    ids = [int(x) for x in re.findall(r'data-event-id="(\d+)"', page)]
    assert ids and ids == sorted(ids, reverse=True)
    for feed in ("/feeds/all.atom", "/feeds/all.rss", "/feeds/topics/ai-manufacturing.rss",
                 "/feeds/sources/prov-notices.atom"):
        assert f'href="{feed}"' in page
    assert "安全生产月" in page
    only_ai = http.get("/", params={"topic": "ai-manufacturing"}).text
    assert "安全生产月" not in only_ai and "工业智能体" in only_ai
    assert 'href="/feeds/all.atom?topic=ai-manufacturing"' in only_ai  # this view as a feed
    revised = http.get("/", params={"kind": "document.revised"}).text
    assert re.findall(r'class="event kind-([\w-]+)"', revised) == ["document-revised"]
    assert "No events match" in http.get("/", params={"region": "Zhejiang"}).text
    both = http.get("/", params={"source": "prov-notices", "kind": "document.new"}).text
    assert set(re.findall(r'class="event kind-([\w-]+)"', both)) == {"document-new"}
    assert 'href="/feeds/all.rss?source=prov-notices&amp;kind=document.new"' in both


def test_change_log_pages(tmp_path):
    cfg = load(write_config(tmp_path, ""))
    with Store(cfg.settings.db_path) as store, store.transaction() as c:
        for n in range(PAGE_SIZE + 7):
            store.add_event(c, kind="source.failing", detected_at=iso(utcnow()), source="s", title=f"event {n}")
    with ServerThread(create_app(cfg)) as srv, httpx.Client(base_url=srv.base_url) as http:
        first = http.get("/").text
        second = http.get("/", params={"page": 2}).text
        assert len(re.findall(r"data-event-id=", first)) == PAGE_SIZE
        assert len(re.findall(r"data-event-id=", second)) == 7
        assert 'rel="next" href="/?page=2"' in first and 'rel="next"' not in second
        assert ">event 56<" in first and ">event 0<" in second


def test_event_page_shows_the_diff_and_why_it_matched(http, config):
    with Store(config.settings.db_path) as store:
        ev = store.events(kind="document.revised")[0]
    page = http.get(f"/events/{ev.id}").text
    # the stored diff markup is rendered as markup: the one changed character is highlighted
    assert "<del>7</del>" in page and "<ins>8</ins>" in page
    assert "工信部联科〔2025〕279号" in page  # the reason it matched
    assert "人工智能+制造 follow-ups" in page  # the topic's name
    assert f'href="/documents/{ev.document_id}"' in page
    assert http.get("/events/99999").status_code == 404


def test_document_page_lists_every_version_and_event(http, config):
    with Store(config.settings.db_path) as store:
        ev = store.events(kind="document.revised")[0]
        doc = store.document(ev.document_id)
        n_versions = len(store.versions_of(doc["id"]))
    page = http.get(f"/documents/{doc['id']}").text
    assert n_versions == 2
    assert len(re.findall(r'<section class="version"', page)) == n_versions
    assert "某工信信发〔2026〕63号" in page
    assert doc["first_seen_at"] in page
    assert "2026-03-09" in page  # published
    kinds = re.findall(r'class="event kind-([\w-]+)"', page)
    assert sorted(kinds) == ["document-new", "document-revised"]
    assert http.get("/documents/99999").status_code == 404


def test_sources_page_and_health(tmp_path, site):
    broken = html_source(site, sid="broken-src").replace("/notices/index.html", "/missing/index.html")
    cfg = load(write_config(tmp_path, html_source(site) + broken))
    Store(cfg.settings.db_path).close()  # create the database before two poll threads open it at once
    for _ in range(3):
        run_poll(cfg)
    with Store(cfg.settings.db_path) as store, store.transaction() as c:
        c.execute("UPDATE sources SET last_job_error = 'x missed run' WHERE id = 'broken-src'")
    with ServerThread(create_app(cfg)) as srv, httpx.Client(base_url=srv.base_url) as http:
        page = http.get("/sources").text
        row = page[page.index('data-source="broken-src"'):]
        row = row[:row.index("</tr>")]
        assert "failing" in row and "http_error" in row and "x missed run" in row
        assert re.search(r'class="num">3<', row)  # consecutive failures
        ok_row = page[page.index('data-source="prov-notices"'):]
        assert re.search(r'class="num">3</td>', ok_row[:ok_row.index("</tr>")])  # documents known
        health = http.get("/health")
        assert health.headers["content-type"] == "application/json"
        data = health.json()
        assert data["status"] == "degraded"
        assert data["sources"]["ok"] == 1 and data["sources"]["failing"] == 1
        with Store(cfg.settings.db_path) as store:
            assert data["events"] == store.count_events() > 0
            assert data["last_poll"] == store.one("SELECT max(last_poll_at) FROM sources")[0]
        assert data["scheduler"] == "off"


def test_coverage_table_shows_the_province_of_a_matching_document(http):
    page = http.get("/coverage").text
    section = page[page.index('id="coverage-ai-manufacturing"'):page.index('id="coverage-bio-manufacturing"')]
    rows = re.findall(r'<tr data-region="([^"]+)" class="(covered|uncovered)"', section)
    assert len(rows) == 32 and rows[0][0] == "National"
    assert {r for r, _ in rows[1:]} == {en for en, _, _ in REGIONS}
    assert [r for r, cls in rows if cls == "covered"] == ["Jiangsu"]
    jiangsu = section[section.index('data-region="Jiangsu"'):]
    jiangsu = jiangsu[:jiangsu.index("</tr>")]
    assert "江苏" in jiangsu and '<span class="count">2</span>' in jiangsu
    assert "关于组织开展2026年工业智能体典型应用场景征集工作的通知" in jiangsu  # the latest (2026-04-02)
    assert "<th>某省工信厅</th>" in section
    bio = page[page.index('id="coverage-bio-manufacturing"'):]
    assert 'class="covered"' not in bio and "内蒙古" in bio and "新疆" in bio
    one = http.get("/coverage", params={"topic": "bio-manufacturing"}).text
    assert 'id="coverage-ai-manufacturing"' not in one


def test_region_names():
    assert region_key("Jiangsu") == region_key("jiangsu") == region_key("江苏省") == region_key("江苏") == "Jiangsu"
    assert region_key("Inner Mongolia") == region_key("内蒙古自治区") == "Inner Mongolia"
    assert region_key("Xizang") == "Tibet"
    assert region_key("national") == region_key("全国") == region_key(None) == "National"
    assert region_key("Suzhou") is None
    assert len(REGIONS) == 31 and len({en for en, _, _ in REGIONS}) == 31


def test_health_json_shape(http):
    data = json.loads(http.get("/health").text)
    assert set(data) >= {"status", "sources", "last_poll", "events"}
    assert data["status"] == "ok" and data["sources"]["ok"] == 1
