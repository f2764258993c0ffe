"""perception surveys for the trust index; the alerts already announced on the live stream

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25

`perception_survey`: a survey's mean reported trust (SCORE's 0-10 scale) of one party's side in
another party, on a date; the trust index's perception component reads it per pair.

`metrics_alert_seen`: one row per alert (its id: kind, subject, day) and audience, written the
first time the alert is found standing. The INSERT that adds the row is the one that announces the
alert on the live stream, so several server processes on one database announce it once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metrics_alert_seen",
        sa.Column("alert_id", sa.String(length=300), nullable=False),
        sa.Column("audience", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "audience", name=op.f("pk_metrics_alert_seen")),
    )
    op.create_table(
        "perception_survey",
        sa.Column("respondent_party_id", sa.Uuid(), nullable=False),
        sa.Column("trusted_party_id", sa.Uuid(), nullable=False),
        sa.Column("surveyed_on", sa.Date(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("respondents", sa.Integer(), nullable=True),
        sa.Column("respondent_group", sa.String(length=200), nullable=True),
        sa.Column("admin1", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["respondent_party_id"],
            ["party.id"],
            name=op.f("fk_perception_survey_respondent_party_id_party"),
        ),
        sa.ForeignKeyConstraint(
            ["trusted_party_id"],
            ["party.id"],
            name=op.f("fk_perception_survey_trusted_party_id_party"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_perception_survey")),
    )
    op.create_index(
        "ix_perception_survey_pair",
        "perception_survey",
        ["respondent_party_id", "trusted_party_id", "surveyed_on"],
    )
    op.create_index("ix_perception_survey_surveyed_on", "perception_survey", ["surveyed_on"])


def downgrade() -> None:
    op.drop_index("ix_perception_survey_surveyed_on", table_name="perception_survey")
    op.drop_index("ix_perception_survey_pair", table_name="perception_survey")
    op.drop_table("perception_survey")
    op.drop_table("metrics_alert_seen")
