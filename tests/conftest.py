"""Shared test fixtures: loopback test sites, configuration files, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from tracker.cli import main
from tracker.config import Settings, Source
from tracker.fetch import Fetcher, Session, Validators
from tracker.testsite import TestSite

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent

TOPICS_TOML = """
[[topics]]
id = "ai-manufacturing"
name = "人工智能+制造 follow-ups"
cites = ["“人工智能+制造”专项行动实施意见", "工信部联科〔2025〕279号"]
keywords = ["人工智能+制造", "工业智能体"]
exclude = []

[[topics]]
id = "bio-manufacturing"
name = "生物制造"
cites = []
keywords = ["生物制造", "聚乳酸", "菌丝体"]
"""


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run long tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="long run: use --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    # the fetcher refuses any host outside 127.0.0.0/8 while this is set
    monkeypatch.setenv("TRACKER_LOOPBACK_ONLY", "1")
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)


@pytest.fixture
def site():
    with TestSite(FIXTURES / "html" / "ministry") as s:
        yield s


def write_config(tmp_path: Path, sources: str, settings: str = "", topics: str = TOPICS_TOML) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(textwrap.dedent(f"""
        [settings]
        data_dir = "data"
        host_delay = "0s"
        feed_base_url = "http://tracker.test"
        {textwrap.dedent(settings)}
        """) + topics + textwrap.dedent(sources), encoding="utf-8")
    return path


def html_source(site: TestSite, sid: str = "prov-notices", recheck: str = "0s") -> str:
    return f"""
[[sources]]
id = "{sid}"
name = "某省工信厅 · 通知公告"
agency = "某省工信厅"
region = "Jiangsu"
cms = "html"
url = "{site.url('/notices/index.html')}"
recheck = "{recheck}"
[sources.list]
item = "ul.list li"
link = "a@href"
title = "a@title"
date = "span"
[sources.detail]
title = "h1"
content = "#zoom"
date = ".pubdate"
attachments = ".fujian"
"""


class Cli:
    """Runs `tracker` in-process (fast) or as a subprocess (the installed entry point)."""

    def __init__(self, config: Path, capsys):
        self.config = config
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(["--config", str(self.config), *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def log(self, *args: str) -> list[dict]:
        code, out, err = self("log", "--json", "--limit", "0", *args)
        assert code == 0, err
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def subprocess(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        return subprocess.run([sys.executable, "-m", "tracker", "--config", str(self.config), *args],
                              capture_output=True, text=True, env=full_env, timeout=120)


@pytest.fixture
def make_cli(capsys):
    def make(config: Path) -> Cli:
        return Cli(config, capsys)

    return make


# -- adapter tests (tests/test_sites_*.py) ---------------------------------------------------


def make_source(cms: str, url: str, **kw) -> Source:
    """A source of kind `cms` for adapter tests; keywords override any field."""
    # adapters never read the naming or schedule fields: fixed values keep the tests short
    fields = {"id": f"{cms}-test", "name": "test", "agency": "test", "region": "test",
              "interval": 3600, "recheck": 86400, "recheck_for": 86400, **kw}
    return Source(cms=cms, url=url, **fields)


@pytest.fixture
def http(tmp_path):
    """http(source, validators=None) -> Session on a fresh Fetcher; every Fetcher is closed after the test."""
    fetchers: list[Fetcher] = []

    def make(source: Source, validators: Callable[[str], Validators] | None = None) -> Session:
        # no retries and a short timeout: a loopback site that fails once should fail the test fast
        fetcher = Fetcher(Settings(data_dir=tmp_path, host_delay=0, retries=0, timeout=5), validators=validators)
        fetchers.append(fetcher)
        return Session(fetcher, source)

    yield make
    for f in fetchers:
        f.close()


class ScenarioSites:
    """Opens fixtures/<family>/<scenario> as a TestSite the first time it is asked for, then reuses it."""

    def __init__(self) -> None:
        self.opened: dict[tuple[str, str], TestSite] = {}

    def __call__(self, family: str, scenario: str) -> TestSite:
        key = (family, scenario)
        if key not in self.opened:
            self.opened[key] = TestSite(FIXTURES / family / scenario).start()
        s = self.opened[key]
        # a site shared by several tests must not carry one test's overrides or requests into the next
        s.clear()
        s.log.clear()
        return s

    def stop(self) -> None:
        for s in self.opened.values():
            s.stop()


@pytest.fixture
def scenario_site():
    """scenario_site(family, scenario) -> TestSite, started for this test and stopped after it."""
    sites = ScenarioSites()
    yield sites
    sites.stop()


@pytest.fixture(scope="module")
def module_scenario_site():
    """module_scenario_site(family, scenario) -> TestSite, started once per module, cleared on each call."""
    sites = ScenarioSites()
    yield sites
    sites.stop()


def scenario_fixture(family: str, scenario: str):
    """A test module's fixture for one scenario (`miit = scenario_fixture("jpaas", "miit")`): its TestSite,
    started for each test."""

    def site(scenario_site: ScenarioSites) -> TestSite:
        return scenario_site(family, scenario)

    return pytest.fixture(site)


def scenarios_fixture(family: str):
    """A test module's fixture for a family (`site = scenarios_fixture("trs")`): site(scenario) -> TestSite,
    each started once per module, its log and overrides cleared on each call."""

    def site(module_scenario_site: ScenarioSites) -> Callable[[str], TestSite]:
        return partial(module_scenario_site, family)

    return pytest.fixture(site)


def replay(session: Session) -> Callable[[str], Validators]:
    """The validators lookup a later poll would use once `session`'s poll is stored: http(source, validators=…)."""
    return lambda key: session.new_validators.get(key, (None, None))
