"""import provenance: where an imported incident came from (ACLED, UCDP)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_dataset", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("source_name", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("source_category", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("alleged_actor_name", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("target_actor_name", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("fatalities_low", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fatalities_high", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("source_timestamp", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("source_hash", sa.String(length=64), nullable=True))
        # external_id first: a batch's lookup is `external_id IN (...)`, and PostgreSQL filters a
        # leading source_dataset's every row against the whole list (quadratic on big imports).
        batch_op.create_unique_constraint(
            "uq_incident_external_id", ["external_id", "source_dataset"]
        )


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_constraint("uq_incident_external_id", type_="unique")
        batch_op.drop_column("source_hash")
        batch_op.drop_column("source_timestamp")
        batch_op.drop_column("fatalities_high")
        batch_op.drop_column("fatalities_low")
        batch_op.drop_column("target_actor_name")
        batch_op.drop_column("alleged_actor_name")
        batch_op.drop_column("source_category")
        batch_op.drop_column("source_name")
        batch_op.drop_column("external_id")
        batch_op.drop_column("source_dataset")
