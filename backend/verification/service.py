"""Verification events, and the one rule that derives a record's status and finding from them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from backend.auth.service import Principal
from backend.config import Settings
from backend.db import utcnow
from backend.ddr.models import DdrMilestone
from backend.ddr.service import get_milestone
from backend.errors import InvalidInput
from backend.incidents.models import Incident
from backend.incidents.service import get_incident
from backend.validation import check_past_time
from backend.verification.models import VerificationCreate, VerificationEvent
from backend.vocab import Finding

_ATTRIBUTABLE = (Finding.verified, Finding.disputed)


def check_step(
    data: VerificationCreate,
    *,
    settings: Settings,
    subject_at: datetime | None,
    attributable: bool,
) -> None:
    """The rules of one verification step that need no lookup (the subject's time is given)."""
    check_past_time(
        data.occurred_at, field="occurred_at", now=utcnow(), skew_s=settings.clock_skew_seconds
    )
    if subject_at is not None and data.occurred_at < subject_at:
        raise InvalidInput(
            "occurred_at is before the incident itself occurred", field="occurred_at"
        )
    if data.attributed_party_id is None:
        return
    if not attributable:
        raise InvalidInput(
            "a DDR milestone is not attributed to a party", field="attributed_party_id"
        )
    if data.finding not in _ATTRIBUTABLE:
        raise InvalidInput(
            "attributed_party_id needs a finding of 'verified' or 'disputed'",
            field="attributed_party_id",
        )


def derive_state(session: Session, subjects: list[Incident] | list[DdrMilestone]) -> None:
    """Each subject's status, finding (and an incident's attribution, and the step's time, method
    and team) from its latest step."""
    if not subjects:
        return
    link = (
        VerificationEvent.incident_id
        if isinstance(subjects[0], Incident)
        else VerificationEvent.ddr_milestone_id
    )
    stmt = (
        select(VerificationEvent)
        .where(col(link).in_([s.id for s in subjects]))
        .order_by(
            col(link),
            col(VerificationEvent.occurred_at).desc(),
            col(VerificationEvent.created_at).desc(),
        )
    )
    latest: dict[uuid.UUID, VerificationEvent] = {}
    for event in session.exec(stmt):
        latest.setdefault(getattr(event, link.key), event)
    now = utcnow()
    for subject in subjects:
        step = latest[subject.id]
        subject.status, subject.finding = step.status, step.finding
        if isinstance(subject, Incident):
            subject.attributed_party_id = step.attributed_party_id
            subject.verified_at = step.occurred_at
            subject.verification_method = step.method
            subject.verification_team = step.team
        subject.updated_at = now
        session.add(subject)
    session.flush()


def list_incident_verifications(
    *, session: Session, principal: Principal, incident_id: uuid.UUID
) -> list[VerificationEvent]:
    incident = get_incident(session=session, principal=principal, incident_id=incident_id)
    return _history(session, VerificationEvent.incident_id == incident.id)


def list_milestone_verifications(
    *, session: Session, milestone_id: uuid.UUID
) -> list[VerificationEvent]:
    milestone = get_milestone(session=session, milestone_id=milestone_id)
    return _history(session, VerificationEvent.ddr_milestone_id == milestone.id)


def _history(session: Session, *where: Any) -> list[VerificationEvent]:
    stmt = (
        select(VerificationEvent)
        .where(*where)
        .order_by(col(VerificationEvent.occurred_at), col(VerificationEvent.created_at))
    )
    return list(session.exec(stmt).all())
