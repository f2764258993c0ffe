"""The service around the API: health, request ids, errors without stack traces, headers, docs."""

from __future__ import annotations

import logging

import fastapi.routing
import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.config import Settings


def test_healthz_is_open_and_reports_the_database(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == ("sqlite" if settings.is_sqlite else "postgresql")


def test_healthz_says_503_when_the_database_is_unreachable():
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", _env_file=None)
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_routes_are_prepared_at_startup_not_on_the_first_request(settings, db, monkeypatch):
    # FastAPI prepares a route's models on the first request otherwise, on the event loop: seconds
    # on a loaded host, with every other request and stream stalled meanwhile.
    prepared: list[str] = []
    prepare = fastapi.routing._populate_api_route_state

    def counted(route: object, path: str, *args: object, **kwargs: object) -> None:
        prepared.append(path)
        prepare(route, path, *args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "_populate_api_route_state", counted)
    with TestClient(create_app(settings)) as client:
        at_startup = list(prepared)
        assert client.get("/api/v1/metrics/trust").status_code == 401
        assert client.get("/api/v1/incidents").status_code == 401
    assert "/api/v1/metrics/trust" in at_startup
    assert prepared == at_startup


def test_every_response_carries_a_request_id_and_security_headers(client):
    response = client.get("/healthz", headers={"x-request-id": "field-laptop-42"})
    assert response.headers["x-request-id"] == "field-laptop-42"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 16


def test_a_server_error_shows_no_stack_trace_and_logs_the_request_id(settings, db, caplog):
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        response = client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["request_id"] in caplog.text
    assert "secret internals" in caplog.text


def test_unknown_api_paths_are_json_404(client, admin):
    response = client.get("/api/v1/incidentz", headers=admin)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"


def test_openapi_documents_every_status_each_route_can_give(client):
    spec = client.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if path == "/healthz":
                assert {"200", "503"} <= codes
                continue
            assert {"401", "403", "413", "422", "500"} <= codes, f"{method} {path}: {codes}"
            if "{" in path:
                assert "404" in codes, f"{method} {path}"
            assert operation.get("security"), f"{method} {path} must declare bearer auth"


def test_docs_can_be_switched_off(settings):
    closed = settings.model_copy(update={"docs_enabled": False})
    with TestClient(create_app(closed)) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/openapi.json").status_code == 404


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_pages_for_people_are_served(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
