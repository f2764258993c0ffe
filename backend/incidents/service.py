"""Incidents: the rules for reporting, reading and correcting them."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.auth.service import Principal
from backend.config import Settings
from backend.db import utcnow
from backend.errors import NotFound
from backend.incidents.filters import IncidentFilters
from backend.incidents.models import Incident, IncidentUpdate
from backend.pagination import keyset_page, parse_datetime
from backend.parties.service import require_parties
from backend.records import changes_of, save_changes
from backend.validation import check_past_time
from backend.vocab import WorkflowStatus

_PARTY_FIELDS = ("alleged_party_id", "target_party_id")
_NOT_NULL = (
    "occurred_at",
    "date_precision",
    "category",
    "latitude",
    "longitude",
    "geo_precision",
    "fatalities",
    "injuries",
    "source_type",
    "description",
    "sensitivity",
)


def visible_to(principal: Principal) -> sa.ColumnElement[bool]:
    """The one rule of who reads which incident: your own, and what your role may read."""
    if principal.sees_everything:
        return sa.true()
    return sa.or_(
        col(Incident.reported_by) == principal.name,
        col(Incident.sensitivity).in_(principal.readable_sensitivities),
    )


def check_times(values: dict[str, Any], settings: Settings) -> None:
    now = utcnow()
    for field in ("occurred_at", "reported_at"):
        check_past_time(values.get(field), field=field, now=now, skew_s=settings.clock_skew_seconds)


def get_incident(*, session: Session, principal: Principal, incident_id: uuid.UUID) -> Incident:
    incident = session.exec(
        select(Incident).where(Incident.id == incident_id, visible_to(principal))
    ).first()
    if incident is None:
        # Not visible and not there look the same, so ids of restricted reports do not leak.
        raise NotFound(f"no incident with id {incident_id}")
    return incident


def list_incidents(
    *, session: Session, principal: Principal, filters: IncidentFilters, limit: int
) -> dict[str, Any]:
    stmt = select(Incident).where(visible_to(principal), *filters.where())
    return keyset_page(
        session,
        stmt,
        keys=[col(Incident.occurred_at), col(Incident.id)],
        parsers=[parse_datetime, uuid.UUID],
        cursor=filters.cursor,
        limit=limit,
        key_of=lambda i: (i.occurred_at, i.id),
    )


def update_incident(
    *,
    session: Session,
    principal: Principal,
    settings: Settings,
    incident_id: uuid.UUID,
    data: IncidentUpdate,
) -> Incident:
    incident = get_incident(session=session, principal=principal, incident_id=incident_id)
    principal.require_edit(
        owner=incident.reported_by,
        locked=incident.status is not WorkflowStatus.received,
        what="incident report",
    )
    changes = changes_of(data, _NOT_NULL)
    check_times(changes, settings)
    require_parties(session, {f: changes[f] for f in _PARTY_FIELDS if f in changes})
    save_changes(session, incident, changes)
    return incident
