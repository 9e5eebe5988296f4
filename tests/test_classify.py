"""Classification of responses: challenges, interstitials, soft 404s, HTTP errors, usable pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.classify import classify, diagnose

FAULTS = Path(__file__).parent / "fixtures" / "faults" / "state0"
URL = "http://127.0.0.1:8000/notices/2026/doc-1.html"
HTML = {"content-type": "text/html; charset=utf-8"}


def page(name: str) -> bytes:
    return (FAULTS / name).read_bytes()


def verdict(body: bytes | str, status: int = 200, headers: dict | None = None, final_url: str = URL,
            history: list[str] | None = None) -> str | None:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return classify(status, headers or HTML, raw, raw.decode("utf-8", "replace"), final_url, URL, history or [])


@pytest.mark.parametrize("status", [412, 202, 200])
def test_ruishu_real_body_is_blocked(status):
    assert verdict(page("ruishu.html"), status) == "blocked"


def test_ruishu_reason_names_it():
    raw = page("ruishu.html")
    v = diagnose(412, HTML, raw, raw.decode(), URL, URL, [])
    assert v is not None and "Ruishu" in v.reason and "412" in v.reason


def test_large_real_page_with_ts_token_is_not_ruishu():
    # the 200 rule is for small stubs only: a real page may carry a `$_ts` in some script
    body = page("notice_captcha.html").decode() + "<script>var $_ts = 1;</script>" + "<p>正文</p>" * 4000
    assert len(body.encode()) > 20 * 1024
    assert verdict(body, 200) is None


def test_plain_412_without_markers_is_an_http_error():
    assert verdict("<html><body>Precondition Failed</body></html>", 412) == "http_error"


@pytest.mark.parametrize("name", ["jiasule_521_cookie.html", "jiasule_521_go.html"])
def test_jiasule_bodies_are_blocked(name):
    assert verdict(page(name), 521) == "blocked"


def test_jiasule_cookie_header_on_bare_521():
    assert verdict("", 521, {"set-cookie": "__jsluid_s=abc; path=/"}) == "blocked"


def test_521_without_any_jiasule_sign_is_an_http_error():
    assert verdict("<html><body>" + "origin unreachable " * 300 + "</body></html>", 521) == "http_error"


def test_interstitial_page_is_blocked():
    assert verdict(page("interstitial.html")) == "blocked"


@pytest.mark.parametrize("text,status", [("Access Denied", 403), ("请求被拒绝", 200), ("访问频繁，请稍后再试", 200),
                                         ("当前访问环境异常", 200)])
def test_short_block_texts(text, status):
    assert verdict(f"<html><head><title>提示</title></head><body><h1>{text}</h1></body></html>", status) == "blocked"


def test_long_notice_mentioning_captcha_is_ok():
    body = page("notice_captcha.html")
    assert "验证码".encode() in body and "安全验证".encode() in body
    assert verdict(body) is None


def test_long_title_with_block_word_is_ok():
    title = "关于开展短信验证码安全专项整治工作的通知"
    body = f"<html><head><title>{title}</title></head><body>" + "<p>各有关单位：现将有关事项通知如下。</p>" * 60
    assert verdict(body) is None


def test_json_data_quoting_block_words_is_not_an_interstitial():
    body = '{"success":true,"data":[{"title":"关于规范验证码使用的通知"}]}'
    assert verdict(body, headers={"content-type": "application/json"}) is None


def test_redirect_to_site_root_is_soft_404():
    home = "http://127.0.0.1:8000/"
    assert verdict(page("index.html"), final_url=home, history=[URL]) == "soft_404"


def test_redirect_to_error_page_is_soft_404():
    err = "http://127.0.0.1:8000/404.html"
    assert verdict("<html><body>sorry</body></html>", final_url=err, history=[URL]) == "soft_404"


def test_ordinary_redirect_is_ok():
    moved = "http://127.0.0.1:8000/notices/2026/doc-1-new.html"
    assert verdict(page("notice_captcha.html"), final_url=moved, history=[URL]) is None


def test_requesting_the_root_itself_through_a_redirect_is_ok():
    home = "http://127.0.0.1:8000/"
    assert classify(200, HTML, page("index.html"), page("index.html").decode(), home + "index.html",
                    home, [home]) is None


@pytest.mark.parametrize("title", ["页面不存在 - 某省工业和信息化厅", "404 Not Found", "404错误页面", "访问受限",
                                   "对不起，页面已删除", "Not Found"])
def test_not_found_titles_are_soft_404(title):
    assert verdict(f"<html><head><title>{title}</title></head><body><p>x</p></body></html>") == "soft_404"


def test_document_titles_that_merely_contain_numbers_are_ok():
    body = "<html><head><title>国家市场监督管理总局公告2026年第404号</title></head><body>" + "<p>正文</p>" * 300
    assert verdict(body) is None


def test_real_404_keeps_http_error_even_if_short():
    # withdrawal detection in poll relies on status 404/410 surviving as an HttpError
    assert verdict("<html><head><title>404 Not Found</title></head><body>Access Denied</body></html>", 404) \
        == "http_error"
    assert verdict("gone", 410) == "http_error"


@pytest.mark.parametrize("status", [500, 503, 429, 403, 301])
def test_other_error_statuses(status):
    assert verdict("<html><body>" + "error page text " * 100 + "</body></html>", status) == "http_error"


def test_ordinary_page_is_ok():
    assert verdict(page("index.html")) is None
