"""Crash safety: a poll killed with SIGKILL, and two polls started at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import REPO, html_source, write_config

DOC = "/notices/2026/doc-ai.html"


def start_poll(config) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "tracker", "--config", str(config), "poll"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_request(site, path: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not site.requests(path):
        assert time.monotonic() < deadline, f"no request for {path}"
        time.sleep(0.05)


def table_counts(db) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("documents", "versions", "events", "listings", "polls")}


def test_sigkill_during_a_baseline_leaves_no_partial_baseline(tmp_path, site, make_cli):
    config = write_config(tmp_path, html_source(site))
    site.override(DOC, file="notices/2026/doc-ai.html", delay=30)  # the poll hangs on this page
    proc = start_poll(config)
    wait_for_request(site, DOC)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    db = tmp_path / "data" / "tracker.db"
    assert table_counts(db) == {"documents": 0, "versions": 0, "events": 0, "listings": 0, "polls": 0}
    site.clear(DOC)
    # the dead poller's lock is stale: the next poll runs, and records the whole baseline once
    cli = make_cli(config)
    code, out, err = cli("poll")
    assert code == 0, err + out
    events = cli.log()
    assert [(e["kind"], e["baseline"]) for e in events] == [("document.new", True)]
    counts = table_counts(db)
    assert counts["documents"] == 3 and counts["versions"] == 3 and counts["events"] == 1


def test_two_polls_at_once_do_not_duplicate_anything(tmp_path, site, make_cli):
    config = write_config(tmp_path, html_source(site))
    make_cli(config)("poll")
    site.set_state(1)
    site.override("/notices/2026/doc-new-ai.html", file="notices/2026/doc-new-ai.html", delay=1.5, times=1)
    first = start_poll(config)
    wait_for_request(site, "/notices/2026/doc-new-ai.html")
    second = start_poll(config)
    out2, err2 = second.communicate(timeout=60)
    out1, err1 = first.communicate(timeout=60)
    assert first.returncode == 0, err1
    assert "locked" in out2 and second.returncode == 1, out2 + err2
    with sqlite3.connect(tmp_path / "data" / "tracker.db") as c:
        dup = c.execute("""SELECT document_id, kind, count(*) FROM events WHERE document_id IS NOT NULL
                           GROUP BY document_id, kind HAVING count(*) > 1""").fetchall()
        new = c.execute("SELECT count(*) FROM events WHERE kind = 'document.new' AND baseline = 0").fetchone()[0]
        locks = c.execute("SELECT count(*) FROM sources WHERE lock_owner IS NOT NULL").fetchone()[0]
    assert dup == [] and new == 2 and locks == 0
