"""metrics rollups by month: the day rollups of 0005 summed per UTC calendar month

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26

`metrics_incident_month` and `metrics_violation_month` have the keys of `metrics_incident_day` and
`metrics_violation_day` with the month (its first day) in place of the day. A long window reads
its whole months here and only its ragged ends from the day tables (backend/metrics/queries.py):
ten years are 120 month groups instead of 3,650 day groups.

Kept exactly as 0005 keeps the day tables, by their own triggers on `incident`, in the writing
transaction: SQLite row triggers with `INSERT ... ON CONFLICT DO UPDATE`; PostgreSQL statement
triggers with transition tables (one grouped upsert per statement). An UPDATE subtracts the old
row from its group and adds the new one; a group that falls to zero incidents is deleted.
"""

from __future__ import annotations

# ruff: noqa: S608 - the SQL below is fixed text built from constants, never from input
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCIDENTS = "metrics_incident_month"
VIOLATIONS = "metrics_violation_month"
INCIDENT_KEYS = [
    "month",
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
    "month",
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
# The columns whose change moves an incident between groups (as in 0005).
WATCHED = (
    "occurred_at, admin1, admin2, category, alleged_party_id, target_party_id, "
    "attributed_party_id, status, finding, sensitivity, fatalities"
)


def _expr(key: str, x: str, dialect: str) -> str:
    """The rollup key `key` of the incident row `x` (NEW, OLD or a table alias)."""
    if key == "month":
        if dialect == "sqlite":
            return f"(substr({x}.occurred_at, 1, 7) || '-01')"
        return f"CAST(date_trunc('month', {x}.occurred_at AT TIME ZONE 'UTC') AS date)"
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


def _match(keys: list[str], x: str) -> str:
    return " AND ".join(f"{k} = {_expr(k, x, 'sqlite')}" for k in keys)


# --- SQLite: row triggers ------------------------------------------------------------------------


def _sqlite_add(x: str) -> str:
    keys, vkeys = ", ".join(INCIDENT_KEYS), ", ".join(VIOLATION_KEYS)
    values = ", ".join(_expr(k, x, "sqlite") for k in INCIDENT_KEYS)
    vvalues = ", ".join(_expr(k, x, "sqlite") for k in VIOLATION_KEYS)
    return f"""
  INSERT INTO {INCIDENTS} ({keys}, incidents, fatalities)
  VALUES ({values}, 1, {x}.fatalities)
  ON CONFLICT ({keys}) DO UPDATE SET incidents = incidents + excluded.incidents,
    fatalities = fatalities + excluded.fatalities;
  INSERT INTO {VIOLATIONS} ({vkeys}, incidents)
  SELECT {vvalues}, 1 WHERE {VERIFIED.format(x=x)}
  ON CONFLICT ({vkeys}) DO UPDATE SET incidents = incidents + excluded.incidents;"""


def _sqlite_subtract(x: str) -> str:
    match, vmatch = _match(INCIDENT_KEYS, x), _match(VIOLATION_KEYS, x)
    verified = VERIFIED.format(x=x)
    return f"""
  UPDATE {INCIDENTS} SET incidents = incidents - 1,
    fatalities = fatalities - {x}.fatalities WHERE {match};
  DELETE FROM {INCIDENTS} WHERE {match} AND incidents <= 0;
  UPDATE {VIOLATIONS} SET incidents = incidents - 1 WHERE {verified} AND {vmatch};
  DELETE FROM {VIOLATIONS} WHERE {verified} AND {vmatch} AND incidents <= 0;"""


SQLITE_UP = [
    f"CREATE TRIGGER metrics_month_insert AFTER INSERT ON incident BEGIN{_sqlite_add('NEW')}\nEND",
    f"CREATE TRIGGER metrics_month_update AFTER UPDATE OF {WATCHED} ON incident "
    f"BEGIN{_sqlite_subtract('OLD')}{_sqlite_add('NEW')}\nEND",
    f"CREATE TRIGGER metrics_month_delete AFTER DELETE ON incident "
    f"BEGIN{_sqlite_subtract('OLD')}\nEND",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS metrics_month_insert",
    "DROP TRIGGER IF EXISTS metrics_month_update",
    "DROP TRIGGER IF EXISTS metrics_month_delete",
]


# --- PostgreSQL: statement triggers with transition tables ---------------------------------------


def _grouped(keys: list[str], source: str, measures: str, dialect: str, where: str = "") -> str:
    cols = ", ".join(f"{_expr(k, 'x', dialect)} AS {k}" for k in keys)
    group = ", ".join(str(n) for n in range(1, len(keys) + 1))
    cond = f" WHERE {where}" if where else ""
    return f"SELECT {cols}, {measures} FROM {source} AS x{cond} GROUP BY {group}"


def _on(keys: list[str]) -> str:
    return " AND ".join(f"r.{k} = g.{k}" for k in keys)


def _pg_function() -> str:
    keys, vkeys = ", ".join(INCIDENT_KEYS), ", ".join(VIOLATION_KEYS)
    verified = VERIFIED.format(x="x")
    pg = "postgresql"
    old = _grouped(INCIDENT_KEYS, "old_rows", "count(*) AS n, sum(x.fatalities) AS f", pg)
    new = _grouped(INCIDENT_KEYS, "new_rows", "count(*), sum(x.fatalities)", pg)
    vold = _grouped(VIOLATION_KEYS, "old_rows", "count(*) AS n", pg, verified)
    vnew = _grouped(VIOLATION_KEYS, "new_rows", "count(*)", pg, verified)
    return f"""
CREATE FUNCTION metrics_month_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE {INCIDENTS} AS r SET incidents = r.incidents - g.n,
      fatalities = r.fatalities - g.f FROM ({old}) AS g WHERE {_on(INCIDENT_KEYS)};
    DELETE FROM {INCIDENTS} AS r USING ({old}) AS g
      WHERE {_on(INCIDENT_KEYS)} AND r.incidents <= 0;
    UPDATE {VIOLATIONS} AS r SET incidents = r.incidents - g.n
      FROM ({vold}) AS g WHERE {_on(VIOLATION_KEYS)};
    DELETE FROM {VIOLATIONS} AS r USING ({vold}) AS g
      WHERE {_on(VIOLATION_KEYS)} AND r.incidents <= 0;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO {INCIDENTS} ({keys}, incidents, fatalities) {new}
      ON CONFLICT ({keys}) DO UPDATE SET
        incidents = {INCIDENTS}.incidents + EXCLUDED.incidents,
        fatalities = {INCIDENTS}.fatalities + EXCLUDED.fatalities;
    INSERT INTO {VIOLATIONS} ({vkeys}, incidents) {vnew}
      ON CONFLICT ({vkeys}) DO UPDATE SET
        incidents = {VIOLATIONS}.incidents + EXCLUDED.incidents;
  END IF;
  RETURN NULL;
END
$$"""


POSTGRES_UP = [
    _pg_function(),
    "CREATE TRIGGER metrics_month_insert AFTER INSERT ON incident "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics_month_rollup()",
    "CREATE TRIGGER metrics_month_update AFTER UPDATE ON incident "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION metrics_month_rollup()",
    "CREATE TRIGGER metrics_month_delete AFTER DELETE ON incident "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics_month_rollup()",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS metrics_month_insert ON incident",
    "DROP TRIGGER IF EXISTS metrics_month_update ON incident",
    "DROP TRIGGER IF EXISTS metrics_month_delete ON incident",
    "DROP FUNCTION IF EXISTS metrics_month_rollup()",
]


def _fill(dialect: str) -> list[str]:
    """Month rollups of the incidents already stored (a database upgraded with data in it)."""
    keys, vkeys = ", ".join(INCIDENT_KEYS), ", ".join(VIOLATION_KEYS)
    verified = VERIFIED.format(x="x")
    return [
        f"INSERT INTO {INCIDENTS} ({keys}, incidents, fatalities) "
        + _grouped(INCIDENT_KEYS, "incident", "count(*), sum(x.fatalities)", dialect),
        f"INSERT INTO {VIOLATIONS} ({vkeys}, incidents) "
        + _grouped(VIOLATION_KEYS, "incident", "count(*)", dialect, verified),
    ]


def upgrade() -> None:
    op.create_table(
        INCIDENTS,
        sa.Column("month", sa.Date(), nullable=False),
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
        sa.PrimaryKeyConstraint(*INCIDENT_KEYS, name=op.f(f"pk_{INCIDENTS}")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        VIOLATIONS,
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("attributed_party_id", sa.Uuid(), nullable=False),
        sa.Column("target_party_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("admin1", sa.String(length=100), nullable=False),
        sa.Column("sensitivity", sa.String(length=32), nullable=False),
        sa.Column("fatalities", sa.Integer(), nullable=False),
        sa.Column("incidents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*VIOLATION_KEYS, name=op.f(f"pk_{VIOLATIONS}")),
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
    op.drop_table(VIOLATIONS)
    op.drop_table(INCIDENTS)
