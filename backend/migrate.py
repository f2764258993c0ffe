"""Schema migrations, run as a step before the app starts (never by the app itself).

`peacewatch db upgrade` migrates; every server process checks at startup that the schema is the
one its code needs (`check_at_startup`), so no worker ever serves on a schema it does not know.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from backend.db import Database

log = logging.getLogger("peacewatch")

# PostgreSQL advisory lock held while migrating: app machines that all run `peacewatch db upgrade`
# as they start take turns, and the later ones find the schema at head and do nothing.
MIGRATION_LOCK_KEY = 0x7065_6163_6577  # "peacew"


class SchemaNotCurrent(RuntimeError):
    """The database's schema is not the one this version of PeaceWatch needs."""


def _script_location() -> Path:
    # From a source checkout (editable install) or the working directory of an installed copy.
    for candidate in (
        Path(__file__).resolve().parent.parent / "migrations",
        Path.cwd() / "migrations",
    ):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("migrations/ not found; run from the PeaceWatch project folder")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_script_location()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    _migrate(command.upgrade, url, revision)


def downgrade(url: str, revision: str) -> None:
    _migrate(command.downgrade, url, revision)


def _migrate(step: Callable[[Config, str], None], url: str, revision: str) -> None:
    cfg = alembic_config(url)
    if sa.make_url(url).get_backend_name() != "postgresql":
        step(cfg, revision)  # SQLite: its write lock already lets one migration run at a time
        return
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_lock(MIGRATION_LOCK_KEY)))
            conn.commit()  # the lock is the session's: it outlives this transaction
            try:
                cfg.attributes["connection"] = conn  # migrations/env.py runs on this connection
                step(cfg, revision)
            finally:
                conn.rollback()
                conn.execute(sa.select(sa.func.pg_advisory_unlock(MIGRATION_LOCK_KEY)))
                conn.commit()
    finally:
        engine.dispose()


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def pending(db: Database) -> tuple[str | None, str | None]:
    """(current revision, head revision) of the database; equal when it is up to date."""
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, _scripts().get_current_head()


def require_current(db: Database) -> None:
    """Raise SchemaNotCurrent, saying what to do, unless the schema is the one this code needs."""
    current, head = pending(db)
    if current == head:
        return
    known = current is None or any(s.revision == current for s in _scripts().walk_revisions())
    if not known:
        raise SchemaNotCurrent(
            f"the database schema is at {current}, which this version of PeaceWatch does not know "
            f"(it needs {head}): was the database migrated by a newer version?"
        )
    raise SchemaNotCurrent(
        f"the database schema is at {current or 'nothing'} but this version needs {head}; "
        "run `peacewatch db upgrade` first"
    )


def check_at_startup(db: Database) -> None:
    """A server process's first step: refuse to serve on an old (or unknown) schema.

    A database that does not answer (yet) is no reason to refuse: the process starts and /healthz
    says 503 until it answers. The schema was checked by the step that ran before (`peacewatch db
    upgrade`, or `peacewatch serve` before it starts its workers).
    """
    try:
        require_current(db)
    except sa.exc.OperationalError as exc:
        log.warning("database unreachable at startup, schema not checked: %s", exc.orig or exc)
