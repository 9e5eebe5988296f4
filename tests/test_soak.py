"""Soak: `tracker serve` unattended through state changes and faults (long: run with --runslow).

    python -m pytest --runslow tests/test_soak.py                  # 15 minutes
    TRACKER_SOAK_SECONDS=7200 python -m pytest --runslow tests/test_soak.py   # two hours

The served process polls the loopback test site every 2 seconds while the site
moves through its states and through blocks and outages. Throughout, the pages
and feeds must answer, the database must stay consistent with no duplicate
event, and the process must not grow without bound; at the end the documents
must be those of a fault-free run.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import feedparser
import httpx
import pytest

from conftest import FIXTURES, html_source, write_config
from test_schedule import Served

pytestmark = pytest.mark.slow

LIST = "/notices/index.html"
RUISHU = (FIXTURES / "faults" / "state0" / "ruishu.html").read_text(encoding="utf-8")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def check(db: Path, url: str) -> None:
    with sqlite3.connect(db, timeout=30) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        dup = c.execute("""SELECT document_id, kind, version_id, count(*) FROM events WHERE document_id IS NOT NULL
                           GROUP BY document_id, kind, version_id HAVING count(*) > 1""").fetchall()
        assert dup == []
        new = c.execute("SELECT document_id, count(*) FROM events WHERE kind = 'document.new' "
                        "GROUP BY document_id HAVING count(*) > 1").fetchall()
        assert new == []
    assert httpx.get(url + "/health", timeout=10).status_code == 200
    for path in ("/feeds/all.atom", "/feeds/topics/ai-manufacturing.rss", "/"):
        r = httpx.get(url + path, timeout=10)
        assert r.status_code == 200, path
        if path.startswith("/feeds"):
            assert not feedparser.parse(r.content).bozo, path


def test_serve_unattended_through_state_changes_and_faults(tmp_path, site):
    seconds = float(os.environ.get("TRACKER_SOAK_SECONDS", "900"))
    config = write_config(tmp_path, html_source(site).replace('recheck = "0s"', 'recheck = "0s"\ninterval = "2s"'),
                          settings='jitter = "0s"\nretries = 0\nmax_backoff = "8s"')
    db = tmp_path / "data" / "tracker.db"
    served = Served(config)
    phases = [(0, None), (0, "blocked"), (1, None), (1, "down"), (2, None), (2, "blocked"), (2, None)]
    phase_len = max(seconds / len(phases), 20)
    baseline_rss = None
    try:
        for state, fault in phases:
            site.set_state(state)
            if fault == "blocked":
                site.override(LIST, status=412, body=RUISHU)
            elif fault == "down":
                site.override(LIST, action="reset")
            else:
                site.clear()
            end = time.monotonic() + phase_len
            while time.monotonic() < end:
                time.sleep(min(10, phase_len / 2))
                check(db, served.url)
                rss = rss_kb(served.proc.pid)
                baseline_rss = baseline_rss or rss
                assert rss < baseline_rss * 2 + 50_000, f"serve grew from {baseline_rss} kB to {rss} kB"
            site.clear()
    finally:
        took = served.terminate()
    assert took < 10
    with sqlite3.connect(db) as c:
        kinds = [r[0] for r in c.execute("SELECT kind FROM events ORDER BY id")]
        docs = c.execute("SELECT count(*) FROM documents").fetchone()[0]
    assert docs == 5
    assert kinds.count("document.revised") == 1 and kinds.count("document.attachments") == 1
    assert kinds.count("document.new") == 3  # the baseline match and the two new notices
    assert kinds.count("source.blocked") == 2 and kinds.count("source.recovered") >= 2
