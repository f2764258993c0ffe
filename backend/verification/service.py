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
from backend.parties.service import require_parties
from backend.records import claim_id
from backend.validation import check_past_time
from backend.verification.models import VerificationCreate, VerificationEvent
from backend.vocab import Finding

_ATTRIBUTABLE = (Finding.verified, Finding.disputed)


def _check(
    data: VerificationCreate, *, session: Session, settings: Settings, subject_at: datetime | None
) -> None:
    check_past_time(
        data.occurred_at, field="occurred_at", now=utcnow(), skew_s=settings.clock_skew_seconds
    )
    if subject_at is not None and data.occurred_at < subject_at:
        raise InvalidInput(
            "occurred_at is before the incident itself occurred", field="occurred_at"
        )
    if data.attributed_party_id is not None and data.finding not in _ATTRIBUTABLE:
        raise InvalidInput(
            "attributed_party_id needs a finding of 'verified' or 'disputed'",
            field="attributed_party_id",
        )
    require_parties(session, {"attributed_party_id": data.attributed_party_id})


def _latest(session: Session, *where: Any) -> VerificationEvent | None:
    stmt = (
        select(VerificationEvent)
        .where(*where)
        .order_by(
            col(VerificationEvent.occurred_at).desc(), col(VerificationEvent.created_at).desc()
        )
        .limit(1)
    )
    return session.exec(stmt).first()


def _record(
    session: Session,
    data: VerificationCreate,
    principal: Principal,
    subject: Incident | DdrMilestone,
) -> VerificationEvent:
    """Store the step, then re-derive the subject's state from its latest step."""
    values = data.model_dump()
    claim_id(session, VerificationEvent, values, "a verification event")
    link = (
        VerificationEvent.incident_id
        if isinstance(subject, Incident)
        else VerificationEvent.ddr_milestone_id
    )
    event = VerificationEvent(**values, **{link.key: subject.id}, recorded_by=principal.name)
    session.add(event)
    session.flush()
    latest = _latest(session, link == subject.id)
    assert latest is not None  # the step just stored, at least
    subject.status, subject.finding = latest.status, latest.finding
    if isinstance(subject, Incident):
        subject.attributed_party_id = latest.attributed_party_id
    subject.updated_at = utcnow()
    session.add(subject)
    session.flush()
    return event


def add_incident_verification(
    *,
    session: Session,
    principal: Principal,
    settings: Settings,
    incident_id: uuid.UUID,
    data: VerificationCreate,
) -> VerificationEvent:
    incident = get_incident(session=session, principal=principal, incident_id=incident_id)
    _check(data, session=session, settings=settings, subject_at=incident.occurred_at)
    return _record(session, data, principal, incident)


def add_milestone_verification(
    *,
    session: Session,
    principal: Principal,
    settings: Settings,
    milestone_id: uuid.UUID,
    data: VerificationCreate,
) -> VerificationEvent:
    milestone = get_milestone(session=session, milestone_id=milestone_id)
    if data.attributed_party_id is not None:
        raise InvalidInput(
            "a DDR milestone is not attributed to a party", field="attributed_party_id"
        )
    _check(data, session=session, settings=settings, subject_at=None)
    return _record(session, data, principal, milestone)


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
