"""Faults of the database's storage, which no request caused: a full disk, a read-only database,
a database that cannot be reached, or one kept busy by other writers past the server's wait.

The API answers them with 503, what is wrong (nothing of the request was stored) and when to
retry (`Retry-After`), never with a 500 that reads like a bug. `storage_fault` is the one place
that decides which database errors these are; `backend.app` maps them, and `install` makes a
connection that met a read-only database reconnect, so writes work again as soon as the
database is writable.
"""

from __future__ import annotations

import contextlib
import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext

DISK_FULL = (
    "the database's disk is full: nothing of this request was stored, reads still work; "
    "retry later (an operator must free disk space)"
)
READ_ONLY = (
    "the database is read-only: nothing of this request was stored, reads still work; "
    "retry later (an operator must make the database writable again)"
)
IO_ERROR = (
    "the database could not write to its disk (I/O error): nothing of this request was stored; "
    "retry later (an operator must check the disk)"
)
CANNOT_OPEN = (
    "the database file cannot be opened (missing, or its folder is not writable); "
    "retry later (an operator must check the database's folder)"
)
NO_RESOURCES = (
    "the database server is out of resources (memory or connections): nothing of this request "
    "was stored; retry later"
)
UNREACHABLE = "the database cannot be reached now: retry shortly"
BUSY = (
    "the database was busy with other writers for longer than the server waits: nothing of this "
    "request was stored; retry shortly"
)

# SQLite's primary result codes (https://sqlite.org/rescode.html); extended codes share the low byte.
# BUSY and LOCKED: another writer held the database past `sqlite_busy_timeout_ms`.
_SQLITE = {13: DISK_FULL, 8: READ_ONLY, 10: IO_ERROR, 14: CANNOT_OPEN, 5: BUSY, 6: BUSY}
# PostgreSQL's SQLSTATEs: exact codes first, then whole classes. Deadlocks, serialization
# failures and locks not granted are transient: the client's retry (with its ids) succeeds.
_POSTGRES = {
    "53100": DISK_FULL,
    "25006": READ_ONLY,
    "58030": IO_ERROR,
    "40001": BUSY,
    "40P01": BUSY,
    "55P03": BUSY,
}
_POSTGRES_CLASSES = {"53": NO_RESOURCES, "08": UNREACHABLE, "57": UNREACHABLE}

# How long a client should wait before retrying (`Retry-After`, seconds): an operator's fix
# (disk, permissions) takes minutes; a restart or a busy moment, seconds.
_RETRY_AFTER = {BUSY: 1, UNREACHABLE: 5, NO_RESOURCES: 10}
_OPERATOR_FIX_SECONDS = 60


def storage_fault(exc: BaseException) -> str | None:
    """What the client should be told when `exc` is a storage fault; None for any other error.

    Takes a SQLAlchemy `DBAPIError` or the driver's own exception.
    """
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return None if code is None else _SQLITE.get(code & 0xFF)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        if sqlstate == "57014":  # query_canceled: a statement timeout, not the storage
            return None
        return _POSTGRES.get(sqlstate) or _POSTGRES_CLASSES.get(sqlstate[:2])
    if getattr(exc, "connection_invalidated", False):
        return UNREACHABLE
    # psycopg's OperationalError without a SQLSTATE: the connection failed or was lost.
    if type(orig).__name__ == "OperationalError" and type(orig).__module__.startswith("psycopg"):
        return UNREACHABLE
    return None


def retry_after(fault: str) -> int:
    """Seconds a client should wait before retrying after `fault` (one of this module's texts)."""
    return _RETRY_AFTER.get(fault, _OPERATOR_FIX_SECONDS)


def install(engine: Engine) -> None:
    """Close the pool's connections when one meets a read-only database.

    A SQLite connection opened on a read-only file stays read-only, and so does the process's one
    mapping of the `-shm` file for as long as any connection to the database is open; a PostgreSQL
    session keeps the `default_transaction_read_only` it started with. Connections opened after
    the operator's fix see the database as it is then, so writes work again without a restart.
    """

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if storage_fault(context.original_exception) != READ_ONLY:
            return
        cursor = getattr(context.execution_context, "cursor", None)
        if cursor is not None:
            # A cursor that keeps its statement (its traceback may live on) would keep a closed
            # SQLite connection open underneath, and with it the read-only `-shm` mapping.
            with contextlib.suppress(Exception):
                cursor.close()
        context.is_disconnect = True  # this connection is dropped, not returned to the pool
        engine.dispose()  # and the idle ones are closed now, not at their next checkout
