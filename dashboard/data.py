"""Reads the dashboard needs beyond the measures: lookups, map points, the live feed.

Every incident read goes through `visible_to`, the one rule of who reads which incident, so a
viewer never gets a `confidential` record here either.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.auth.service import Principal
from backend.db import utcnow
from backend.incidents.models import Incident
from backend.incidents.service import get_incident, visible_to
from backend.notices.summary import FIELDS as SUMMARY_FIELDS
from backend.notices.summary import incident_summary
from backend.parties.models import Party
from backend.verification.models import VerificationEvent
from backend.verification.service import list_incident_verifications
from backend.vocab import WorkflowStatus
from dashboard.filters import ViewFilters

MAP_POINTS_MAX = 5_000
FEED_SIZE = 12


@dataclass(frozen=True)
class PartyLabel:
    id: uuid.UUID
    code: str
    name: str


def parties(session: Session) -> list[PartyLabel]:
    rows = session.exec(select(Party.id, Party.code, Party.name).order_by(col(Party.code)))
    return [PartyLabel(*row) for row in rows]


def regions(session: Session, principal: Principal) -> list[str]:
    """The regions of the incidents this reader may see, in order. Read as a walk along the
    index on `admin1`, one step per region (the next region after the last one found), since a
    DISTINCT reads the whole index: a quarter of a second at 1M incidents, on every visit."""
    admin1 = col(Incident.admin1)

    def after(previous: sa.ColumnElement | None) -> sa.ScalarSelect:
        where = [
            visible_to(principal),
            admin1.is_not(None) if previous is None else admin1 > previous,
        ]
        return sa.select(sa.func.min(admin1)).where(*where).scalar_subquery()

    walk = sa.select(after(None).label("region")).cte("regions", recursive=True)
    walk = walk.union_all(sa.select(after(walk.c.region)).where(walk.c.region.is_not(None)))
    stmt = sa.select(walk.c.region).where(walk.c.region.is_not(None))
    return [r for r in session.exec(stmt).scalars() if r]


def _where(principal: Principal, filters: ViewFilters, today: date) -> list[sa.ColumnElement]:
    date_from, date_to = filters.window(today)
    start = datetime.combine(date_from, datetime.min.time()).replace(tzinfo=utcnow().tzinfo)
    end = datetime.combine(date_to, datetime.max.time()).replace(tzinfo=utcnow().tzinfo)
    where = [visible_to(principal), col(Incident.occurred_at).between(start, end)]
    if filters.region:
        where.append(col(Incident.admin1) == filters.region)
    if filters.party_id:
        where.append(
            sa.or_(
                col(Incident.alleged_party_id) == filters.party_id,
                col(Incident.target_party_id) == filters.party_id,
            )
        )
    return where


def incident_points(
    session: Session, principal: Principal, filters: ViewFilters, today: date
) -> list[dict]:
    """The incidents of the window (newest first, at most MAP_POINTS_MAX), as plain rows."""
    where = _where(principal, filters, today)
    if category := filters.extra.get("category"):
        where.append(col(Incident.category) == category)
    if finding := filters.extra.get("finding"):
        where.append(col(Incident.finding) == finding)
    stmt = (
        select(Incident)
        .where(*where)
        .order_by(col(Incident.occurred_at).desc())
        .limit(MAP_POINTS_MAX)
    )
    return [_row(i) for i in session.exec(stmt)]


def _row(i: Incident) -> dict:
    return {
        "id": str(i.id),
        "occurred_at": i.occurred_at.isoformat(),
        "received_at": i.received_at.isoformat(),
        "category": i.category.value,
        "finding": i.finding.value,
        "status": i.status.value,
        "latitude": i.latitude,
        "longitude": i.longitude,
        "location_name": i.location_name or "",
        "admin1": i.admin1 or "",
        "fatalities": i.fatalities,
        "injuries": i.injuries,
        "alleged_party_id": str(i.alleged_party_id) if i.alleged_party_id else None,
        "target_party_id": str(i.target_party_id) if i.target_party_id else None,
        "sensitivity": i.sensitivity.value,
        "description": i.description,
    }


def latest_incidents(
    session: Session, principal: Principal, filters: ViewFilters, limit: int = FEED_SIZE
) -> list[dict]:
    """The most recently received incidents this reader may see (the live feed), as the
    summaries their notices carry (backend/notices/summary.py), so the page merges both alike.
    The page applies `feed_view(filters)` to the notices as this query does to the rows."""
    where = [visible_to(principal)]
    if filters.region:
        where.append(col(Incident.admin1) == filters.region)
    if filters.party_id:
        where.append(
            sa.or_(
                col(Incident.alleged_party_id) == filters.party_id,
                col(Incident.target_party_id) == filters.party_id,
            )
        )
    stmt = (
        select(Incident)
        .where(*where)
        # ix_incident_received_at_id, walked backwards: the rows are read, not sorted
        .order_by(col(Incident.received_at).desc(), col(Incident.id).desc())
        .limit(limit)
    )
    return [_summary(i) for i in session.exec(stmt)]


def _summary(incident: Incident) -> dict:
    summary = incident_summary({name: getattr(incident, name) for name in SUMMARY_FIELDS})
    assert summary is not None  # every field was given
    return summary


def feed_view(filters: ViewFilters) -> dict[str, str | None]:
    """The filters `latest_incidents` applies, for the page to apply to the stream's notices
    alike (assets/live.js): a region (`admin1`), and a party (alleged or targeted)."""
    return {
        "region": filters.region or None,
        "party_id": str(filters.party_id) if filters.party_id else None,
    }


def count_between(
    session: Session, principal: Principal, filters: ViewFilters, start: datetime, end: datetime
) -> int:
    where = [visible_to(principal), col(Incident.occurred_at) >= start]
    where.append(col(Incident.occurred_at) < end)
    if filters.region:
        where.append(col(Incident.admin1) == filters.region)
    if filters.party_id:
        where.append(
            sa.or_(
                col(Incident.alleged_party_id) == filters.party_id,
                col(Incident.target_party_id) == filters.party_id,
            )
        )
    return session.exec(select(sa.func.count()).select_from(Incident).where(*where)).one()


def queue_ages_days(
    session: Session, principal: Principal, filters: ViewFilters, today: date
) -> list[float]:
    """Days since receipt of every incident of the window still waiting for a finding."""
    waiting = (WorkflowStatus.received, WorkflowStatus.in_review)
    stmt = select(Incident.received_at).where(
        *_where(principal, filters, today), col(Incident.status).in_(waiting)
    )
    now = utcnow()
    return [(now - received).total_seconds() / 86400 for received in session.exec(stmt)]


def incident_detail(
    session: Session, principal: Principal, incident_id: uuid.UUID
) -> tuple[dict, list[VerificationEvent]]:
    """One incident and its verification history; NotFound if the reader may not see it."""
    incident = get_incident(session=session, principal=principal, incident_id=incident_id)
    history = list_incident_verifications(
        session=session, principal=principal, incident_id=incident_id
    )
    return _row(incident), history
