"""Records linked to many parties (track activities, agreements, commitments)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

P = TypeVar("P", bound=SQLModel)
R = TypeVar("R", bound=SQLModel)


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
