"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "agreement",
        sa.Column(
            "kind",
            sa.Enum(
                "ceasefire",
                "peace",
                "ddr_protocol",
                "other",
                name="agreementkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement")),
        sa.UniqueConstraint("name", name=op.f("uq_agreement_name")),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "reporter",
                "analyst",
                "viewer",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("name", name=op.f("uq_api_token_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_table(
        "party",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "state_force",
                "rebel_group",
                "militia",
                "other",
                name="partykind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("signatory", sa.Boolean(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party")),
        sa.UniqueConstraint("code", name=op.f("uq_party_code")),
        sa.UniqueConstraint("name", name=op.f("uq_party_name")),
    )
    op.create_table(
        "track_activity",
        sa.Column(
            "track",
            sa.Enum(
                "track_1",
                "track_1_5",
                "track_2",
                "track_3",
                name="track",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "formal_talks",
                "shuttle_diplomacy",
                "consultation",
                "workshop",
                "dialogue",
                "confidence_building_event",
                name="trackactivitykind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("venue", sa.String(length=200), nullable=True),
        sa.Column("facilitator", sa.String(length=200), nullable=True),
        sa.Column("participants", sa.Integer(), nullable=True),
        sa.Column("women_participants", sa.Integer(), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "held",
                "postponed",
                "cancelled",
                "stalled",
                "agreement_reached",
                name="trackoutcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reported_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track_activity")),
    )
    with op.batch_alter_table("track_activity", schema=None) as batch_op:
        batch_op.create_index(
            "ix_track_activity_occurred_on_id", ["occurred_on", "id"], unique=False
        )

    op.create_table(
        "agreement_party",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreement.id"],
            name=op.f("fk_agreement_party_agreement_id_agreement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"], name=op.f("fk_agreement_party_party_id_party")
        ),
        sa.PrimaryKeyConstraint("agreement_id", "party_id", name=op.f("pk_agreement_party")),
    )
    with op.batch_alter_table("agreement_party", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agreement_party_party_id"), ["party_id"], unique=False)

    op.create_table(
        "commitment",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=50), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "ceasefire",
                "withdrawal",
                "ddr",
                "confidence_building",
                "political",
                "humanitarian",
                name="commitmentcategory",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                "not_initiated",
                "minimal",
                "intermediate",
                "complete",
                name="implementationlevel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("level_changed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"], ["agreement.id"], name=op.f("fk_commitment_agreement_id_agreement")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitment")),
    )
    with op.batch_alter_table("commitment", schema=None) as batch_op:
        batch_op.create_index("ix_commitment_agreement_id", ["agreement_id"], unique=False)

    op.create_table(
        "ddr_milestone",
        sa.Column(
            "indicator",
            sa.Enum(
                "combatants_registered",
                "combatants_disarmed",
                "weapons_collected",
                "weapons_destroyed",
                "ammunition_collected",
                "combatants_demobilized",
                "reintegration_enrolled",
                "reintegration_completed",
                name="ddrindicator",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=True),
        sa.Column("achieved_on", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("women", sa.Integer(), nullable=True),
        sa.Column("men", sa.Integer(), nullable=True),
        sa.Column("boys", sa.Integer(), nullable=True),
        sa.Column("girls", sa.Integer(), nullable=True),
        sa.Column("notes", sa.String(length=2000), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "in_review",
                "closed",
                "rejected",
                "duplicate",
                name="workflowstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "finding",
            sa.Enum(
                "unverified",
                "verified",
                "disputed",
                "refuted",
                name="finding",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reported_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"], name=op.f("fk_ddr_milestone_party_id_party")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddr_milestone")),
    )
    with op.batch_alter_table("ddr_milestone", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ddr_milestone_party_indicator",
            ["party_id", "indicator", "achieved_on"],
            unique=False,
        )

    op.create_table(
        "ddr_target",
        sa.Column(
            "indicator",
            sa.Enum(
                "combatants_registered",
                "combatants_disarmed",
                "weapons_collected",
                "weapons_destroyed",
                "ammunition_collected",
                "combatants_demobilized",
                "reintegration_enrolled",
                "reintegration_completed",
                name="ddrindicator",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=True),
        sa.Column("period_start_on", sa.Date(), nullable=False),
        sa.Column("period_end_on", sa.Date(), nullable=False),
        sa.Column("target_quantity", sa.Integer(), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "period_end_on >= period_start_on", name=op.f("ck_ddr_target_period_order")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"], name=op.f("fk_ddr_target_party_id_party")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddr_target")),
    )
    with op.batch_alter_table("ddr_target", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ddr_target_party_indicator", ["party_id", "indicator"], unique=False
        )

    op.create_table(
        "incident",
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "date_precision",
            sa.Enum(
                "day",
                "week",
                "month",
                name="dateprecision",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "category",
            sa.Enum(
                "armed_clash",
                "shelling",
                "attack_on_civilians",
                "movement_of_forces",
                "weapons_in_restricted_zone",
                "denial_of_access",
                "blockage_of_aid",
                "child_recruitment",
                "sexual_violence",
                "abduction",
                "hostile_propaganda",
                "other",
                name="incidentcategory",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column(
            "geo_precision",
            sa.Enum(
                "exact",
                "near",
                "region",
                name="geoprecision",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("location_name", sa.String(length=200), nullable=True),
        sa.Column("admin1", sa.String(length=100), nullable=True),
        sa.Column("admin2", sa.String(length=100), nullable=True),
        sa.Column("alleged_party_id", sa.Uuid(), nullable=True),
        sa.Column("target_party_id", sa.Uuid(), nullable=True),
        sa.Column("fatalities", sa.Integer(), nullable=False),
        sa.Column("injuries", sa.Integer(), nullable=False),
        sa.Column(
            "source_type",
            sa.Enum(
                "patrol",
                "observer",
                "party_complaint",
                "civil_society",
                "media",
                "sensor",
                name="sourcetype",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "sensitivity",
            sa.Enum(
                "public",
                "restricted",
                "confidential",
                name="sensitivity",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "in_review",
                "closed",
                "rejected",
                "duplicate",
                name="workflowstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "finding",
            sa.Enum(
                "unverified",
                "verified",
                "disputed",
                "refuted",
                name="finding",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attributed_party_id", sa.Uuid(), nullable=True),
        sa.Column("reported_by", sa.String(length=100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alleged_party_id"], ["party.id"], name=op.f("fk_incident_alleged_party_id_party")
        ),
        sa.ForeignKeyConstraint(
            ["attributed_party_id"],
            ["party.id"],
            name=op.f("fk_incident_attributed_party_id_party"),
        ),
        sa.ForeignKeyConstraint(
            ["target_party_id"], ["party.id"], name=op.f("fk_incident_target_party_id_party")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index("ix_incident_admin1", ["admin1"], unique=False)
        batch_op.create_index("ix_incident_alleged_party_id", ["alleged_party_id"], unique=False)
        batch_op.create_index("ix_incident_occurred_at_id", ["occurred_at", "id"], unique=False)
        batch_op.create_index("ix_incident_reported_by", ["reported_by"], unique=False)
        batch_op.create_index("ix_incident_target_party_id", ["target_party_id"], unique=False)

    op.create_table(
        "track_activity_party",
        sa.Column("track_activity_id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"], name=op.f("fk_track_activity_party_party_id_party")
        ),
        sa.ForeignKeyConstraint(
            ["track_activity_id"],
            ["track_activity.id"],
            name=op.f("fk_track_activity_party_track_activity_id_track_activity"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "track_activity_id", "party_id", name=op.f("pk_track_activity_party")
        ),
    )
    with op.batch_alter_table("track_activity_party", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_track_activity_party_party_id"), ["party_id"], unique=False
        )

    op.create_table(
        "commitment_party",
        sa.Column("commitment_id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
            name=op.f("fk_commitment_party_commitment_id_commitment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"], name=op.f("fk_commitment_party_party_id_party")
        ),
        sa.PrimaryKeyConstraint("commitment_id", "party_id", name=op.f("pk_commitment_party")),
    )
    with op.batch_alter_table("commitment_party", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commitment_party_party_id"), ["party_id"], unique=False
        )

    op.create_table(
        "verification_event",
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "site_visit",
                "patrol",
                "interview",
                "imagery_review",
                "joint_mechanism_meeting",
                "document_review",
                "other",
                name="verificationmethod",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("team", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "in_review",
                "closed",
                "rejected",
                "duplicate",
                name="workflowstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "finding",
            sa.Enum(
                "unverified",
                "verified",
                "disputed",
                "refuted",
                name="finding",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attributed_party_id", sa.Uuid(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("ddr_milestone_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(incident_id IS NULL) <> (ddr_milestone_id IS NULL)",
            name=op.f("ck_verification_event_one_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["attributed_party_id"],
            ["party.id"],
            name=op.f("fk_verification_event_attributed_party_id_party"),
        ),
        sa.ForeignKeyConstraint(
            ["ddr_milestone_id"],
            ["ddr_milestone.id"],
            name=op.f("fk_verification_event_ddr_milestone_id_ddr_milestone"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_verification_event_incident_id_incident"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_event")),
    )
    with op.batch_alter_table("verification_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_verification_event_ddr_milestone_id",
            ["ddr_milestone_id", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_verification_event_incident_id", ["incident_id", "occurred_at"], unique=False
        )

    op.create_table(
        "commitment_progress",
        sa.Column(
            "level",
            sa.Enum(
                "not_initiated",
                "minimal",
                "intermediate",
                "complete",
                name="implementationlevel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.Column("verification_event_id", sa.Uuid(), nullable=True),
        sa.Column("ddr_milestone_id", sa.Uuid(), nullable=True),
        sa.Column("track_activity_id", sa.Uuid(), nullable=True),
        sa.Column("evidence_note", sa.String(length=5000), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("commitment_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
            name=op.f("fk_commitment_progress_commitment_id_commitment"),
        ),
        sa.ForeignKeyConstraint(
            ["ddr_milestone_id"],
            ["ddr_milestone.id"],
            name=op.f("fk_commitment_progress_ddr_milestone_id_ddr_milestone"),
        ),
        sa.ForeignKeyConstraint(
            ["track_activity_id"],
            ["track_activity.id"],
            name=op.f("fk_commitment_progress_track_activity_id_track_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["verification_event_id"],
            ["verification_event.id"],
            name=op.f("fk_commitment_progress_verification_event_id_verification_event"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitment_progress")),
    )
    with op.batch_alter_table("commitment_progress", schema=None) as batch_op:
        batch_op.create_index(
            "ix_commitment_progress_commitment", ["commitment_id", "changed_on"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("commitment_progress", schema=None) as batch_op:
        batch_op.drop_index("ix_commitment_progress_commitment")

    op.drop_table("commitment_progress")
    with op.batch_alter_table("verification_event", schema=None) as batch_op:
        batch_op.drop_index("ix_verification_event_incident_id")
        batch_op.drop_index("ix_verification_event_ddr_milestone_id")

    op.drop_table("verification_event")
    with op.batch_alter_table("commitment_party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitment_party_party_id"))

    op.drop_table("commitment_party")
    with op.batch_alter_table("track_activity_party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_track_activity_party_party_id"))

    op.drop_table("track_activity_party")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_target_party_id")
        batch_op.drop_index("ix_incident_reported_by")
        batch_op.drop_index("ix_incident_occurred_at_id")
        batch_op.drop_index("ix_incident_alleged_party_id")
        batch_op.drop_index("ix_incident_admin1")

    op.drop_table("incident")
    with op.batch_alter_table("ddr_target", schema=None) as batch_op:
        batch_op.drop_index("ix_ddr_target_party_indicator")

    op.drop_table("ddr_target")
    with op.batch_alter_table("ddr_milestone", schema=None) as batch_op:
        batch_op.drop_index("ix_ddr_milestone_party_indicator")

    op.drop_table("ddr_milestone")
    with op.batch_alter_table("commitment", schema=None) as batch_op:
        batch_op.drop_index("ix_commitment_agreement_id")

    op.drop_table("commitment")
    with op.batch_alter_table("agreement_party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_party_party_id"))

    op.drop_table("agreement_party")
    with op.batch_alter_table("track_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_track_activity_occurred_on_id")

    op.drop_table("track_activity")
    op.drop_table("party")
    op.drop_table("api_token")
    op.drop_table("agreement")
