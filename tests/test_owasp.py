"""The OWASP API Security Top 10 (2023), item by item, against the real app on each database.

Each class is named by its item. Where another test file already proves part of an item, the class
says so and proves the rest here:
- tests/test_role_matrix.py: every route by every role (written out by hand);
- tests/test_auth.py: missing, unknown, expired and revoked tokens; the token cache;
- tests/test_ratelimit.py: the per-token request budget;
- tests/test_fuzz.py: Schemathesis over every operation, every role, valid and invalid data.

API6 (unrestricted access to sensitive business flows): PeaceWatch has no flow worth automating
against it (no purchase, no sign-up, no voting); bulk posting is bounded per token by the rate
limit (API4) and every record names its reporter in the audit chain.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from backend import __version__
from backend.app import API_PREFIX, create_app
from backend.auth import service as token_service
from backend.auth.permissions import ROLE_PERMISSIONS, Permission
from backend.config import Settings
from backend.db import Database, utcnow
from backend.vocab import Role
from tests.helpers import API, error_field, field_errors, incident_body, post

INCIDENTS = f"{API}/incidents"


@pytest.fixture
def app_with(settings: Settings, db: Database) -> Iterator[Callable[..., TestClient]]:
    """`app_with(setting=value)`: a client of an app with those settings changed."""
    with ExitStack() as stack:

        def make(**overrides: object) -> TestClient:
            app = create_app(settings.model_copy(update=overrides))
            return stack.enter_context(TestClient(app, raise_server_exceptions=False))

        yield make


class TestAPI1BrokenObjectLevelAuthorization:
    """A reporter neither reads nor changes another team's restricted incident."""

    def test_another_teams_restricted_incident_is_invisible(self, client, auth):
        theirs, mine, analyst = auth("reporter"), auth("reporter"), auth("analyst")
        secret = post(client, INCIDENTS, incident_body(sensitivity="restricted"), theirs)

        read = client.get(f"{INCIDENTS}/{secret['id']}", headers=mine)
        assert read.status_code == 404  # not even a hint that it exists
        assert secret["id"] not in {
            i["id"] for i in client.get(INCIDENTS, headers=mine).json()["items"]
        }
        steps = client.get(f"{INCIDENTS}/{secret['id']}/verifications", headers=mine)
        assert steps.status_code == 404

        # The owner and the analysts still read it.
        assert client.get(f"{INCIDENTS}/{secret['id']}", headers=theirs).status_code == 200
        assert client.get(f"{INCIDENTS}/{secret['id']}", headers=analyst).status_code == 200

    def test_another_teams_incident_cannot_be_changed(self, client, auth, admin):
        theirs, mine = auth("reporter"), auth("reporter")
        restricted = post(client, INCIDENTS, incident_body(sensitivity="restricted"), theirs)
        public = post(client, INCIDENTS, incident_body(sensitivity="public"), theirs)

        hidden = client.patch(
            f"{INCIDENTS}/{restricted['id']}", json={"fatalities": 99}, headers=mine
        )
        assert hidden.status_code == 404
        visible = client.patch(f"{INCIDENTS}/{public['id']}", json={"fatalities": 99}, headers=mine)
        assert visible.status_code == 403

        for incident in (restricted, public):
            stored = client.get(f"{INCIDENTS}/{incident['id']}", headers=admin).json()
            assert stored["fatalities"] == incident["fatalities"] == 2


class TestAPI2BrokenAuthentication:
    """Expired, revoked and malformed tokens are refused; guessing tokens is slowed down.
    (Missing and unknown tokens: tests/test_auth.py.)"""

    def test_an_expired_token_is_refused(self, client, db):
        with db.session() as session:
            _, secret = token_service.create_token(
                session=session,
                name="old",
                role=Role.admin,
                expires_at=utcnow() - timedelta(seconds=1),
            )
        response = client.get(INCIDENTS, headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 401
        assert response.json()["detail"] == "token expired"

    def test_a_revoked_token_is_refused_at_once(self, client, auth, admin):
        victim = auth("analyst", "stolen-laptop")
        assert client.get(INCIDENTS, headers=victim).status_code == 200
        assert client.delete(f"{API}/tokens/stolen-laptop", headers=admin).status_code == 200
        response = client.get(INCIDENTS, headers=victim)
        assert response.status_code == 401
        assert response.json()["detail"] == "token revoked"

    @pytest.mark.parametrize(
        "authorization",
        ["Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Token pw_abc", "pw_abc", "Bearer pw_\x7f"],
    )
    def test_malformed_tokens_are_refused(self, client, authorization):
        response = client.get(INCIDENTS, headers={"Authorization": authorization})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["detail"]

    def test_guessing_tokens_is_slowed_to_a_few_a_minute(self, app_with, auth):
        client = app_with(auth_failures_per_minute=3)
        good = auth("viewer")
        assert client.get(INCIDENTS, headers=good).status_code == 200

        for n in range(3):
            guess = client.get(INCIDENTS, headers={"Authorization": f"Bearer pw_guess{n}"})
            assert guess.status_code == 401
        slowed = client.get(INCIDENTS, headers={"Authorization": "Bearer pw_guess3"})
        assert slowed.status_code == 429
        assert 1 <= int(slowed.headers["retry-after"]) <= 20
        assert "failed token checks" in slowed.json()["detail"]
        # Meanwhile even a good token from that address is refused, so a guess that happens to
        # be right cannot be told from a wrong one.
        assert client.get(INCIDENTS, headers=good).status_code == 429

    def test_guessing_at_the_dashboard_sign_in_is_slowed_by_the_same_count(self, app_with, auth):
        """The sign-in form takes a token too: it must be no way around the API's slowing."""
        client = app_with(auth_failures_per_minute=3)
        good = auth("viewer")["Authorization"].removeprefix("Bearer ")
        signed_in = client.post("/signin", data={"token": good}, follow_redirects=False)
        assert signed_in.status_code in (302, 303), signed_in.text
        client.cookies.clear()
        for n in range(3):
            guess = client.post("/signin", data={"token": f"pw_guess{n}"}, follow_redirects=False)
            assert guess.status_code == 401
        slowed = client.post("/signin", data={"token": good}, follow_redirects=False)
        assert slowed.status_code == 429
        assert 1 <= int(slowed.headers["retry-after"]) <= 20
        assert "too many failed sign-ins" in slowed.text
        assert "set-cookie" not in slowed.headers
        # One count for both doors: the API now slows that address as well.
        api = client.get(INCIDENTS, headers={"Authorization": f"Bearer {good}"})
        assert api.status_code == 429

    def test_requests_without_a_token_are_not_counted_as_guesses(self, app_with, auth):
        client = app_with(auth_failures_per_minute=1)
        for _ in range(3):
            assert client.get(INCIDENTS).status_code == 401
        assert client.get(INCIDENTS, headers=auth("viewer")).status_code == 200

    def test_guessing_is_slowed_by_default(self):
        assert 0 < Settings(_env_file=None).auth_failures_per_minute <= 60  # type: ignore[call-arg]


class TestAPI3BrokenObjectPropertyLevelAuthorization:
    """Fields a role may not set are refused, naming the field; fields a role may not see are
    left out."""

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("status", "closed"),
            ("finding", "verified"),
            ("attributed_party_id", str(uuid.uuid4())),
            ("reported_by", "someone-else"),
            ("received_at", "2026-11-20T10:15:00Z"),
        ],
    )
    def test_a_reporter_cannot_set_what_verification_decides(self, client, auth, field, value):
        reporter = auth("reporter")
        created = client.post(INCIDENTS, json=incident_body(**{field: value}), headers=reporter)
        assert error_field(created) == field
        incident = post(client, INCIDENTS, incident_body(), reporter)
        changed = client.patch(
            f"{INCIDENTS}/{incident['id']}", json={field: value}, headers=reporter
        )
        assert error_field(changed) == field
        stored = client.get(f"{INCIDENTS}/{incident['id']}", headers=reporter).json()
        assert stored["status"] == "received"
        assert stored["finding"] == "unverified"

    def test_a_token_cannot_be_given_its_own_secret_or_hash(self, client, admin):
        body = {"name": "chosen", "role": "viewer", "token_hash": "0" * 64}
        assert error_field(client.post(f"{API}/tokens", json=body, headers=admin)) == "token_hash"

    def test_token_secrets_and_hashes_are_never_shown_again(self, client, admin):
        created = post(client, f"{API}/tokens", {"name": "field-7", "role": "reporter"}, admin)
        listed = client.get(f"{API}/tokens", headers=admin).json()["items"]
        assert listed
        for token in listed:
            assert set(token) == {"name", "role", "created_at", "expires_at", "revoked_at"}
        assert created["token"] not in client.get(f"{API}/tokens", headers=admin).text

    def test_a_viewer_export_leaves_out_who_reported(self, client, auth):
        post(client, INCIDENTS, incident_body(), auth("reporter", "patrol-9"))
        viewer = client.get(f"{API}/exports/incidents.csv", headers=auth("viewer"))
        analyst = client.get(f"{API}/exports/incidents.csv", headers=auth("analyst"))
        assert viewer.status_code == analyst.status_code == 200
        assert "reported_by" not in viewer.text.splitlines()[0]
        assert "patrol-9" not in viewer.text
        assert "patrol-9" in analyst.text


class TestAPI4UnrestrictedResourceConsumption:
    """Bodies, batches, pages and request rates are bounded."""

    def test_a_body_over_the_limit_gets_413_before_it_is_read(self, app_with, auth):
        client = app_with(max_body_bytes=2048)
        big = incident_body(description="x" * 4000)
        response = client.post(INCIDENTS, json=big, headers=auth("reporter"))
        assert response.status_code == 413
        assert "2048 bytes" in response.json()["detail"]

    def test_an_import_over_its_limit_gets_413(self, app_with, admin):
        client = app_with(import_max_bytes=1024)
        csv = b"event_id_cnty,event_date\n" + b"X1,2026-01-01\n" * 200
        response = client.post(
            f"{API}/imports/acled", content=csv, headers={**admin, "Content-Type": "text/csv"}
        )
        assert response.status_code == 413

    def test_a_sync_batch_over_the_limit_is_refused(self, app_with, auth):
        client = app_with(sync_max_items=3)
        items = [
            {"kind": "incident", "data": incident_body(id=str(uuid.uuid4()))} for _ in range(4)
        ]
        response = client.post(f"{API}/sync", json={"items": items}, headers=auth("reporter"))
        assert response.status_code == 422
        assert "at most 3" in field_errors(response)["items"]

    def test_a_page_over_the_limit_is_refused(self, app_with, auth):
        client = app_with(page_size_max=10)
        response = client.get(INCIDENTS, params={"limit": 11}, headers=auth("viewer"))
        assert error_field(response) == "limit"
        assert (
            client.get(INCIDENTS, params={"limit": 10}, headers=auth("viewer")).status_code == 200
        )

    def test_a_token_over_its_rate_gets_429_with_retry_after(self, app_with, auth):
        client = app_with(rate_limit_per_minute=2)
        viewer = auth("viewer")
        assert [client.get(INCIDENTS, headers=viewer).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        assert int(client.get(INCIDENTS, headers=viewer).headers["retry-after"]) >= 1


@dataclass(frozen=True)
class _Route:
    path: str
    methods: frozenset[str]
    permission: Permission | None


def _api_routes(app: FastAPI) -> list[_Route]:
    """Every API route of the app, with its full path and the permission it checks."""
    return [
        _Route(context.path, frozenset(context.methods), _permission(context.original_route))
        for context in iter_route_contexts(app.router.routes)
        if isinstance(context.original_route, APIRoute)
        and context.path.startswith(f"{API_PREFIX}/")
        and "{path:path}" not in context.path  # the JSON 404 of unknown paths
    ]


def _permission(route: APIRoute) -> Permission | None:
    """The permission a route's `requires(...)` dependency checks (backend/deps.py)."""
    todo = [route.dependant]
    while todo:
        dependant = todo.pop()
        if permission := getattr(dependant.call, "permission", None):
            return permission
        todo += dependant.dependencies
    return None


class TestAPI5BrokenFunctionLevelAuthorization:
    """Every API route checks a permission, and every role without it gets 403: the routes are
    read from the app itself, so a new route is covered (or fails here) automatically."""

    def test_every_api_route_checks_a_permission(self, settings):
        routes = _api_routes(create_app(settings))
        assert len(routes) > 40
        assert sorted(f"{sorted(r.methods)} {r.path}" for r in routes if r.permission is None) == []

    def test_admin_and_export_routes_are_among_them(self, settings):
        routes = {
            (m, r.path): r.permission for r in _api_routes(create_app(settings)) for m in r.methods
        }
        assert routes[("POST", f"{API}/tokens")] is Permission.manage_tokens
        assert routes[("DELETE", f"{API}/tokens/{{name}}")] is Permission.manage_tokens
        assert routes[("GET", f"{API}/audit")] is Permission.manage_tokens
        assert routes[("POST", f"{API}/imports/{{source}}")] is Permission.import_data
        assert routes[("GET", f"{API}/exports/{{kind}}.{{format}}")] is Permission.read_records

    def test_every_role_without_the_permission_gets_403(self, client, auth):
        tokens = {role: auth(role) for role in Role}
        refused = 0
        for route in _api_routes(client.app):
            path = re.sub(r"{(\w+)}", lambda m: _sample(m.group(1)), route.path)
            for role in Role:
                if route.permission in ROLE_PERMISSIONS[role]:
                    continue
                for method in route.methods - {"HEAD"}:
                    response = client.request(method, path, json={}, headers=tokens[role])
                    assert response.status_code == 403, (role.value, method, path, response.text)
                    assert f"role '{role.value}' may not" in response.json()["detail"]
                    refused += 1
        assert refused > 30  # viewers, reporters and analysts against every admin route, at least


def _sample(name: str) -> str:
    return {"kind": "incidents", "format": "csv", "period": "week", "source": "acled"}.get(
        name, str(uuid.uuid4())
    )


class TestAPI7ServerSideRequestForgery:
    """The server fetches nothing a client names: no operation takes a URL (imports are uploaded
    as the request body, and the map's tile URL is a setting the browser loads)."""

    def test_no_operation_takes_a_url(self, settings):
        schema = create_app(settings).openapi()
        text = str(schema).lower()
        for operation in (op for path in schema["paths"].values() for op in path.values()):
            for parameter in operation.get("parameters", []):
                assert "url" not in parameter["name"].lower()
                assert parameter["schema"].get("format") != "uri"
        assert "'format': 'uri'" not in text


class TestAPI8SecurityMisconfiguration:
    """No stack traces, strict CORS, security headers, and /docs that can be switched off."""

    def test_a_server_error_shows_no_stack_trace_or_internals(self, client, auth, monkeypatch):
        from backend.parties import service

        def crash(**_: object) -> None:
            raise RuntimeError(
                "postgresql://admin:hunter2@db/peacewatch at backend/parties/service.py"
            )

        monkeypatch.setattr(service, "list_parties", crash)
        response = client.get(f"{API}/parties", headers=auth("viewer"))
        assert response.status_code == 500
        body = response.json()
        assert set(body) == {"detail", "errors", "request_id"}
        assert body["request_id"] == response.headers["x-request-id"]
        for leak in ("Traceback", "hunter2", "RuntimeError", ".py", "postgresql"):
            assert leak not in response.text

    @pytest.mark.parametrize(
        "path", [f"{API}/incidents", "/healthz", "/docs", "/signin", f"{API}/nowhere"]
    )
    def test_every_response_carries_the_security_headers(self, client, auth, path):
        response = client.get(path, headers=auth("viewer"))
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "x-powered-by" not in response.headers

    def test_cors_lets_no_other_origin_in(self, client, auth):
        origin = {"Origin": "https://evil.example"}
        preflight = client.options(
            INCIDENTS,
            headers={
                **origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 405
        assert "access-control-allow-origin" not in preflight.headers
        simple = client.get(INCIDENTS, headers={**origin, **auth("viewer")})
        assert simple.status_code == 200
        assert not any(h.lower().startswith("access-control-") for h in simple.headers)

    def test_docs_can_be_switched_off(self, app_with):
        client = app_with(docs_enabled=False)
        for path in ("/docs", "/openapi.json", "/redoc"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("application/json")

    def test_an_unsupported_method_is_405_with_the_allowed_ones(self, client, admin):
        response = client.put(f"{API}/parties", json={}, headers=admin)
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, HEAD, POST"


class TestAPI9ImproperInventoryManagement:
    """One API version, at one prefix; no old or future version answers."""

    def test_every_documented_operation_is_under_v1(self, settings):
        schema = create_app(settings).openapi()
        assert schema["info"]["version"] == __version__
        assert {p for p in schema["paths"] if not p.startswith(f"{API_PREFIX}/")} == {"/healthz"}

    @pytest.mark.parametrize("path", ["/api/v0/incidents", "/api/v2/incidents", "/api/incidents"])
    def test_other_versions_do_not_answer(self, client, auth, path):
        response = client.get(path, headers=auth("admin"))
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/json")


class TestAPI10UnsafeConsumptionOfAPIs:
    """The only third-party data PeaceWatch takes in is ACLED and UCDP files, uploaded by an
    admin: bounded in size (API4 above), parsed row by row with each bad row refused and named
    (tests/test_imports.py), and never fetched by the server from a URL (API7)."""

    def test_a_hostile_file_is_refused_without_importing_anything(self, client, admin):
        response = client.post(
            f"{API}/imports/acled",
            content=b"\x00\xff=cmd|' /C calc'!A0\n",
            headers={**admin, "Content-Type": "text/csv"},
        )
        assert response.status_code == 422
        assert client.get(INCIDENTS, headers=admin).json()["items"] == []
