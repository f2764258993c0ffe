"""the visibility rule's columns in the indexes the verification funnel reads

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26

A caller who does not see everything reads incidents of the sensitivities its role may read and
its own (`reported_by = name OR sensitivity IN (...)`). The funnel's queue (`ix_incident_queue`)
and its delays to verify (`metrics_verify_delay`'s two indexes) held neither column, so each
index entry of the window cost a row lookup for a viewer or a reporter: at a million incidents a
year's queue (60,000 queued) took 225 ms and its percentiles 40 ms. With `sensitivity` and
`reported_by` at the end of each index the rule is checked on the index entry (SQLite defers the
row lookup; PostgreSQL scans the index only), and the rows read are the visible ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE = "status IN ('received', 'in_review')"
VISIBILITY = ["sensitivity", "reported_by"]
# (name, table, columns before this migration, partial-index condition)
INDEXES = [
    ("ix_incident_queue", "incident", ["occurred_at", "received_at", "id"], QUEUE),
    (
        "ix_metrics_verify_delay_occurred_at",
        "metrics_verify_delay",
        ["occurred_at", "delay_s"],
        None,
    ),
    ("ix_metrics_verify_delay_delay_s", "metrics_verify_delay", ["delay_s", "occurred_at"], None),
]


def _create(name: str, table: str, columns: list[str], where: str | None) -> None:
    partial = (
        {}
        if where is None
        else {"sqlite_where": sa.text(where), "postgresql_where": sa.text(where)}
    )
    op.create_index(name, table, columns, unique=False, **partial)


def upgrade() -> None:
    for name, table, columns, where in INDEXES:
        op.drop_index(name, table_name=table)
        _create(name, table, [*columns, *VISIBILITY], where)


def downgrade() -> None:
    for name, table, columns, where in INDEXES:
        op.drop_index(name, table_name=table)
        _create(name, table, columns, where)
