"""The schema's truth is Alembic: one head, upgrade from empty, down and up again, and the models
equal to the migrated schema, on SQLite and PostgreSQL (pytest-alembic's checks)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

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


_INCIDENT_TEXT = [
    "date_precision",
    "category",
    "latitude",
    "longitude",
    "geo_precision",
    "fatalities",
    "injuries",
    "source_type",
    "description",
    "sensitivity",
    "status",
    "finding",
    "reported_by",
]


def test_0007_backfills_the_latest_step_and_downgrades(alembic_runner, alembic_engine):  # noqa: F811
    """Incidents verified before 0007 get their latest step's time, method and team (latest by
    occurred_at, not by recording); the others none; downgrading removes the columns."""
    alembic_runner.migrate_up_to("0006")
    t = sa.DateTime(timezone=True)
    incident = sa.table(
        "incident",
        sa.column("id", sa.Uuid()),
        *(sa.column(n, t) for n in ("occurred_at", "received_at", "updated_at")),
        *(sa.column(n) for n in _INCIDENT_TEXT),
    )
    event = sa.table(
        "verification_event",
        *(sa.column(n, sa.Uuid()) for n in ("id", "incident_id")),
        *(sa.column(n, t) for n in ("occurred_at", "created_at")),
        *(sa.column(n) for n in ("method", "team", "status", "finding", "notes", "recorded_by")),
    )
    verified, untouched = uuid.uuid4(), uuid.uuid4()
    day = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    base = dict(zip(_INCIDENT_TEXT, ("day", "armed_clash", 6.0, -10.0, "exact", 0, 0, "patrol",
                                     "", "public", "closed", "verified", "patrol"), strict=True))  # fmt: skip
    base.update(occurred_at=day, received_at=day, updated_at=day)
    steps = [  # the later step recorded first
        (day + timedelta(days=3), day + timedelta(days=4), "interview", "JVT late"),
        (day + timedelta(days=1), day + timedelta(days=5), "site_visit", "JVT early"),
    ]
    with alembic_engine.begin() as conn:
        conn.execute(sa.insert(incident), [{**base, "id": verified}, {**base, "id": untouched}])
        conn.execute(
            sa.insert(event),
            [
                {
                    "id": uuid.uuid4(),
                    "incident_id": verified,
                    "occurred_at": at,
                    "created_at": recorded,
                    "method": method,
                    "team": team,
                    "status": "closed",
                    "finding": "verified",
                    "notes": "",
                    "recorded_by": "jvt",
                }
                for at, recorded, method, team in steps
            ],
        )
    alembic_runner.migrate_up_one()
    with alembic_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, verification_method, verification_team, verified_at IS NOT NULL "
                "FROM incident"
            )
        )
        got = {uuid.UUID(str(r[0])): (r[1], r[2], bool(r[3])) for r in rows}
        at = conn.execute(
            sa.select(sa.column("verified_at", t))
            .select_from(sa.table("incident"))
            .where(sa.column("id", sa.Uuid()) == verified)
        ).scalar_one()
    assert got[verified] == ("interview", "JVT late", True)
    assert got[untouched] == (None, None, False)
    stored = at.replace(tzinfo=UTC) if at.tzinfo is None else at  # SQLite keeps UTC, no offset
    assert stored == day + timedelta(days=3)
    alembic_runner.migrate_down_one()
    columns = {c["name"] for c in sa.inspect(alembic_engine).get_columns("incident")}
    assert not columns & {"verified_at", "verification_method", "verification_team"}


def test_0009_fills_the_month_tier_from_stored_incidents_and_downgrades(
    alembic_runner,  # noqa: F811
    alembic_engine,
):
    """Incidents stored before 0009 are counted in its month rollups (two in October, one
    verified and attributed in November); later writes are counted by its triggers; downgrading
    drops the tables."""
    alembic_runner.migrate_up_to("0008")
    t = sa.DateTime(timezone=True)
    incident = sa.table(
        "incident",
        sa.column("id", sa.Uuid()),
        sa.column("attributed_party_id", sa.Uuid()),
        *(sa.column(n, t) for n in ("occurred_at", "received_at", "updated_at")),
        *(sa.column(n) for n in _INCIDENT_TEXT),
    )
    base = dict(zip(_INCIDENT_TEXT, ("day", "armed_clash", 6.0, -10.0, "exact", 2, 0, "patrol",
                                     "", "public", "received", "unverified", "patrol"), strict=True))  # fmt: skip
    party = uuid.uuid4()
    with alembic_engine.begin() as conn:
        party_table = sa.table(
            "party",
            sa.column("id", sa.Uuid()),
            *(sa.column(n, t) for n in ("created_at", "updated_at")),
            *(sa.column(n) for n in ("name", "code", "kind", "signatory", "aliases")),
        )
        at = datetime(2026, 1, 1, tzinfo=UTC)
        conn.execute(
            sa.insert(party_table),
            [{"id": party, "name": "Rebels", "code": "RB", "kind": "rebel_group",
              "signatory": True, "aliases": "[]", "created_at": at, "updated_at": at}],
        )  # fmt: skip
        rows = []
        for day, extra in (
            (datetime(2026, 10, 1, 0, 30, tzinfo=UTC), {}),
            (datetime(2026, 10, 31, 23, 30, tzinfo=UTC), {}),
            (
                datetime(2026, 11, 2, 8, tzinfo=UTC),
                {"finding": "verified", "attributed_party_id": party},
            ),
        ):
            row = {**base, "attributed_party_id": None, "id": uuid.uuid4(), **extra}
            rows.append(row | {"occurred_at": day, "received_at": day, "updated_at": day})
        conn.execute(sa.insert(incident), rows)
    alembic_runner.migrate_up_one()

    def months(table: str) -> dict[str, tuple[int, ...]]:
        measures = "sum(incidents)" + (", sum(fatalities)" if "incident" in table else "")
        with alembic_engine.connect() as conn:
            found = conn.execute(sa.text(f"SELECT month, {measures} FROM {table} GROUP BY month"))  # noqa: S608
            return {str(r[0])[:7]: tuple(r[1:]) for r in found}

    assert months("metrics_incident_month") == {"2026-10": (2, 4), "2026-11": (1, 2)}
    assert months("metrics_violation_month") == {"2026-11": (1,)}
    with alembic_engine.begin() as conn:  # the triggers keep it from now on
        conn.execute(sa.update(incident).values(occurred_at=datetime(2026, 11, 5, tzinfo=UTC)))
    assert months("metrics_incident_month") == {"2026-11": (3, 6)}
    alembic_runner.migrate_down_one()
    tables = set(sa.inspect(alembic_engine).get_table_names())
    assert not tables & {"metrics_incident_month", "metrics_violation_month"}
