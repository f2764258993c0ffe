"""Parties: the rules for creating, changing and finding them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from backend.errors import Conflict, InvalidInput
from backend.pagination import keyset_page, parse_datetime
from backend.parties.models import Party, PartyCreate, PartyUpdate
from backend.records import changes_of, get_or_404, save_changes
from backend.vocab import PartyKind


def _check_unique(
    session: Session, *, name: str | None, code: str | None, exclude: uuid.UUID | None
) -> None:
    for field, column, value in (("name", Party.name, name), ("code", Party.code, code)):
        if value is None:
            continue
        stmt = select(Party.id).where(func.lower(column) == value.lower())
        if exclude is not None:
            stmt = stmt.where(Party.id != exclude)
        if session.exec(stmt).first() is not None:
            raise Conflict(f"a party with {field} '{value}' exists already", field=field)


def create_party(*, session: Session, data: PartyCreate) -> Party:
    _check_unique(session, name=data.name, code=data.code, exclude=None)
    party = Party.model_validate(data)
    session.add(party)
    session.flush()
    return party


def get_party(*, session: Session, party_id: uuid.UUID) -> Party:
    return get_or_404(session, Party, party_id, "party")


def update_party(*, session: Session, party_id: uuid.UUID, data: PartyUpdate) -> Party:
    party = get_party(session=session, party_id=party_id)
    changes = changes_of(data, ("name", "code", "kind", "signatory", "aliases"))
    _check_unique(session, name=changes.get("name"), code=changes.get("code"), exclude=party.id)
    save_changes(session, party, changes)
    return party


def list_parties(
    *,
    session: Session,
    kind: PartyKind | None,
    signatory: bool | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    stmt = select(Party)
    if kind is not None:
        stmt = stmt.where(Party.kind == kind)
    if signatory is not None:
        stmt = stmt.where(Party.signatory == signatory)
    if q:
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(
            sa.or_(func.lower(Party.name).like(pattern), func.lower(Party.code).like(pattern))
        )
    return keyset_page(
        session,
        stmt,
        keys=[col(Party.created_at), col(Party.id)],
        parsers=[parse_datetime, uuid.UUID],
        cursor=cursor,
        limit=limit,
        key_of=lambda p: (p.created_at, p.id),
    )


def require_parties(session: Session, fields: dict[str, uuid.UUID | None]) -> None:
    """Each named field's party must exist; the error names the first field that points nowhere."""
    wanted = {v for v in fields.values() if v is not None}
    if not wanted:
        return
    found = set(session.exec(select(Party.id).where(col(Party.id).in_(wanted))).all())
    for field, value in fields.items():
        if value is not None and value not in found:
            raise InvalidInput(f"unknown party {value}", field=field)


def require_party_list(session: Session, field: str, ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """A list of party ids (deduplicated, order kept); every one must exist."""
    unique = list(dict.fromkeys(ids))
    found = (
        set(session.exec(select(Party.id).where(col(Party.id).in_(unique))).all())
        if unique
        else set()
    )
    for i, value in enumerate(unique):
        if value not in found:
            raise InvalidInput(f"unknown party {value}", field=f"{field}.{i}")
    return unique
