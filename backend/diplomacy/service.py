"""Track activities: the rules for recording and correcting acts of diplomacy.

Also home of two small helpers the agreements and DDR services share (they would sit better in
`backend/parties/service.py` and `backend/validation.py`): `PartyLinks`, for records linked to
many parties, and `changes_of` / `save_changes`, for PATCH bodies.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, SQLModel, col, select

from backend.auth.service import Principal
from backend.db import utcnow
from backend.diplomacy.models import (
    TrackActivity,
    TrackActivityCreate,
    TrackActivityParty,
    TrackActivityPublic,
    TrackActivityUpdate,
)
from backend.errors import Conflict, InvalidInput, NotFound
from backend.pagination import keyset_page, parse_date
from backend.parties.service import require_party_list
from backend.validation import check_past_date
from backend.vocab import Track, TrackActivityKind, TrackOutcome

P = TypeVar("P", bound=SQLModel)
R = TypeVar("R", bound=SQLModel)


def changes_of(data: BaseModel, not_null: Iterable[str]) -> dict[str, Any]:
    """The fields a PATCH body sets; a NOT NULL column sent as null is refused, by name."""
    changes = data.model_dump(exclude_unset=True)
    for field in not_null:
        if field in changes and changes[field] is None:
            raise InvalidInput(f"{field} may not be null", field=field)
    return changes


def save_changes(session: Session, record: SQLModel, changes: dict[str, Any]) -> None:
    record.sqlmodel_update(changes)
    record.updated_at = utcnow()  # type: ignore[attr-defined]
    session.add(record)
    session.flush()


@dataclass(frozen=True, slots=True)
class PartyLinks:
    """A table that links one kind of record to many parties (`<owner_key>`, `party_id`)."""

    table: type[SQLModel]
    owner_key: str

    @property
    def _owner(self) -> Any:
        return col(getattr(self.table, self.owner_key))

    @property
    def _party(self) -> Any:
        return col(self.table.party_id)  # type: ignore[attr-defined]

    def load(
        self, session: Session, owner_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        """The party ids of many records in one query (sorted, so responses are stable)."""
        found: dict[uuid.UUID, list[uuid.UUID]] = {owner: [] for owner in owner_ids}
        if owner_ids:
            stmt = (
                select(self._owner, self._party)
                .where(self._owner.in_(owner_ids))
                .order_by(self._owner, self._party)
            )
            for owner, party in session.exec(stmt).all():
                found[owner].append(party)
        return found

    def replace(
        self, session: Session, owner_id: uuid.UUID, party_ids: Sequence[uuid.UUID]
    ) -> None:
        session.exec(sa.delete(self.table).where(self._owner == owner_id))
        session.add_all(self.table(**{self.owner_key: owner_id, "party_id": p}) for p in party_ids)
        session.flush()

    def include(self, owner_column: Any, party_id: uuid.UUID) -> sa.ColumnElement[bool]:
        """Records linked to `party_id`, as a WHERE clause on the records' id column."""
        return owner_column.in_(select(self._owner).where(self._party == party_id))

    def publish(
        self,
        session: Session,
        records: Sequence[R],
        public: type[P],
        extra: Callable[[R], dict[str, Any]] | None = None,
    ) -> list[P]:
        """Public bodies with `party_ids` (one query for the whole page, never one per record)."""
        links = self.load(session, [r.id for r in records])  # type: ignore[attr-defined]
        return [
            public.model_validate(
                r,
                update={"party_ids": links[r.id], **(extra(r) if extra else {})},  # type: ignore[attr-defined]
            )
            for r in records
        ]


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
    occurred_from: date | None = Field(default=None, description="Inclusive")
    occurred_to: date | None = Field(default=None, description="Inclusive")
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


def _check_activity(values: dict[str, Any]) -> None:
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
    activity = session.get(TrackActivity, activity_id)
    if activity is None:
        raise NotFound(f"no track activity with id {activity_id}")
    return activity


def _public(session: Session, activity: TrackActivity) -> TrackActivityPublic:
    return TRACK_PARTIES.publish(session, [activity], TrackActivityPublic)[0]


def create_activity(
    *, session: Session, principal: Principal, data: TrackActivityCreate
) -> TrackActivityPublic:
    values = data.model_dump()
    _check_activity(values)
    party_ids = require_party_list(session, "party_ids", values.pop("party_ids"))
    if data.id is not None and session.get(TrackActivity, data.id) is not None:
        raise Conflict(f"a track activity with id {data.id} exists already", field="id")
    if values["id"] is None:
        values.pop("id")
    activity = TrackActivity(**values, reported_by=principal.name)
    session.add(activity)
    session.flush()
    TRACK_PARTIES.replace(session, activity.id, party_ids)
    return _public(session, activity)


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
    _check_activity({**activity.model_dump(), **changes})
    party_ids = changes.pop("party_ids", None)
    if party_ids is not None:
        TRACK_PARTIES.replace(
            session, activity.id, require_party_list(session, "party_ids", party_ids)
        )
    save_changes(session, activity, changes)
    return _public(session, activity)
