"""Agreements, commitments and their implementation on the Peace Accords Matrix scale.

A commitment's `level` is derived from its progress history, never typed in: the latest row by
(changed_on, created_at) wins, so a back-dated row fills in history without undoing a later change.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, select

from backend.agreements.models import (
    Agreement,
    AgreementCreate,
    AgreementParty,
    AgreementPublic,
    AgreementUpdate,
    Commitment,
    CommitmentCreate,
    CommitmentParty,
    CommitmentProgress,
    CommitmentProgressCreate,
    CommitmentPublic,
    CommitmentUpdate,
)
from backend.auth.service import Principal
from backend.db import utcnow
from backend.ddr.models import DdrMilestone
from backend.diplomacy.models import TrackActivity
from backend.errors import Conflict, InvalidInput, NotFound
from backend.pagination import keyset_page, parse_date, parse_datetime
from backend.parties.links import PartyLinks
from backend.parties.service import require_party_list
from backend.records import changes_of, get_or_404, save_changes
from backend.validation import check_past_date
from backend.verification.models import VerificationEvent
from backend.vocab import AgreementKind, CommitmentCategory, ImplementationLevel

AGREEMENT_PARTIES = PartyLinks(AgreementParty, "agreement_id")
COMMITMENT_PARTIES = PartyLinks(CommitmentParty, "commitment_id")

_AGREEMENT_NOT_NULL = ("name", "kind", "signed_on", "summary", "party_ids")
_COMMITMENT_NOT_NULL = ("title", "text", "category", "party_ids")
_EVIDENCE = {
    "verification_event_id": (VerificationEvent, "verification event"),
    "ddr_milestone_id": (DdrMilestone, "DDR milestone"),
    "track_activity_id": (TrackActivity, "track activity"),
}
# Progress history order: by the date the level was reached, then by when it was recorded.
_PROGRESS_ORDER = (col(CommitmentProgress.changed_on), col(CommitmentProgress.created_at))


def overdue_clause(today: date) -> sa.ColumnElement[bool]:
    """The one rule of overdue: past its due date (UTC today) and not complete.

    A SQL expression, used both as the `overdue` filter and as the column that fills the
    `overdue` field of every response, so the two can never disagree.
    """
    return sa.and_(
        col(Commitment.due_on).is_not(None),
        col(Commitment.due_on) < today,
        col(Commitment.level) != ImplementationLevel.complete,
    )


class AgreementFilters(BaseModel):
    """Query parameters of `GET /agreements` (unknown parameters are refused)."""

    model_config = ConfigDict(extra="forbid")

    kind: list[AgreementKind] = Field(default_factory=list)
    party_id: uuid.UUID | None = Field(default=None, description="A signatory")
    cursor: str | None = Field(default=None, max_length=500)
    limit: int | None = Field(default=None, ge=1)

    def where(self) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = []
        if self.kind:
            clauses.append(col(Agreement.kind).in_(self.kind))
        if self.party_id is not None:
            clauses.append(AGREEMENT_PARTIES.include(col(Agreement.id), self.party_id))
        return clauses


class CommitmentFilters(BaseModel):
    """Query parameters of `GET /commitments` (unknown parameters are refused)."""

    model_config = ConfigDict(extra="forbid")

    agreement_id: uuid.UUID | None = None
    category: list[CommitmentCategory] = Field(default_factory=list)
    party_id: uuid.UUID | None = Field(default=None, description="A party that promised it")
    level: list[ImplementationLevel] = Field(default_factory=list)
    overdue: bool | None = Field(default=None, description="Past its due date and not complete")
    cursor: str | None = Field(default=None, max_length=500)
    limit: int | None = Field(default=None, ge=1)

    def where(self, today: date) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = []
        if self.agreement_id is not None:
            clauses.append(col(Commitment.agreement_id) == self.agreement_id)
        if self.category:
            clauses.append(col(Commitment.category).in_(self.category))
        if self.party_id is not None:
            clauses.append(COMMITMENT_PARTIES.include(col(Commitment.id), self.party_id))
        if self.level:
            clauses.append(col(Commitment.level).in_(self.level))
        if self.overdue is not None:
            clauses.append(
                overdue_clause(today) if self.overdue else sa.not_(overdue_clause(today))
            )
        return clauses


# Agreements


def _check_name(session: Session, name: str | None, exclude: uuid.UUID | None) -> None:
    if name is None:
        return
    stmt = select(Agreement.id).where(func.lower(Agreement.name) == name.lower())
    if exclude is not None:
        stmt = stmt.where(Agreement.id != exclude)
    if session.exec(stmt).first() is not None:
        raise Conflict(f"an agreement named '{name}' exists already", field="name")


def _agreement(session: Session, agreement_id: uuid.UUID) -> Agreement:
    return get_or_404(session, Agreement, agreement_id, "agreement")


def _agreement_public(session: Session, agreement: Agreement) -> AgreementPublic:
    return AGREEMENT_PARTIES.publish(session, [agreement], AgreementPublic)[0]


def create_agreement(*, session: Session, data: AgreementCreate) -> AgreementPublic:
    _check_name(session, data.name, exclude=None)
    party_ids = require_party_list(session, "party_ids", data.party_ids)
    agreement = Agreement.model_validate(data)
    session.add(agreement)
    session.flush()
    AGREEMENT_PARTIES.replace(session, agreement.id, party_ids)
    return _agreement_public(session, agreement)


def get_agreement(*, session: Session, agreement_id: uuid.UUID) -> AgreementPublic:
    return _agreement_public(session, _agreement(session, agreement_id))


def list_agreements(*, session: Session, filters: AgreementFilters, limit: int) -> dict[str, Any]:
    page = keyset_page(
        session,
        select(Agreement).where(*filters.where()),
        keys=[col(Agreement.signed_on), col(Agreement.id)],
        parsers=[parse_date, uuid.UUID],
        cursor=filters.cursor,
        limit=limit,
        key_of=lambda a: (a.signed_on, a.id),
    )
    page["items"] = AGREEMENT_PARTIES.publish(session, page["items"], AgreementPublic)
    return page


def update_agreement(
    *, session: Session, agreement_id: uuid.UUID, data: AgreementUpdate
) -> AgreementPublic:
    agreement = _agreement(session, agreement_id)
    changes = changes_of(data, _AGREEMENT_NOT_NULL)
    _check_name(session, changes.get("name"), exclude=agreement.id)
    party_ids = changes.pop("party_ids", None)
    if party_ids is not None:
        checked = require_party_list(session, "party_ids", party_ids)
        AGREEMENT_PARTIES.replace(session, agreement.id, checked)
    save_changes(session, agreement, changes)
    return _agreement_public(session, agreement)


# Commitments


def _commitment_publics(session: Session, rows: list[Any]) -> list[CommitmentPublic]:
    """Rows of (commitment, overdue) as public bodies."""
    late = {c.id: bool(is_late) for c, is_late in rows}
    return COMMITMENT_PARTIES.publish(
        session, [c for c, _ in rows], CommitmentPublic, extra=lambda c: {"overdue": late[c.id]}
    )


def _with_overdue() -> Any:
    return select(Commitment, overdue_clause(utcnow().date()).label("overdue"))


def _commitment(session: Session, commitment_id: uuid.UUID) -> Commitment:
    return get_or_404(session, Commitment, commitment_id, "commitment")


def get_commitment(*, session: Session, commitment_id: uuid.UUID) -> CommitmentPublic:
    rows = list(session.exec(_with_overdue().where(Commitment.id == commitment_id)).all())
    if not rows:
        raise NotFound(f"no commitment with id {commitment_id}")
    return _commitment_publics(session, rows)[0]


def create_commitment(*, session: Session, data: CommitmentCreate) -> CommitmentPublic:
    if session.get(Agreement, data.agreement_id) is None:
        raise InvalidInput(f"no agreement with id {data.agreement_id}", field="agreement_id")
    party_ids = require_party_list(session, "party_ids", data.party_ids)
    commitment = Commitment.model_validate(data)
    session.add(commitment)
    session.flush()
    COMMITMENT_PARTIES.replace(session, commitment.id, party_ids)
    return get_commitment(session=session, commitment_id=commitment.id)


def list_commitments(*, session: Session, filters: CommitmentFilters, limit: int) -> dict[str, Any]:
    page = keyset_page(
        session,
        _with_overdue().where(*filters.where(utcnow().date())),
        keys=[col(Commitment.created_at), col(Commitment.id)],
        parsers=[parse_datetime, uuid.UUID],
        cursor=filters.cursor,
        limit=limit,
        key_of=lambda row: (row[0].created_at, row[0].id),
    )
    page["items"] = _commitment_publics(session, page["items"])
    return page


def update_commitment(
    *, session: Session, commitment_id: uuid.UUID, data: CommitmentUpdate
) -> CommitmentPublic:
    commitment = _commitment(session, commitment_id)
    changes = changes_of(data, _COMMITMENT_NOT_NULL)
    party_ids = changes.pop("party_ids", None)
    if party_ids is not None:
        checked = require_party_list(session, "party_ids", party_ids)
        COMMITMENT_PARTIES.replace(session, commitment.id, checked)
    save_changes(session, commitment, changes)
    return get_commitment(session=session, commitment_id=commitment.id)


# Progress


def _check_evidence(session: Session, data: CommitmentProgressCreate) -> None:
    for field, (model, what) in _EVIDENCE.items():
        value = getattr(data, field)
        if value is not None and session.get(model, value) is None:
            raise InvalidInput(f"no {what} with id {value}", field=field)


def add_progress(
    *,
    session: Session,
    principal: Principal,
    commitment_id: uuid.UUID,
    data: CommitmentProgressCreate,
) -> CommitmentProgress:
    commitment = _commitment(session, commitment_id)
    check_past_date(data.changed_on, field="changed_on", today=utcnow().date())
    _check_evidence(session, data)
    progress = CommitmentProgress.model_validate(
        data, update={"commitment_id": commitment.id, "recorded_by": principal.name}
    )
    session.add(progress)
    session.flush()
    latest = session.exec(
        select(CommitmentProgress)
        .where(CommitmentProgress.commitment_id == commitment.id)
        .order_by(*(c.desc() for c in _PROGRESS_ORDER))
        .limit(1)
    ).one()
    commitment.level, commitment.level_changed_on = latest.level, latest.changed_on
    save_changes(session, commitment, {})
    return progress


def list_progress(*, session: Session, commitment_id: uuid.UUID) -> list[CommitmentProgress]:
    """The commitment's implementation history, oldest first."""
    commitment = _commitment(session, commitment_id)
    stmt = (
        select(CommitmentProgress)
        .where(CommitmentProgress.commitment_id == commitment.id)
        .order_by(*_PROGRESS_ORDER)
    )
    return list(session.exec(stmt).all())
