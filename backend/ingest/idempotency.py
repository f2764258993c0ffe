"""The one rule for a re-sent create: answered again, refused if changed, never made twice.

A create is recognised by an `Idempotency-Key` header (scoped to the caller's token) or else by
the record id the device chose (global: ids are unique forever). The first time, a key row is
written *before* the record, in the same transaction: a concurrent retry of the same key waits on
that row (PostgreSQL's unique index; SQLite's single writer) and then finds the finished answer.
Same request again: the stored response, status 200, marked `Idempotent-Replayed: true`.
Same key with another request: 409 naming the key. Keys are kept `idempotency_retention_days`;
after that a re-sent device id is still refused with 409, because the record keeps its id.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from backend.auth.service import Principal
from backend.bulk import insert_rows
from backend.config import Settings
from backend.db import Database, utcnow
from backend.errors import Conflict
from backend.ingest.models import IdempotencyKey

KEY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"

log = logging.getLogger("peacewatch.ingest")
_TABLE = IdempotencyKey.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Claim:
    """What identifies one create: where its key lives, the key, and the request it stands for."""

    scope: str
    key: str
    fingerprint: str
    kind: str
    by_header: bool

    @property
    def ident(self) -> tuple[str, str]:
        return (self.scope, self.key)

    def conflict(self) -> Conflict:
        if self.by_header:
            return Conflict(
                f"{KEY_HEADER} '{self.key}' was already used for a different request; "
                "use a new key for a new record",
                field=KEY_HEADER,
            )
        return Conflict(
            f"a {self.kind.replace('_', ' ')} with id {self.key} exists already with different "
            "content; correct it with PATCH, or give a new record a new id",
            field="id",
        )


def fingerprint(path: str, actor: str, data: BaseModel) -> str:
    """The request a key stands for: where it was sent, by whom, and its body as parsed (so
    spacing, key order and omitted defaults do not make a retry look different)."""
    digest = hashlib.sha256(f"{path}\n{actor}\n".encode())
    digest.update(data.model_dump_json().encode())
    return digest.hexdigest()


def claim_for(
    *, kind: str, path: str, principal: Principal, key: str | None, data: BaseModel
) -> Claim | None:
    """The claim of a create, or None when neither a key nor a device id makes it recognisable."""
    record_id = getattr(data, "id", None)
    if key is None and record_id is None:
        return None
    print_ = fingerprint(path, principal.name, data)
    if key is not None:
        return Claim(f"token:{principal.name}", key, print_, kind, by_header=True)
    return Claim(kind, str(record_id), print_, kind, by_header=False)


def _match(idents: Iterable[tuple[str, str]]) -> sa.ColumnElement[bool]:
    """Rows of these (scope, key) pairs, as `scope = ? AND key IN (...)` per scope so that both
    databases use the primary key (SQLite scans the table for a row-value IN)."""
    by_scope: dict[str, set[str]] = {}
    for scope, key in idents:
        by_scope.setdefault(scope, set()).add(key)
    return sa.or_(
        *(
            sa.and_(_TABLE.c.scope == scope, _TABLE.c.key.in_(sorted(keys)))
            for scope, keys in by_scope.items()
        )
    )


def find(session: Session, claims: Iterable[Claim]) -> dict[tuple[str, str], IdempotencyKey]:
    """The stored keys among `claims`, in one query."""
    idents = {c.ident for c in claims}
    if not idents:
        return {}
    stmt = select(IdempotencyKey).where(_match(idents))
    return {(row.scope, row.key): row for row in session.exec(stmt)}


def reserve(
    session: Session, claims: list[Claim], settings: Settings, now: datetime | None = None
) -> set[tuple[str, str]]:
    """Write the key rows of new claims; return those this transaction now holds.

    A key another transaction holds is skipped (after waiting for it to finish, on PostgreSQL);
    the caller reads it again with `find` and answers from it.
    """
    if not claims:
        return set()
    if _one_writer(session):
        return {c.ident for c in claims}
    rows = _key_rows([(c, None, 0, None) for c in claims], settings, now)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(_TABLE)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(_TABLE.c.scope, _TABLE.c.key)
    )
    # One cached statement, sent as few multi-row INSERTs (SQLAlchemy's "insertmanyvalues").
    result = session.connection().execute(stmt, rows)
    return {(r.scope, r.key) for r in result}


def _one_writer(session: Session) -> bool:
    """SQLite has one writer: from a transaction's `find` to its commit no one else can claim a
    key, so the key row need not be reserved first; it is written once, with its answer."""
    return session.get_bind().dialect.name == "sqlite"


Answer = tuple[Claim, str | None, int, dict[str, Any] | None]


def _key_rows(
    answers: list[Answer], settings: Settings, now: datetime | None = None
) -> list[dict[str, Any]]:
    now = now or utcnow()
    expires = now + timedelta(days=settings.idempotency_retention_days)
    return [
        {
            "scope": c.scope,
            "key": c.key,
            "fingerprint": c.fingerprint,
            "record_kind": c.kind,
            "record_id": record_id,
            "status_code": status,
            "response": body,
            "created_at": now,
            "expires_at": expires,
        }
        for c, record_id, status, body in answers
    ]


def settle(session: Session, answers: list[Answer], settings: Settings) -> None:
    """Store each finished create's answer `(claim, record_id, status, body)` on its key row."""
    if not answers:
        return
    if _one_writer(session):
        insert_rows(session.connection(), _TABLE, _key_rows(answers, settings))
        return
    # PostgreSQL: one UPDATE joined to the answers as arrays, not one UPDATE per key.
    columns = list(zip(*answers, strict=True))
    session.connection().execute(
        _SETTLE,
        {
            "scopes": [c.scope for c in columns[0]],
            "keys": [c.key for c in columns[0]],
            "record_ids": list(columns[1]),
            "statuses": list(columns[2]),
            "responses": [None if b is None else json.dumps(b) for b in columns[3]],
        },
    )


_SETTLE = sa.text(
    """
    UPDATE idempotency_key AS k
    SET record_id = a.record_id, status_code = a.status_code, response = a.response
    FROM unnest(
        CAST(:scopes AS text[]), CAST(:keys AS text[]), CAST(:record_ids AS text[]),
        CAST(:statuses AS integer[]), CAST(:responses AS json[])
    ) AS a (scope, key, record_id, status_code, response)
    WHERE k.scope = a.scope AND k.key = a.key
    """
)


def release(session: Session, claims: Iterable[Claim]) -> None:
    """Drop key rows whose create was refused, so the corrected record can use the key."""
    idents = [c.ident for c in claims]
    if idents and not _one_writer(session):
        session.connection().execute(sa.delete(_TABLE).where(_match(idents)))


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Forget keys past their retention; returns how many went."""
    result = session.connection().execute(
        sa.delete(_TABLE).where(_TABLE.c.expires_at < (now or utcnow()))
    )
    return result.rowcount or 0


async def purge_keys_periodically(db: Database, every_s: float = 3600) -> None:
    """The server's retention of keys: purge at start, then every hour."""
    while True:
        try:
            await asyncio.to_thread(_purge_now, db)
        except Exception:  # the next round tries again; a failed purge loses nothing
            log.exception("could not purge expired idempotency keys")
        await asyncio.sleep(every_s)


def _purge_now(db: Database) -> None:
    with db.session() as session:
        gone = purge_expired(session)
    if gone:
        log.info("purged %d expired idempotency keys", gone)


def replay_of(claim: Claim, row: IdempotencyKey) -> dict[str, Any]:
    """The stored answer to `claim`, or the 409 when the key stood for another request."""
    if row.fingerprint != claim.fingerprint or row.response is None:
        raise claim.conflict()
    return row.response
