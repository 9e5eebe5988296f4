"""`tracker review` and `tracker export`, through the CLI, against polls of the loopback test site."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

from conftest import html_source, write_config
from tracker.config import load
from tracker.review import CSV_COLUMNS
from tracker.store import Store
from tracker.web import ServerThread, create_app


@pytest.fixture
def cli(tmp_path, site, make_cli):
    c = make_cli(write_config(tmp_path, html_source(site)))
    for state in (0, 1, 2):
        site.set_state(state)
        code, _, err = c("poll")
        assert code == 0, err
    return c


def feed_bytes(tmp_path) -> dict[str, bytes]:
    feeds = tmp_path / "data" / "feeds"
    return {str(p.relative_to(feeds)): p.read_bytes() for p in sorted(feeds.rglob("*")) if p.is_file()}


def test_review_is_stored_shown_and_never_changes_a_feed(cli, tmp_path):
    revised = cli.log("--kind", "document.revised")[0]
    before = feed_bytes(tmp_path)
    code, out, err = cli("review", str(revised["id"]), "--note", "江苏 extends the plan to 2028", "--significance",
                         "high")
    assert code == 0, err
    assert "significance high" in out
    rv = next(e for e in cli.log() if e["id"] == revised["id"])["review"]
    assert rv["note"] == "江苏 extends the plan to 2028" and rv["significance"] == "high" and rv["reviewed_at"]
    # an update keeps what it does not mention
    code, _, _ = cli("review", str(revised["id"]), "--significance", "low")
    assert code == 0
    rv = next(e for e in cli.log() if e["id"] == revised["id"])["review"]
    assert rv["note"] == "江苏 extends the plan to 2028" and rv["significance"] == "low"
    code, out, _ = cli("review", str(revised["id"]))
    assert code == 0 and "significance low" in out
    code, out, _ = cli("log", "--kind", "document.revised")
    assert code == 0 and "low 江苏 extends the plan" in out
    code, out, _ = cli("show", str(revised["id"]))
    assert code == 0 and "Review: low 江苏 extends the plan to 2028" in out
    # reviewing changed nothing a feed reader sees, even after the feeds are rewritten
    assert feed_bytes(tmp_path) == before
    code, out, _ = cli("feed")
    assert code == 0 and "0 file(s) changed" in out
    assert feed_bytes(tmp_path) == before
    code, _, err = cli("review", "99999", "--note", "x")
    assert code == 2 and "99999" in err
    with pytest.raises(SystemExit):
        cli("review", str(revised["id"]), "--significance", "urgent")


def test_review_is_shown_on_the_pages(cli, tmp_path):
    ev = cli.log("--kind", "document.new")[0]
    cli("review", str(ev["id"]), "--note", "<b>check</b> the 文号", "--significance", "high")
    with ServerThread(create_app(load(cli.config))) as srv, httpx.Client(base_url=srv.base_url) as http:
        page = http.get(f"/events/{ev['id']}").text
        assert "&lt;b&gt;check&lt;/b&gt; the 文号" in page and 'id="review"' in page
        index = http.get("/").text
        row = index[index.index(f'data-event-id="{ev["id"]}"'):]
        assert "reviewed: high" in row[:row.index("</tr>")]


def test_export_csv_has_a_bom_a_header_and_document_fields(cli, tmp_path):
    out_file = tmp_path / "events.csv"
    code, _, err = cli("export", "--format", "csv", "--output", str(out_file))
    assert code == 0, err
    data = out_file.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel then reads the Chinese correctly
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    events = cli.log()
    assert [int(r["event_id"]) for r in rows] == [e["id"] for e in events]
    ai = next(r for r in rows if r["kind"] == "document.new" and "诊断工作方案" in r["title"])
    with Store(tmp_path / "data" / "tracker.db") as store:
        doc = store.document(int(ai["document_id"]))
    assert ai["doc_first_seen_at"] == doc["first_seen_at"]
    assert ai["doc_url"] == doc["url"] and ai["doc_url"].endswith("/notices/2026/doc-ai.html")
    assert ai["doc_number_current"] == "某工信信发〔2026〕63号"
    assert ai["doc_published"] == doc["published"] and ai["doc_published"].startswith("2026-03-09")
    assert ai["topics"] == "ai-manufacturing" and ai["baseline"] == "1"


def test_export_json_to_stdout_with_filters(cli):
    ev = cli.log("--kind", "document.revised")[0]
    cli("review", str(ev["id"]), "--note", "one character", "--significance", "normal")
    code, out, err = cli("export", "--format", "json", "--topic", "ai-manufacturing")
    assert code == 0, err
    records = json.loads(out)
    assert records and all("ai-manufacturing" in r["topics"] for r in records)
    assert {r["event_id"] for r in records} == {e["id"] for e in cli.log("--topic", "ai-manufacturing")}
    rec = next(r for r in records if r["event_id"] == ev["id"])
    assert rec["document"]["doc_number"] == "某工信信发〔2026〕63号"
    assert rec["document"]["first_seen_at"] and rec["document"]["url"].endswith("doc-ai.html")
    assert rec["review"]["note"] == "one character"
    code, out, _ = cli("export", "--format", "json", "--since", "2999-01-01")
    assert code == 0 and json.loads(out) == []
    code, out, _ = cli("export", "--format", "csv", "--since", "2999-01-01")
    assert out.lstrip("\ufeff").splitlines() == [",".join(CSV_COLUMNS)]
    code, _, err = cli("export", "--topic", "nope")
    assert code == 2 and "nope" in err
