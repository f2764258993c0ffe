"""Set-based inserts (backend.bulk): rows sent by COPY or executemany read back exactly as the
same rows inserted by SQLAlchemy Core do, types and all, and fire the tables' triggers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from backend.audit.models import AuditEntry
from backend.bulk import insert_rows
from backend.db import JsonText
from backend.incidents.models import Incident, IncidentCreate
from backend.ingest.kinds import new_row
from tests.helpers import incident_body

INCIDENT = Incident.__table__  # type: ignore[attr-defined]
AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]


def _incidents(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        body = incident_body(
            id=str(uuid.uuid4()),
            occurred_at=(datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=i)).isoformat(),
            description=f"Report {i}: «ceasefire» line crossed — ✓",
            fatalities=i % 4,
            sensitivity=("public", "restricted", "confidential")[i % 3],
            latitude=6.25 + i / 1000,
        )
        data = IncidentCreate.model_validate(body)
        rows.append(new_row(Incident, dict(data), reported_by="patrol-1"))
    return rows


def _read(db, table: sa.Table) -> dict:
    key = table.c.id if "id" in table.c else table.c.seq
    with db.engine.connect() as conn:
        return {r._mapping[key.name]: dict(r._mapping) for r in conn.execute(sa.select(table))}


def test_bulk_rows_read_back_as_core_inserted_rows(db):
    core = _incidents(20)
    bulk = [{**row, "id": uuid.uuid4()} for row in core]  # the same records under other ids
    with db.session() as session:
        conn = session.connection()
        conn.execute(sa.insert(INCIDENT), core)
        insert_rows(conn, INCIDENT, bulk)
    stored = _read(db, INCIDENT)
    assert len(stored) == 40
    for by_core, by_bulk in zip(core, bulk, strict=True):
        a, b = stored[by_core["id"]], stored[by_bulk["id"]]
        assert {**a, "id": None} == {**b, "id": None}  # column by column, types and all
        assert {k: b[k] for k in by_bulk} == by_bulk  # as given (enums equal their values)
        assert b["occurred_at"].tzinfo is not None


def test_bulk_rows_fire_the_tables_triggers(db):
    rows = _incidents(12)
    with db.session() as session:
        insert_rows(session.connection(), INCIDENT, rows)
    with db.engine.connect() as conn:  # the daily rollup (migration 0005) counted them
        counted = conn.execute(
            sa.text("SELECT coalesce(sum(incidents), 0) FROM metrics_incident_day")
        ).scalar()
    assert counted == 12


def test_a_refused_bulk_insert_raises_sqlalchemys_error_and_stores_nothing(db):
    """A constraint the rows break is SQLAlchemy's IntegrityError, as for any statement (the
    batch sync catches it to retry item by item), from COPY too; the savepoint keeps nothing."""
    rows = _incidents(10)
    rows[7] = {**rows[7], "id": rows[2]["id"]}  # a repeated primary key
    with db.session() as session:
        with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
            insert_rows(session.connection(), INCIDENT, rows)  # (the savepoint begins here)
        insert_rows(session.connection(), INCIDENT, rows[:7])  # the transaction goes on
    assert len(_read(db, INCIDENT)) == 7


def test_json_text_is_stored_as_the_document_it_is(db):
    at = datetime(2026, 11, 25, tzinfo=UTC)
    rows = [
        {
            "seq": i,
            "at": at,
            "actor": "a",
            "actor_role": "admin",
            "action": "create",
            "record_kind": "incident",
            "record_id": str(i),
            "changes": JsonText(f'{{"n":{i},"title":"près"}}')
            if i % 2
            else {"n": i, "title": "près"},
            "prev_hash": "0" * 64,
            "hash": f"{i:064x}",
        }
        for i in range(1, 11)
    ]
    with db.session() as session:
        insert_rows(session.connection(), AUDIT, rows)
    stored = _read(db, AUDIT)
    assert {seq: r["changes"] for seq, r in stored.items()} == {
        i: {"n": i, "title": "près"} for i in range(1, 11)
    }


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-11)), timezone(timedelta(hours=5, minutes=45))]
        ),
    )
)
def test_sqlites_quick_time_text_is_the_usual_text(value):
    """The batch path's time conversion on SQLite (UTCDateTime.bulk_bind_processor) writes the
    very text SQLAlchemy's own would: times compare as text there, so one differing character
    would misorder rows."""
    dialect = sqlite.dialect()
    column_type = INCIDENT.c.occurred_at.type
    usual = column_type.dialect_impl(dialect).bind_processor(dialect)
    assert column_type.bulk_bind_processor(dialect)(value) == usual(value)


def test_sqlites_quick_time_conversion_refuses_a_naive_time():
    quick = INCIDENT.c.occurred_at.type.bulk_bind_processor(sqlite.dialect())
    assert quick(None) is None
    with pytest.raises(ValueError, match="naive"):
        quick(datetime(2026, 11, 1, 10, 0))
