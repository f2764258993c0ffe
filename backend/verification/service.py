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
from backend.errors import Conflict, InvalidInput, NotFound
from backend.incidents.service import get_incident
from backend.parties.service import require_parties
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
    if data.id is not None and session.get(VerificationEvent, data.id) is not None:
        raise Conflict(f"a verification event with id {data.id} exists already", field="id")


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


def _new_event(
    data: VerificationCreate, principal: Principal, **subject: uuid.UUID
) -> VerificationEvent:
    values = data.model_dump()
    if values["id"] is None:
        values.pop("id")
    return VerificationEvent(**values, **subject, recorded_by=principal.name)


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
    event = _new_event(data, principal, incident_id=incident.id)
    session.add(event)
    session.flush()
    latest = _latest(session, VerificationEvent.incident_id == incident.id)
    assert latest is not None
    incident.status, incident.finding = latest.status, latest.finding
    incident.attributed_party_id = latest.attributed_party_id
    incident.updated_at = utcnow()
    session.add(incident)
    session.flush()
    return event


def add_milestone_verification(
    *,
    session: Session,
    principal: Principal,
    settings: Settings,
    milestone_id: uuid.UUID,
    data: VerificationCreate,
) -> VerificationEvent:
    milestone = session.get(DdrMilestone, milestone_id)
    if milestone is None:
        raise NotFound(f"no DDR milestone with id {milestone_id}")
    if data.attributed_party_id is not None:
        raise InvalidInput(
            "a DDR milestone is not attributed to a party", field="attributed_party_id"
        )
    _check(data, session=session, settings=settings, subject_at=None)
    event = _new_event(data, principal, ddr_milestone_id=milestone.id)
    session.add(event)
    session.flush()
    latest = _latest(session, VerificationEvent.ddr_milestone_id == milestone.id)
    assert latest is not None
    milestone.status, milestone.finding = latest.status, latest.finding
    milestone.updated_at = utcnow()
    session.add(milestone)
    session.flush()
    return event


def list_incident_verifications(
    *, session: Session, principal: Principal, incident_id: uuid.UUID
) -> list[VerificationEvent]:
    incident = get_incident(session=session, principal=principal, incident_id=incident_id)
    return _history(session, VerificationEvent.incident_id == incident.id)


def list_milestone_verifications(
    *, session: Session, milestone_id: uuid.UUID
) -> list[VerificationEvent]:
    if session.get(DdrMilestone, milestone_id) is None:
        raise NotFound(f"no DDR milestone with id {milestone_id}")
    return _history(session, VerificationEvent.ddr_milestone_id == milestone_id)


def _history(session: Session, *where: Any) -> list[VerificationEvent]:
    stmt = (
        select(VerificationEvent)
        .where(*where)
        .order_by(col(VerificationEvent.occurred_at), col(VerificationEvent.created_at))
    )
    return list(session.exec(stmt).all())
