"""Small helpers shared by the tests."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from backend.db import Database


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
