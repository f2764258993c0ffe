"""Track activities: the rules for recording and correcting acts of diplomacy."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from backend.auth.service import Principal
from backend.db import utcnow
from backend.diplomacy.models import (
    TrackActivity,
    TrackActivityParty,
    TrackActivityPublic,
    TrackActivityUpdate,
)
from backend.errors import InvalidInput
from backend.pagination import keyset_page, parse_date
from backend.parties.links import PartyLinks
from backend.parties.service import require_party_list
from backend.records import changes_of, get_or_404, save_changes
from backend.schemas import IsoDate
from backend.validation import check_past_date
from backend.vocab import Track, TrackActivityKind, TrackOutcome

TRACK_PARTIES = PartyLinks(TrackActivityParty, "track_activity_id")

# Outcomes that say the activity took place, so its date cannot be in the future.
_TOOK_PLACE = frozenset({TrackOutcome.held, TrackOutcome.stalled, TrackOutcome.agreement_reached})
_NOT_NULL = ("title", "occurred_on", "outcome", "summary", "party_ids")


class TrackActivityFilters(BaseModel):
    """Query parameters of `GET /track-activities` (unknown parameters are refused)."""

    model_config = ConfigDict(extra="forbid")

    track: list[Track] = Field(default_factory=list)
    kind: list[TrackActivityKind] = Field(default_factory=list)
    outcome: list[TrackOutcome] = Field(default_factory=list)
    party_id: uuid.UUID | None = Field(default=None, description="A party that took part")
    occurred_from: IsoDate | None = Field(default=None, description="Inclusive")
    occurred_to: IsoDate | None = Field(default=None, description="Inclusive")
    cursor: str | None = Field(default=None, max_length=500)
    limit: int | None = Field(default=None, ge=1)

    def where(self) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = []
        if self.track:
            clauses.append(col(TrackActivity.track).in_(self.track))
        if self.kind:
            clauses.append(col(TrackActivity.kind).in_(self.kind))
        if self.outcome:
            clauses.append(col(TrackActivity.outcome).in_(self.outcome))
        if self.party_id is not None:
            clauses.append(TRACK_PARTIES.include(col(TrackActivity.id), self.party_id))
        if self.occurred_from is not None:
            clauses.append(col(TrackActivity.occurred_on) >= self.occurred_from)
        if self.occurred_to is not None:
            clauses.append(col(TrackActivity.occurred_on) <= self.occurred_to)
        return clauses


def check_activity(values: dict[str, Any]) -> None:
    occurred_on: date = values["occurred_on"]
    outcome: TrackOutcome = values["outcome"]
    today = utcnow().date()
    # Any outcome: not before 1900. Only a postponed or cancelled activity may be dated ahead.
    check_past_date(occurred_on, field="occurred_on", today=max(today, occurred_on))
    if outcome in _TOOK_PLACE and occurred_on > today + timedelta(days=1):
        raise InvalidInput(
            f"occurred_on {occurred_on.isoformat()} is in the future, but outcome "
            f"'{outcome.value}' says the activity took place; record a planned activity as "
            "'postponed' or 'cancelled' until it is held",
            field="occurred_on",
        )
    participants, women = values.get("participants"), values.get("women_participants")
    if participants is not None and women is not None and women > participants:
        raise InvalidInput(
            f"women_participants ({women}) exceeds participants ({participants})",
            field="women_participants",
        )


def _activity(session: Session, activity_id: uuid.UUID) -> TrackActivity:
    return get_or_404(session, TrackActivity, activity_id, "track activity")


def _public(session: Session, activity: TrackActivity) -> TrackActivityPublic:
    return TRACK_PARTIES.publish(session, [activity], TrackActivityPublic)[0]


def get_activity(*, session: Session, activity_id: uuid.UUID) -> TrackActivityPublic:
    return _public(session, _activity(session, activity_id))


def list_activities(
    *, session: Session, filters: TrackActivityFilters, limit: int
) -> dict[str, Any]:
    page = keyset_page(
        session,
        select(TrackActivity).where(*filters.where()),
        keys=[col(TrackActivity.occurred_on), col(TrackActivity.id)],
        parsers=[parse_date, uuid.UUID],
        cursor=filters.cursor,
        limit=limit,
        key_of=lambda a: (a.occurred_on, a.id),
    )
    page["items"] = TRACK_PARTIES.publish(session, page["items"], TrackActivityPublic)
    return page


def update_activity(
    *, session: Session, principal: Principal, activity_id: uuid.UUID, data: TrackActivityUpdate
) -> TrackActivityPublic:
    activity = _activity(session, activity_id)
    principal.require_edit(owner=activity.reported_by, locked=False, what="track activity")
    changes = changes_of(data, _NOT_NULL)
    check_activity({**activity.model_dump(), **changes})
    party_ids = changes.pop("party_ids", None)
    if party_ids is not None:
        TRACK_PARTIES.replace(
            session, activity.id, require_party_list(session, "party_ids", party_ids)
        )
    save_changes(session, activity, changes)
    return _public(session, activity)
