"""DDR targets and milestones: the rules for planning, reporting and correcting them."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from backend.auth.service import Principal
from backend.db import utcnow
from backend.ddr.models import (
    DdrMilestone,
    DdrMilestoneUpdate,
    DdrTarget,
    DdrTargetCreate,
    DdrTargetUpdate,
    check_disaggregation,
)
from backend.errors import InvalidInput
from backend.pagination import keyset_page, parse_date, parse_datetime
from backend.parties.service import require_parties
from backend.records import changes_of, get_or_404, save_changes
from backend.schemas import IsoDate
from backend.validation import check_past_date
from backend.vocab import INDICATOR_PHASE, DdrIndicator, DdrPhase, Finding, WorkflowStatus

_TARGET_NOT_NULL = ("period_start_on", "period_end_on", "target_quantity", "notes")
_MILESTONE_NOT_NULL = ("achieved_on", "quantity", "notes")
_BREAKDOWN = ("women", "men", "boys", "girls")


class DdrTargetFilters(BaseModel):
    """Query parameters of `GET /ddr/targets` (unknown parameters are refused)."""

    model_config = ConfigDict(extra="forbid")
    _model: ClassVar[type[DdrTarget] | type[DdrMilestone]] = DdrTarget

    party_id: uuid.UUID | None = None
    indicator: list[DdrIndicator] = Field(default_factory=list)
    phase: list[DdrPhase] = Field(default_factory=list, description="IDDRS phase of the indicator")
    site: str | None = Field(default=None, max_length=200, description="Exact site name")
    cursor: str | None = Field(default=None, max_length=500)
    limit: int | None = Field(default=None, ge=1)

    def where(self) -> list[sa.ColumnElement[bool]]:
        model = self._model
        clauses: list[sa.ColumnElement[bool]] = []
        if self.party_id is not None:
            clauses.append(col(model.party_id) == self.party_id)
        if self.indicator:
            clauses.append(col(model.indicator).in_(self.indicator))
        if self.phase:
            in_phase = [i for i, p in INDICATOR_PHASE.items() if p in self.phase]
            clauses.append(col(model.indicator).in_(in_phase))
        if self.site is not None:
            clauses.append(col(model.site) == self.site)
        return clauses


class DdrMilestoneFilters(DdrTargetFilters):
    """Query parameters of `GET /ddr/milestones`: the target filters, and these."""

    _model: ClassVar[type[DdrTarget] | type[DdrMilestone]] = DdrMilestone

    achieved_from: IsoDate | None = Field(default=None, description="Inclusive")
    achieved_to: IsoDate | None = Field(default=None, description="Inclusive")
    status: list[WorkflowStatus] = Field(default_factory=list)
    finding: list[Finding] = Field(default_factory=list)

    def where(self) -> list[sa.ColumnElement[bool]]:
        clauses = super().where()
        if self.achieved_from is not None:
            clauses.append(col(DdrMilestone.achieved_on) >= self.achieved_from)
        if self.achieved_to is not None:
            clauses.append(col(DdrMilestone.achieved_on) <= self.achieved_to)
        if self.status:
            clauses.append(col(DdrMilestone.status).in_(self.status))
        if self.finding:
            clauses.append(col(DdrMilestone.finding).in_(self.finding))
        return clauses


# Targets


def create_target(*, session: Session, principal: Principal, data: DdrTargetCreate) -> DdrTarget:
    require_parties(session, {"party_id": data.party_id})
    target = DdrTarget.model_validate(data, update={"created_by": principal.name})
    session.add(target)
    session.flush()
    return target


def get_target(*, session: Session, target_id: uuid.UUID) -> DdrTarget:
    return get_or_404(session, DdrTarget, target_id, "DDR target")


def list_targets(*, session: Session, filters: DdrTargetFilters, limit: int) -> dict[str, Any]:
    return keyset_page(
        session,
        select(DdrTarget).where(*filters.where()),
        keys=[col(DdrTarget.created_at), col(DdrTarget.id)],
        parsers=[parse_datetime, uuid.UUID],
        cursor=filters.cursor,
        limit=limit,
        key_of=lambda t: (t.created_at, t.id),
    )


def update_target(*, session: Session, target_id: uuid.UUID, data: DdrTargetUpdate) -> DdrTarget:
    target = get_target(session=session, target_id=target_id)
    changes = changes_of(data, _TARGET_NOT_NULL)
    start = changes.get("period_start_on", target.period_start_on)
    end = changes.get("period_end_on", target.period_end_on)
    if end < start:
        field = "period_end_on" if "period_end_on" in changes else "period_start_on"
        raise InvalidInput(
            f"period_end_on ({end.isoformat()}) is before period_start_on ({start.isoformat()})",
            field=field,
        )
    save_changes(session, target, changes)
    return target


# Milestones


def get_milestone(*, session: Session, milestone_id: uuid.UUID) -> DdrMilestone:
    return get_or_404(session, DdrMilestone, milestone_id, "DDR milestone")


def list_milestones(
    *, session: Session, filters: DdrMilestoneFilters, limit: int
) -> dict[str, Any]:
    return keyset_page(
        session,
        select(DdrMilestone).where(*filters.where()),
        keys=[col(DdrMilestone.achieved_on), col(DdrMilestone.id)],
        parsers=[parse_date, uuid.UUID],
        cursor=filters.cursor,
        limit=limit,
        key_of=lambda m: (m.achieved_on, m.id),
    )


def _check_breakdown(milestone: DdrMilestone, changes: dict[str, Any]) -> None:
    """The sex and age breakdown still fits the quantity once the changes are merged in."""
    merged = {**milestone.model_dump(), **changes}
    try:
        check_disaggregation(
            merged["indicator"], merged["quantity"], {k: merged[k] for k in _BREAKDOWN}
        )
    except ValueError as exc:
        field = next((f for f in (*_BREAKDOWN, "quantity") if f in changes), "quantity")
        raise InvalidInput(str(exc), field=field) from None


def update_milestone(
    *, session: Session, principal: Principal, milestone_id: uuid.UUID, data: DdrMilestoneUpdate
) -> DdrMilestone:
    milestone = get_milestone(session=session, milestone_id=milestone_id)
    principal.require_edit(
        owner=milestone.reported_by,
        locked=milestone.status is not WorkflowStatus.received,
        what="DDR milestone",
    )
    changes = changes_of(data, _MILESTONE_NOT_NULL)
    check_past_date(changes.get("achieved_on"), field="achieved_on", today=utcnow().date())
    _check_breakdown(milestone, changes)
    save_changes(session, milestone, changes)
    return milestone
