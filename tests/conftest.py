"""Fixtures: every database test runs on SQLite and, when PEACEWATCH_TEST_POSTGRES_URL is set,
on PostgreSQL, each on a schema built by the real Alembic migrations."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend import migrate
from backend.app import create_app
from backend.auth import service as token_service
from backend.config import Settings
from backend.db import Database
from backend.models import metadata
from backend.vocab import Role

POSTGRES_URL = os.environ.get("PEACEWATCH_TEST_POSTGRES_URL", "").strip()
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_report_header(config: pytest.Config) -> str:
    if POSTGRES_URL:
        return f"databases: sqlite, postgresql ({sa.make_url(POSTGRES_URL).render_as_string()})"
    return (
        "databases: sqlite only (PostgreSQL tests skipped: PEACEWATCH_TEST_POSTGRES_URL is not set)"
    )


def _backends() -> list[object]:
    reason = "PostgreSQL tests skipped: set PEACEWATCH_TEST_POSTGRES_URL (make test-postgres does)"
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[pytest.mark.postgres, pytest.mark.skipif(not POSTGRES_URL, reason=reason)],
        ),
    ]


def _postgres_url() -> str:
    url = POSTGRES_URL
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@pytest.fixture(scope="session", params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database of each kind, migrated to head once per test session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'peacewatch.db'}"
    else:
        url = _postgres_url()
        engine = sa.create_engine(url)
        with engine.begin() as conn:  # leftovers of an interrupted run must not leak in
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
    migrate.upgrade(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """The database, emptied after each test (the schema stays)."""
    database = Database(settings)
    yield database
    with database.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    database.dispose()


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def auth(db: Database) -> TokenFactory:
    """`auth("reporter")` gives headers with a fresh token of that role (optionally named)."""

    def make(role: str | Role, name: str | None = None) -> dict[str, str]:
        role = Role(role)
        with db.session() as session:
            _, secret = token_service.create_token(
                session=session, name=name or f"{role.value}-{uuid.uuid4().hex[:8]}", role=role
            )
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture
def admin(auth: TokenFactory) -> dict[str, str]:
    return auth("admin", "admin")


@pytest.fixture
def make_party(client: TestClient, admin: dict[str, str]) -> Callable[..., dict]:
    """Create a party through the API and return its body."""
    counter = iter(range(1, 10_000))

    def make(**overrides: object) -> dict:
        n = next(counter)
        body = {"name": f"Party {n}", "code": f"P{n}", "kind": "rebel_group", "signatory": True}
        body.update(overrides)
        response = client.post("/api/v1/parties", json=body, headers=admin)
        assert response.status_code == 201, response.text
        return response.json()

    return make
