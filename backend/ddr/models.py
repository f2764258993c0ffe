"""DDR targets and milestones, after the UN's Integrated DDR Standards (IDDRS)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from pydantic import computed_field, model_validator
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, enum_type, utcnow
from backend.schemas import FieldValueError, InputModel, Text
from backend.vocab import INDICATOR_PHASE, DdrIndicator, DdrPhase, Finding, WorkflowStatus

# Indicators that count people, and so are disaggregated by sex and age.
PEOPLE_INDICATORS = frozenset(
    {
        DdrIndicator.combatants_registered,
        DdrIndicator.combatants_disarmed,
        DdrIndicator.combatants_demobilized,
        DdrIndicator.reintegration_enrolled,
        DdrIndicator.reintegration_completed,
    }
)


class DdrTargetBase(SQLModel):
    indicator: DdrIndicator = Field(sa_type=enum_type(DdrIndicator))
    party_id: uuid.UUID = Field(foreign_key="party.id")
    site: str | None = Field(default=None, max_length=200, description="Cantonment or DDR site")
    period_start_on: date
    period_end_on: date
    target_quantity: int = Field(gt=0, le=100_000_000)
    notes: str = Field(default="", max_length=2_000)


class DdrTarget(DdrTargetBase, table=True):
    __tablename__ = "ddr_target"
    __table_args__ = (
        sa.CheckConstraint("period_end_on >= period_start_on", name="period_order"),
        sa.Index("ix_ddr_target_party_indicator", "party_id", "indicator"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def _check_period(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        raise FieldValueError(
            "period_end_on must not be before period_start_on", field="period_end_on"
        )


class DdrTargetCreate(DdrTargetBase, InputModel):
    site: Text | None = Field(default=None, max_length=200)
    notes: Text = Field(default="", max_length=2_000)

    @model_validator(mode="after")
    def _period(self) -> DdrTargetCreate:
        _check_period(self.period_start_on, self.period_end_on)
        return self


class DdrTargetUpdate(InputModel):
    site: Text | None = Field(default=None, max_length=200)
    period_start_on: date | None = None
    period_end_on: date | None = None
    target_quantity: int | None = Field(default=None, gt=0, le=100_000_000)
    notes: Text | None = Field(default=None, max_length=2_000)


class DdrTargetPublic(DdrTargetBase):
    id: uuid.UUID
    created_by: str
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def phase(self) -> DdrPhase:
        return INDICATOR_PHASE[self.indicator]


class DdrMilestoneBase(SQLModel):
    indicator: DdrIndicator = Field(sa_type=enum_type(DdrIndicator))
    party_id: uuid.UUID = Field(foreign_key="party.id")
    site: str | None = Field(default=None, max_length=200)
    achieved_on: date
    quantity: int = Field(ge=0, le=100_000_000, description="Rounds for ammunition_collected")
    women: int | None = Field(default=None, ge=0)
    men: int | None = Field(default=None, ge=0)
    boys: int | None = Field(default=None, ge=0)
    girls: int | None = Field(default=None, ge=0)
    notes: str = Field(default="", max_length=2_000)


class DdrMilestone(DdrMilestoneBase, table=True):
    __tablename__ = "ddr_milestone"
    __table_args__ = (
        sa.Index("ix_ddr_milestone_party_indicator", "party_id", "indicator", "achieved_on"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    status: WorkflowStatus = Field(
        default=WorkflowStatus.received, sa_type=enum_type(WorkflowStatus)
    )
    finding: Finding = Field(default=Finding.unverified, sa_type=enum_type(Finding))
    reported_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def check_disaggregation(
    indicator: DdrIndicator, quantity: int, parts: dict[str, int | None]
) -> None:
    """IDDRS asks people counts by sex and age; given, they must add up to the quantity."""
    given = {k: v for k, v in parts.items() if v is not None}
    if not given:
        return
    first = next(iter(given))
    if indicator not in PEOPLE_INDICATORS:
        raise FieldValueError(
            f"{indicator.value} counts no people, so it takes no sex and age breakdown",
            field=first,
        )
    if len(given) == len(parts) and sum(given.values()) != quantity:
        raise FieldValueError(
            f"women + men + boys + girls = {sum(given.values())}, but quantity is {quantity}",
            field="quantity",
        )
    if sum(given.values()) > quantity:
        raise FieldValueError(
            f"the sex and age breakdown exceeds quantity {quantity}", field="quantity"
        )


class DdrMilestoneCreate(DdrMilestoneBase, InputModel):
    id: uuid.UUID | None = Field(default=None, description="Set on the device to make retries safe")
    site: Text | None = Field(default=None, max_length=200)
    notes: Text = Field(default="", max_length=2_000)

    @model_validator(mode="after")
    def _breakdown(self) -> DdrMilestoneCreate:
        check_disaggregation(
            self.indicator,
            self.quantity,
            {"women": self.women, "men": self.men, "boys": self.boys, "girls": self.girls},
        )
        return self


class DdrMilestoneUpdate(InputModel):
    site: Text | None = Field(default=None, max_length=200)
    achieved_on: date | None = None
    quantity: int | None = Field(default=None, ge=0, le=100_000_000)
    women: int | None = Field(default=None, ge=0)
    men: int | None = Field(default=None, ge=0)
    boys: int | None = Field(default=None, ge=0)
    girls: int | None = Field(default=None, ge=0)
    notes: Text | None = Field(default=None, max_length=2_000)


class DdrMilestonePublic(DdrMilestoneBase):
    id: uuid.UUID
    status: WorkflowStatus
    finding: Finding
    reported_by: str
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def phase(self) -> DdrPhase:
        return INDICATOR_PHASE[self.indicator]
