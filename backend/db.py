"""Engines, sessions and the column types every table shares.

No engine exists at import time: `Database(settings)` makes one, and the app keeps it in its lifespan.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic_core
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from backend.config import Settings

# Constraint names that Alembic can find again on every database (and in batch mode on SQLite).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no offset; PostgreSQL keeps `timestamptz`. Either way the application sees UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bulk_bind_processor(self, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
        """What `backend.bulk` converts values with: on SQLite, the very text that
        `process_bind_param` and SQLAlchemy's DATETIME make together ("YYYY-MM-DD
        HH:MM:SS.ffffff", naive UTC), in one step at a fraction of their cost (a batch of
        field records holds a few times per row). None: the usual bind processor."""
        if dialect.name != "sqlite":
            return None

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            if value.utcoffset():
                value = value.astimezone(UTC)
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")

        return process


def utcnow() -> datetime:
    return datetime.now(UTC)


class JsonText(str):
    """A JSON document serialised already: a JSON column stores it as it is, not encoded again."""

    __slots__ = ()


def dump_json(value: Any) -> str:
    """How JSON columns serialise their values (the engines' `json_serializer`): compact, by
    pydantic-core (a few times faster than the json module; a batch stores an answer per record)."""
    return value if type(value) is JsonText else pydantic_core.to_json(value).decode()


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that we can BEGIN IMMEDIATE for writers.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    # SQLite has one writer at a time. The writers of this process queue on this lock, which hands
    # over at once, rather than in SQLite's busy handler, which polls with sleeps of up to 100 ms;
    # other processes (the CLI, another server) still wait through the busy timeout. The lock is
    # held from a writer's BEGIN to its COMMIT or ROLLBACK, so a transaction begun late holds it
    # briefly. Should it ever not come back, a writer waits at most the busy timeout for it.
    turn = threading.Lock()
    wait_s = busy_timeout_ms / 1000
    # Who holds the turn, by Connection rather than in `conn.info`: a connection invalidated
    # mid-transaction (a read-only database drops the pool) can no longer reach its info.
    holding: dict[str, sa.Connection | None] = {"conn": None}

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # A writer takes the write lock up front: in WAL mode a deferred transaction that reads and
        # then writes can fail at once with SQLITE_BUSY instead of waiting for the busy timeout.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == "IMMEDIATE" and turn.acquire(timeout=wait_s):
            holding["conn"] = conn
        try:
            conn.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            _end(conn)
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end(conn: sa.Connection) -> None:
        if holding["conn"] is conn:
            holding["conn"] = None
            turn.release()


def make_engine(settings: Settings) -> Engine:
    url = sa.make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
            },
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            json_serializer=dump_json,
        )
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    return sa.create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        json_serializer=dump_json,
    )


class Database:
    """The engine and the one session factory of a running app (or a CLI command)."""

    def __init__(self, settings: Settings) -> None:
        from backend.audit.service import install as install_audit_trail
        from backend.dbfaults import install as install_storage_faults
        from backend.notices.service import install as install_notices

        install_audit_trail()
        install_notices()
        self.settings = settings
        self.engine = make_engine(settings)
        install_storage_faults(self.engine)
        self._writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error."""
        bind = self._writer if write else self.engine
        with Session(bind, expire_on_commit=False) as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()


def enum_type(enum_cls: type[Any]) -> sa.Enum:
    """A vocabulary column: VARCHAR plus a CHECK constraint, the same on SQLite and PostgreSQL.

    Not a native PostgreSQL ENUM, so adding a value is a one-line migration on both databases.
    """
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=32,
        name=enum_cls.__name__.lower(),
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )
