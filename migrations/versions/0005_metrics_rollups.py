"""metrics rollups: incidents per day and dimension, kept by triggers on `incident`

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

The triggers run in the writing transaction, whatever writes: the ORM (PATCH, verification),
SQLAlchemy Core batch inserts (ingest, imports, demo) or plain SQL. On SQLite they are row
triggers with `INSERT ... ON CONFLICT DO UPDATE`; on PostgreSQL statement triggers with
transition tables, so a batch insert upserts each group once. An UPDATE subtracts the old row
from its group and adds the new one; a group that falls to zero incidents is deleted.
"""

from __future__ import annotations

# ruff: noqa: S608 - the SQL below is fixed text built from constants, never from input
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCIDENT_KEYS = [
    "day",
    "admin1",
    "admin2",
    "category",
    "alleged_party_id",
    "target_party_id",
    "attributed_party_id",
    "status",
    "finding",
    "sensitivity",
]
VIOLATION_KEYS = [
    "day",
    "attributed_party_id",
    "target_party_id",
    "category",
    "admin1",
    "sensitivity",
    "fatalities",
]
PARTIES = ("alleged_party_id", "target_party_id", "attributed_party_id")
PLACES = ("admin1", "admin2")
VERIFIED = "{x}.finding = 'verified' AND {x}.attributed_party_id IS NOT NULL"


def _expr(key: str, x: str, dialect: str) -> str:
    """The rollup key `key` of the incident row `x` (NEW, OLD or a table alias)."""
    if key == "day":
        if dialect == "sqlite":
            return f"substr({x}.occurred_at, 1, 10)"
        return f"CAST(({x}.occurred_at AT TIME ZONE 'UTC') AS date)"
    if key in PARTIES:
        nil = (
            "'00000000000000000000000000000000'"
            if dialect == "sqlite"
            else "CAST('00000000-0000-0000-0000-000000000000' AS uuid)"
        )
        return f"coalesce({x}.{key}, {nil})"
    if key in PLACES:
        return f"coalesce({x}.{key}, '')"
    return f"{x}.{key}"


def _match(keys: list[str], x: str, dialect: str, table: str = "") -> str:
    prefix = f"{table}." if table else ""
    return " AND ".join(f"{prefix}{k} = {_expr(k, x, dialect)}" for k in keys)


# --- SQLite: row triggers ------------------------------------------------------------------------


def _sqlite_add(x: str) -> str:
    keys = ", ".join(INCIDENT_KEYS)
    values = ", ".join(_expr(k, x, "sqlite") for k in INCIDENT_KEYS)
    vkeys = ", ".join(VIOLATION_KEYS)
    vvalues = ", ".join(_expr(k, x, "sqlite") for k in VIOLATION_KEYS)
    return f"""
  INSERT INTO metrics_incident_day ({keys}, incidents, fatalities)
  VALUES ({values}, 1, {x}.fatalities)
  ON CONFLICT ({keys}) DO UPDATE SET incidents = incidents + excluded.incidents,
    fatalities = fatalities + excluded.fatalities;
  INSERT INTO metrics_violation_day ({vkeys}, incidents)
  SELECT {vvalues}, 1 WHERE {VERIFIED.format(x=x)}
  ON CONFLICT ({vkeys}) DO UPDATE SET incidents = incidents + excluded.incidents;"""


def _sqlite_subtract(x: str) -> str:
    match = _match(INCIDENT_KEYS, x, "sqlite")
    vmatch = _match(VIOLATION_KEYS, x, "sqlite")
    verified = VERIFIED.format(x=x)
    return f"""
  UPDATE metrics_incident_day SET incidents = incidents - 1,
    fatalities = fatalities - {x}.fatalities WHERE {match};
  DELETE FROM metrics_incident_day WHERE {match} AND incidents <= 0;
  UPDATE metrics_violation_day SET incidents = incidents - 1 WHERE {verified} AND {vmatch};
  DELETE FROM metrics_violation_day WHERE {verified} AND {vmatch} AND incidents <= 0;"""


# The columns whose change moves an incident between groups (others, like updated_at, do not).
WATCHED = (
    "occurred_at, admin1, admin2, category, alleged_party_id, target_party_id, "
    "attributed_party_id, status, finding, sensitivity, fatalities"
)

SQLITE_UP = [
    f"CREATE TRIGGER metrics_incident_insert AFTER INSERT ON incident BEGIN{_sqlite_add('NEW')}\nEND",
    f"CREATE TRIGGER metrics_incident_update AFTER UPDATE OF {WATCHED} ON incident "
    f"BEGIN{_sqlite_subtract('OLD')}{_sqlite_add('NEW')}\nEND",
    f"CREATE TRIGGER metrics_incident_delete AFTER DELETE ON incident "
    f"BEGIN{_sqlite_subtract('OLD')}\nEND",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS metrics_incident_insert",
    "DROP TRIGGER IF EXISTS metrics_incident_update",
    "DROP TRIGGER IF EXISTS metrics_incident_delete",
]


# --- PostgreSQL: statement triggers with transition tables ---------------------------------------


def _pg_grouped(keys: list[str], source: str, measures: str, where: str = "") -> str:
    cols = ", ".join(f"{_expr(k, 'x', 'postgresql')} AS {k}" for k in keys)
    group = ", ".join(str(n) for n in range(1, len(keys) + 1))
    cond = f" WHERE {where}" if where else ""
    return f"SELECT {cols}, {measures} FROM {source} AS x{cond} GROUP BY {group}"


def _pg_on(keys: list[str]) -> str:
    return " AND ".join(f"r.{k} = g.{k}" for k in keys)


def _pg_function() -> str:
    keys, vkeys = ", ".join(INCIDENT_KEYS), ", ".join(VIOLATION_KEYS)
    verified = VERIFIED.format(x="x")
    old = _pg_grouped(INCIDENT_KEYS, "old_rows", "count(*) AS n, sum(x.fatalities) AS f")
    new = _pg_grouped(INCIDENT_KEYS, "new_rows", "count(*), sum(x.fatalities)")
    vold = _pg_grouped(VIOLATION_KEYS, "old_rows", "count(*) AS n", verified)
    vnew = _pg_grouped(VIOLATION_KEYS, "new_rows", "count(*)", verified)
    return f"""
CREATE FUNCTION metrics_incident_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE metrics_incident_day AS r SET incidents = r.incidents - g.n,
      fatalities = r.fatalities - g.f FROM ({old}) AS g WHERE {_pg_on(INCIDENT_KEYS)};
    DELETE FROM metrics_incident_day AS r USING ({old}) AS g
      WHERE {_pg_on(INCIDENT_KEYS)} AND r.incidents <= 0;
    UPDATE metrics_violation_day AS r SET incidents = r.incidents - g.n
      FROM ({vold}) AS g WHERE {_pg_on(VIOLATION_KEYS)};
    DELETE FROM metrics_violation_day AS r USING ({vold}) AS g
      WHERE {_pg_on(VIOLATION_KEYS)} AND r.incidents <= 0;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO metrics_incident_day ({keys}, incidents, fatalities) {new}
      ON CONFLICT ({keys}) DO UPDATE SET
        incidents = metrics_incident_day.incidents + EXCLUDED.incidents,
        fatalities = metrics_incident_day.fatalities + EXCLUDED.fatalities;
    INSERT INTO metrics_violation_day ({vkeys}, incidents) {vnew}
      ON CONFLICT ({vkeys}) DO UPDATE SET
        incidents = metrics_violation_day.incidents + EXCLUDED.incidents;
  END IF;
  RETURN NULL;
END
$$"""


POSTGRES_UP = [
    _pg_function(),
    "CREATE TRIGGER metrics_incident_insert AFTER INSERT ON incident "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION metrics_incident_rollup()",
    "CREATE TRIGGER metrics_incident_update AFTER UPDATE ON incident "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION metrics_incident_rollup()",
    "CREATE TRIGGER metrics_incident_delete AFTER DELETE ON incident "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION metrics_incident_rollup()",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS metrics_incident_insert ON incident",
    "DROP TRIGGER IF EXISTS metrics_incident_update ON incident",
    "DROP TRIGGER IF EXISTS metrics_incident_delete ON incident",
    "DROP FUNCTION IF EXISTS metrics_incident_rollup()",
]


def _fill(dialect: str) -> list[str]:
    """Rollups of the incidents already stored (a database upgraded with data in it)."""
    keys, vkeys = ", ".join(INCIDENT_KEYS), ", ".join(VIOLATION_KEYS)
    x = "x"
    cols = ", ".join(_expr(k, x, dialect) for k in INCIDENT_KEYS)
    vcols = ", ".join(_expr(k, x, dialect) for k in VIOLATION_KEYS)
    group = ", ".join(str(n) for n in range(1, len(INCIDENT_KEYS) + 1))
    vgroup = ", ".join(str(n) for n in range(1, len(VIOLATION_KEYS) + 1))
    return [
        f"INSERT INTO metrics_incident_day ({keys}, incidents, fatalities) "
        f"SELECT {cols}, count(*), sum(x.fatalities) FROM incident AS x GROUP BY {group}",
        f"INSERT INTO metrics_violation_day ({vkeys}, incidents) "
        f"SELECT {vcols}, count(*) FROM incident AS x WHERE {VERIFIED.format(x=x)} "
        f"GROUP BY {vgroup}",
    ]


def upgrade() -> None:
    op.create_table(
        "metrics_incident_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("admin1", sa.String(length=100), nullable=False),
        sa.Column("admin2", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("alleged_party_id", sa.Uuid(), nullable=False),
        sa.Column("target_party_id", sa.Uuid(), nullable=False),
        sa.Column("attributed_party_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("finding", sa.String(length=32), nullable=False),
        sa.Column("sensitivity", sa.String(length=32), nullable=False),
        sa.Column("incidents", sa.BigInteger(), nullable=False),
        sa.Column("fatalities", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*INCIDENT_KEYS, name=op.f("pk_metrics_incident_day")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "metrics_violation_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("attributed_party_id", sa.Uuid(), nullable=False),
        sa.Column("target_party_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("admin1", sa.String(length=100), nullable=False),
        sa.Column("sensitivity", sa.String(length=32), nullable=False),
        sa.Column("fatalities", sa.Integer(), nullable=False),
        sa.Column("incidents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*VIOLATION_KEYS, name=op.f("pk_metrics_violation_day")),
        sqlite_with_rowid=False,
    )
    dialect = op.get_bind().dialect.name
    for statement in _fill(dialect):
        op.execute(statement)
    for statement in SQLITE_UP if dialect == "sqlite" else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_table("metrics_violation_day")
    op.drop_table("metrics_incident_day")
