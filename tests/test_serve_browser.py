"""The change-log pages in a real headless Chromium (Debian's, driven by playwright).

CI installs the browser with `apt-get install chromium` and the driver with
`pip install playwright` (the wheel ships its node driver; `playwright install`
is never run: the system browser is used). Skipped, with the reason, when either
is missing.
"""

from __future__ import annotations

import shutil

import pytest

from conftest import html_source, write_config
from tracker.cli import run_poll
from tracker.config import load
from tracker.store import Store
from tracker.web import ServerThread, create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE_LIST = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>通知公告</title></head><body>
<ul class="list"><li><a href="/other/2026/x.html" title="&lt;script&gt;alert(1)&lt;/script&gt;关于推进人工智能+制造的通知">x</a>
<span>2026-04-03</span></li></ul></body></html>"""
HOSTILE_DETAIL = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>
<h1>&lt;script&gt;alert(1)&lt;/script&gt;关于推进人工智能+制造的通知</h1><div class="pubdate">2026-04-03</div>
<div id="zoom"><p>推进人工智能+制造。&lt;img src=x onerror=alert(2)&gt;</p></div></body></html>"""


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def served(tmp_path, site):
    """The ministry scenario polled through its three states, plus one hostile notice, served on loopback."""
    hostile = (html_source(site, sid="hostile").replace("/notices/index.html", "/other/index.html")
               .replace("某省工信厅", "某市工信局").replace('region = "Jiangsu"', 'region = "Zhejiang"'))
    site.override("/other/index.html", body=HOSTILE_LIST)
    site.override("/other/2026/x.html", body=HOSTILE_DETAIL)
    cfg = load(write_config(tmp_path, html_source(site) + hostile))
    Store(cfg.settings.db_path).close()  # create the database before two poll threads open it at once
    for state in (0, 1, 2):
        site.set_state(state)
        run_poll(cfg)
    with ServerThread(create_app(cfg)) as srv:
        yield srv, cfg


@pytest.fixture
def page(browser):
    context = browser.new_context()
    pg = context.new_page()
    pg.problems = []  # console errors, uncaught exceptions, dialogs (an alert() that ran)
    pg.on("console", lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(f"pageerror: {e}"))
    pg.on("dialog", lambda d: (pg.problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield pg
    context.close()


def ids(cfg):
    with Store(cfg.settings.db_path) as store:
        revised = store.events(kind="document.revised")[0]
        hostile = store.events(source="hostile", kind="document.new")[0]
    return revised, hostile


def test_every_page_renders_without_console_errors(served, page):
    srv, cfg = served
    revised, hostile = ids(cfg)
    paths = ["/", "/?topic=ai-manufacturing", "/?page=2", f"/events/{revised.id}", f"/events/{hostile.id}",
             f"/documents/{revised.document_id}", f"/documents/{hostile.document_id}", "/sources", "/coverage"]
    for path in paths:
        resp = page.goto(srv.base_url + path)
        assert resp.status == 200, path
        assert page.locator("main h1").count() >= 1, path
        assert page.title().endswith("· tracker"), path
    # the stylesheet loaded (a failed load would also be a console error)
    assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert page.problems == []


def test_filters_change_what_is_shown(served, page):
    srv, _ = served
    page.goto(srv.base_url + "/")
    all_titles = page.locator("tr.event td.title a").all_inner_texts()
    assert any("安全生产月" in t for t in all_titles)
    page.select_option("#filter-topic", "ai-manufacturing")
    with page.expect_navigation():
        page.click("#apply")
    assert "topic=ai-manufacturing" in page.url
    topic_titles = page.locator("tr.event td.title a").all_inner_texts()
    assert topic_titles and len(topic_titles) < len(all_titles)
    assert not any("安全生产月" in t for t in topic_titles)
    page.select_option("#filter-kind", "document.revised")
    with page.expect_navigation():
        page.click("#apply")
    rows = page.locator("tr.event")
    assert rows.count() == 1 and "诊断工作方案" in rows.first.inner_text()
    page.select_option("#filter-topic", "")
    page.select_option("#filter-kind", "")
    page.select_option("#filter-region", "Zhejiang")
    with page.expect_navigation():
        page.click("#apply")
    assert page.locator("tr.event").count() == 1 and "alert(1)" in page.locator("tr.event").inner_text()
    page.click("text=clear")
    assert page.locator("tr.event").count() == len(all_titles)
    assert page.problems == []


def test_coverage_table_shows_the_province_of_a_matching_document(served, page):
    srv, _ = served
    page.goto(srv.base_url + "/coverage")
    table = page.locator("#coverage-ai-manufacturing table")
    assert table.locator("tbody tr").count() == 32  # the national row and 31 provincial-level regions
    jiangsu = table.locator('tr[data-region="Jiangsu"]')
    assert "江苏" in jiangsu.locator("th").inner_text()
    text = jiangsu.inner_text()
    assert "关于组织开展2026年工业智能体典型应用场景征集工作的通知" in text and "2026-04-02" in text
    zhejiang = table.locator('tr[data-region="Zhejiang"]')
    assert "<script>alert(1)</script>" in zhejiang.inner_text()  # shown as text, never run
    anhui = [c.strip() for c in table.locator('tr[data-region="Anhui"] td').all_inner_texts()]
    assert anhui and all(c == "" for c in anhui)  # nothing known: empty cells
    headers = table.locator("thead th").all_inner_texts()
    assert "某省工信厅" in headers and "某市工信局" in headers
    # following the cell's link leads to the document
    with page.expect_navigation():
        jiangsu.locator("td a").first.click()
    assert "/documents/" in page.url and page.locator("#doc-number").inner_text()
    assert page.problems == []


def test_diff_is_highlighted_and_hostile_text_is_inert(served, page):
    srv, cfg = served
    revised, hostile = ids(cfg)
    page.goto(f"{srv.base_url}/events/{revised.id}")
    assert page.locator(".diff del").all_inner_texts() == ["7"]
    assert page.locator(".diff ins").all_inner_texts() == ["8"]
    page.goto(f"{srv.base_url}/events/{hostile.id}")
    assert page.locator("#event-title").inner_text().startswith("<script>alert(1)</script>")
    assert page.evaluate("document.scripts.length") == 0
    page.goto(f"{srv.base_url}/documents/{hostile.document_id}")
    page.click("details summary")
    assert "<img src=x onerror=alert(2)>" in page.locator("pre.body").first.inner_text()
    assert page.evaluate("document.images.length") == 0
    assert page.problems == []  # no alert() dialog ever opened


def test_token_protected_pages_stay_usable_by_clicking(tmp_path, site, page):
    cfg = load(write_config(tmp_path, html_source(site), settings='token = "s3cret"'))
    run_poll(cfg)
    with ServerThread(create_app(cfg)) as srv:
        assert page.goto(srv.base_url + "/").status == 401
        assert page.goto(srv.base_url + "/?token=s3cret").status == 200
        for link in ("Sources", "Coverage", "Change log"):
            with page.expect_navigation():
                page.click(f"header >> text={link}")
            assert "token=s3cret" in page.url and page.locator("main h1").count() == 1, link
        page.select_option("#filter-topic", "ai-manufacturing")
        with page.expect_navigation() as nav:
            page.click("#apply")
        assert nav.value.status == 200 and "token=s3cret" in page.url
    # the 401 page itself logs "Failed to load resource"; nothing else may
    assert all("401" in p for p in page.problems), page.problems
