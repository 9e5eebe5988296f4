"""The HTTP layer against the loopback test site: classification, retries, limits, politeness.

Fixtures: tests/fixtures/faults (see its README.md). Every request is real HTTP on
127.0.0.0/8; delays and timeouts are small so the file stays fast.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from tracker.config import Settings, Source
from tracker.errors import Blocked, HttpError, NetworkError, ParseError, SoftNotFound, TLSError, TooLarge
from tracker.fetch import Fetcher, Session, retry_after
from tracker.testsite import FLOOD_LIMIT, TestSite

FAULTS = Path(__file__).parent / "fixtures" / "faults"
TLS = (FAULTS / "tls" / "cert.pem", FAULTS / "tls" / "key.pem")
TITLE = "关于印发江苏省“人工智能+制造”诊断工作方案(2026-2027)的通知"


def settings(**kw) -> Settings:
    base = {"data_dir": Path("/nonexistent"), "timeout": 2.0, "host_delay": 0.0, "retries": 2,
            "concurrency": 4, "max_bytes": 256 * 1024}
    return Settings(**{**base, **kw})


def source(url: str = "http://127.0.0.1/", **kw) -> Source:
    return Source(id="s", name="s", agency="a", region="r", cms="html", url=url, interval=3600,
                  recheck=86400, recheck_for=86400, **kw)


def header(req, name: str) -> str | None:
    """A logged request's header, whatever case the client sent it in."""
    return next((v for k, v in req.headers.items() if k.lower() == name.lower()), None)


class Sleeps:
    """Injected sleep: records the waits between tries instead of sleeping."""

    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def site():
    with TestSite(FAULTS) as s:
        yield s


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def fetcher(sleeps):
    with Fetcher(settings(), sleep=sleeps) as f:
        yield f


# -- classification through real HTTP ---------------------------------------------------------
def test_ruishu_412_is_blocked_and_not_retried(site, fetcher):
    url = site.url("/challenge/ruishu-412")
    with pytest.raises(Blocked) as e:
        fetcher.fetch(url)
    assert e.value.status == 412 and e.value.outcome == "blocked"
    assert url in str(e.value) and "Ruishu" in str(e.value)
    assert len(site.requests("/challenge/ruishu-412")) == 1


def test_ruishu_stub_served_with_200_is_blocked(site, fetcher):
    with pytest.raises(Blocked):
        fetcher.fetch(site.url("/challenge/ruishu-200"))


@pytest.mark.parametrize("path", ["/challenge/jsl-cookie", "/challenge/jsl-go"])
def test_jiasule_521_is_blocked_not_retried_as_5xx(site, fetcher, sleeps, path):
    with pytest.raises(Blocked) as e:
        fetcher.fetch(site.url(path))
    assert e.value.status == 521 and "Jiasule" in str(e.value)
    assert len(site.requests(path)) == 1 and sleeps.waits == []


def test_interstitial_200_is_blocked(site, fetcher):
    with pytest.raises(Blocked, match="interstitial"):
        fetcher.fetch(site.url("/challenge/interstitial"))


def test_long_notice_mentioning_captcha_is_ok(site, fetcher):
    resp = fetcher.fetch(site.url("/notices/captcha-check.html"))
    assert resp.status == 200 and "短信验证码、图形验证码" in resp.text


def test_redirect_to_site_root_is_soft_404(site, fetcher):
    site.override("/notices/2025/withdrawn.html", status=302, headers={"Location": "/"})
    url = site.url("/notices/2025/withdrawn.html")
    with pytest.raises(SoftNotFound) as e:
        fetcher.fetch(url)
    assert "site root" in str(e.value) and url in str(e.value)


def test_redirect_chain_is_followed_and_recorded(site, fetcher):
    site.override("/a", status=301, headers={"Location": "/b"})
    site.override("/b", status=302, headers={"Location": "/notices/captcha-check.html"})
    resp = fetcher.fetch(site.url("/a"))
    assert resp.url == site.url("/a")
    assert resp.final_url == site.url("/notices/captcha-check.html")
    assert resp.history == [site.url("/a"), site.url("/b")]


def test_not_found_title_with_200_is_soft_404(site, fetcher):
    with pytest.raises(SoftNotFound, match="页面不存在"):
        fetcher.fetch(site.url("/notices/gone-title.html"))


def test_404_is_http_error_with_status_and_not_retried(site, fetcher, sleeps):
    with pytest.raises(HttpError) as e:
        fetcher.fetch(site.url("/no/such/page.html"))
    assert e.value.status == 404 and e.value.outcome == "http_error"
    assert len(site.requests("/no/such/page.html")) == 1 and sleeps.waits == []


# -- retries -----------------------------------------------------------------------------------
def test_503_with_retry_after_then_success_really_waits():
    # real sleep; tiny backoff so that only Retry-After can explain a wait of a second
    with TestSite(FAULTS) as site, Fetcher(settings(retries=2), backoff_base=0.01) as fetcher:
        site.override("/notices/captcha-check.html", status=503, body="busy", headers={"Retry-After": "1"}, times=1)
        resp = fetcher.fetch(site.url("/notices/captcha-check.html"))
        assert resp.status == 200
        first, second = site.requests("/notices/captcha-check.html")
        assert first.status == 503 and second.status == 200
        assert second.at - first.at >= 1.0


def test_retry_after_seconds_and_http_date_are_honoured(site, fetcher, sleeps):
    site.override("/notices/captcha-check.html", status=503, headers={"Retry-After": "7"}, times=1)
    assert fetcher.fetch(site.url("/notices/captcha-check.html")).status == 200
    assert sleeps.waits == [7.0]
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 28 <= retry_after(format_datetime(later, usegmt=True)) <= 30
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait
    assert retry_after("soon") is None


def test_429_is_retried(site, fetcher, sleeps):
    site.override("/notices/captcha-check.html", status=429, body="too many", times=1)
    assert fetcher.fetch(site.url("/notices/captcha-check.html")).status == 200
    assert len(sleeps.waits) == 1


def test_persistent_500_gives_up_with_status_after_backoff(site, sleeps):
    with Fetcher(settings(retries=3), sleep=sleeps) as fetcher:
        site.override("/api", status=500, body="<html><body>" + "internal error " * 100 + "</body></html>")
        with pytest.raises(HttpError) as e:
            fetcher.fetch(site.url("/api"))
    assert e.value.status == 500 and "4 tries" in str(e.value)
    assert len(site.requests("/api")) == 4
    # exponential with jitter: 1-1.5 s, 2-3 s, 4-6 s
    assert [int(w) for w in sleeps.waits] in ([1, 2, 4], [1, 2, 5], [1, 3, 4], [1, 3, 5])
    assert all(lo <= w <= lo * 1.5 for w, lo in zip(sleeps.waits, [1, 2, 4], strict=True))


def test_retry_after_beyond_the_time_budget_gives_up_at_once(site, sleeps):
    with Fetcher(settings(retries=3), sleep=sleeps, retry_budget=10) as fetcher:
        site.override("/busy", status=503, body="maintenance", headers={"Retry-After": "3600"})
        with pytest.raises(HttpError, match="budget") as e:
            fetcher.fetch(site.url("/busy"))
    assert e.value.status == 503
    assert sleeps.waits == [] and len(site.requests("/busy")) == 1


def test_connection_reset_is_network_error_after_retries(site, fetcher, sleeps):
    site.override("/reset", action="reset")
    with pytest.raises(NetworkError) as e:
        fetcher.fetch(site.url("/reset"))
    assert e.value.outcome == "network_error" and "3 tries" in str(e.value)
    assert len(site.requests("/reset")) == 3 and len(sleeps.waits) == 2


def test_stalled_read_times_out_with_source_timeout(site, sleeps):
    # settings say 30 s; the source's own timeout (0.3 s) must win
    with Fetcher(settings(timeout=30, retries=1), sleep=sleeps) as fetcher:
        site.override("/slow", action="stall", body="<html>" + "x" * 200 + "</html>", delay=1.5)
        started = time.monotonic()
        with pytest.raises(NetworkError, match="timed out"):
            fetcher.fetch(site.url("/slow"), source=source(timeout=0.3))
        assert time.monotonic() - started < 1.4
    assert len(site.requests("/slow")) == 2


# -- limits and parsing ------------------------------------------------------------------------
def test_declared_oversized_body_is_refused(site, sleeps):
    with Fetcher(settings(max_bytes=10_000), sleep=sleeps) as fetcher:
        site.override("/big", body="<p>x</p>" * 10_000)
        with pytest.raises(TooLarge, match="max_bytes=10000"):
            fetcher.fetch(site.url("/big"))
    assert len(site.requests("/big")) == 1  # not retried


def test_endless_body_stops_reading_at_the_cap(site, sleeps):
    with Fetcher(settings(max_bytes=100_000), sleep=sleeps) as fetcher:
        site.override("/flood", action="flood")
        started = time.monotonic()
        with pytest.raises(TooLarge, match="stopped reading"):
            fetcher.fetch(site.url("/flood"))
        assert time.monotonic() - started < 2
    (rec,) = site.requests("/flood")
    time.sleep(0.2)  # let the server notice the hang-up
    # the server could have sent 256 MB; it got cut off after socket buffers' worth
    assert rec.sent < FLOOD_LIMIT // 8


def test_invalid_json_raises_parse_error(site, fetcher):
    site.override("/api.json", body='{"success": true, "data": {', headers={"Content-Type": "application/json"})
    resp = fetcher.fetch(site.url("/api.json"))
    with pytest.raises(ParseError) as e:
        resp.json()
    assert e.value.outcome == "parse_error" and site.url("/api.json") in str(e.value)


def test_json_with_bom_parses(site, fetcher):
    payload = {"success": True, "data": {"title": "人工智能+制造"}}
    site.override("/ok.json", body=b"\xef\xbb\xbf" + json.dumps(payload, ensure_ascii=False).encode(),
                  headers={"Content-Type": "application/json"})
    assert fetcher.fetch(site.url("/ok.json")).json() == payload


# -- decoding through HTTP -----------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/enc/gbk-meta.html", "/enc/gbk-plain.html", "/enc/gb2312-header.html"])
def test_gb_pages_read_as_chinese(site, fetcher, path):
    resp = fetcher.fetch(site.url(path))
    assert resp.encoding == "gb18030"
    assert f"<title>{TITLE}</title>" in resp.text
    assert "\ufffd" not in resp.text


def test_gb2312_label_decodes_gbk_only_character(site, fetcher):
    assert "王堃" in fetcher.fetch(site.url("/enc/gb2312-header.html")).text


# -- conditional GET -------------------------------------------------------------------------------
def test_conditional_get_replays_server_etag_and_gets_304(site):
    url = site.url("/notices/captcha-check.html")
    with Fetcher(settings()) as plain:
        first = plain.fetch(url)
    etag = first.headers["etag"]
    assert etag and first.validators == (etag, None)
    with Fetcher(settings(), validators=lambda key: (etag, None) if key == url else (None, None)) as fetcher:
        resp = fetcher.fetch(url, conditional=True)
        assert resp.not_modified and resp.status == 304 and resp.content == b""
        assert resp.validators[0] == etag
        assert not fetcher.fetch(url).not_modified  # not conditional: full answer
    sent = site.requests("/notices/captcha-check.html")
    assert header(sent[1], "If-None-Match") == etag
    assert header(sent[2], "If-None-Match") is None


def test_conditional_get_sends_last_modified_as_given(site):
    lm = "Wed, 01 Jul 2026 08:00:00 GMT"
    with Fetcher(settings(), validators=lambda key: (None, lm)) as fetcher:
        fetcher.fetch(site.url("/enc/gbk-meta.html"), conditional=True)
    (req,) = site.requests("/enc/gbk-meta.html")
    assert header(req, "If-Modified-Since") == lm and header(req, "If-None-Match") is None


# -- headers, TLS, loopback guard ------------------------------------------------------------------
def test_user_agent_default_and_source_headers_win(site):
    with Fetcher(settings(user_agent="tracker-test/1.0 (+contact)")) as fetcher:
        fetcher.fetch(site.url("/notices/captcha-check.html"))
        src = source(headers={"user-agent": "Mozilla/5.0 special", "Referer": site.url("/")})
        fetcher.fetch(site.url("/enc/gbk-meta.html"), source=src)
    (plain,) = site.requests("/notices/captcha-check.html")
    (custom,) = site.requests("/enc/gbk-meta.html")
    assert header(plain, "User-Agent") == "tracker-test/1.0 (+contact)"
    assert header(custom, "User-Agent") == "Mozilla/5.0 special"
    assert header(custom, "Referer") == site.url("/")


def test_tls_verification_on_by_default_and_off_per_source(sleeps):
    with TestSite(FAULTS, tls=TLS) as site, Fetcher(settings(), sleep=sleeps) as fetcher:
        url = site.url("/notices/captcha-check.html")
        assert url.startswith("https://")
        with pytest.raises(TLSError) as e:
            fetcher.fetch(url)
        assert e.value.outcome == "tls_error" and sleeps.waits == []
        resp = fetcher.fetch(url, source=source(url, verify=False))
        assert resp.status == 200 and "验证码" in resp.text
        with pytest.raises(TLSError):  # the unverified client is not reused for verified sources
            fetcher.fetch(url, source=source(url))


def test_loopback_guard_refuses_other_hosts_even_after_a_redirect(fetcher, monkeypatch):
    outside = "http://192.0.2.10/notices/"  # TEST-NET-1, and the mock transport sends nothing anyway
    seen: list[str] = []

    def transport(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/jump":
            return httpx.Response(302, headers={"Location": outside})
        return httpx.Response(200, text="<html><body>should never be reached</body></html>")

    mock = httpx.Client(transport=httpx.MockTransport(transport))
    monkeypatch.setattr(fetcher, "_client", lambda verify: mock)
    with pytest.raises(NetworkError, match="non-loopback"):
        fetcher.fetch(outside)
    with pytest.raises(NetworkError, match="non-loopback"):
        fetcher.fetch("http://127.0.0.1:9/jump")
    assert seen == ["http://127.0.0.1:9/jump"]
    monkeypatch.delenv("TRACKER_LOOPBACK_ONLY")
    assert "never be reached" in fetcher.fetch(outside).text  # the guard, not the transport, refused


# -- fetch log ---------------------------------------------------------------------------------------
def test_session_records_every_fetch_and_keeps_validators_of_ok_gets(site, fetcher):
    session = Session(fetcher, source(site.url("/")))
    ok = session.fetch(site.url("/notices/captcha-check.html"))
    with pytest.raises(Blocked):
        session.fetch(site.url("/challenge/ruishu-412"))
    site.override("/search", body="<html><body>" + "结果" * 400 + "</body></html>", headers={"ETag": '"p1"'})
    session.fetch(site.url("/search"), method="POST", data={"q": "人工智能"})
    assert [(r.outcome, r.status) for r in session.records] == [("ok", 200), ("blocked", 412), ("ok", 200)]
    assert "Ruishu" in session.records[1].detail
    assert session.new_validators == {ok.url: ok.validators}


# -- politeness ----------------------------------------------------------------------------------------
def _in_threads(*calls) -> None:
    errors: list[BaseException] = []

    def run(call):
        try:
            call()
        except BaseException as e:  # surface failures in the test thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors, errors


def test_same_host_requests_are_spaced_across_threads(site):
    with Fetcher(settings(host_delay=0.5)) as fetcher:
        urls = [site.url(p) for p in ("/enc/gbk-meta.html", "/enc/gbk-plain.html", "/notices/captcha-check.html")]
        _in_threads(*[lambda u=u: fetcher.fetch(u) for u in urls])
    times = sorted(r.at for r in site.requests())
    assert len(times) == 3
    assert all(b - a >= 0.5 for a, b in zip(times, times[1:], strict=False)), times


def test_source_host_delay_overrides_settings(site):
    with Fetcher(settings(host_delay=30)) as fetcher:
        src = source(host_delay=0.0)
        started = time.monotonic()
        fetcher.fetch(site.url("/enc/gbk-meta.html"), source=src)
        fetcher.fetch(site.url("/enc/gbk-plain.html"), source=src)
        assert time.monotonic() - started < 2


def _two_hosts_in_parallel(concurrency: int) -> tuple[float, float]:
    with TestSite(FAULTS, host="127.0.0.2") as a, TestSite(FAULTS, host="127.0.0.3") as b, \
            Fetcher(settings(host_delay=0.3, concurrency=concurrency)) as fetcher:
        for s in (a, b):  # both hosts now have a recent request: their gaps apply
            fetcher.fetch(s.url("/index.html"))
            s.override("/slow.html", body="<html><body>" + "正文" * 200 + "</body></html>", delay=0.5)
        _in_threads(lambda: fetcher.fetch(a.url("/slow.html")), lambda: fetcher.fetch(b.url("/slow.html")))
        (ra,), (rb,) = a.requests("/slow.html"), b.requests("/slow.html")
        return ra.at, rb.at


def test_different_hosts_do_not_wait_for_each_other():
    ta, tb = _two_hosts_in_parallel(concurrency=4)
    # each answer takes 0.5 s: waiting for the other host would put ≥ 0.5 s between them
    assert abs(ta - tb) < 0.25


def test_global_concurrency_cap_serialises_hosts():
    ta, tb = _two_hosts_in_parallel(concurrency=1)
    assert abs(ta - tb) >= 0.5
