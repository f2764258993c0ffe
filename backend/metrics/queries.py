"""The SQL behind the measures: aggregated in the database, returned as plain rows.

Incidents are counted by GROUP BY (day, party, category...) so the database, not Python, reads the
raw rows. Every incident query applies `visible_to`: a measure never counts an incident the caller
may not read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.agreements.models import Agreement, Commitment, CommitmentParty, CommitmentProgress
from backend.auth.service import Principal
from backend.ddr.models import DdrMilestone, DdrTarget
from backend.diplomacy.models import TrackActivity, TrackActivityParty
from backend.incidents.models import Incident
from backend.incidents.service import visible_to
from backend.metrics.flows import DdrAchieved, DdrGoal, TrackAgg
from backend.metrics.pam import CommitmentRow, ProgressRow
from backend.metrics.schemas import PartyRef
from backend.metrics.scores import Engagement, ViolationAgg
from backend.metrics.sql import capped, seconds_between, utc_day
from backend.metrics.window import Window
from backend.parties.models import Party
from backend.verification.models import VerificationEvent
from backend.vocab import Finding, TrackOutcome, WorkflowStatus

INCIDENT = Incident.__table__.c  # type: ignore[attr-defined]


def _day(text: str) -> date:
    return date.fromisoformat(text)


def incident_where(
    principal: Principal,
    start_at: datetime,
    end_at: datetime,
    *,
    region: str | None = None,
    party_id: uuid.UUID | None = None,
) -> list[sa.ColumnElement[bool]]:
    clauses = [
        visible_to(principal),
        INCIDENT.occurred_at >= start_at,
        INCIDENT.occurred_at < end_at,
    ]
    if region is not None:
        clauses.append(INCIDENT.admin1 == region)
    if party_id is not None:
        clauses.append(
            sa.or_(
                INCIDENT.alleged_party_id == party_id,
                INCIDENT.target_party_id == party_id,
                INCIDENT.attributed_party_id == party_id,
            )
        )
    return clauses


def window_where(principal: Principal, window: Window) -> list[sa.ColumnElement[bool]]:
    return incident_where(
        principal,
        window.start_at,
        window.end_at,
        region=window.region,
        party_id=window.party_id,
    )


# Parties


def parties(session: Session, ids: Sequence[uuid.UUID] | None = None) -> list[PartyRef]:
    stmt = sa.select(col(Party.id), col(Party.code), col(Party.name)).order_by(col(Party.code))
    if ids is not None:
        stmt = stmt.where(col(Party.id).in_(list(ids)))
    return [PartyRef(id=i, code=c, name=n) for i, c, n in session.execute(stmt)]


def signatories(session: Session) -> list[PartyRef]:
    stmt = (
        sa.select(col(Party.id), col(Party.code), col(Party.name))
        .where(col(Party.signatory).is_(True))
        .order_by(col(Party.code))
    )
    return [PartyRef(id=i, code=c, name=n) for i, c, n in session.execute(stmt)]


# Agreements and commitments


def agreements(session: Session, agreement_id: uuid.UUID | None) -> list[tuple[uuid.UUID, str]]:
    stmt = sa.select(col(Agreement.id), col(Agreement.name)).order_by(
        col(Agreement.signed_on), col(Agreement.name)
    )
    if agreement_id is not None:
        stmt = stmt.where(col(Agreement.id) == agreement_id)
    return [(i, n) for i, n in session.execute(stmt)]


def commitments(
    session: Session, agreement_id: uuid.UUID | None = None
) -> tuple[list[CommitmentRow], list[ProgressRow]]:
    """Every commitment (of one agreement, if given) with its parties, and their progress rows."""
    stmt = sa.select(
        col(Commitment.id),
        col(Commitment.agreement_id),
        col(Commitment.category),
        col(Commitment.due_on),
        col(Commitment.title),
        col(Commitment.reference),
    ).order_by(col(Commitment.created_at), col(Commitment.id))
    links = sa.select(col(CommitmentParty.commitment_id), col(CommitmentParty.party_id))
    progress = sa.select(
        col(CommitmentProgress.commitment_id),
        col(CommitmentProgress.level),
        col(CommitmentProgress.changed_on),
        col(CommitmentProgress.created_at),
    )
    if agreement_id is not None:
        ids = sa.select(col(Commitment.id)).where(col(Commitment.agreement_id) == agreement_id)
        stmt = stmt.where(col(Commitment.agreement_id) == agreement_id)
        links = links.where(col(CommitmentParty.commitment_id).in_(ids))
        progress = progress.where(col(CommitmentProgress.commitment_id).in_(ids))
    party_ids: dict[uuid.UUID, list[uuid.UUID]] = {}
    for c_id, p_id in session.execute(links.order_by(col(CommitmentParty.party_id))):
        party_ids.setdefault(c_id, []).append(p_id)
    rows = [
        CommitmentRow(
            id=i,
            agreement_id=a,
            category=cat,
            due_on=due,
            party_ids=tuple(party_ids.get(i, ())),
            title=title,
            reference=ref,
        )
        for i, a, cat, due, title, ref in session.execute(stmt)
    ]
    history = [
        ProgressRow(commitment_id=c, level=lv, changed_on=on, created_at=at)
        for c, lv, on, at in session.execute(progress)
    ]
    return rows, history


# Incidents


def violations(
    session: Session,
    principal: Principal,
    start_at: datetime,
    end_at: datetime,
    *,
    region: str | None,
    fatality_cap: int,
) -> list[ViolationAgg]:
    """Verified incidents attributed to a party, per party, target, day and category."""
    day = utc_day(INCIDENT.occurred_at)
    stmt = (
        sa.select(
            INCIDENT.attributed_party_id,
            INCIDENT.target_party_id,
            day,
            INCIDENT.category,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(INCIDENT.fatalities), 0),
            sa.func.coalesce(sa.func.sum(capped(INCIDENT.fatalities, fatality_cap)), 0),
        )
        .where(
            *incident_where(principal, start_at, end_at, region=region),
            INCIDENT.finding == Finding.verified.value,
            INCIDENT.attributed_party_id.is_not(None),
        )
        .group_by(INCIDENT.attributed_party_id, INCIDENT.target_party_id, day, INCIDENT.category)
    )
    return [
        ViolationAgg(
            party_id=_uuid(p),
            target_party_id=_uuid(t) if t is not None else None,
            day=_day(d),
            category=c,
            incidents=n,
            fatalities=int(f),
            fatalities_capped=int(fc),
        )
        for p, t, d, c, n, f, fc in session.execute(stmt)
    ]


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def incidents_by_day(session: Session, where: list[Any]) -> list[tuple[date, int, int]]:
    day = utc_day(INCIDENT.occurred_at)
    stmt = (
        sa.select(day, sa.func.count(), sa.func.coalesce(sa.func.sum(INCIDENT.fatalities), 0))
        .where(*where)
        .group_by(day)
        .order_by(day)
    )
    return [(_day(d), n, int(f)) for d, n, f in session.execute(stmt)]


def incidents_by(session: Session, where: list[Any], *columns: Any) -> list[tuple[Any, ...]]:
    """(*columns, incidents, fatalities) grouped by `columns`."""
    stmt = (
        sa.select(*columns, sa.func.count(), sa.func.coalesce(sa.func.sum(INCIDENT.fatalities), 0))
        .where(*where)
        .group_by(*columns)
    )
    return [tuple(row) for row in session.execute(stmt)]


def hotspots(session: Session, where: list[Any], limit: int) -> list[tuple[Any, ...]]:
    """(admin1, admin2, incidents, fatalities) of the places with most incidents."""
    n = sa.func.count().label("n")
    stmt = (
        sa.select(
            INCIDENT.admin1,
            INCIDENT.admin2,
            n,
            sa.func.coalesce(sa.func.sum(INCIDENT.fatalities), 0),
        )
        .where(*where)
        .group_by(INCIDENT.admin1, INCIDENT.admin2)
        .order_by(n.desc(), INCIDENT.admin1, INCIDENT.admin2)
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(stmt)]


def count_where(session: Session, where: list[Any]) -> int:
    return session.execute(
        sa.select(sa.func.count()).select_from(Incident).where(*where)
    ).scalar_one()


# Verification funnel


_QUEUE = (WorkflowStatus.received.value, WorkflowStatus.in_review.value)
_FOUND = (Finding.verified.value, Finding.disputed.value, Finding.refuted.value)


def queue_oldest(session: Session, where: list[Any], limit: int) -> list[tuple[Any, ...]]:
    stmt = (
        sa.select(
            INCIDENT.id,
            INCIDENT.occurred_at,
            INCIDENT.category,
            INCIDENT.admin1,
            INCIDENT.status,
            INCIDENT.received_at,
        )
        .where(*where, INCIDENT.status.in_(_QUEUE))
        .order_by(INCIDENT.received_at, INCIDENT.id)
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(stmt)]


def time_to_verify(where: list[Any]) -> sa.Subquery:
    """Per incident of `where` with a finding: seconds from its receipt to its first finding."""
    v = VerificationEvent.__table__.c  # type: ignore[attr-defined]
    return (
        sa.select(
            seconds_between(INCIDENT.received_at, sa.func.min(v.occurred_at)).label("seconds")
        )
        .select_from(
            Incident.__table__.join(VerificationEvent.__table__, v.incident_id == INCIDENT.id)
        )  # type: ignore[attr-defined]
        .where(*where, v.finding.in_(_FOUND))
        .group_by(INCIDENT.id, INCIDENT.received_at)
        .subquery()
    )


def count_rows(session: Session, subquery: sa.Subquery) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(subquery)).scalar_one()


def seconds_at(session: Session, timed: sa.Subquery, offset: int) -> float:
    stmt = sa.select(timed.c.seconds).order_by(timed.c.seconds).offset(offset).limit(1)
    return float(session.execute(stmt).scalar_one())


# DDR


def ddr_goals(session: Session, window: Window) -> list[DdrGoal]:
    """Targets whose period overlaps the window."""
    stmt = sa.select(
        col(DdrTarget.indicator),
        col(DdrTarget.party_id),
        col(DdrTarget.site),
        col(DdrTarget.target_quantity),
    ).where(
        col(DdrTarget.period_start_on) <= window.date_to,
        col(DdrTarget.period_end_on) >= window.date_from,
    )
    if window.party_id is not None:
        stmt = stmt.where(col(DdrTarget.party_id) == window.party_id)
    return [DdrGoal(i, p, s, q) for i, p, s, q in session.execute(stmt)]


def ddr_achieved(session: Session, window: Window) -> list[DdrAchieved]:
    """Milestones achieved in the window, less those rejected, duplicated or refuted."""
    m = DdrMilestone
    total = sa.func.coalesce
    stmt = (
        sa.select(
            col(m.indicator),
            col(m.party_id),
            col(m.site),
            col(m.achieved_on),
            col(m.finding),
            sa.func.sum(col(m.quantity)),
            total(sa.func.sum(col(m.women)), 0),
            total(sa.func.sum(col(m.men)), 0),
            total(sa.func.sum(col(m.boys)), 0),
            total(sa.func.sum(col(m.girls)), 0),
        )
        .where(
            col(m.achieved_on) >= window.date_from,
            col(m.achieved_on) <= window.date_to,
            col(m.status).not_in([WorkflowStatus.rejected, WorkflowStatus.duplicate]),
            col(m.finding) != Finding.refuted,
        )
        .group_by(
            col(m.indicator), col(m.party_id), col(m.site), col(m.achieved_on), col(m.finding)
        )
    )
    if window.party_id is not None:
        stmt = stmt.where(col(m.party_id) == window.party_id)
    return [
        DdrAchieved(i, p, s, d, f, int(q), int(w), int(mn), int(b), int(g))
        for i, p, s, d, f, q, w, mn, b, g in session.execute(stmt)
    ]


# Tracks


def _activities(window: Window) -> list[sa.ColumnElement[bool]]:
    return [
        col(TrackActivity.occurred_on) >= window.date_from,
        col(TrackActivity.occurred_on) <= window.date_to,
    ]


def track_rows(session: Session, window: Window) -> list[TrackAgg]:
    t = TrackActivity
    stmt = (
        sa.select(col(t.occurred_on), col(t.track), col(t.outcome), sa.func.count())
        .where(*_activities(window))
        .group_by(col(t.occurred_on), col(t.track), col(t.outcome))
    )
    if window.party_id is not None:
        linked = sa.select(col(TrackActivityParty.track_activity_id)).where(
            col(TrackActivityParty.party_id) == window.party_id
        )
        stmt = stmt.where(col(t.id).in_(linked))
    return [TrackAgg(d, tr.value, o, n) for d, tr, o, n in session.execute(stmt)]


def track_rows_by_party(session: Session, window: Window) -> list[tuple[uuid.UUID, TrackAgg]]:
    t, link = TrackActivity, TrackActivityParty
    stmt = (
        sa.select(
            col(link.party_id), col(t.occurred_on), col(t.track), col(t.outcome), sa.func.count()
        )
        .join(link, col(link.track_activity_id) == col(t.id))
        .where(*_activities(window))
        .group_by(col(link.party_id), col(t.occurred_on), col(t.track), col(t.outcome))
    )
    if window.party_id is not None:
        stmt = stmt.where(col(link.party_id) == window.party_id)
    return [(p, TrackAgg(d, tr.value, o, n)) for p, d, tr, o, n in session.execute(stmt)]


def engagements(
    session: Session, date_from: date, date_to: date
) -> list[tuple[frozenset[uuid.UUID], Engagement]]:
    """Each activity of the period with the set of parties in it."""
    t, link = TrackActivity, TrackActivityParty
    stmt = (
        sa.select(col(t.id), col(t.occurred_on), col(t.track), col(t.outcome), col(link.party_id))
        .join(link, col(link.track_activity_id) == col(t.id))
        .where(col(t.occurred_on) >= date_from, col(t.occurred_on) <= date_to)
    )
    found: dict[uuid.UUID, tuple[set[uuid.UUID], Engagement]] = {}
    for a_id, day, track, outcome, party in session.execute(stmt):
        entry = found.setdefault(a_id, (set(), Engagement(day, track.value, TrackOutcome(outcome))))
        entry[0].add(party)
    return [(frozenset(ps), e) for ps, e in found.values()]
