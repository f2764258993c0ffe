"""The dashboard's sign-in, its refusal of signed-out requests, and the API's precedence over it
(HTTP level, on every database; the browser tests are in test_dashboard_browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from backend.app import create_app
from backend.auth import service as token_service
from backend.vocab import Role
from dashboard.auth import COOKIE, safe_next, secret_key


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
