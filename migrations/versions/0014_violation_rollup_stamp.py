"""a stamp per month of the violation rollups, so that a process keeps what it summed of each
month until that month changes

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27

Trust reads every verified violation between each pair of parties over its window and the trailing
span of each series point: over ten years 13,000 rollup rows summed to 6,500 (pair, day) rows,
25-38 ms of a 65-80 ms measure at a million incidents. Those rows change only when a verified,
attributed incident is written (a verification, an attribution, an import of verified events), a
few times a day in a mission and nearly always in the last weeks, while leadership's screens ask
every few seconds.

`metrics_violation_stamp` holds a random stamp per calendar month, made new in every transaction
that changes a row of `metrics_violation_day` (of a day of the month) or `metrics_violation_month`
(of the month). A reader keeps what it summed of each month beside the month's stamp and reads
again only the months whose stamp moved (backend/metrics/queries.py `_kept_months`): after a
verification, one month of rows, not ten years. A month with no stamp is read every time, so a
stamp row lost (a hand-emptied table) costs time, never a wrong sum. The triggers watch the
rollups, not `incident`: a stamp moves exactly when what a reader sums moves (an unverified
report, most of what arrives, moves none), whichever path wrote them (the incident triggers,
`peacewatch metrics rebuild`, a console).

- SQLite: a row trigger per table and event.
- PostgreSQL: a statement trigger per table and event with its transition table, stamping the
  months of the rows the statement changed (none for most batches of incidents: the rollup
  statements of 0005 and 0009 run for every batch), in order of month so that two writers take the
  stamps' row locks in the same order; TRUNCATE drops every stamp (the months are empty).
"""

# ruff: noqa: S608 - the SQL below is fixed text built from constants, never from input

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMPS = "metrics_violation_stamp"
# Each rollup with the expression of its rows' month, on SQLite (where dates are ISO text, `{x}`
# the row) and on PostgreSQL.
TABLES = {
    "metrics_violation_day": ("substr({x}.day, 1, 7) || '-01'", "date_trunc('month', day)::date"),
    "metrics_violation_month": ("{x}.month", "month"),
}
EVENTS = ("INSERT", "UPDATE", "DELETE")
FUNCTION = "metrics_violation_restamp"
RANDOM = {"sqlite": "lower(hex(randomblob(16)))", "postgresql": "gen_random_uuid()::text"}


def _name(table: str, event: str) -> str:
    return f"{STAMPS}_{table.removeprefix('metrics_')}_{event.lower()}"


def _sqlite_stamp(month: str) -> str:
    return (
        f"INSERT INTO {STAMPS} (month, version) VALUES ({month}, {RANDOM['sqlite']}) "
        "ON CONFLICT (month) DO UPDATE SET version = excluded.version;"
    )


def _sqlite_trigger(table: str, event: str) -> str:
    month = TABLES[table][0]
    rows = {"INSERT": ("NEW",), "UPDATE": ("OLD", "NEW"), "DELETE": ("OLD",)}[event]
    body = " ".join(_sqlite_stamp(month.format(x=x)) for x in rows)
    return f"CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table} BEGIN {body} END"


def _pg_function(table: str) -> str:
    month = TABLES[table][1]
    return (
        f"CREATE FUNCTION {FUNCTION}_{table.removeprefix('metrics_violation_')}() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO {STAMPS} (month, version) "
        f"SELECT m, {RANDOM['postgresql']} FROM (SELECT DISTINCT {month} AS m FROM changed) AS c "
        "ORDER BY m ON CONFLICT (month) DO UPDATE SET version = excluded.version; "
        "RETURN NULL; END $$"
    )


def _pg_trigger(table: str, event: str) -> str:
    rows = "OLD" if event == "DELETE" else "NEW"
    return (
        f"CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table} "
        f"REFERENCING {rows} TABLE AS changed FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {FUNCTION}_{table.removeprefix('metrics_violation_')}()"
    )


def upgrade() -> None:
    op.create_table(
        STAMPS,
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("version", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f(f"pk_{STAMPS}")),
    )
    dialect = op.get_bind().dialect.name
    sqlite = dialect == "sqlite"
    # The months already in the rollups (a database upgraded with data in it).
    months = " UNION ".join(
        f"SELECT {expr[0].format(x=table) if sqlite else expr[1]} AS m FROM {table}"
        for table, expr in TABLES.items()
    )
    op.execute(
        f"INSERT INTO {STAMPS} (month, version) SELECT m, {RANDOM[dialect]} FROM ({months}) AS t"
    )
    if not sqlite:
        op.execute(
            f"CREATE FUNCTION {FUNCTION}_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN DELETE FROM {STAMPS}; RETURN NULL; END $$"
        )
    for table in TABLES:
        if sqlite:
            for event in EVENTS:
                op.execute(_sqlite_trigger(table, event))
            continue
        op.execute(_pg_function(table))
        for event in EVENTS:
            op.execute(_pg_trigger(table, event))
        op.execute(
            f"CREATE TRIGGER {_name(table, 'truncate')} AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}_truncated()"
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        for event in (*EVENTS, *(() if sqlite else ("TRUNCATE",))):
            on = "" if sqlite else f" ON {table}"
            op.execute(f"DROP TRIGGER {_name(table, event)}{on}")
        if not sqlite:
            op.execute(f"DROP FUNCTION {FUNCTION}_{table.removeprefix('metrics_violation_')}()")
    if not sqlite:
        op.execute(f"DROP FUNCTION {FUNCTION}_truncated()")
    op.drop_table(STAMPS)
