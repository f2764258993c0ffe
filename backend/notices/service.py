"""Notices: which records a committed transaction created or changed, sent to live subscribers.

A notice is small: `{"topic": <table>, "id": <record id>, "action": "create" | "update"}`, or
`"withdraw"` for an incident made more secret, sent to the readers who saw it and may no longer.
Incident notices also carry the incident's `sensitivity` and `reported_by` inside the server, so
the hub can send each one only to readers allowed to see that incident; those fields never leave.
When the writer has the incident's values at hand, its notice also carries the `summary` the
dashboard's live feed shows (backend/notices/summary.py); only the dashboard's stream sends it.

Notices are queued on the session (`publish`) and go out only if the transaction commits:

- an ORM flush hook queues one for every new or changed record (like the audit hook);
- set-based paths that write through SQLAlchemy Core (batch sync, importers) call `publish`;
- PostgreSQL: before the commit, `pg_notify` sends them inside the transaction, so PostgreSQL
  delivers them to every listening process only if the transaction commits;
- SQLite: after the commit they are handed to this process's hubs for that database;
- a rollback drops them (a rolled-back savepoint drops the ones queued inside it).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction

from backend.notices.summary import SUMMARY_TOPIC, incident_summary

log = logging.getLogger("peacewatch.notices")

CHANNEL = "peacewatch"
PUBLIC_FIELDS = ("topic", "id", "action")
SUMMARY = "summary"  # the feed's summary of an incident: sent on the dashboard's stream only
WITHDRAW = "withdraw"  # an incident made more secret: dropped by those who may no longer see it
FORMER_SENSITIVITY = "former_sensitivity"  # internal: whom a withdrawal is for
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; keep well below.
MAX_PAYLOAD_BYTES = 7_900

# Tables whose rows are not records anyone subscribes to (secrets, bookkeeping).
SKIPPED_TABLES = frozenset({"audit_entry", "api_token", "idempotency_key"})
ROLLUP_PREFIX = "metrics_"  # the measures' rollup tables, kept by triggers: bookkeeping too
# Topics that are no table: announcements computed from the data (backend/metrics/watch.py).
ALERT_TOPIC = "alert"
DERIVED_TOPICS = frozenset({ALERT_TOPIC})

_QUEUE = "notices"
_MARKS = "notices_savepoints"

Notice = dict[str, Any]
Sink = Callable[[list[Notice]], None]


def make_notice(
    topic: str,
    record_id: object,
    action: str = "create",
    *,
    sensitivity: object = None,
    reported_by: str | None = None,
    record: Mapping[str, Any] | None = None,
) -> Notice:
    """A notice; pass an incident's `sensitivity` and `reported_by` (they decide who gets it),
    and its column values as `record` when at hand (its notice then carries the feed's summary)."""
    notice: Notice = {"topic": topic, "id": str(record_id), "action": action}
    if sensitivity is not None:
        notice["sensitivity"] = getattr(sensitivity, "value", sensitivity)
    if reported_by is not None:
        notice["reported_by"] = reported_by
    summary = incident_summary(record) if record is not None and topic == SUMMARY_TOPIC else None
    if summary is not None:
        notice[SUMMARY] = summary
    return notice


def publish(session: OrmSession, notices: Iterable[Mapping[str, Any]]) -> None:
    """Queue notices on the session's transaction; they go out only if it commits.

    For set-based writes (Core inserts and updates) that the flush hook cannot see. Cheap: the
    notices are appended to a list; duplicates are merged once, at commit.
    """
    session.info.setdefault(_QUEUE, []).extend(notices)


def public_view(notice: Mapping[str, Any], *, summary: bool = False) -> Notice:
    """What a subscriber is sent: the notice without the internal fields; with an incident's
    feed summary if asked (the dashboard's stream) and the notice has one."""
    view = {k: notice[k] for k in PUBLIC_FIELDS if k in notice}
    if summary and SUMMARY in notice:
        view[SUMMARY] = notice[SUMMARY]
    return view


# --- which ORM objects make notices -------------------------------------------------------------


_link_cache: dict[sa.Table, bool] = {}


def is_topic(table: sa.Table) -> bool:
    """Whether changes to this table's rows are announced (records people follow)."""
    return not (
        table.name in SKIPPED_TABLES or table.name.startswith(ROLLUP_PREFIX) or is_link_table(table)
    )


def is_link_table(table: sa.Table) -> bool:
    """A table that only links records (its primary key is all foreign keys), e.g. agreement_party."""
    cached = _link_cache.get(table)
    if cached is None:
        pk = list(table.primary_key.columns)
        cached = len(pk) > 1 and all(c.foreign_keys for c in pk)
        _link_cache[table] = cached
    return cached


def _notice_of(obj: Any, action: str) -> Notice | None:
    mapper = sa.inspect(obj).mapper
    table = mapper.local_table
    if not isinstance(table, sa.Table) or not is_topic(table):
        return None
    record_id = ",".join(str(v) for v in mapper.primary_key_from_instance(obj))
    return make_notice(
        table.name,
        record_id,
        action,
        sensitivity=getattr(obj, "sensitivity", None),
        reported_by=getattr(obj, "reported_by", None),
        record=sa.inspect(obj).dict,  # the loaded values only: reading more would query
    )


def _withdrawal_of(obj: Any, update: Notice) -> Notice | None:
    """When an update made an incident more secret, a `withdraw` notice for the readers who saw
    it and no longer may: their pages drop it (no detail travels, only its id). The hub sends it
    only to them (`backend.notices.hub.may_see`), with the sensitivity it had for its audience.
    Made from the record's `update` notice, less the feed's summary."""
    history = sa.inspect(obj).attrs.sensitivity.history if hasattr(obj, "sensitivity") else None
    if not history or not history.deleted or history.deleted[0] is None:
        return None
    notice: Notice = {k: v for k, v in update.items() if k != SUMMARY}
    notice["action"] = WITHDRAW
    notice[FORMER_SENSITIVITY] = getattr(history.deleted[0], "value", history.deleted[0])
    return notice


def _after_flush(session: OrmSession, _context: Any) -> None:
    # Still the pre-flush view here: `new` and `dirty` list what this flush wrote.
    queued: list[Notice] = []
    for obj in session.new:
        if (n := _notice_of(obj, "create")) is not None:
            queued.append(n)
    for obj in session.dirty:
        if session.is_modified(obj, include_collections=False) and (n := _notice_of(obj, "update")):
            queued.append(n)
            if (gone := _withdrawal_of(obj, n)) is not None:
                queued.append(gone)
    if queued:
        publish(session, queued)


# --- the transaction's end ----------------------------------------------------------------------


def _merged(notices: list[Mapping[str, Any]]) -> list[Notice]:
    """One notice per record: `create` if it was created in the transaction, the newest fields."""
    merged: dict[tuple[str, str, object], Notice] = {}
    for notice in notices:
        topic, record_id = notice.get("topic"), notice.get("id")
        if not topic or record_id is None:
            log.warning("ignored a notice without topic or id: %.200r", notice)
            continue
        # A derived announcement is made once per audience (its sensitivity): keep each.
        audience = notice.get("sensitivity") if topic in DERIVED_TOPICS else None
        action = notice.get("action") or "update"
        if action == WITHDRAW:  # beside the record's own notice, for another audience
            audience = WITHDRAW
        key = (topic, str(record_id), audience)
        current = merged.get(key)
        if current is None:
            merged[key] = {**notice, "id": key[1], "action": action}
        else:
            if action != WITHDRAW:
                action = "create" if "create" in (current["action"], action) else "update"
            if SUMMARY not in notice:  # a later write that brought none: the earlier is stale
                current.pop(SUMMARY, None)
            current.update(notice, id=key[1], action=action)
    return list(merged.values())


def payloads(notices: Iterable[Mapping[str, Any]]) -> list[str]:
    """JSON lists of notices, each under PostgreSQL's NOTIFY payload limit."""
    out: list[str] = []
    batch: list[str] = []
    size = 2
    for notice in notices:
        item = json.dumps(notice, separators=(",", ":"), ensure_ascii=False, default=str)
        item_size = len(item.encode()) + 1
        if item_size + 2 > MAX_PAYLOAD_BYTES:
            log.warning("notice too large to send, dropped: %s", item[:200])
            continue
        if batch and size + item_size > MAX_PAYLOAD_BYTES:
            out.append("[" + ",".join(batch) + "]")
            batch, size = [], 2
        batch.append(item)
        size += item_size
    if batch:
        out.append("[" + ",".join(batch) + "]")
    return out


def _dialect(session: OrmSession) -> str | None:
    try:
        return session.get_bind().dialect.name
    except Exception:  # an unbound session: nothing to send to
        return None


def _before_commit(session: OrmSession) -> None:
    if session.in_nested_transaction() or _dialect(session) != "postgresql":
        return
    # The commit's own flush runs after this hook: flush now so that its notices are sent too.
    session.flush()
    queued = session.info.pop(_QUEUE, None)
    if not queued:
        return
    notices = _merged(queued)
    conn = session.connection()
    for payload in payloads(notices):
        conn.execute(sa.select(sa.func.pg_notify(CHANNEL, payload)))


def _after_commit(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the notices wait for the outer transaction
    queued = session.info.pop(_QUEUE, None)
    session.info.pop(_MARKS, None)
    if not queued:
        return
    try:
        bind = session.get_bind()
    except Exception:
        return
    if bind.dialect.name == "postgresql":
        return  # sent with pg_notify already
    try:
        deliver_local(str(bind.url), _merged(queued))
    except Exception:  # the transaction has committed: never fail the request now
        log.exception("could not deliver notices")


def _after_transaction_create(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_MARKS, {})
        marks[id(transaction)] = len(session.info.get(_QUEUE, ()))


def _after_soft_rollback(session: OrmSession, previous: SessionTransaction) -> None:
    if previous.nested:  # a savepoint rolled back: drop what was queued inside it
        mark = session.info.get(_MARKS, {}).pop(id(previous), None)
        if mark is not None and _QUEUE in session.info:
            del session.info[_QUEUE][mark:]


def _after_transaction_end(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        # Committed (after_commit took the notices), rolled back or closed: nothing carries over
        # to the session's next transaction.
        session.info.pop(_QUEUE, None)
        session.info.pop(_MARKS, None)


def install() -> None:
    """Hook notices into every session (idempotent)."""
    if event.contains(OrmSession, "after_flush", _after_flush):
        return
    event.listen(OrmSession, "after_flush", _after_flush)
    event.listen(OrmSession, "before_commit", _before_commit)
    event.listen(OrmSession, "after_commit", _after_commit)
    event.listen(OrmSession, "after_transaction_create", _after_transaction_create)
    event.listen(OrmSession, "after_soft_rollback", _after_soft_rollback)
    event.listen(OrmSession, "after_transaction_end", _after_transaction_end)


# --- delivery inside this process (SQLite) ------------------------------------------------------

_sinks_lock = threading.Lock()
_local_sinks: dict[str, list[Sink]] = {}


def add_local_sink(database_url: str, sink: Sink) -> None:
    """Have `sink` called with the notices of every commit to that database in this process."""
    with _sinks_lock:
        _local_sinks.setdefault(database_url, []).append(sink)


def remove_local_sink(database_url: str, sink: Sink) -> None:
    with _sinks_lock:
        sinks = _local_sinks.get(database_url, [])
        if sink in sinks:
            sinks.remove(sink)
        if not sinks:
            _local_sinks.pop(database_url, None)


def deliver_local(database_url: str, notices: list[Notice]) -> None:
    with _sinks_lock:
        sinks = list(_local_sinks.get(database_url, ()))
    for sink in sinks:
        try:
            sink(notices)
        except Exception:  # a subscriber's trouble must never fail a commit that happened
            log.exception("could not deliver notices")
