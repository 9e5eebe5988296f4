"""The scheduler of `tracker serve`.

Timing rules with a frozen clock (no sleeping); one job run at a time with a
clock the test moves; then the real thing: APScheduler with 2-second intervals
against the loopback test site (a hung source must not hold up the others), and
`tracker serve` as a subprocess, stopped with SIGTERM while a poll hangs and
polled by hand while it runs.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import feedparser
import httpx
import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent, JobSubmissionEvent

from conftest import FIXTURES, REPO, html_source, write_config
from tracker import schedule
from tracker.cli import main
from tracker.config import load
from tracker.schedule import PollScheduler, first_run, is_due, jitter_bound, next_run, plan
from tracker.store import Store, iso, parse_iso
from tracker.testsite import TestSite

NOW = datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)
HOUR = 3600.0


class FakeClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def sources_toml(n: int, interval: str = "1h") -> str:
    return "".join(f"""
[[sources]]
id = "s{i}"
name = "source {i}"
agency = "a"
region = "Jiangsu"
cms = "html"
url = "http://127.0.0.1:9/s{i}/"
interval = "{interval}"
[sources.list]
item = "li"
link = "a@href"
""" for i in range(n))


# -- timing rules, frozen clock ------------------------------------------------------------------
def test_first_start_spreads_never_polled_sources_over_the_first_interval(tmp_path):
    config = load(write_config(tmp_path, sources_toml(6), settings='jitter = "10m"'))
    runs = plan(config, {}, NOW, random.Random(7))
    offsets = sorted((t - NOW).total_seconds() for t in runs.values())
    assert len(offsets) == 6
    slot = HOUR / 6
    for k, off in enumerate(offsets):
        assert k * slot <= off <= k * slot + 600, offsets  # slot k, plus at most the jitter
    assert offsets[0] <= 600 and offsets[-1] < HOUR
    assert min(b - a for a, b in zip(offsets, offsets[1:], strict=False)) > 0


def test_restart_continues_from_the_database(tmp_path):
    config = load(write_config(tmp_path, sources_toml(4), settings='jitter = "10m"'))
    states = {
        "s0": {"next_poll_at": iso(NOW + timedelta(minutes=42)), "last_poll_at": iso(NOW - timedelta(minutes=18))},
        "s1": {"next_poll_at": None, "last_poll_at": iso(NOW - timedelta(minutes=20))},  # older schema rows
        "s2": {"next_poll_at": iso(NOW - timedelta(hours=5)), "last_poll_at": iso(NOW - timedelta(hours=6))},
    }
    for seed in range(50):
        runs = plan(config, states, NOW, random.Random(seed))
        assert NOW + timedelta(minutes=42) <= runs["s0"] <= NOW + timedelta(minutes=52)
        assert NOW + timedelta(minutes=40) <= runs["s1"] <= NOW + timedelta(minutes=50)
        assert NOW <= runs["s2"] <= NOW + timedelta(minutes=10)  # overdue: at once, plus jitter
        # the only never-polled source is alone in its spread: it starts at once
        assert NOW <= runs["s3"] <= NOW + timedelta(minutes=10)


def test_jitter_is_a_bounded_delay_capped_at_half_the_interval(tmp_path):
    config = load(write_config(tmp_path, sources_toml(1) + sources_toml(1, "2s").replace('"s0"', '"fast"'),
                               settings='jitter = "10m"'))
    slow, fast = config.source("s0"), config.source("fast")
    assert jitter_bound(slow, 600) == 600 and jitter_bound(fast, 600) == 1.0
    due = NOW + timedelta(hours=1)
    rng = random.Random(3)
    delays = [(next_run({"next_poll_at": iso(due)}, slow, NOW, jitter=600, rng=rng) - due).total_seconds()
              for _ in range(2000)]
    assert 0 <= min(delays) < 30 and 570 < max(delays) <= 600
    fast_delays = [(next_run({"next_poll_at": iso(due)}, fast, NOW, jitter=600, rng=rng) - due).total_seconds()
                   for _ in range(200)]
    assert all(0 <= d <= 1.0 for d in fast_delays)
    assert next_run({"next_poll_at": iso(due)}, slow, NOW, jitter=0, rng=rng) == due


def test_next_run_follows_backoff_and_falls_back_when_nothing_is_stored(tmp_path):
    config = load(write_config(tmp_path, sources_toml(1, "6h")))
    src = config.source("s0")
    backoff = NOW + timedelta(hours=23)  # what a poll writes after failures
    assert next_run({"next_poll_at": iso(backoff)}, src, NOW, jitter=0, rng=random.Random()) == backoff
    # nothing in the future (another process held the lock; a crashed job): the fallback
    stale = {"next_poll_at": iso(NOW - timedelta(minutes=1))}
    assert next_run(stale, src, NOW, jitter=0, rng=random.Random(), fallback=60) == NOW + timedelta(seconds=60)
    assert next_run(None, src, NOW, jitter=0, rng=random.Random()) == NOW + timedelta(hours=6)
    assert is_due(None, NOW) and is_due(stale, NOW) and not is_due({"next_poll_at": iso(backoff)}, NOW)
    assert first_run({"next_poll_at": iso(backoff)}, src, NOW, jitter=0, slot=0, slots=1,
                     rng=random.Random()) == backoff


# -- job runs with a clock the test moves -----------------------------------------------------------
@pytest.fixture
def one_source(tmp_path, site):
    def make(source_toml: str, settings: str = 'jitter = "0s"'):
        cfg = load(write_config(tmp_path, source_toml, settings=settings))
        clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
        sched = PollScheduler(cfg, clock=clock, rng=random.Random(1))
        sched.add_jobs()
        return cfg, clock, sched

    return make


def state(cfg, sid: str) -> dict:
    with Store(cfg.settings.db_path) as store:
        return dict(store.source_state(sid))


def polls(cfg, sid: str) -> int:
    with Store(cfg.settings.db_path) as store:
        return store.one("SELECT count(*) FROM polls WHERE source = ?", (sid,))[0]


def test_each_run_reschedules_from_the_stored_next_poll_including_backoff(one_source, site):
    src = html_source(site, sid="broken").replace("/notices/index.html", "/missing/index.html")
    cfg, clock, sched = one_source(src.replace('recheck = "0s"', 'recheck = "0s"\ninterval = "60s"'))
    gaps = []
    for _ in range(3):
        sched._run("broken")
        nxt = parse_iso(state(cfg, "broken")["next_poll_at"])
        assert sched.next_runs()["broken"] == nxt  # the job follows the database
        gaps.append((nxt - clock.now).total_seconds())
        clock.now = nxt
    assert 54 <= gaps[0] <= 60 and 108 <= gaps[1] <= 120 and 216 <= gaps[2] <= 240  # doubling backoff
    assert polls(cfg, "broken") == 3
    # run early (a manual poll moved next_poll_at): nothing is polled, the plan follows the database
    clock.now -= timedelta(seconds=30)
    sched._run("broken")
    assert polls(cfg, "broken") == 3
    assert sched.next_runs()["broken"] == parse_iso(state(cfg, "broken")["next_poll_at"])


def test_a_locked_source_is_reported_and_retried_soon(one_source, site):
    cfg, clock, sched = one_source(html_source(site))
    with Store(cfg.settings.db_path) as other:
        owner = other.acquire_lock("prov-notices", 3600)
        sched._run("prov-notices")
        st = state(cfg, "prov-notices")
        assert "already being polled by another process" in st["last_job_error"]
        assert st["last_poll_at"] is None and polls(cfg, "prov-notices") == 0
        assert sched.next_runs()["prov-notices"] == clock.now + timedelta(seconds=60)
        other.release_lock("prov-notices", owner)
    clock.now += timedelta(seconds=60)
    sched._run("prov-notices")
    st = state(cfg, "prov-notices")
    assert st["last_outcome"] == "ok" and st["last_job_error"] is None
    assert (cfg.settings.feeds_dir / "all.atom").exists()  # the run rewrote the feeds


def test_job_errors_and_missed_runs_are_recorded(one_source, site, monkeypatch, capsys):
    cfg, clock, sched = one_source(html_source(site))

    def boom(*a, **k):
        raise RuntimeError("adapter bug")

    monkeypatch.setattr(schedule, "poll_source", boom)
    sched._run("prov-notices")
    assert state(cfg, "prov-notices")["last_job_error"].startswith("job error: RuntimeError: adapter bug (at ")
    assert sched.next_runs()["prov-notices"] == clock.now + timedelta(hours=6)  # not a hot loop
    sched._on_event(JobExecutionEvent(EVENT_JOB_MISSED, "prov-notices", "default", NOW))
    assert state(cfg, "prov-notices")["last_job_error"].startswith(f"missed run scheduled for {iso(NOW)}")
    assert main(["--config", str(cfg.path), "sources"]) == 0
    assert "missed run scheduled" in capsys.readouterr().out  # `tracker sources` shows it
    sched._on_event(JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, "prov-notices", "default", [NOW]))
    assert "still running" in state(cfg, "prov-notices")["last_job_error"]


# -- the real scheduler, short intervals ----------------------------------------------------------------
def test_a_hung_source_does_not_block_the_others(tmp_path, site):
    # the hung source lives on another server: requests to one host are serialised on purpose
    with TestSite(FIXTURES / "html" / "ministry") as other:
        fast = html_source(site, sid="fast").replace('recheck = "0s"', 'recheck = "0s"\ninterval = "2s"')
        slow = html_source(other, sid="slow").replace('recheck = "0s"', 'recheck = "0s"\ninterval = "2s"')
        other.override("/notices/index.html", delay=8)
        cfg = load(write_config(tmp_path, fast + slow, settings='jitter = "0s"\ntimeout = "30s"'))
        sched = PollScheduler(cfg)
        sched.start()
        try:
            deadline = time.monotonic() + 6
            while (polls(cfg, "fast") < 2 or not state(cfg, "slow")["last_job_error"]) \
                    and time.monotonic() < deadline:
                time.sleep(0.1)
            assert polls(cfg, "fast") >= 2
            assert polls(cfg, "slow") == 0 and "slow" in sched.running()
            # max_instances=1: the hung poll's missed runs do not pile up behind it
            assert len(other.requests("/notices/index.html")) == 1
            assert "still running" in state(cfg, "slow")["last_job_error"]
        finally:
            started = time.monotonic()
            finished = sched.stop(timeout=0.5)
            assert time.monotonic() - started < 2
        assert finished is False  # the hung poll was abandoned, not waited for
        with Store(cfg.settings.db_path) as store:
            assert store.one("PRAGMA integrity_check")[0] == "ok"


# -- `tracker serve` as a process ------------------------------------------------------------------------
class Served:
    """`tracker serve` in a subprocess on a free loopback port."""

    def __init__(self, config_path, *extra: str):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, "-m", "tracker", "--config", str(config_path), "serve", "--port", "0", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []
        self.url: str | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(20):
            self.proc.kill()
            raise AssertionError("tracker serve did not start:\n" + "".join(self.lines))

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            if "serving on http://" in line:
                self.url = line.split("serving on ", 1)[1].split()[0].rstrip("/")
                self._ready.set()

    def terminate(self) -> float:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("tracker serve did not stop:\n" + "".join(self.lines)) from None
        return time.monotonic() - started


def integrity(cfg) -> str:
    with sqlite3.connect(cfg.settings.db_path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def test_sigterm_stops_serve_within_10s_while_a_poll_hangs(tmp_path, site):
    ok_src = html_source(site, sid="ok-src")
    with TestSite(FIXTURES / "html" / "ministry") as other:
        _sigterm_while_hung(tmp_path, site, other, ok_src)


def _sigterm_while_hung(tmp_path, site, other, ok_src):
    hung = html_source(other, sid="hung")
    other.override("/notices/index.html", delay=40)
    path = write_config(tmp_path, ok_src + hung, settings='jitter = "0s"\ntimeout = "60s"\ninterval = "1h"')
    cfg = load(path)
    with Store(cfg.settings.db_path) as store, store.transaction() as c:
        # overdue since the last run of the service: polled at once on start
        c.execute("INSERT INTO sources (id, next_poll_at) VALUES ('hung', ?)", (iso(NOW),))
    served = Served(path)
    try:
        deadline = time.monotonic() + 15
        while (not other.requests("/notices/index.html") or polls(cfg, "ok-src") < 1) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert other.requests("/notices/index.html"), "the hung source was never polled"
        assert polls(cfg, "ok-src") == 1
        assert httpx.get(served.url + "/health", timeout=5).json()["scheduler"] == "running"
    finally:
        took = served.terminate()
    assert took < 10, "".join(served.lines)
    assert served.proc.returncode == 0, "".join(served.lines)
    assert integrity(cfg) == "ok"
    feeds = list(cfg.settings.feeds_dir.rglob("*"))
    assert not [p for p in feeds if p.name.endswith(".tmp")]  # no half-written feed
    for p in feeds:
        if p.is_file():
            assert not feedparser.parse(p.read_bytes()).bozo, p
    assert polls(cfg, "hung") == 0  # the abandoned poll committed nothing
    # its database lock died with the process: the next poll is not refused
    other.clear()
    with Store(cfg.settings.db_path) as store:
        from tracker.fetch import Fetcher
        from tracker.poll import poll_source

        with Fetcher(cfg.settings) as fetcher:
            assert poll_source(cfg, cfg.source("hung"), fetcher, store).outcome != "locked"


def test_manual_polls_alongside_serve_add_no_duplicates(tmp_path, site):
    src = html_source(site).replace('recheck = "0s"', 'recheck = "0s"\ninterval = "2s"')
    path = write_config(tmp_path, src, settings='jitter = "0s"')
    cfg = load(path)
    site.override("/notices/index.html", file="notices/index.html", delay=0.3)  # long enough polls to overlap
    served = Served(path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    outcomes = []
    try:
        for n in range(6):
            site.set_state(min(n // 2, 2))
            proc = subprocess.run([sys.executable, "-m", "tracker", "--config", str(path), "poll"],
                                  capture_output=True, text=True, env=env, timeout=60)
            assert proc.returncode in (0, 1), proc.stderr
            outcomes += [w for w in ("ok", "not_modified", "locked") if f" {w} " in proc.stdout + " "]
            assert "prov-notices" in proc.stdout, proc.stdout + proc.stderr
            time.sleep(0.4)
        deadline = time.monotonic() + 10
        while polls(cfg, "prov-notices") < 8 and time.monotonic() < deadline:
            time.sleep(0.2)
        served_feed = httpx.get(served.url + "/feeds/all.atom", timeout=5).content
    finally:
        served.terminate()
    assert outcomes, "no outcome reported by the manual polls"
    with Store(cfg.settings.db_path) as store:
        new = Counter(r[0] for r in store.q("SELECT document_id FROM events WHERE kind = 'document.new'"))
        assert new and max(new.values()) == 1, new
        revised = store.q("SELECT document_id, version_id FROM events WHERE kind = 'document.revised'")
        assert len(revised) == len(set(map(tuple, revised))) == 1
        assert store.one("SELECT count(*) FROM documents")[0] == 5
        # both the service and the manual polls polled
        assert polls(cfg, "prov-notices") >= 8
    assert integrity(cfg) == "ok"
    titles = [e.title for e in feedparser.parse(served_feed).entries]
    assert any("工业智能体" in t for t in titles) and any(t.startswith("[REVISED]") for t in titles)
