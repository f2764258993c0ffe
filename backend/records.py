"""Helpers every domain's service uses: find a record, apply a PATCH."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlmodel import Session, SQLModel

from backend.db import utcnow
from backend.errors import InvalidInput, NotFound

M = TypeVar("M", bound=SQLModel)


def get_or_404(session: Session, model: type[M], record_id: uuid.UUID, what: str) -> M:
    record = session.get(model, record_id)
    if record is None:
        raise NotFound(f"no {what} with id {record_id}")
    return record


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
