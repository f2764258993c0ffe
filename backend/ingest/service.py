"""Batch sync: a device flushes its outbox in one request; every item gets its own answer.

The fast path is set-based: items are parsed and checked as a batch (one query per lookup), the
survivors go in with one multi-row INSERT per table, the audit trail gets the same rows in one
append, and the key rows are answered in one UPDATE. Each item is all-or-nothing: a refused item
is left out and never blocks the others. Should the database still refuse the batch insert (a
constraint no check foresaw), the items are inserted again one by one, each in a savepoint, so
only the offender is refused.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from functools import cache
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from backend.audit import service as audit
from backend.auth.service import Principal
from backend.bulk import insert_rows
from backend.config import Settings
from backend.errors import Conflict, DomainError, Forbidden, InvalidInput
from backend.ingest import idempotency
from backend.ingest.kinds import KINDS, Entry
from backend.ingest.schemas import SyncItem
from backend.notices import service as notices
from backend.notices.service import make_notice
from backend.schemas import error_field
from backend.verification.service import derive_state

log = logging.getLogger("peacewatch.ingest")

STATUSES = ("created", "replayed", "conflict", "rejected")


def sync(
    *, session: Session, principal: Principal, settings: Settings, items: list[SyncItem]
) -> dict[str, Any]:
    if len(items) > settings.sync_max_items:
        raise InvalidInput(
            f"{len(items)} items in one batch; at most {settings.sync_max_items} are taken, "
            "send the rest in another request",
            field="items",
        )
    entries = [_parse(i, item, principal) for i, item in enumerate(items)]
    write(session=session, principal=principal, settings=settings, entries=entries)
    return _response(entries)


def write(
    *,
    session: Session,
    principal: Principal,
    settings: Settings,
    entries: list[Entry],
    need_claim: bool = True,
) -> None:
    """Check, insert and answer `entries` (parsed records of one caller) in `session`.

    The one path every create of a field record takes: a sync batch, or single posts grouped by
    the writer. `need_claim`: refuse records that no id or key makes recognisable (a sync batch).
    """
    twins = _claims(entries, principal, need_claim)
    _answer_known(session, entries)
    ready: list[Entry] = []
    # Records first, then the verification steps, which may be about a record of this batch.
    for stage in (False, True):
        by_kind: dict[str, list[Entry]] = defaultdict(list)
        for entry in entries:
            if entry.open and (entry.kind.subject is not None) is stage:
                by_kind[entry.kind.name].append(entry)
        for name, group in by_kind.items():
            KINDS[name].prepare(session, principal, settings, group)
        _answer_late_twins(session, [e for group in by_kind.values() for e in group])
        staged = [e for group in by_kind.values() for e in group if e.open and e.row]
        for entry in staged:  # its answer, known before it goes in: stored with its key
            entry.body = entry.kind.body(entry)
        staged = _reserve(session, settings, staged)
        _insert(session, staged)
        ready += staged
    idempotency.release(session, [e.claim for e in ready if e.claim and e.status == "rejected"])
    idempotency.settle(
        session,
        [
            (e.claim, str(e.row["id"]), 201, e.body)  # type: ignore[index]
            for e in ready
            if e.claim and e.status == "created"
        ],
        settings,
    )
    _answer_twins(twins)


def _parse(index: int, item: SyncItem, principal: Principal) -> Entry:
    kind = KINDS.get(item.kind)
    if kind is None:
        entry = Entry(index, None, None)  # type: ignore[arg-type]
        entry.status = "rejected"
        entry.errors = [
            {
                "field": "kind",
                "message": f"unknown kind '{item.kind}'; one of {', '.join(KINDS)}",
                "type": "InvalidInput",
            }
        ]
        return entry
    entry = Entry(index, kind, None, key=item.key)
    if not principal.can(kind.permission):
        entry.refuse(Forbidden(f"role '{principal.role.value}' may not send {kind.name} records"))
        return entry
    if kind.subject is not None:
        if item.subject_id is None:
            entry.refuse(InvalidInput(f"a {kind.name} item needs subject_id", field="subject_id"))
            return entry
        entry.subject_id = item.subject_id
    elif item.subject_id is not None:
        entry.refuse(InvalidInput(f"a {kind.name} item takes no subject_id", field="subject_id"))
        return entry
    try:
        # The model's own validator: what `model_validate` runs, less SQLModel's wrapper around it.
        entry.data = kind.create.__pydantic_validator__.validate_python(item.data)
    except ValidationError as exc:
        entry.status = "rejected"
        entry.errors = [
            {
                "field": error_field(err["loc"], err, empty="data"),
                "message": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors()
        ]
    return entry


def _claims(
    entries: list[Entry], principal: Principal, need_claim: bool
) -> list[tuple[Entry, Entry]]:
    """Give each entry its claim; return (twin, first) pairs of the same claim within the batch."""
    first: dict[tuple[str, str], Entry] = {}
    twins = []
    for entry in entries:
        if not entry.open:
            continue
        claim = idempotency.claim_for(
            kind=entry.kind.record_kind,
            path=entry.kind.path(entry.subject_id),
            principal=principal,
            key=entry.key,
            data=entry.data,
        )
        if claim is None and not need_claim:
            continue
        if claim is None:
            entry.refuse(
                InvalidInput(
                    "a synced record needs an id made on the device (or a key), so that a "
                    "re-sent outbox is recognised",
                    field="id",
                )
            )
            continue
        entry.claim = claim
        if claim.ident in first:
            twins.append((entry, first[claim.ident]))
            entry.status = "twin"  # answered with its first, at the end
        else:
            first[claim.ident] = entry
    return twins


def _answer_known(session: Session, entries: list[Entry]) -> None:
    """Replay or refuse the entries whose key is stored already (one query)."""
    open_ = [e for e in entries if e.open and e.claim]
    known = idempotency.find(session, [e.claim for e in open_])  # type: ignore[misc]
    for entry in open_:
        row = known.get(entry.claim.ident)  # type: ignore[union-attr]
        if row is not None:
            _answer_from(entry, row)


def _answer_late_twins(session: Session, entries: list[Entry]) -> None:
    """An id found taken may be the same record, stored by a concurrent request since our key
    lookup (PostgreSQL runs writers side by side): answer it from its key row as a replay."""
    taken = [e for e in entries if e.status == "conflict" and e.claim is not None]
    known = idempotency.find(session, [e.claim for e in taken])  # type: ignore[misc]
    for entry in taken:
        row = known.get(entry.claim.ident)  # type: ignore[union-attr]
        if row is not None:
            entry.status, entry.error, entry.errors = None, None, []
            _answer_from(entry, row)


def _answer_from(entry: Entry, row: Any) -> None:
    try:
        entry.body = idempotency.replay_of(entry.claim, row)  # type: ignore[arg-type]
        entry.status = "replayed"
    except DomainError as error:
        entry.refuse(error)


def _reserve(session: Session, settings: Settings, ready: list[Entry]) -> list[Entry]:
    """Hold the keys of the entries about to go in; a key taken meanwhile is answered from it."""
    answers = [(e.claim, str(e.row["id"]), 201, e.body) for e in ready if e.claim]  # type: ignore[index]
    held = idempotency.reserve(session, answers, settings)
    raced = [e for e in ready if e.claim and e.claim.ident not in held]
    if raced:
        known = idempotency.find(session, [e.claim for e in raced])  # type: ignore[misc]
        for entry in raced:
            row = known.get(entry.claim.ident)  # type: ignore[union-attr]
            if row is not None:
                _answer_from(entry, row)
            else:  # held by a transaction that rolled back after all: try the next batch
                entry.refuse(Conflict("the same record was being stored at the same time; retry"))
    return [e for e in ready if e.open]


_ORDER = ("incident", "ddr_milestone", "track_activity", "verification_event")


def _insert(session: Session, ready: list[Entry]) -> None:
    if not ready:
        return
    audit.hold(session)  # before the rows' triggers upsert the rollups (see `audit.hold`)
    try:
        with session.begin_nested():
            _insert_rows(session, ready)
    except IntegrityError:
        session.info.pop("audit_head", None)  # the savepoint took the appended entries with it
        for entry in ready:
            try:
                with session.begin_nested():
                    _insert_rows(session, [entry])
            except IntegrityError as exc:
                session.info.pop("audit_head", None)
                log.warning("item %d refused by the database: %s", entry.index, exc.orig)
                entry.refuse(InvalidInput("refused by the database: a constraint does not hold"))
    created = [e for e in ready if e.open]
    for entry in created:
        entry.status = "created"
    _derive_subjects(session, created)


def _insert_rows(session: Session, entries: list[Entry]) -> None:
    rows: dict[type[SQLModel], list[dict[str, Any]]] = defaultdict(list)
    links: dict[type[SQLModel], list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        rows[entry.kind.table].append(entry.row)  # type: ignore[arg-type]
        for table, row in entry.extra_rows:
            links[table].append(row)
    conn = session.connection()
    ordered = sorted(rows, key=lambda t: _ORDER.index(t.__tablename__))  # type: ignore[attr-defined]
    entries_of_audit = []
    for table in [*ordered, *links]:
        table_rows = rows.get(table) or links[table]
        insert_rows(conn, table.__table__, table_rows)  # type: ignore[attr-defined]
        name = table.__tablename__  # type: ignore[attr-defined]
        entries_of_audit += [("create", name, _record_id(table, row), row) for row in table_rows]
    audit.append(session, entries_of_audit)
    notices.publish(session, _notices(entries))


def _notices(entries: list[Entry]) -> list[dict[str, Any]]:
    """What the live dashboard hears of the new records (an incident's visibility travels along)."""
    return [
        make_notice(
            entry.kind.record_kind,
            entry.row["id"],  # type: ignore[index]
            sensitivity=entry.row.get("sensitivity"),  # type: ignore[union-attr]
            reported_by=entry.row.get("reported_by"),  # type: ignore[union-attr]
            record=entry.row,  # an incident's notice carries the live feed's summary of it
        )
        for entry in entries
    ]


def _record_id(table: type[SQLModel], row: dict[str, Any]) -> str:
    return ",".join(str(row[k]) for k in _primary_key(table))


@cache
def _primary_key(table: type[SQLModel]) -> tuple[str, ...]:
    return tuple(c.key for c in sa.inspect(table).primary_key)


def _derive_subjects(session: Session, created: list[Entry]) -> None:
    """Verification steps move their subjects' state (one query per subject kind)."""
    subjects: dict[type[SQLModel], dict[uuid.UUID, Any]] = defaultdict(dict)
    for entry in created:
        if entry.subject is not None:
            subjects[type(entry.subject)][entry.subject.id] = entry.subject  # type: ignore[attr-defined]
    for group in subjects.values():
        derive_state(session, list(group.values()))


def _answer_twins(twins: list[tuple[Entry, Entry]]) -> None:
    for twin, first in twins:
        if twin.claim.fingerprint != first.claim.fingerprint:  # type: ignore[union-attr]
            twin.status = None
            twin.refuse(twin.claim.conflict())  # type: ignore[union-attr]
        elif first.status in ("created", "replayed"):
            twin.status, twin.body = "replayed", first.body
        else:
            twin.status, twin.errors, twin.error = first.status, first.errors, first.error


def _response(entries: list[Entry]) -> dict[str, Any]:
    """The answer as plain JSON-ready data (the bodies are JSON-ready already; `SyncResponse`
    documents the shape)."""
    results = [
        {
            "index": e.index,
            "kind": e.kind.name if e.kind else None,
            "id": (e.body or {}).get("id") or (str(e.data.id) if e.data and e.data.id else None),
            "status": e.status,
            "errors": e.errors,
            "record": e.body,
        }
        for e in entries
    ]
    counts = Counter(r["status"] for r in results)
    return {"results": results, "counts": {s: counts.get(s, 0) for s in STATUSES}}
