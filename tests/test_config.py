"""Configuration errors: one clear message naming file, source, key (and line), exit 2, nothing written."""

from __future__ import annotations

import pytest

from tracker.cli import main
from tracker.config import load, parse_duration

GOOD = """
[settings]
data_dir = "data"

[[sources]]
id = "a-src"
name = "A"
agency = "MIIT"
region = "national"
cms = "html"
url = "http://127.0.0.1:9/list.html"
[sources.list]
item = "li"
link = "a@href"
"""


def run(tmp_path, text: str, capsys) -> tuple[int, str]:
    cfg = tmp_path / "sources.toml"
    cfg.write_text(text, encoding="utf-8")
    code = main(["--config", str(cfg), "poll"])
    err = capsys.readouterr().err
    assert not (tmp_path / "data").exists(), "a bad configuration must write nothing"
    return code, err


@pytest.mark.parametrize("mutate, expect", [
    (lambda t: t.replace('region = "national"', 'region = "national"\nfrequency = "2h"'),
     ["a-src", "'frequency'", "unknown key", "sources.toml:10:"]),
    (lambda t: t.replace('agency = "MIIT"\n', ""), ["a-src", "'agency'", "missing"]),
    (lambda t: t.replace('region = "national"', 'region = "national"\ninterval = "2 weeks"'),
     ["a-src", "'interval'", "bad duration", "sources.toml:10:"]),
    (lambda t: t + t.split("\n", 3)[3].replace("[settings]", ""), ["a-src", "duplicate source id"]),
    (lambda t: t.replace('cms = "html"', 'cms = "wordpress"'), ["a-src", "'cms'", "wordpress", "sources.toml:10:"]),
    (lambda t: t.replace('[settings]', '[settings\n'), ["not valid TOML", "line"]),
    (lambda t: t.replace('data_dir = "data"', 'data_dir = "data"\nfeed_size = "many"'),
     ["settings", "'feed_size'", "whole number"]),
    (lambda t: t.replace('link = "a@href"', ''), ["a-src", "'link'"]),
])
def test_bad_configuration_exits_2_with_a_precise_message(tmp_path, capsys, mutate, expect):
    code, err = run(tmp_path, mutate(GOOD), capsys)
    assert code == 2
    assert str(tmp_path / "sources.toml") in err
    for fragment in expect:
        assert fragment in err, (fragment, err)
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_file_is_a_usage_error(tmp_path, capsys):
    code = main(["--config", str(tmp_path / "nope.toml"), "sources"])
    assert code == 2
    assert "not found" in capsys.readouterr().err


def test_paths_are_relative_to_the_file_and_defaults_apply(tmp_path, monkeypatch):
    cfg = tmp_path / "conf" / "sources.toml"
    cfg.parent.mkdir()
    cfg.write_text(GOOD.replace('data_dir = "data"', 'data_dir = "out"\ninterval = "3h"'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACKER_CONFIG", str(cfg))
    c = load()
    assert c.settings.data_dir == cfg.parent / "out"
    assert c.sources[0].interval == 3 * 3600
    assert c.sources[0].recheck == 86400
    assert c.settings.feed_size == 100


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("5m", 300), ("6h", 21600), ("1d", 86400), ("0s", 0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["6", "1w", "h", "-1h", ""])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)
