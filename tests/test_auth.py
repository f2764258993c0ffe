"""Tokens: random, shown once, stored only as a hash, revocable; every route but /healthz needs one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from backend.auth import service
from backend.auth.models import ApiToken
from backend.vocab import Role

URL = "/api/v1/parties"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing Authorization header"),
        ("Token abc", "malformed Authorization header"),
        ("Bearer", "malformed Authorization header"),
        ("Bearer pw_not-a-real-token", "unknown token"),
    ],
)
def test_missing_or_wrong_tokens_get_401(client, header, reason):
    headers = {"Authorization": header} if header else {}
    response = client.get(URL, headers=headers)
    assert response.status_code == 401
    assert reason in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_revoked_token_stops_working_at_once(client, auth, admin):
    viewer = auth("viewer", "hq-desk")
    assert client.get(URL, headers=viewer).status_code == 200
    assert client.delete("/api/v1/tokens/hq-desk", headers=admin).status_code == 200
    response = client.get(URL, headers=viewer)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_expired_token_is_refused(client, db):
    with db.session() as session:
        _, secret = service.create_token(
            session=session,
            name="old",
            role=Role.viewer,
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        )
    response = client.get(URL, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_admin_makes_a_token_shown_once_and_stored_as_a_hash(client, admin, db):
    created = client.post(
        "/api/v1/tokens", json={"name": "patrol-7", "role": "reporter"}, headers=admin
    )
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("pw_")
    assert len(secret) > 40

    listed = client.get("/api/v1/tokens", headers=admin).json()["items"]
    assert "patrol-7" in {t["name"] for t in listed}
    assert secret not in str(listed)
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(ApiToken.__table__)).all()
    assert secret not in str(rows)
    assert client.get(URL, headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_token_names_are_unique(client, admin):
    body = {"name": "ops", "role": "viewer"}
    assert client.post("/api/v1/tokens", json=body, headers=admin).status_code == 201
    again = client.post("/api/v1/tokens", json=body, headers=admin)
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "name"


@pytest.mark.parametrize("role", ["reporter", "analyst", "viewer"])
def test_only_admins_manage_tokens(client, auth, role):
    headers = auth(role)
    assert client.get("/api/v1/tokens", headers=headers).status_code == 403
    made = client.post("/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=headers)
    assert made.status_code == 403


def test_the_token_cache_trusts_a_token_only_for_its_time_and_never_past_expiry():
    now = [100.0]
    cache = service.TokenCache(ttl_s=5, clock=lambda: now[0])
    patrol = service.Principal("patrol-1", Role.reporter)
    cache.put("h1", patrol, expires_at=None)
    assert cache.get("h1") == patrol
    now[0] += 5.1
    assert cache.get("h1") is None  # checked against the table again

    cache.put("h2", patrol, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(service.Unauthenticated, match="expired"):
        cache.get("h2")

    cache.put("h3", patrol, expires_at=None)
    cache.forget("patrol-1")
    assert cache.get("h3") is None

    off = service.TokenCache(ttl_s=0)
    off.put("h4", patrol, expires_at=None)
    assert off.get("h4") is None


def test_a_cached_token_that_expires_is_refused_at_once(client, db):
    with db.session() as session:
        _, secret = service.create_token(
            session=session,
            name="short",
            role=Role.viewer,
            expires_at=datetime.now(UTC) + timedelta(seconds=1),
        )
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(URL, headers=headers).status_code == 200  # now cached
    time.sleep(1.1)
    response = client.get(URL, headers=headers)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
