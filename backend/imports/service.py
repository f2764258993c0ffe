"""Importing a dataset's events as incidents, in set-based batches.

Each batch of rows costs one SELECT of the incidents it may already hold, one multi-row INSERT,
one executemany UPDATE and one append to the audit chain. A bad row is reported with its line and
never stops the import. Who controls the transactions is the caller's choice: the CLI commits
every batch (so a long import never holds the database's write lock for long, and an interrupted
one resumes where it stopped), the API runs the whole upload in its request's transaction.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from backend.audit.service import append as audit_append
from backend.audit.service import hold as audit_hold
from backend.bulk import insert_rows
from backend.db import utcnow
from backend.imports import acled, ucdp
from backend.imports.mapping import OWNED_FIELDS, Event
from backend.imports.models import ImportReport, RowChange, RowProblem
from backend.imports.parties import PartyDirectory
from backend.imports.reading import FileFacts, ProgressFn, RowError, SourceRow, read_rows
from backend.incidents.models import Incident
from backend.notices.service import Notice, make_notice, publish
from backend.vocab import Finding, Sensitivity, SourceType, WorkflowStatus

BATCH_ROWS = 1000
LISTED_MAX = 1000  # rejections and changes listed in a report; the counts are always complete

_TABLE: sa.Table = Incident.__table__  # type: ignore[attr-defined]
_LINKS = (("alleged_party_id", "alleged_actor_name"), ("target_party_id", "target_actor_name"))
_UPDATABLE = (
    *OWNED_FIELDS,
    "alleged_party_id",
    "target_party_id",
    "source_timestamp",
    "source_hash",
)
_INTERNAL = {"source_timestamp", "source_hash", "updated_at"}  # audited, not shown as changes
_EXISTING_COLUMNS = [
    _TABLE.c.id,
    _TABLE.c.external_id,
    _TABLE.c.updated_at,
    _TABLE.c.sensitivity,
    _TABLE.c.reported_by,
    *(_TABLE.c[f] for f in _UPDATABLE),
]
_UPDATE = (
    sa.update(_TABLE)
    .where(_TABLE.c.id == sa.bindparam("v_id", type_=_TABLE.c.id.type))
    .values(
        {
            name: sa.bindparam(f"v_{name}", type_=_TABLE.c[name].type)
            for name in (*_UPDATABLE, "updated_at")
        }
    )
)


class Source(StrEnum):
    acled = "acled"
    ucdp = "ucdp"


@dataclass(frozen=True, slots=True)
class _Format:
    dataset: str
    label: str
    id_key: str  # the column that holds the event's stable id
    columns: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    map_row: Callable[[int, dict[str, str], datetime], Event]
    hint: Callable[[set[str]], str]


FORMATS = {
    Source.acled: _Format(
        acled.DATASET, "ACLED", "event_id", acled.COLUMNS, acled.REQUIRED, acled.map_row, acled.hint
    ),
    Source.ucdp: _Format(
        ucdp.DATASET, "UCDP GED", "id", ucdp.COLUMNS, ucdp.REQUIRED, ucdp.map_row, ucdp.hint
    ),
}

SessionScope = Callable[[], AbstractContextManager[Session]]


class _Run:
    """One import of one file: the counts, the parties met, and the ids seen so far."""

    def __init__(self, fmt: _Format, *, create_parties: bool, reported_by: str) -> None:
        self.fmt = fmt
        self.reported_by = reported_by
        self.now = utcnow()
        self.parties = PartyDirectory(create=create_parties)
        self.seen: dict[str, int] = {}  # external id -> line it was first met on
        self.facts = FileFacts()
        self.report = ImportReport(source=fmt.label, dataset=fmt.dataset)

    # Reading --------------------------------------------------------------------------------

    def reject(self, line: int, reason: str, external_id: str | None = None) -> None:
        self.report.rejected += 1
        if len(self.report.rejections) < LISTED_MAX:
            self.report.rejections.append(
                RowProblem(line=line, external_id=external_id, reason=reason)
            )

    def events(self, chunks: Iterable[bytes], progress: ProgressFn | None) -> Iterator[Event]:
        fmt = self.fmt
        for item in read_rows(
            chunks,
            columns=fmt.columns,
            required=fmt.required,
            what=fmt.label,
            facts=self.facts,
            progress=progress,
            hint=fmt.hint,
        ):
            self.report.rows += 1
            if not isinstance(item, SourceRow):
                line, error = item
                self.reject(line, str(error))
                continue
            external_id = item.values.get(fmt.id_key) or None
            try:
                event = fmt.map_row(item.line, item.values, self.now)
            except RowError as exc:
                self.reject(item.line, str(exc), external_id)
                continue
            first = self.seen.setdefault(event.external_id, event.line)
            if first != event.line:
                self.reject(
                    event.line,
                    f"event {event.external_id} appears already on line {first}; "
                    "the first one is kept",
                    event.external_id,
                )
                continue
            yield event

    # Writing --------------------------------------------------------------------------------

    def apply(self, session: Session, events: list[Event]) -> None:
        """Write one batch: create new events, update changed ones, audit and announce both."""
        existing = _existing(session, self.fmt.dataset, events)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        audit: list[tuple[str, str, str, dict[str, Any]]] = []
        notices: list[Notice] = []
        now = utcnow()
        for event in events:
            links = {
                "alleged_party_id": self.parties.resolve(session, event.alleged),
                "target_party_id": self.parties.resolve(session, event.target),
            }
            old = existing.get(event.external_id)
            if old is None:
                row = self._new_row(event, links, now)
                inserts.append(row)
                audit.append(("create", "incident", str(row["id"]), row))
                notices.append(_notice(row, "create"))
                continue
            new = self._merged(old, event, links)
            changes = {k: [old[k], v] for k, v in new.items() if old[k] != v}
            if not changes:
                self.report.unchanged += 1
                continue
            changes["updated_at"] = [old["updated_at"], now]
            updates.append(
                {"v_id": old["id"], "v_updated_at": now, **{f"v_{k}": v for k, v in new.items()}}
            )
            audit.append(("update", "incident", str(old["id"]), changes))
            notices.append(_notice(old, "update"))
            self._note_change(event, old["id"], changes)
        conn = session.connection()
        if inserts or updates:
            audit_hold(session)  # before the rows' triggers upsert the rollups
        if inserts:
            insert_rows(conn, _TABLE, inserts)
        if updates:
            conn.execute(_UPDATE, updates)
        audit_append(session, audit)
        publish(session, notices)  # sent to live subscribers if the transaction commits
        self.report.created += len(inserts)
        self.report.updated += len(updates)

    def _new_row(
        self, event: Event, links: dict[str, uuid.UUID | None], now: datetime
    ) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            **event.values,
            **links,
            "injuries": 0,
            "source_type": SourceType.media,
            "sensitivity": Sensitivity.public,
            "reported_at": None,
            "status": WorkflowStatus.received,
            "finding": Finding.unverified,
            "attributed_party_id": None,
            "reported_by": self.reported_by,
            "received_at": now,
            "updated_at": now,
            "source_dataset": self.fmt.dataset,
            "external_id": event.external_id,
            "source_timestamp": event.source_timestamp,
            "source_hash": event.content_hash,
        }

    @staticmethod
    def _merged(
        old: dict[str, Any], event: Event, links: dict[str, uuid.UUID | None]
    ) -> dict[str, Any]:
        """The updatable columns after this row: the source's values if it changed since the last
        import (newer ACLED `timestamp`, else different content), and links to parties found."""
        new = {k: old[k] for k in _UPDATABLE}
        content_hash = event.content_hash
        changed = content_hash != old["source_hash"]
        stored_ts, incoming_ts = old["source_timestamp"], event.source_timestamp
        if changed and stored_ts is not None and incoming_ts is not None:
            changed = incoming_ts > stored_ts  # an older file never overwrites a newer one
        if changed:
            new.update(event.values)
            new["source_hash"] = content_hash
            new["source_timestamp"] = incoming_ts
        for party_field, name_field in _LINKS:
            resolved = links[party_field]
            if changed and event.values[name_field] != old[name_field]:
                new[party_field] = resolved  # the actor changed: follow it
            elif old[party_field] is None and resolved is not None:
                new[party_field] = resolved  # an alias added since the last import
        return new

    def _note_change(
        self, event: Event, incident_id: uuid.UUID, changes: dict[str, list[Any]]
    ) -> None:
        if len(self.report.changes) >= LISTED_MAX:
            return
        shown = {k: v for k, v in changes.items() if k not in _INTERNAL}
        self.report.changes.append(
            RowChange(
                line=event.line,
                external_id=event.external_id,
                incident_id=incident_id,
                changes=shown,
            )
        )

    def finish(self, started: float) -> ImportReport:
        report = self.report
        report.encoding = self.facts.encoding
        report.hxl_tags = self.facts.hxl_tags
        report.parties_created = list(self.parties.created)
        report.unlinked_actors = sum(self.parties.unlinked.values())
        report.unlinked_actor_names = dict(self.parties.unlinked.most_common(50))
        report.elapsed_s = round(time.perf_counter() - started, 3)
        return report


def _existing(session: Session, dataset: str, events: list[Event]) -> dict[str, dict[str, Any]]:
    """The incidents a batch's events already have, by external id (one SELECT)."""
    found = session.connection().execute(
        sa.select(*_EXISTING_COLUMNS).where(
            _TABLE.c.source_dataset == dataset,
            _TABLE.c.external_id.in_([e.external_id for e in events]),
        )
    )
    return {row.external_id: row._asdict() for row in found}


def _notice(row: dict[str, Any], action: str) -> Notice:
    return make_notice(
        "incident",
        row["id"],
        action,
        sensitivity=row["sensitivity"],
        reported_by=row["reported_by"],
    )


def _batches(events: Iterator[Event], size: int) -> Iterator[list[Event]]:
    batch: list[Event] = []
    for event in events:
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_events(
    *,
    sessions: SessionScope,
    source: Source,
    chunks: Iterable[bytes],
    create_parties: bool,
    reported_by: str,
    progress: ProgressFn | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportReport:
    """Import a CSV file given as byte lines (an open binary file or `bytes.splitlines(True)`).

    `sessions()` gives the session of each batch; `reported_by` names who imports (the token,
    or `system` for the CLI), as a field report names its team.
    """
    started = time.perf_counter()
    run = _Run(FORMATS[source], create_parties=create_parties, reported_by=reported_by)
    for batch in _batches(run.events(chunks, progress), batch_rows):
        with sessions() as session:
            run.apply(session, batch)
    return run.finish(started)
