"""verification funnel: each verified incident's delay to its first finding, and a queue index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

`metrics_verify_delay` holds one row per incident that has a finding (a verification event whose
finding is verified, disputed or refuted): the time of its first such event, the seconds from the
incident's receipt to it (computed with the very expression the raw query used, so the exact
percentiles read from it are the same numbers), and the incident columns a window filters by
(occurred_at, admin1, parties, sensitivity, reported_by). Triggers keep it in the writing
transaction: on `verification_event` (INSERT, UPDATE, DELETE) the incident's row is recomputed;
on `incident` (UPDATE, DELETE) the row follows the incident. SQLite: row triggers; PostgreSQL:
statement triggers with transition tables, as in 0005.

`ix_incident_queue` is a partial index of the queue (status received or in review) by occurrence,
so the funnel's oldest-in-queue list reads only queued incidents of its window.
"""

from __future__ import annotations

# ruff: noqa: S608 - the SQL below is fixed text built from constants, never from input
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "metrics_verify_delay"
FOUND = "('verified', 'disputed', 'refuted')"
QUEUE = "status IN ('received', 'in_review')"
DIMS = (
    "occurred_at",
    "admin1",
    "alleged_party_id",
    "target_party_id",
    "attributed_party_id",
    "sensitivity",
    "reported_by",
)
COLUMNS = ", ".join(["incident_id", "first_found_at", "delay_s", *DIMS])


def _delay(first: str, received: str, dialect: str) -> str:
    """Seconds from `received` to `first`: backend.metrics.sql.seconds_between's expression."""
    if dialect == "sqlite":
        return f"((julianday({first}) - julianday({received})) * 86400.0)"
    return f"CAST(EXTRACT(EPOCH FROM ({first} - {received})) AS double precision)"


def _computed(ids: str, dialect: str) -> str:
    """The rows of the incidents whose id is in `ids` (a condition on `x.id`), from raw rows."""
    first = "min(v.occurred_at)"
    dims = ", ".join(f"x.{d}" for d in DIMS)
    return (
        f"SELECT x.id, {first}, {_delay(first, 'x.received_at', dialect)}, {dims} "
        f"FROM incident AS x JOIN verification_event AS v ON v.incident_id = x.id "
        f"WHERE {ids} AND v.finding IN {FOUND} GROUP BY x.id"
    )


def _follow(x: str, dialect: str) -> str:
    """SET clause: the delay row follows its incident `x` (new receipt time, new dimensions)."""
    sets = [f"{d} = {x}.{d}" for d in DIMS]
    sets.append(f"delay_s = {_delay(f'{TABLE}.first_found_at', f'{x}.received_at', dialect)}")
    return ", ".join(sets)


# --- SQLite: row triggers ------------------------------------------------------------------------


def _sqlite_refresh(incident: str) -> str:
    return f"""
  DELETE FROM {TABLE} WHERE incident_id = {incident};
  INSERT INTO {TABLE} ({COLUMNS}) {_computed(f"x.id = {incident}", "sqlite")};"""


WATCHED = ", ".join(["received_at", *DIMS])

SQLITE_UP = [
    f"CREATE TRIGGER metrics_verify_event_insert AFTER INSERT ON verification_event "
    f"WHEN NEW.incident_id IS NOT NULL AND NEW.finding IN {FOUND} "
    f"BEGIN{_sqlite_refresh('NEW.incident_id')}\nEND",
    f"CREATE TRIGGER metrics_verify_event_update AFTER UPDATE OF incident_id, occurred_at, finding "
    f"ON verification_event BEGIN{_sqlite_refresh('OLD.incident_id')}"
    f"{_sqlite_refresh('NEW.incident_id')}\nEND",
    f"CREATE TRIGGER metrics_verify_event_delete AFTER DELETE ON verification_event "
    f"WHEN OLD.incident_id IS NOT NULL BEGIN{_sqlite_refresh('OLD.incident_id')}\nEND",
    f"CREATE TRIGGER metrics_verify_incident_update AFTER UPDATE OF {WATCHED} ON incident BEGIN\n"
    f"  UPDATE {TABLE} SET {_follow('NEW', 'sqlite')} WHERE incident_id = NEW.id;\nEND",
    f"CREATE TRIGGER metrics_verify_incident_delete AFTER DELETE ON incident BEGIN\n"
    f"  DELETE FROM {TABLE} WHERE incident_id = OLD.id;\nEND",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS metrics_verify_event_insert",
    "DROP TRIGGER IF EXISTS metrics_verify_event_update",
    "DROP TRIGGER IF EXISTS metrics_verify_event_delete",
    "DROP TRIGGER IF EXISTS metrics_verify_incident_update",
    "DROP TRIGGER IF EXISTS metrics_verify_incident_delete",
]


# --- PostgreSQL: statement triggers with transition tables ---------------------------------------


def _pg_refresh(ids: str) -> str:
    return f"""
    DELETE FROM {TABLE} WHERE incident_id IN ({ids});
    INSERT INTO {TABLE} ({COLUMNS}) {_computed(f"x.id IN ({ids})", "postgresql")};"""


_NEW = "SELECT incident_id FROM new_rows WHERE incident_id IS NOT NULL"
_OLD = "SELECT incident_id FROM old_rows WHERE incident_id IS NOT NULL"

POSTGRES_UP = [
    f"""
CREATE FUNCTION metrics_verify_event_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN{_pg_refresh(_NEW)}
  ELSIF TG_OP = 'DELETE' THEN{_pg_refresh(_OLD)}
  ELSE{_pg_refresh(f"{_OLD} UNION {_NEW}")}
  END IF;
  RETURN NULL;
END
$$""",
    f"""
CREATE FUNCTION metrics_verify_incident_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM {TABLE} WHERE incident_id IN (SELECT id FROM old_rows);
  ELSE
    UPDATE {TABLE} SET {_follow("n", "postgresql")} FROM new_rows AS n
      WHERE {TABLE}.incident_id = n.id;
  END IF;
  RETURN NULL;
END
$$""",
    "CREATE TRIGGER metrics_verify_event_insert AFTER INSERT ON verification_event "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION metrics_verify_event_rollup()",
    "CREATE TRIGGER metrics_verify_event_update AFTER UPDATE ON verification_event "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION metrics_verify_event_rollup()",
    "CREATE TRIGGER metrics_verify_event_delete AFTER DELETE ON verification_event "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION metrics_verify_event_rollup()",
    "CREATE TRIGGER metrics_verify_incident_update AFTER UPDATE ON incident "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION metrics_verify_incident_rollup()",
    "CREATE TRIGGER metrics_verify_incident_delete AFTER DELETE ON incident "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION metrics_verify_incident_rollup()",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS metrics_verify_event_insert ON verification_event",
    "DROP TRIGGER IF EXISTS metrics_verify_event_update ON verification_event",
    "DROP TRIGGER IF EXISTS metrics_verify_event_delete ON verification_event",
    "DROP TRIGGER IF EXISTS metrics_verify_incident_update ON incident",
    "DROP TRIGGER IF EXISTS metrics_verify_incident_delete ON incident",
    "DROP FUNCTION IF EXISTS metrics_verify_event_rollup()",
    "DROP FUNCTION IF EXISTS metrics_verify_incident_rollup()",
]


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("first_found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delay_s", sa.Float(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("admin1", sa.String(length=100), nullable=True),
        sa.Column("alleged_party_id", sa.Uuid(), nullable=True),
        sa.Column("target_party_id", sa.Uuid(), nullable=True),
        sa.Column("attributed_party_id", sa.Uuid(), nullable=True),
        sa.Column("sensitivity", sa.String(length=32), nullable=False),
        sa.Column("reported_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_metrics_verify_delay")),
    )
    op.create_index(
        "ix_metrics_verify_delay_occurred_at", TABLE, ["occurred_at", "delay_s"], unique=False
    )
    op.create_index(
        "ix_incident_queue",
        "incident",
        ["occurred_at", "received_at", "id"],
        unique=False,
        sqlite_where=sa.text(QUEUE),
        postgresql_where=sa.text(QUEUE),
    )
    dialect = op.get_bind().dialect.name
    op.execute(f"INSERT INTO {TABLE} ({COLUMNS}) {_computed('1 = 1', dialect)}")
    for statement in SQLITE_UP if dialect == "sqlite" else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_index("ix_incident_queue", table_name="incident")
    op.drop_index("ix_metrics_verify_delay_occurred_at", table_name=TABLE)
    op.drop_table(TABLE)
