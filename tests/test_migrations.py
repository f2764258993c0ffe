"""The schema's truth is Alembic: one head, upgrade from empty, down and up again, and the models
equal to the migrated schema, on SQLite and PostgreSQL (pytest-alembic's checks)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pytest_alembic.plugin.fixtures import alembic_runner  # noqa: F401 - a fixture
from pytest_alembic.tests import (  # noqa: F401 - collected as tests
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)

from backend.migrate import alembic_config as make_alembic_config
from tests.conftest import _backends, _postgres_url


@pytest.fixture(params=_backends())
def alembic_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[sa.Engine]:
    """An empty database of each kind, made for these tests alone."""
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield engine
        engine.dispose()
        return
    base = sa.make_url(_postgres_url())
    name = f"{base.database}_mig_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = sa.create_engine(base.set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def alembic_config(alembic_engine: sa.Engine):
    return make_alembic_config(alembic_engine.url.render_as_string(hide_password=False))
