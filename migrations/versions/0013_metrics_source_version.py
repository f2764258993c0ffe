"""a stamp per group of slowly changing tables, so that a process reads them again only when
they change

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26

Compliance, trust, alerts and implementation read every commitment with its parties and
progress, and the parties, on every request: some 700 rows and 4-9 ms of a 25 ms measure at a
million incidents, for tables that change a few times a day; trust reads every track activity
with its parties (ten years: 1,000 activities, 8-15 ms). `metrics_source_version` holds one row
per group (`commitments`, `parties`, `tracks`) whose `version` triggers set to a new random value in
every transaction that writes one of the group's tables (SQLite: a row trigger per table and
statement; PostgreSQL: a statement trigger, TRUNCATE included). A reader compares the stamp with
the one it kept (backend/metrics/queries.py `_kept`).
"""

# ruff: noqa: S608 - the SQL below is fixed text built from constants, never from input

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "metrics_source_version"
SOURCES = {
    "commitment": "commitments",
    "commitment_party": "commitments",
    "commitment_progress": "commitments",
    "party": "parties",
    "track_activity": "tracks",
    "track_activity_party": "tracks",
}
FUNCTION = "metrics_source_changed"


def _sqlite_trigger(table: str, source: str, event: str) -> str:
    return (
        f"CREATE TRIGGER {TABLE}_{table}_{event.lower()} AFTER {event} ON {table} BEGIN "
        f"INSERT INTO {TABLE} (source, version) VALUES ('{source}', lower(hex(randomblob(16)))) "
        "ON CONFLICT (source) DO UPDATE SET version = excluded.version; END"
    )


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f(f"pk_{TABLE}")),
    )
    dialect = op.get_bind().dialect.name
    random = "lower(hex(randomblob(16)))" if dialect == "sqlite" else "gen_random_uuid()::text"
    for source in sorted(set(SOURCES.values())):
        op.execute(f"INSERT INTO {TABLE} (source, version) VALUES ('{source}', {random})")
    if dialect == "sqlite":
        for table, source in SOURCES.items():
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(_sqlite_trigger(table, source, event))
        return
    op.execute(
        f"CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO {TABLE} (source, version) VALUES (TG_ARGV[0], gen_random_uuid()::text) "
        "ON CONFLICT (source) DO UPDATE SET version = excluded.version; RETURN NULL; END $$"
    )
    for table, source in SOURCES.items():
        op.execute(
            f"CREATE TRIGGER {TABLE}_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}('{source}')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in SOURCES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {TABLE}_{table}_{event}")
    else:
        for table in SOURCES:
            op.execute(f"DROP TRIGGER {TABLE}_{table} ON {table}")
        op.execute(f"DROP FUNCTION {FUNCTION}()")
    op.drop_table(TABLE)
