"""The records a device's outbox carries, and how a batch of each is checked and turned into rows.

Each kind checks a whole batch with one query per lookup (parties, subjects, taken ids) and the
same rules its single POST applies (the domain services' own check functions). What comes out
is plain rows for a set-based insert.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from sqlmodel import Session, SQLModel, col, select

from backend.auth.permissions import Permission
from backend.auth.service import Principal
from backend.config import Settings
from backend.db import utcnow
from backend.ddr.models import DdrMilestone, DdrMilestoneCreate, DdrMilestonePublic
from backend.diplomacy.models import (
    TrackActivity,
    TrackActivityCreate,
    TrackActivityParty,
    TrackActivityPublic,
)
from backend.diplomacy.service import check_activity
from backend.errors import Conflict, DomainError, InvalidInput, NotFound
from backend.incidents.models import Incident, IncidentCreate, IncidentPublic
from backend.incidents.service import check_times, visible_to
from backend.ingest.idempotency import Claim
from backend.parties.models import Party
from backend.schemas import dict_serializer
from backend.validation import check_past_date
from backend.verification.models import VerificationCreate, VerificationEvent, VerificationPublic
from backend.verification.service import check_step

API = "/api/v1"


@dataclass(eq=False)
class Entry:
    """One item of a batch on its way through: parsed, checked, inserted, answered."""

    index: int
    kind: Kind
    subject_id: uuid.UUID | None
    key: str | None = None  # the item's idempotency key, if it has one
    data: Any = None  # the kind's create model, once parsed
    claim: Claim | None = None
    row: dict[str, Any] | None = None  # the row to insert, once checked
    extra_rows: list[tuple[type[SQLModel], dict[str, Any]]] = field(default_factory=list)
    subject: SQLModel | None = None
    status: str | None = None  # created, replayed, conflict, rejected
    errors: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] | None = None
    error: DomainError | None = None  # why it was refused, for a single post to raise

    @property
    def open(self) -> bool:
        return self.status is None

    def refuse(self, error: DomainError) -> None:
        self.error = error
        self.status = "conflict" if error.status_code == 409 else "rejected"
        self.errors = [
            {"field": error.field or "data", "message": error.message, "type": type(error).__name__}
        ]
        self.row = None
        self.body = None


@dataclass(frozen=True)
class Kind:
    name: str  # as the sync item names it
    table: type[SQLModel]
    create: type[BaseModel]
    public: type[BaseModel]
    permission: Permission
    path: Callable[[uuid.UUID | None], str]  # its single POST, so both share fingerprints
    prepare: Callable[[Session, Principal, Settings, list[Entry]], None]
    subject: type[SQLModel] | None = None

    @cached_property
    def record_kind(self) -> str:
        return self.table.__tablename__  # type: ignore[return-value]  # (not cheap: SQLModel's)

    def body(self, entry: Entry) -> dict[str, Any]:
        """The record's public form, the same as its single POST answers."""
        fields = dict(entry.row or {})
        if self.table is TrackActivity:
            fields["party_ids"] = sorted(row["party_id"] for _, row in entry.extra_rows)
        quick = dict_serializer(self.public)
        if quick is not None:  # the row's values are of the fields' types: no validation
            return quick.to_python({name: fields[name] for name in self.public_fields}, mode="json")
        # `model_validate(...).model_dump(mode="json")` by the model's own validator and
        # serialiser, less SQLModel's wrappers around them.
        public = self.public.__pydantic_validator__.validate_python(fields)
        return self.public.__pydantic_serializer__.to_python(public, mode="json")

    @cached_property
    def public_fields(self) -> tuple[str, ...]:
        return tuple(self.public.model_fields)


def _each(entries: Iterable[Entry], check: Callable[[Entry], None]) -> None:
    for entry in entries:
        if entry.open:
            try:
                check(entry)
            except DomainError as error:
                entry.refuse(error)


def _require_parties(
    session: Session, entries: list[Entry], fields_of: Callable[[Entry], dict[str, Any]]
) -> None:
    """Every party an entry names must exist (one query for the batch)."""
    wanted = {v for e in entries if e.open for v in fields_of(e).values() if v is not None}
    found = (
        set(session.exec(select(Party.id).where(col(Party.id).in_(wanted))).all())
        if wanted
        else set()
    )

    def check(entry: Entry) -> None:
        for name, value in fields_of(entry).items():
            if value is not None and value not in found:
                raise InvalidInput(f"unknown party {value}", field=name)

    _each(entries, check)


def _refuse_taken_ids(session: Session, table: type[SQLModel], entries: list[Entry]) -> None:
    """A device id already in use is a conflict (its key row may have expired; the id never does)."""
    ids = {e.data.id for e in entries if e.open and e.data.id is not None}
    if not ids:
        return
    id_col = col(table.id)  # type: ignore[attr-defined]
    taken = set(session.exec(select(id_col).where(id_col.in_(ids))).all())

    def check(entry: Entry) -> None:
        if entry.data.id is None:
            return
        if entry.data.id in taken:
            what = table.__tablename__.replace("_", " ")  # type: ignore[attr-defined]
            raise Conflict(f"a {what} with id {entry.data.id} exists already", field="id")
        taken.add(entry.data.id)  # a second item of this batch may not reuse it either

    _each(entries, check)


def _fields(entry: Entry) -> dict[str, Any]:
    """The parsed fields as they are (flat models: no dump needed). Read only."""
    return entry.data.__dict__


def _values(entry: Entry, **extra: Any) -> dict[str, Any]:
    values = dict(_fields(entry))
    if values.get("id") is None:
        values.pop("id", None)
    return {**values, **extra}


def _prepare_incidents(
    session: Session, principal: Principal, settings: Settings, entries: list[Entry]
) -> None:
    _each(entries, lambda e: check_times(_fields(e), settings))
    _require_parties(
        session,
        entries,
        lambda e: {
            "alleged_party_id": e.data.alleged_party_id,
            "target_party_id": e.data.target_party_id,
        },
    )
    _refuse_taken_ids(session, Incident, entries)
    for entry in entries:
        if entry.open:
            entry.row = new_row(Incident, _values(entry), reported_by=principal.name)


def _prepare_milestones(
    session: Session, principal: Principal, settings: Settings, entries: list[Entry]
) -> None:
    today = utcnow().date()
    _each(entries, lambda e: check_past_date(e.data.achieved_on, field="achieved_on", today=today))
    _require_parties(session, entries, lambda e: {"party_id": e.data.party_id})
    _refuse_taken_ids(session, DdrMilestone, entries)
    for entry in entries:
        if entry.open:
            entry.row = new_row(DdrMilestone, _values(entry), reported_by=principal.name)


def _prepare_activities(
    session: Session, principal: Principal, settings: Settings, entries: list[Entry]
) -> None:
    _each(entries, lambda e: check_activity(_fields(e)))
    _require_parties(
        session,
        entries,
        lambda e: {f"party_ids.{i}": p for i, p in enumerate(dict.fromkeys(e.data.party_ids))},
    )
    _refuse_taken_ids(session, TrackActivity, entries)
    for entry in entries:
        if entry.open:
            values = _values(entry)
            party_ids = list(dict.fromkeys(values.pop("party_ids")))
            entry.row = new_row(TrackActivity, values, reported_by=principal.name)
            entry.extra_rows = [
                (TrackActivityParty, {"track_activity_id": entry.row["id"], "party_id": p})
                for p in party_ids
            ]


def _verification_preparer(subject_model: type[SQLModel], link: str):
    def prepare(
        session: Session, principal: Principal, settings: Settings, entries: list[Entry]
    ) -> None:
        ids = {e.subject_id for e in entries if e.open}
        where: list[Any] = [col(subject_model.id).in_(ids)]  # type: ignore[attr-defined]
        if subject_model is Incident:
            where.append(visible_to(principal))  # a hidden incident is as good as absent
        subjects = (
            {s.id: s for s in session.exec(select(subject_model).where(*where))} if ids else {}
        )  # type: ignore[attr-defined]
        what = subject_model.__tablename__.replace("_", " ")  # type: ignore[attr-defined]

        def check(entry: Entry) -> None:
            subject = subjects.get(entry.subject_id)
            if subject is None:
                raise NotFound(f"no {what} with id {entry.subject_id}", field="subject_id")
            entry.subject = subject
            check_step(
                entry.data,
                settings=settings,
                subject_at=getattr(subject, "occurred_at", None),
                attributable=subject_model is Incident,
            )

        _each(entries, check)
        _require_parties(
            session, entries, lambda e: {"attributed_party_id": e.data.attributed_party_id}
        )
        _refuse_taken_ids(session, VerificationEvent, entries)
        for entry in entries:
            if entry.open:
                entry.row = new_row(
                    VerificationEvent,
                    _values(entry),
                    **{link: entry.subject_id},
                    recorded_by=principal.name,
                )

    return prepare


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "incident",
            Incident,
            IncidentCreate,
            IncidentPublic,
            Permission.report,
            lambda _: f"{API}/incidents",
            _prepare_incidents,
        ),
        Kind(
            "ddr_milestone",
            DdrMilestone,
            DdrMilestoneCreate,
            DdrMilestonePublic,
            Permission.report,
            lambda _: f"{API}/ddr/milestones",
            _prepare_milestones,
        ),
        Kind(
            "track_activity",
            TrackActivity,
            TrackActivityCreate,
            TrackActivityPublic,
            Permission.report,
            lambda _: f"{API}/track-activities",
            _prepare_activities,
        ),
        Kind(
            "incident_verification",
            VerificationEvent,
            VerificationCreate,
            VerificationPublic,
            Permission.verify,
            lambda s: f"{API}/incidents/{s}/verifications",
            _verification_preparer(Incident, "incident_id"),
            subject=Incident,
        ),
        Kind(
            "ddr_milestone_verification",
            VerificationEvent,
            VerificationCreate,
            VerificationPublic,
            Permission.verify,
            lambda s: f"{API}/ddr/milestones/{s}/verifications",
            _verification_preparer(DdrMilestone, "ddr_milestone_id"),
            subject=DdrMilestone,
        ),
    )
}


@cache
def _defaults(table: type[SQLModel]) -> tuple[tuple[str, Any, Any], ...]:
    """(column, default, default factory) of each column, from the table model's own fields."""
    fields = table.model_fields
    return tuple(
        (c.key, fields[c.key].default, fields[c.key].default_factory)
        for c in sa.inspect(table).column_attrs
    )


def new_row(table: type[SQLModel], values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The column values of a new record for a Core insert, with the model's defaults applied
    (as constructing the model would, at a fraction of the cost)."""
    given = {**values, **extra}
    row: dict[str, Any] = {}
    for name, default, factory in _defaults(table):
        if name in given:
            row[name] = given[name]
        elif factory is not None:
            row[name] = factory()
        elif default is PydanticUndefined:
            raise KeyError(f"{table.__tablename__}.{name} has no value and no default")
        else:
            row[name] = default
    return row
