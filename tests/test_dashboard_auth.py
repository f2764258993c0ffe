"""The dashboard's sign-in, its refusal of signed-out requests, and the API's precedence over it
(HTTP level, on every database; the browser tests are in test_dashboard_browser.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from backend.app import create_app
from backend.auth import service as token_service
from backend.vocab import Role
from dashboard.auth import COOKIE, safe_next, secret_key
from dashboard.exports import PAGE_KINDS, links_for
from tests.helpers import API, incident_body, post, walk


@pytest.fixture
def dash_settings(settings, tmp_path):
    return settings.model_copy(
        update={
            "dashboard_secret_key": SecretStr("k" * 40),
            "token_cache_seconds": 0,
            "dashboard_secret_file": tmp_path / "unused",
        }
    )


@pytest.fixture
def web(dash_settings, db) -> Iterator[TestClient]:
    with TestClient(create_app(dash_settings), follow_redirects=False) as client:
        yield client


def _token(db, role: Role, name: str) -> str:
    with db.session() as session:
        return token_service.create_token(session=session, name=name, role=role)[1]


def test_signed_out_pages_redirect_to_sign_in_and_data_routes_answer_401(web):
    response = web.get("/ceasefire?days=30")
    assert response.status_code == 302
    assert response.headers["location"] == "/signin?next=%2Fceasefire%3Fdays%3D30"
    for method, path in [
        ("POST", "/_dash-update-component"),
        ("GET", "/_dash-layout"),
        ("GET", "/_dash-dependencies"),
        ("GET", "/dashboard/stream"),
    ]:
        assert web.request(method, path).status_code == 401, path
    page = web.get("/signin")
    assert page.status_code == 200
    assert 'name="token"' in page.text
    assert web.get("/assets/live.js").status_code == 200  # static, no data


def test_sign_in_sets_a_signed_http_only_cookie_and_sign_out_clears_it(web, db):
    secret = _token(db, Role.viewer, "leadership")
    response = web.post("/signin", data={"token": secret, "next": "/ddr?days=30"})
    assert response.status_code == 302
    assert response.headers["location"] == "/ddr?days=30"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert secret not in cookie  # the cookie holds a signed hash, never the token
    assert web.get("/").status_code == 200
    assert web.get("/_dash-layout").status_code == 200

    web.post("/signout")
    web.cookies.clear()  # the response deleted it; TestClient's jar keeps path quirks
    assert web.get("/").status_code == 302


def test_a_forged_or_revoked_session_is_refused(web, db):
    web.cookies.set(COOKIE, "forged.value.here")
    assert web.get("/").status_code == 302
    web.cookies.clear()

    secret = _token(db, Role.analyst, "analyst-a")
    assert web.get(f"/signin?token={secret}").status_code == 302
    assert web.get("/_dash-layout").status_code == 200
    with db.session() as session:
        token_service.revoke_token(session=session, name="analyst-a")
    assert web.get("/_dash-layout").status_code == 401


def test_a_wrong_token_is_refused_with_a_reason(web):
    response = web.post("/signin", data={"token": "pw_wrong", "next": "/"})
    assert response.status_code == 401
    assert "unknown token" in response.text
    assert COOKIE not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ddr?days=7", "/ddr?days=7"),
        ("//evil.example/", "/"),
        ("https://evil.example", "/"),
        (None, "/"),
    ],
)
def test_after_sign_in_only_paths_on_this_site(target, expected):
    assert safe_next(target) == expected


def test_the_api_keeps_precedence_over_the_dashboard(web):
    assert web.get("/healthz").json()["status"] == "ok"
    unknown = web.get("/api/v1/no-such-thing")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/json")
    assert web.get("/docs").status_code == 200
    assert web.get("/api/v1/parties").status_code == 401


def test_docs_switched_off_stay_404_not_the_dashboard(dash_settings, db):
    closed = dash_settings.model_copy(update={"docs_enabled": False})
    with TestClient(create_app(closed), follow_redirects=False) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/openapi.json").status_code == 404


def test_the_secret_is_made_once_and_kept(settings, tmp_path):
    path = tmp_path / "sub" / "secret"
    first = secret_key(settings.model_copy(update={"dashboard_secret_file": path}))
    again = secret_key(settings.model_copy(update={"dashboard_secret_file": path}))
    assert first == again
    assert len(first) >= 32
    assert path.stat().st_mode & 0o077 == 0


def test_serve_on_a_new_database_prints_a_sign_in_link_that_works(web, db, capsys):
    from backend.cli import _first_admin

    _first_admin(db, "0.0.0.0", 8000)  # noqa: S104 - shown as 127.0.0.1
    line = next(x for x in capsys.readouterr().err.splitlines() if x.startswith("Dashboard: "))
    link = line.removeprefix("Dashboard: ")
    assert link.startswith("http://127.0.0.1:8000/signin?token=pw_")
    response = web.get(link.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 302
    assert response.headers["location"] == "/"  # the token leaves the address bar
    assert web.get("/").status_code == 200


# The export button's downloads (dashboard/exports.py builds the links, dashboard/mount.py serves
# them with the session cookie through the API's export service).


@pytest.fixture
def exported(web, db):
    """A party and four incidents: two recent in Bomi (one confidential), one in Lofa, one old."""
    admin = {"Authorization": f"Bearer {_token(db, Role.admin, 'admin')}"}
    party = post(
        web,
        f"{API}/parties",
        {"name": "Government", "code": "GOV", "kind": "state_force", "signatory": True},
        admin,
    )
    now = datetime.now(UTC)
    specs = {
        "recent": ("public", "Bomi", now - timedelta(days=2)),
        "secret": ("confidential", "Bomi", now - timedelta(days=3)),
        "lofa": ("public", "Lofa", now - timedelta(days=2)),
        "old": ("public", "Bomi", now - timedelta(days=200)),
    }
    ids = {}
    for key, (sensitivity, region, at) in specs.items():
        body = incident_body(
            occurred_at=at.isoformat(),
            sensitivity=sensitivity,
            admin1=region,
            alleged_party_id=party["id"],
        )
        ids[key] = post(web, f"{API}/incidents", body, admin)["id"]
    return {"admin": admin, "party": party["id"], "ids": ids}


def _csv_ids(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))


def _href(path: str, query: str, kind: str, fmt: str) -> str:
    links = links_for(path, query, datetime.now(UTC).date())
    return next(x.href for x in links if x.kind == kind and x.format.value == fmt)


def test_signed_in_download_applies_the_page_filters_and_is_audited(web, db, exported):
    web.get(f"/signin?token={_token(db, Role.analyst, 'briefing-officer')}")
    href = _href("/ceasefire", "?days=30&region=Bomi", "incidents", "csv")
    assert href.startswith("/dashboard/export/incidents.csv?date_from=")
    response = web.get(href)
    rows = _csv_ids(response)
    assert {r["id"] for r in rows} == {exported["ids"]["recent"], exported["ids"]["secret"]}

    entries = walk(web, f"{API}/audit", exported["admin"], record_kind="export")
    entry = next(e for e in entries if e["record_id"] == response.headers["x-export-id"])
    assert entry["actor"] == "briefing-officer"
    assert entry["changes"]["channel"] == "dashboard"
    assert entry["changes"]["kind"] == "incidents"
    assert entry["changes"]["filters"]["region"] == "Bomi"
    assert set(entry["changes"]["filters"]) == {"date_from", "date_to", "region"}


def test_signed_out_download_is_refused(web, exported):
    assert web.get(_href("/", "", "incidents", "csv")).status_code == 401
    assert web.get("/dashboard/export/incidents.csv?no_such_filter=1").status_code == 401
    # A bearer token is the API's way in, not the dashboard's.
    assert web.get("/dashboard/export/incidents.csv", headers=exported["admin"]).status_code == 401


def test_a_viewers_download_holds_no_confidential_record(web, db, exported):
    web.get(f"/signin?token={_token(db, Role.viewer, 'leadership')}")
    rows = _csv_ids(web.get(_href("/", "?days=30", "incidents", "csv")))
    ids = {r["id"] for r in rows}
    assert exported["ids"]["recent"] in ids
    assert exported["ids"]["secret"] not in ids
    assert exported["ids"]["old"] not in ids  # outside the 30-day window
    assert "reported_by" not in rows[0]
    geojson = web.get(_href("/ceasefire", "?days=30", "incidents", "geojson"))
    assert geojson.status_code == 200
    assert exported["ids"]["secret"].encode() not in geojson.content


def test_every_pages_links_download(web, db, exported):
    """Each page's links, with the whole filter bar set, answer 200: no filter reaches a kind it
    does not apply to (the export service would refuse it with a 422)."""
    web.get(f"/signin?token={_token(db, Role.admin, 'admin-web')}")
    query = f"?days=180&region=Bomi&party={exported['party']}&category=armed_clash"
    seen = set()
    for path in PAGE_KINDS:
        for link in links_for(path, query, datetime.now(UTC).date()):
            response = web.get(link.href)
            assert response.status_code == 200, (link.href, response.text)
            seen.add((link.kind, link.format.value))
    assert ("incidents", "geojson") in seen
    assert ("commitments", "xlsx") in seen
    assert ("commitments", "geojson") not in seen  # no coordinates
    rows = _csv_ids(web.get(_href("/ceasefire", query, "incidents", "csv")))
    assert {r["id"] for r in rows} == {exported["ids"]["recent"], exported["ids"]["secret"]}


def _signed_in_page(client: TestClient, db) -> str:
    response = client.post("/signin", data={"token": _token(db, Role.viewer, "wall"), "next": "/"})
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    return page.text


def test_the_page_loads_the_small_plotly_js_cached_for_a_year_and_best_compressed(web, db):
    import re
    import time

    from dashboard.context import COMPRESSOR_KEY

    page = _signed_in_page(web, db)
    src = re.search(r'src="(/assets/plotly-peacewatch\.min\.js\?m=[^"]+)"', page)
    assert src, "the partial plotly.js is not on the page"
    first = web.get(src.group(1), headers={"Accept-Encoding": "gzip, br"})
    assert first.status_code == 200
    assert "max-age=31536000" in first.headers["cache-control"]
    assert "immutable" in first.headers["cache-control"]
    # The best encoding is made once, in the background; from then on every request gets it.
    compressor = web.app.state.dash.server.config[COMPRESSOR_KEY]
    deadline = time.monotonic() + 30
    while not compressor.idle() and time.monotonic() < deadline:
        time.sleep(0.1)
    best = web.get(src.group(1), headers={"Accept-Encoding": "gzip, br"})
    assert best.headers["content-encoding"] == "br"
    assert "Accept-Encoding" in best.headers["vary"]
    assert int(best.headers["content-length"]) < 400_000  # 1.27 MB as sent without compression
    older = web.get(src.group(1), headers={"Accept-Encoding": "gzip"})
    assert older.headers["content-encoding"] == "gzip"
    assert older.text.startswith("/*! plotly.js v")  # httpx decoded it: the real file


def test_with_a_tile_server_the_page_loads_the_full_plotly_js_instead(dash_settings, db):
    tiled = dash_settings.model_copy(
        update={"dashboard_map_tile_url": "http://tiles.mission.local/{z}/{x}/{y}.png"}
    )
    with TestClient(create_app(tiled), follow_redirects=False) as client:
        page = _signed_in_page(client, db)
    assert "plotly-peacewatch" not in page  # dcc.Graph loads Dash's own, which draws tiles
