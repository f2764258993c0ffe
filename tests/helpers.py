"""Small helpers shared by the tests."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
import uvicorn
from sqlmodel import SQLModel

from backend.app import create_app
from backend.config import Settings
from backend.db import Database

API = "/api/v1"


def count(db: Database, model: type[SQLModel]) -> int:
    with db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def field_errors(response: Any) -> dict[str, str]:
    """{field: message} of an error response, asserting its documented shape."""
    body = response.json()
    assert set(body) == {"detail", "errors", "request_id"}, body
    assert body["request_id"] == response.headers["x-request-id"]
    return {e["field"]: e["message"] for e in body["errors"]}


def incident_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "occurred_at": "2026-11-20T10:15:00+02:00",
        "category": "armed_clash",
        "latitude": 6.3106,
        "longitude": -10.8047,
        "location_name": "Tubmanburg",
        "admin1": "Bomi",
        "source_type": "patrol",
        "fatalities": 2,
        "injuries": 5,
        "description": "Exchange of fire near the checkpoint",
    }
    body.update(overrides)
    return body


def walk(client: Any, url: str, headers: dict[str, str], **params: Any) -> list[dict]:
    """Every item of a list route, following next_cursor to the last page."""
    items: list[dict] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination never reached a last page")


def ids(client: Any, url: str, headers: dict[str, str], **params: Any) -> set[str]:
    return {item["id"] for item in walk(client, url, headers, **params)}


def error_field(response: Any, status: int = 422) -> str:
    """The status and error body a client relies on; returns the first field named."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "errors", "request_id"}
    assert body["detail"]
    assert body["errors"], body
    assert set(body["errors"][0]) == {"field", "message", "type"}
    return body["errors"][0]["field"]


def today() -> date:
    return datetime.now(UTC).date()


def post(client: Any, url: str, body: dict, headers: dict[str, str]) -> dict:
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadServer:
    """The app served by a real uvicorn in a thread, on a free port: for clients that need a
    socket (streams, the simulator). Use as a context manager."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.port = free_port()
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
