"""verification funnel: delays to verify counted per month and delay bucket; queue by receipt

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26

`metrics_verify_delay_month` counts the rows of `metrics_verify_delay` (0006) per UTC month of
occurrence, sensitivity and delay bucket: bucket `b` holds the delays `d` with `BOUNDS[b - 1] <= d
< BOUNDS[b]`, whole seconds a factor 2^(1/4) apart from one minute to 22 years (bucket 0: under
a minute, negative delays included). A percentile of a long window is found from these counts
(which bucket holds its rank, and how many delays lie below it), then read exactly among that
bucket's delays by the new index `(delay_s, occurred_at)`: the same nearest-rank value as sorting
every delay of the window (backend/metrics/queries.py).

`ix_incident_queue_received` is the partial index of the queue (received or in review) by
receipt: the funnel's oldest queued incidents of a long window are, most often, the oldest of
all, read from it without sorting the window's whole queue.

Kept by triggers on `metrics_verify_delay` itself, which 0006's triggers keep, so it follows
every write to incidents and verification events in the same transaction: SQLite row triggers
with `INSERT ... ON CONFLICT DO UPDATE`; PostgreSQL statement triggers with transition tables
(one grouped upsert per statement). An UPDATE subtracts the old row from its group and adds the
new one; a group that falls to zero is deleted.
"""

from __future__ import annotations

# ruff: noqa: S608 - the SQL below is fixed text built from constants, never from input
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "metrics_verify_delay_month"
SOURCE = "metrics_verify_delay"
INDEX = "ix_metrics_verify_delay_delay_s"
KEYS = ["month", "sensitivity", "bucket"]
QUEUE_INDEX = "ix_incident_queue_received"
QUEUE = "status IN ('received', 'in_review')"
# backend.metrics.models.DELAY_BOUNDS_S, as of this revision.
BOUNDS = tuple(round(60 * 2 ** (k / 4)) for k in range(95))


def _bucket(value: str, lo: int = 0, hi: int = len(BOUNDS)) -> str:
    """How many BOUNDS are <= `value`: nested CASEs (backend.metrics.sql.bucket_case)."""
    if lo == hi:
        return str(lo)
    mid = (lo + hi) // 2
    return (
        f"CASE WHEN {value} < {BOUNDS[mid]} THEN {_bucket(value, lo, mid)} "
        f"ELSE {_bucket(value, mid + 1, hi)} END"
    )


def _expr(key: str, x: str, dialect: str) -> str:
    """The key `key` of the delay row `x` (NEW, OLD or a table alias)."""
    if key == "month":
        if dialect == "sqlite":
            return f"(substr({x}.occurred_at, 1, 7) || '-01')"
        return f"CAST(date_trunc('month', {x}.occurred_at AT TIME ZONE 'UTC') AS date)"
    if key == "bucket":
        return f"({_bucket(f'{x}.delay_s')})"
    return f"{x}.{key}"


# --- SQLite: row triggers ------------------------------------------------------------------------


def _sqlite_add(x: str) -> str:
    keys = ", ".join(KEYS)
    values = ", ".join(_expr(k, x, "sqlite") for k in KEYS)
    return f"""
  INSERT INTO {TABLE} ({keys}, incidents) VALUES ({values}, 1)
  ON CONFLICT ({keys}) DO UPDATE SET incidents = incidents + excluded.incidents;"""


def _sqlite_subtract(x: str) -> str:
    match = " AND ".join(f"{k} = {_expr(k, x, 'sqlite')}" for k in KEYS)
    return f"""
  UPDATE {TABLE} SET incidents = incidents - 1 WHERE {match};
  DELETE FROM {TABLE} WHERE {match} AND incidents <= 0;"""


SQLITE_UP = [
    f"CREATE TRIGGER metrics_delay_month_insert AFTER INSERT ON {SOURCE} "
    f"BEGIN{_sqlite_add('NEW')}\nEND",
    f"CREATE TRIGGER metrics_delay_month_update AFTER UPDATE OF occurred_at, sensitivity, delay_s "
    f"ON {SOURCE} BEGIN{_sqlite_subtract('OLD')}{_sqlite_add('NEW')}\nEND",
    f"CREATE TRIGGER metrics_delay_month_delete AFTER DELETE ON {SOURCE} "
    f"BEGIN{_sqlite_subtract('OLD')}\nEND",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS metrics_delay_month_insert",
    "DROP TRIGGER IF EXISTS metrics_delay_month_update",
    "DROP TRIGGER IF EXISTS metrics_delay_month_delete",
]


# --- PostgreSQL: statement triggers with transition tables ---------------------------------------


def _grouped(source: str, dialect: str, count: str = "count(*)") -> str:
    cols = ", ".join(f"{_expr(k, 'x', dialect)} AS {k}" for k in KEYS)
    return f"SELECT {cols}, {count} FROM {source} AS x GROUP BY 1, 2, 3"


def _pg_function() -> str:
    keys = ", ".join(KEYS)
    on = " AND ".join(f"r.{k} = g.{k}" for k in KEYS)
    old = _grouped("old_rows", "postgresql", "count(*) AS n")
    new = _grouped("new_rows", "postgresql")
    return f"""
CREATE FUNCTION metrics_delay_month_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE {TABLE} AS r SET incidents = r.incidents - g.n FROM ({old}) AS g WHERE {on};
    DELETE FROM {TABLE} AS r USING ({old}) AS g WHERE {on} AND r.incidents <= 0;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO {TABLE} ({keys}, incidents) {new}
      ON CONFLICT ({keys}) DO UPDATE SET incidents = {TABLE}.incidents + EXCLUDED.incidents;
  END IF;
  RETURN NULL;
END
$$"""


POSTGRES_UP = [
    _pg_function(),
    f"CREATE TRIGGER metrics_delay_month_insert AFTER INSERT ON {SOURCE} "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION metrics_delay_month_rollup()",
    f"CREATE TRIGGER metrics_delay_month_update AFTER UPDATE ON {SOURCE} "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION metrics_delay_month_rollup()",
    f"CREATE TRIGGER metrics_delay_month_delete AFTER DELETE ON {SOURCE} "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION metrics_delay_month_rollup()",
]
POSTGRES_DOWN = [
    f"DROP TRIGGER IF EXISTS metrics_delay_month_insert ON {SOURCE}",
    f"DROP TRIGGER IF EXISTS metrics_delay_month_update ON {SOURCE}",
    f"DROP TRIGGER IF EXISTS metrics_delay_month_delete ON {SOURCE}",
    "DROP FUNCTION IF EXISTS metrics_delay_month_rollup()",
]


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("sensitivity", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("incidents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEYS, name=op.f(f"pk_{TABLE}")),
        sqlite_with_rowid=False,
    )
    op.create_index(INDEX, SOURCE, ["delay_s", "occurred_at"], unique=False)
    op.create_index(
        QUEUE_INDEX,
        "incident",
        ["received_at", "id"],
        unique=False,
        sqlite_where=sa.text(QUEUE),
        postgresql_where=sa.text(QUEUE),
    )
    dialect = op.get_bind().dialect.name
    # The delays already stored (a database upgraded with data in it).
    op.execute(f"INSERT INTO {TABLE} ({', '.join(KEYS)}, incidents) {_grouped(SOURCE, dialect)}")
    for statement in SQLITE_UP if dialect == "sqlite" else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_index(QUEUE_INDEX, table_name="incident")
    op.drop_index(INDEX, table_name=SOURCE)
    op.drop_table(TABLE)
