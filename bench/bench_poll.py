"""Benchmark: the cost of a poll, a feed rewrite and a log query as history grows.

The tracker must cost what changed, not what it has seen: a poll of an
unchanged list, rewriting the feeds and reading the newest events should take
about the same time with 1,000 or 100,000 documents in the store.

    python bench/bench_poll.py            # history sizes 1k, 10k, 100k
    python bench/bench_poll.py --sizes 1000 20000 --repeat 5

Everything runs on loopback against tracker.testsite; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.cli import run_poll  # noqa: E402
from tracker.config import load  # noqa: E402
from tracker.feeds import write_feeds  # noqa: E402
from tracker.normalize import document_key  # noqa: E402
from tracker.store import Store, iso, utcnow  # noqa: E402
from tracker.testsite import TestSite  # noqa: E402

LIST_SIZE = 20


def make_site(root: Path) -> None:
    state = root / "state0" / "list"
    state.mkdir(parents=True)
    items = []
    for n in range(LIST_SIZE):
        items.append(f'<li><a href="/list/t20260301_{n}.html" title="关于人工智能+制造第{n}号通知">通知{n}</a>'
                     f"<span>2026-03-01</span></li>")
        (state / f"t20260301_{n}.html").write_text(
            f"<html><body><h1>关于人工智能+制造第{n}号通知</h1><div id='zoom'><p>正文{n}。</p></div></body></html>",
            encoding="utf-8")
    (state / "index.html").write_text(f"<html><body><ul class='list'>{''.join(items)}</ul></body></html>",
                                      encoding="utf-8")


def make_config(root: Path, site: TestSite) -> Path:
    path = root / "sources.toml"
    path.write_text(textwrap.dedent(f"""
        [settings]
        data_dir = "data"
        host_delay = "0s"
        recheck = "1d"
        [[topics]]
        id = "ai"
        name = "AI"
        keywords = ["人工智能+制造"]
        [[sources]]
        id = "bench"
        name = "bench"
        agency = "MIIT"
        region = "national"
        cms = "html"
        url = "{site.url('/list/index.html')}"
        [sources.list]
        item = "ul.list li"
        link = "a@href"
        title = "a@title"
        date = "span"
        """), encoding="utf-8")
    return path


def add_history(store: Store, n: int, source: str = "bench") -> None:
    """n old documents, each with a version and an event, as months of polling would leave."""
    now = iso(utcnow())
    with store.transaction() as c:
        for i in range(n):
            url = f"http://127.0.0.9/old/t20250101_{i}.html"
            doc_id = c.execute(
                """INSERT INTO documents (key, source, url, title, topics, reasons, first_seen_at, last_checked_at)
                   VALUES (?, ?, ?, ?, ?, '{}', '2025-01-01T00:00:00+00:00', ?)""",
                (document_key(url), source, url, f"历史文件{i}", json.dumps(["ai"] if i % 10 == 0 else []), now),
            ).lastrowid
            c.execute("INSERT INTO listings VALUES (?, ?, ?, ?)", (source, doc_id, now, now))
            vid = c.execute("""INSERT INTO versions (document_id, fetched_at, url, title, body, body_hash)
                               VALUES (?, ?, ?, ?, ?, ?)""", (doc_id, now, url, f"历史文件{i}", "正文", "x")).lastrowid
            store.add_event(c, kind="document.new", detected_at="2025-01-01T00:00:00+00:00", source=source,
                            agency="MIIT", region="national", document_id=doc_id, version_id=vid,
                            title=f"历史文件{i}", url=url, topics=["ai"] if i % 10 == 0 else [], summary="")


def timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def bench(size: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_site(root)
        with TestSite(root) as site:
            config = load(make_config(root, site))
            run_poll(config)  # baseline of the live list
            with Store(config.settings.db_path) as store:
                add_history(store, size)
                return {
                    "poll_unchanged_s": timed(lambda: run_poll(config), repeat),
                    "write_feeds_s": timed(lambda: write_feeds(config, store), repeat),
                    "log_newest_50_s": timed(lambda: store.events(limit=50, topic="ai"), repeat),
                }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    print(f"{'history':>8}  {'poll (unchanged)':>17}  {'write feeds':>12}  {'log newest 50':>14}")
    for size in args.sizes:
        r = bench(size, args.repeat)
        print(f"{size:>8}  {r['poll_unchanged_s']*1000:>15.1f}ms  {r['write_feeds_s']*1000:>10.1f}ms"
              f"  {r['log_newest_50_s']*1000:>12.2f}ms")


if __name__ == "__main__":
    main()
