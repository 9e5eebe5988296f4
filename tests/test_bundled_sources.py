"""The bundled sources.toml: it loads, and every enabled source reads its family's fixtures.

Each enabled source is copied with only its URL moved onto a loopback TestSite serving the
fixtures of its family (the same path when the fixture has it, else the family's usual page);
its headers, params, query, pages, category and detail selectors stay as configured. The
adapter must then list entries with absolute URLs and titles, and read the first detail page.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import FIXTURES, REPO
from tracker.config import Settings, Source, load
from tracker.fetch import Fetcher, Session
from tracker.sites import get_adapter
from tracker.testsite import TestSite

BUNDLED = REPO / "sources.toml"


@pytest.fixture(scope="module")
def config():
    return load(BUNDLED)


# cms -> {host: (fixture scenario, usual page)}; "" is the family's fallback for other hosts.
FIXTURE_OF = {
    "jpaas": {"www.miit.gov.cn": ("jpaas/miit", "/gzcy/yjzj/index.html"),
              "www.samr.gov.cn": ("jpaas/samr", "/hd/zjdc/index.html"),
              "": ("jpaas/zhejiang", "/col/col1659217/index.html")},
    "miit-search": {"": ("miitsearch/search", "/search-front-server/api/search/info")},
    "govcn": {"": ("govcn/site", "/zhengce/zuixin/ZUIXINZHENGCE.json")},
    "hanweb": {"gxt.jiangsu.gov.cn": ("hanweb/jiangsu", "/col/col6278/index.html"),
               "gxt.shandong.gov.cn": ("hanweb/shandong", "/col/col15201/index.html"),
               "": ("hanweb/zhejiang", "/col/col1659217/index.html")},
    "trs": {"": ("trs/beijing", "/jxdt/tzgg/index.html")},
    "gkmlpt": {"amr.gd.gov.cn": ("gkmlpt/amr", "/gkmlpt/index"), "": ("gkmlpt/gdii", "/gkmlpt/index")},
    "html": {"": ("html/ministry", "/notices/index.html")},
}
# Search APIs answer by query in routes.json; the bundled queries are not all recorded, so these
# paths serve one recorded answer whatever the query (the test checks the query that was sent).
SEARCH_ANSWERS = {"/search-front-server/api/search/info": "api/p1.json", "/search-gov/data": "api/search_p1.json"}


def fixture_url(site: TestSite, source: Source, default: str) -> str:
    """The source's own path when the fixture serves it (a file or a route), else the usual page."""
    parts = urlsplit(source.url)
    path = parts.path
    routes = site.root / "routes.json"
    served = site.find_file(path.lstrip("/") + ("index.html" if path.endswith("/") else "")) is not None \
        or (routes.exists() and f'"{path}"' in routes.read_text(encoding="utf-8")) or path in SEARCH_ANSWERS
    return site.url((path if served else default) + (f"?{parts.query}" if parts.query else ""))


def test_bundled_config_loads_with_sources_of_every_family(config):
    assert config.path == BUNDLED
    enabled = [s for s in config.sources if s.enabled]
    assert len(enabled) >= 10
    assert {s.cms for s in enabled} == {"jpaas", "miit-search", "govcn", "hanweb", "trs", "gkmlpt"}
    assert {t.id for t in config.topics} >= {"ai-manufacturing", "bio-manufacturing"}
    assert all(s.cms in FIXTURE_OF for s in config.sources)


@pytest.fixture(scope="module")
def sites():
    opened: dict[str, TestSite] = {}

    def get(root: str) -> TestSite:
        if root not in opened:
            opened[root] = TestSite(FIXTURES / root).start()
        site = opened[root]
        site.clear()
        site.log.clear()
        return site

    yield get
    for s in opened.values():
        s.stop()


@pytest.fixture
def fetcher(tmp_path: Path):
    with Fetcher(Settings(data_dir=tmp_path, host_delay=0, retries=0, timeout=5)) as f:
        yield f


def enabled_ids() -> list[str]:
    return [s.id for s in load(BUNDLED).sources if s.enabled]


@pytest.mark.parametrize("source_id", enabled_ids())
def test_enabled_source_reads_its_family_fixtures(source_id, config, sites, fetcher):
    configured = config.source(source_id)
    families = FIXTURE_OF[configured.cms]
    root, default = families.get(urlsplit(configured.url).hostname or "", families[""])
    site = sites(root)
    for path, answer in SEARCH_ANSWERS.items():
        if site.find_file(answer):
            site.override(path, file=answer)
    source = replace(configured, url=fixture_url(site, configured, default))
    adapter = get_adapter(source.cms)
    session = Session(fetcher, source)

    listing = adapter.list(source, session)
    assert listing.entries, f"{source_id}: no entries from {source.url}"
    for entry in listing.entries:
        assert entry.url.startswith(site.base_url + "/"), entry.url
        assert entry.title.strip(), entry
    first_request = site.requests()[0]
    for name, value in source.headers.items():
        assert first_request.headers.get(name) == value, (name, first_request.headers)
    if source.query is not None:
        assert any(r.query.get("q") == source.query for r in site.requests()), "the configured query was not sent"
    for key, value in source.params.items():
        assert any(r.query.get(key) == value for r in site.requests()), f"params.{key} was not sent"

    detail = adapter.detail(source, listing.entries[0], session)
    assert detail is not None
    assert detail.title.strip() and detail.body.strip(), detail
    assert detail.url.startswith(site.base_url + "/")
