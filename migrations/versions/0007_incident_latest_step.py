"""incident's latest verification step: its time, method and team on the incident row

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

An incident already carries the status, finding and attribution of its latest verification step
(written by backend.verification.service.derive_state in the transaction that records the step).
Its time, method and team join them here, written by the same function, so the incidents export
reads one row per incident instead of finding the latest step of each (a correlated subquery and
a join per row). Existing incidents get theirs from their verification events: the latest by
occurred_at, then created_at, the order derive_state uses. Plain columns added with ALTER TABLE:
no table rebuild, so the triggers of 0005 and 0006 stay in place.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("verified_at", "verification_method", "verification_team")

BACKFILL = """
UPDATE incident SET (verified_at, verification_method, verification_team) = (
  SELECT v.occurred_at, v.method, v.team FROM verification_event AS v
  WHERE v.incident_id = incident.id
  ORDER BY v.occurred_at DESC, v.created_at DESC LIMIT 1)
WHERE id IN (SELECT incident_id FROM verification_event WHERE incident_id IS NOT NULL)
"""


def backfill(dialect: str) -> list[str]:
    """The backfill's statements. On PostgreSQL the incident's statement triggers (0005, 0006)
    are held meanwhile: they would recompute every rollup row of every incident touched (minutes
    at a million incidents) for columns no rollup reads. SQLite's triggers watch named columns."""
    if dialect == "sqlite":
        return [BACKFILL]
    return [
        "ALTER TABLE incident DISABLE TRIGGER USER",
        BACKFILL,
        "ALTER TABLE incident ENABLE TRIGGER USER",
    ]


def upgrade() -> None:
    op.add_column("incident", sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incident", sa.Column("verification_method", sa.String(length=32), nullable=True))
    op.add_column("incident", sa.Column("verification_team", sa.String(length=200), nullable=True))
    for statement in backfill(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column("incident", name)
