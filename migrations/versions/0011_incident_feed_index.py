"""incidents by receipt: the live feed's newest first without sorting every incident

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26

The dashboard's live feed (dashboard/data.py `latest_incidents`) is the newest received
incidents, `ORDER BY received_at DESC, id DESC LIMIT 12`. Without an index both databases sorted
every incident for it (302 ms at a million); walking `(received_at, id)` backwards, they read the
twelve rows and stop (0.2 ms).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_incident_received_at_id"


def upgrade() -> None:
    op.create_index(INDEX, "incident", ["received_at", "id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="incident")
