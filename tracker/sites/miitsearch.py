"""cms = "miit-search": MIIT's site / policy-library search API (sites.md §3.4).

`url` is the API endpoint (…/search-front-server/api/search/info), `query` the
keyword, `params` any extra filters (cateid, _cus_eq_typename …). Rows carry the
文号 and 发布机构, which the poll keeps when a detail page lacks them. The API
does not return rows in date order; nothing here relies on order.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .. import extract as ex
from ..config import Source
from ..errors import ParseError
from ..model import Entry
from .base import Http, Listing
from .common import SearchApi, canonical_url, default_headers, search_pages, split_query
from .jpaas import JpaasAdapter

DEFAULT_PARAMS = {
    "websiteid": "110000000000000",
    "scope": "basic",
    "pg": "20",
    "pos": "title_text,infocontent,titlepy",
    "dateField": "deploytime",
    "selectFields": "title,content,deploytime,_index,url,cdate,infoextends,infocontentattribute,columnname,"
                    "filenumbername,publishgroupname,publishtime,metaid,bexxgk,columnid,xxgkextend1,"
                    "xxgkextend2,themename,typename,indexcode,createdate",
    "group": "distinct",
    "level": "6",
    "sortFields": '[{"name":"deploytime","type":"desc"}]',
}
EXTRA_FIELDS = ("typename", "themename", "columnname", "indexcode")


def result_rows(payload, url: str) -> tuple[list[dict], int | None]:
    """(row data dicts, total hit count) of one answer; no searchResult means no hits."""
    if not isinstance(payload, dict):
        raise ParseError(f"MIIT search API at {url} did not answer with a JSON object", url=url)
    if payload.get("success") is False or str(payload.get("code", "200")) != "200":
        msg = payload.get("message") or payload.get("msg") or ""
        raise ParseError(f"MIIT search API refused the query (code={payload.get('code')!r} {msg}) at {url}",
                         url=url)
    data = payload.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParseError(f"MIIT search API answer from {url} has no data object", url=url)
    result = data.get("searchResult") or {}
    rows = result.get("dataResults") or []
    if not isinstance(rows, list):
        raise ParseError(f"MIIT search API answer from {url}: searchResult.dataResults is not a list", url=url)
    out = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        # group=distinct: {"groupData":[{"data":{…}}, …]} — the same document under
        # several columns; the first is the one the site itself shows.
        group = row.get("groupData")
        if isinstance(group, list) and group and isinstance(group[0], dict):
            row = group[0]
        if isinstance(row.get("data"), dict):
            out.append(row["data"])
    total = result.get("totalCount")
    return out, int(total) if str(total or "").isdigit() else None


def entry_from_row(row: dict, api_url: str) -> Entry | None:
    href = ex.absolute(api_url, str(row.get("url") or "").strip())
    title = ex.strip_tags(row.get("title") or row.get("title_text"))
    if not href or urlsplit(href).scheme not in ("http", "https") or not title:
        return None
    published = ex.parse_datetime(row.get("deploytime") or row.get("publishtime") or None)
    list_date = ex.parse_date(row.get("jsearch_date")) or (published[:10] if published else None)
    number = ex.strip_tags(row.get("filenumbername"))
    return Entry(
        url=canonical_url(href, api_url),
        title=title,
        list_date=list_date,
        doc_number=ex.normalize_doc_number(number) if number else None,
        issuer=ex.strip_tags(row.get("publishgroupname")) or None,
        published=published,
        extra={k: ex.strip_tags(row[k]) for k in EXTRA_FIELDS if row.get(k)},
    )


class MiitSearchAdapter(JpaasAdapter):
    """Lists through the search API; detail pages are ordinary MIIT (JPaaS) pages."""

    cms = "miit-search"

    def list(self, source: Source, http: Http) -> Listing:
        api, url_params = split_query(source.url)
        parts = urlsplit(api)
        params = {**DEFAULT_PARAMS, **url_params, "q": source.query or url_params.get("q", ""), **source.params}
        # the policy-library page's own Referer, whatever the source sets for pages
        headers = {**default_headers(source, {"Accept": "application/json, text/plain, */*"}),
                   "Referer": f"{parts.scheme}://{parts.netloc}/search/zcwjk.html"}
        size = int(params["pg"]) if str(params.get("pg", "")).isdigit() else 20
        search = SearchApi("MIIT search", result_rows, entry_from_row, per_page=size)
        return search_pages(search, http, source, api, params, headers)


ADAPTER = MiitSearchAdapter()
