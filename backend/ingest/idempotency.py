"""The one rule for a re-sent create: answered again, refused if changed, never made twice.

A create is recognised by an `Idempotency-Key` header (scoped to the caller's token) or else by
the record id the device chose (global: ids are unique forever). The first time, a key row is
written with the create's answer *before* the record, in the same transaction: a concurrent retry
of the same key waits on that row (PostgreSQL's unique index; SQLite's single writer) and then
finds the finished answer.
Same request again: the stored response, status 200, marked `Idempotent-Replayed: true`.
Same key with another request: 409 naming the key. Keys are kept `idempotency_retention_days`;
after that a re-sent device id is still refused with 409, because the record keeps its id.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, select

from backend.auth.service import Principal
from backend.bulk import insert_rows
from backend.config import Settings
from backend.db import Database, dump_json, utcnow
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


Answer = tuple[Claim, str | None, int, dict[str, Any] | None]


def reserve(
    session: Session, answers: list[Answer], settings: Settings, now: datetime | None = None
) -> set[tuple[str, str]]:
    """Write the key rows of new creates, each with the answer `(claim, record_id, status,
    body)` it gets once its record goes in; return the keys this transaction now holds.

    A key another transaction holds is skipped (after waiting for it to finish, on PostgreSQL);
    the caller reads it again with `find` and answers from it. A create refused after all is
    `release`d.
    """
    if not answers:
        return set()
    if _one_writer(session):
        return {c.ident for c, *_ in answers}
    # PostgreSQL: one INSERT of the whole batch from arrays sent in binary (`%(...)b`), so that
    # neither the statement (the same text every time) nor the answers' JSON (no text-array
    # quoting) costs the client work per row.
    now = now or utcnow()
    claims, record_ids, statuses, bodies = zip(*answers, strict=True)
    params = {
        "scopes": [c.scope for c in claims],
        "keys": [c.key for c in claims],
        "prints": [c.fingerprint for c in claims],
        "kinds": [c.kind for c in claims],
        "record_ids": list(record_ids),
        "statuses": list(statuses),
        "responses": [None if b is None else dump_json(b) for b in bodies],
        "created_at": now,
        "expires_at": now + timedelta(days=settings.idempotency_retention_days),
    }
    # Through SQLAlchemy (its errors, its handle_error hooks: a read-only database is a 503).
    result = session.connection().exec_driver_sql(_RESERVE, params)
    return {(scope, key) for scope, key in result}


_RESERVE = """
    INSERT INTO idempotency_key AS k
        (scope, key, fingerprint, record_kind, record_id, status_code, response,
         created_at, expires_at)
    SELECT a.scope, a.key, a.fingerprint, a.record_kind, a.record_id, a.status_code, a.response,
           %(created_at)s, %(expires_at)s
    FROM unnest(
        %(scopes)b::text[], %(keys)b::text[], %(prints)b::text[], %(kinds)b::text[],
        %(record_ids)b::text[], %(statuses)b::integer[], %(responses)b::json[]
    ) AS a (scope, key, fingerprint, record_kind, record_id, status_code, response)
    ON CONFLICT (scope, key) DO NOTHING
    RETURNING k.scope, k.key
"""


def _one_writer(session: Session) -> bool:
    """SQLite has one writer: from a transaction's `find` to its commit no one else can claim a
    key, so the key row need not be reserved first; it is written once, with its answer."""
    return session.get_bind().dialect.name == "sqlite"


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
    """Store the key rows of finished creates `(claim, record_id, status, body)` on SQLite, where
    `reserve` wrote nothing (PostgreSQL's rows went in with their answers in `reserve`)."""
    if answers and _one_writer(session):
        insert_rows(session.connection(), _TABLE, _key_rows(answers, settings))


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
