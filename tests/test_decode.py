"""Decoding response bytes: header, BOM, <meta>, detection, UTF-8 fallback; GB family as GB18030."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from tracker.decode import codec_name, decode

FAULTS = Path(__file__).parent / "fixtures" / "faults" / "state0"
TITLE = "关于印发江苏省“人工智能+制造”诊断工作方案(2026-2027)的通知"
NOTICE = ("为深入贯彻工业和信息化部等八部门“人工智能+制造”专项行动实施意见，加快人工智能与制造业深度融合，"
          "制定本工作方案。面向全省工业企业，针对研发设计、生产制造、质量检测、运营管理、供应链管理等环节开展诊断。")


def html(body: str, head: str = "") -> str:
    return f"<html><head>{head}<title>通知</title></head><body><p>{body}</p></body></html>"


def test_header_charset_wins():
    d = decode(html(NOTICE).encode("gbk"), "text/html; charset=GBK")
    assert (d.encoding, d.source) == ("gb18030", "header")
    assert NOTICE in d.text


@pytest.mark.parametrize("label", ["gb2312", "GB2312", "gbk", "x-gbk", "cp936", "GB18030"])
def test_gb_family_labels_decode_as_gb18030(label):
    assert codec_name(label) == "gb18030"


def test_gb2312_label_with_gbk_only_character():
    # 堃 is in GBK/GB18030 but not in GB2312; pages labelled gb2312 use such characters
    raw = html("联系人：王堃").encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb2312")
    d = decode(raw, "text/html; charset=gb2312")
    assert "王堃" in d.text and d.encoding == "gb18030"


def test_bom_when_no_header_charset():
    d = decode(codecs.BOM_UTF8 + html(NOTICE).encode("utf-8"), "text/html")
    assert d.source == "bom"
    assert d.text.startswith("<html>")  # BOM removed


def test_meta_charset_and_http_equiv():
    for head in ('<meta charset="gbk">', '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'):
        d = decode(html(NOTICE, head).encode("gbk"), "text/html")
        assert (d.encoding, d.source) == ("gb18030", "meta"), head
        assert NOTICE in d.text


def test_meta_beyond_first_4kb_is_not_trusted_but_detection_still_reads_gbk():
    raw = ("<!--" + " " * 5000 + "-->" + html(NOTICE, '<meta charset="gbk">')).encode("gbk")
    d = decode(raw, "text/html")
    assert d.source == "detected"
    assert NOTICE in d.text


def test_no_charset_anywhere_gbk_is_detected():
    d = decode((FAULTS / "gbk_plain.html").read_bytes(), "text/html")
    assert d.source == "detected" and d.encoding == "gb18030"
    assert TITLE in d.text


def test_wrong_header_utf8_on_gbk_page_falls_through_to_meta():
    # nginx's default "charset=utf-8" in front of a GBK page that says gbk in <meta>
    d = decode((FAULTS / "gbk_meta.html").read_bytes(), "text/html; charset=utf-8")
    assert d.source == "meta"
    assert TITLE in d.text


def test_declared_charset_kept_with_replacement_when_nothing_fits():
    raw = html(NOTICE).encode("utf-8") + b"\xff\xfe\xfa"  # one broken tail, not a different codec
    d = decode(raw, "text/html; charset=utf-8")
    assert NOTICE in d.text
    assert d.encoding == "utf-8"


def test_unknown_charset_label_is_ignored():
    d = decode(html(NOTICE).encode("utf-8"), "text/html; charset=x-no-such-charset")
    assert NOTICE in d.text


def test_plain_ascii_and_empty():
    assert decode(b"<html>ok</html>", None).text == "<html>ok</html>"
    assert decode(b"", "text/html").text == ""


def test_json_with_bom_is_utf8_sig_and_ignores_html_in_payload():
    payload = '{"data": {"html": "<meta charset=\\"gbk\\"><li>人工智能+制造</li>"}}'
    d = decode(codecs.BOM_UTF8 + payload.encode("utf-8"), "application/json")
    assert d.text == payload
    d = decode(payload.encode("utf-8"), "application/json")
    assert d.encoding == "utf-8" and "人工智能" in d.text
