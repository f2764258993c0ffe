"""Every insert and update of a record appends an audit entry, in the same transaction.

The entries form a hash chain: each entry's hash covers its content and the previous entry's
hash, so altering, removing or reordering any entry breaks every hash after it. The hook sits on
the session's flush, so no service can forget it.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from backend.audit.models import AuditEntry
from backend.bulk import insert_rows
from backend.db import JsonText, utcnow
from backend.pagination import keyset_page

GENESIS = "0" * 64
SYSTEM = ("system", "system")
_SECRET_COLUMNS = {"api_token": {"token_hash"}}
_PG_LOCK_KEY = 0x5057_4155  # "PWAU": one advisory lock serialises appends on PostgreSQL


def set_actor(session: Session, name: str, role: str) -> None:
    """Name who the session's changes are made by (a token, or the CLI)."""
    session.info["audit_actor"] = (name, role)


_PLAIN_BY_TYPE: dict[type, Any] = {
    datetime: datetime.isoformat,
    date: date.isoformat,
    uuid.UUID: str,
    Decimal: str,
}


def _plain(value: Any) -> Any:
    """A value JSON has no type for, as the trail stores it (the encoder's `default`)."""
    plain = _PLAIN_BY_TYPE.get(type(value))  # the common types at the cost of one lookup
    if plain is not None:
        return plain(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    raise TypeError(f"cannot store a {type(value).__name__} in the audit trail")


# One encoder for what an entry stores and for what its hash covers: compact, keys sorted, UTF-8.
_encode = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_plain
).encode


def _hash(
    seq: int,
    at: datetime,
    actor: str,
    actor_role: str,
    action: str,
    record_kind: str,
    record_id: str,
    changes_json: str,
    prev_hash: str,
) -> str:
    """The entry's hash: SHA-256 of the JSON array of its fields in this order (`changes` as its
    canonical JSON text, `at` in ISO 8601). Built by joining the fields' encodings, which gives
    the very text that encoding the array at once would (an integer's JSON is its decimal text)."""
    texts = (at.isoformat(), actor, actor_role, action, record_kind, record_id)
    raw = f"[{int(seq)},{','.join(map(_encode, texts))},{changes_json},{_encode(prev_hash)}]"
    return hashlib.sha256(raw.encode()).hexdigest()


def entry_hash(entry: AuditEntry) -> str:
    return _hash(
        entry.seq,
        entry.at,
        entry.actor,
        entry.actor_role,
        entry.action,
        entry.record_kind,
        entry.record_id,
        _encode(entry.changes),
        entry.prev_hash,
    )


def _describe(obj: Any, *, new: bool) -> tuple[str, str, dict[str, Any]] | None:
    state = sa.inspect(obj)
    table = state.mapper.local_table
    kind = table.name
    if kind == AuditEntry.__tablename__:
        return None
    hidden = _SECRET_COLUMNS.get(kind, set())
    record_id = ",".join(str(v) for v in state.mapper.primary_key_from_instance(obj))
    changes: dict[str, Any] = {}
    for column_attr in state.mapper.column_attrs:
        key = column_attr.key
        if key in hidden:
            continue
        if new:
            changes[key] = getattr(obj, key)
            continue
        history = state.attrs[key].history
        if history.has_changes():
            old = history.deleted[0] if history.deleted else None
            changes[key] = [old, getattr(obj, key)]
    if not new and not changes:
        return None
    return kind, record_id, changes


def _head(session: OrmSession) -> tuple[int, str]:
    cached = session.info.get("audit_head")
    if cached is not None:
        return cached
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
    # On SQLite every writer holds the database's write lock already (BEGIN IMMEDIATE).
    row = conn.execute(
        sa.select(AuditEntry.seq, AuditEntry.hash).order_by(col(AuditEntry.seq).desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, GENESIS)


def hold(session: OrmSession) -> None:
    """Take the chain's lock now, for the rest of the transaction (PostgreSQL; SQLite's writers
    hold the database's). A set-based writer calls it before its rows go in: their rollup
    triggers then run one writer at a time, as appends do, rather than two writers upserting the
    same rollup rows in opposite orders (a deadlock: PostgreSQL cancels one of them, and its
    client must retry; seen with eight `/sync` batches in flight). The ORM's writes take it
    before they flush (`_before_flush`)."""
    _head(session)


def append(session: OrmSession, records: Iterable[tuple[str, str, str, dict[str, Any]]]) -> None:
    """Append entries `(action, record_kind, record_id, changes)` to the chain, in this transaction.

    The one writer of the chain: the flush hook below uses it for ORM changes, and set-based paths
    (batch sync, importers) call it with the rows they insert through SQLAlchemy Core.
    """
    records = list(records)
    if not records:
        return
    seq, prev = _head(session)
    actor, role = session.info.get("audit_actor", SYSTEM)
    now = utcnow()
    rows = []
    for action, kind, record_id, changes in records:
        seq += 1
        changes_json = _encode(changes)
        digest = _hash(seq, now, actor, role, action, kind, record_id, changes_json, prev)
        rows.append(
            {
                "seq": seq,
                "at": now,
                "actor": actor,
                "actor_role": role,
                "action": action,
                "record_kind": kind,
                "record_id": record_id,
                "changes": JsonText(changes_json),  # stored as hashed, not encoded again
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    insert_rows(session.connection(), AuditEntry.__table__, rows)  # type: ignore[attr-defined]
    session.info["audit_head"] = (seq, prev)


def _before_flush(session: OrmSession, _context: Any, _instances: Any) -> None:
    pending = [(o, True) for o in session.new] + [(o, False) for o in session.dirty]
    append(
        session,
        (
            ("create" if new else "update", *d)
            for o, new in pending
            if (d := _describe(o, new=new)) is not None
        ),
    )


def _after_end(session: OrmSession, *_: Any) -> None:
    session.info.pop("audit_head", None)


def install() -> None:
    """Hook the audit trail into every session (idempotent)."""
    if not event.contains(OrmSession, "before_flush", _before_flush):
        event.listen(OrmSession, "before_flush", _before_flush)
        event.listen(OrmSession, "after_commit", _after_end)
        event.listen(OrmSession, "after_rollback", _after_end)


@dataclass(frozen=True, slots=True)
class ChainReport:
    count: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _entries(session: Session, batch: int = 5_000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = session.exec(
            select(AuditEntry)
            .where(AuditEntry.seq > last)
            .order_by(col(AuditEntry.seq))
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_chain(*, session: Session) -> ChainReport:
    """Walk the chain from the start; report the first entry that does not fit."""
    expected_seq, prev, count = 1, GENESIS, 0
    for entry in _entries(session):
        problem = None
        if entry.seq != expected_seq:
            problem = f"entry {expected_seq} is missing (next is {entry.seq})"
        elif entry.prev_hash != prev:
            problem = (
                f"entry {entry.seq} does not follow entry {entry.seq - 1} (removed or reordered)"
            )
        elif entry_hash(entry) != entry.hash:
            problem = f"entry {entry.seq} was altered: its content no longer matches its hash"
        if problem:
            return ChainReport(count, expected_seq - 1, prev, entry.seq, problem)
        expected_seq, prev, count = entry.seq + 1, entry.hash, count + 1
    return ChainReport(count, expected_seq - 1, prev)


def list_entries(
    *,
    session: Session,
    record_kind: str | None,
    record_id: str | None,
    actor: str | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """Newest first, filtered; paged by sequence number."""
    clauses = []
    if record_kind:
        clauses.append(AuditEntry.record_kind == record_kind)
    if record_id:
        clauses.append(AuditEntry.record_id == record_id)
    if actor:
        clauses.append(AuditEntry.actor == actor)
    if since:
        clauses.append(col(AuditEntry.at) >= since)
    if until:
        clauses.append(col(AuditEntry.at) < until)
    return keyset_page(
        session,
        select(AuditEntry).where(*clauses),
        keys=[col(AuditEntry.seq)],
        parsers=[int],
        cursor=cursor,
        limit=limit,
        key_of=lambda e: (e.seq,),
    )
