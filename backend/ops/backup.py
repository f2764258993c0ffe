"""Backup and restore of the whole database, consistent while the server writes.

SQLite: the online backup API copies the pages of one read snapshot (held open for the whole
copy, so rows written meanwhile are in the next backup, never half in this one) into a single
self-contained file. PostgreSQL: `pg_dump --format=custom` (one repeatable-read snapshot) and
`pg_restore` in a single transaction. A restore never replaces a database that holds records
unless it is forced, and a restore that fails leaves the database as it was.

Progress is reported through `on_progress(done, total, what)`; the CLI draws it with rich.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from backend.config import Settings

Progress = Callable[[int, int, str], None]
PAGES_PER_STEP = 1024  # SQLite pages copied between two progress reports (4 MiB at 4 KiB a page)
SCHEMA_TABLE = "alembic_version"


class BackupError(Exception):
    """A backup or restore that cannot be done, with what to do about it."""


@dataclass(frozen=True)
class Summary:
    """What a backup holds or a restore put back."""

    path: Path
    size_bytes: int
    tables: int
    rows: int


def _quiet(done: int, total: int, what: str) -> None:
    """The default progress report: none."""


def backup(
    settings: Settings, target: Path, *, force: bool = False, on_progress: Progress = _quiet
) -> Summary:
    """Write the configured database to `target` (refused if it exists, unless `force`)."""
    url = sa.make_url(settings.database_url)
    if target.exists() and not force:
        raise BackupError(f"{target} exists already; choose another path or add --force")
    if target.is_dir():
        raise BackupError(f"{target} is a folder; give a file name, e.g. {target}/peacewatch.bak")
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        if url.get_backend_name() == "sqlite":
            tables, rows = _sqlite_backup(_sqlite_file(url), partial, on_progress)
        else:
            tables, rows = _postgres_backup(url, partial, on_progress)
        os.replace(partial, target)  # a backup is there whole, or not at all
    finally:
        partial.unlink(missing_ok=True)
    return Summary(target, target.stat().st_size, tables, rows)


def restore(
    settings: Settings, source: Path, *, force: bool = False, on_progress: Progress = _quiet
) -> Summary:
    """Replace the configured database's content with the backup at `source`.

    Refused when the database holds any row (beyond its schema version) unless `force`.
    """
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    url = sa.make_url(settings.database_url)
    held = _rows_held(url)
    if held and not force:
        raise BackupError(
            f"the database holds {sum(held.values()):,} rows in {len(held)} tables; restoring "
            "would replace them all. Stop the server, keep a backup of it, then add --force"
        )
    if url.get_backend_name() == "sqlite":
        tables, rows = _sqlite_restore(source, _sqlite_file(url), on_progress)
    else:
        tables, rows = _postgres_restore(url, source, on_progress)
    return Summary(source, source.stat().st_size, tables, rows)


def _rows_held(url: sa.URL) -> dict[str, int]:
    """{table: rows} of every table of the database that has rows, its schema version aside."""
    if url.get_backend_name() == "sqlite" and not _sqlite_file(url).exists():
        return {}
    return {t: n for t, n in row_counts(url).items() if n and t != SCHEMA_TABLE}


def row_counts(url: sa.URL | str) -> dict[str, int]:
    """{table: rows} of every table of the database."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return {
                t: conn.execute(sa.select(sa.func.count()).select_from(sa.table(t))).scalar_one()
                for t in sa.inspect(conn).get_table_names()
            }
    finally:
        engine.dispose()


def _summary(url: sa.URL | str) -> tuple[int, int]:
    counts = row_counts(url)
    return len(counts), sum(counts.values())


# --- SQLite ---------------------------------------------------------------------------------------


def _sqlite_file(url: sa.URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("the database is in memory: there is nothing on disk to back up")
    return Path(url.database)


def _sqlite_backup(source: Path, target: Path, on_progress: Progress) -> tuple[int, int]:
    if not source.is_file():
        raise BackupError(f"no database file at {source}")
    src = sqlite3.connect(source, isolation_level=None)
    dst = sqlite3.connect(target, isolation_level=None)
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        # One read snapshot for the whole copy: the server's writes go on beside it (WAL) and are
        # not in this backup, rather than making the copy start over at every step.
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        src.backup(
            dst,
            pages=PAGES_PER_STEP,
            progress=lambda _status, remaining, total: on_progress(
                total - remaining, total, "pages"
            ),
        )
        src.execute("COMMIT")
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        _check_sqlite(dst, target)
    finally:
        dst.close()
        src.close()
    return _summary(f"sqlite:///{target}")


def _check_sqlite(conn: sqlite3.Connection, path: Path) -> None:
    problems = conn.execute("PRAGMA integrity_check").fetchall()
    if problems != [("ok",)]:
        raise BackupError(f"{path} fails SQLite's integrity check: {problems[:3]}")
    has_schema = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (SCHEMA_TABLE,)
    ).fetchone()
    if not has_schema:
        raise BackupError(f"{path} is not a PeaceWatch database (no {SCHEMA_TABLE} table)")


def _sqlite_restore(source: Path, target: Path, on_progress: Progress) -> tuple[int, int]:
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, isolation_level=None)
        _check_sqlite(src, source)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a SQLite backup: {exc}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    dst = sqlite3.connect(target, isolation_level=None)
    try:
        dst.execute("PRAGMA busy_timeout = 30000")
        # The copy is one write transaction on the target: a restore that fails changes nothing.
        src.backup(
            dst,
            pages=PAGES_PER_STEP,
            progress=lambda _status, remaining, total: on_progress(
                total - remaining, total, "pages"
            ),
        )
        dst.execute("PRAGMA journal_mode = WAL")  # as the server keeps it
        _check_sqlite(dst, target)
    finally:
        dst.close()
        src.close()
    return _summary(f"sqlite:///{target}")


# --- PostgreSQL -----------------------------------------------------------------------------------


def _tool(name: str) -> str:
    """The PostgreSQL client program `name`, from PEACEWATCH_PG_BIN or the PATH."""
    folder = os.environ.get("PEACEWATCH_PG_BIN")
    found = shutil.which(name, path=folder) if folder else shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} not found: install PostgreSQL's client programs (e.g. postgresql-client) "
            "or set PEACEWATCH_PG_BIN to the folder that holds them"
        )
    return found


def _major(version_text: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", version_text)
    if not match:
        raise BackupError(f"cannot read a version in {version_text!r}")
    return int(match.group(1))


def _libpq(url: sa.URL) -> tuple[str, dict[str, str]]:
    """A connection string for the client programs, its password passed in the environment
    (never on a command line, where `ps` shows it)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _server_major(url: sa.URL) -> int:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SHOW server_version_num").scalar_one()) // 10_000
    finally:
        engine.dispose()


def _run_tool(
    argv: list[str], env: dict[str, str], total: int, on_progress: Progress, steps: re.Pattern[str]
) -> None:
    """Run a client program, counting the lines of its --verbose output that mark a step."""
    done, tail = 0, []
    with subprocess.Popen(  # noqa: S603 - argv is a PostgreSQL tool found on the PATH
        argv, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail = [*tail[-9:], line.rstrip()]
            if steps.search(line):
                done = min(total, done + 1)
                on_progress(done, total, line.split(":", 1)[-1].strip()[:60])
    if proc.returncode != 0:
        errors = [t for t in tail if "error" in t.lower()] or tail
        raise BackupError(f"{Path(argv[0]).name} failed: " + " / ".join(errors[-3:]))
    on_progress(total, total, "done")


def _postgres_backup(url: sa.URL, target: Path, on_progress: Progress) -> tuple[int, int]:
    pg_dump = _tool("pg_dump")
    version = subprocess.run(  # noqa: S603 - pg_dump found on the PATH
        [pg_dump, "--version"], capture_output=True, text=True, check=True
    )
    client, server = _major(version.stdout), _server_major(url)
    if client < server:
        raise BackupError(
            f"pg_dump is version {client} but the server is PostgreSQL {server}: pg_dump must be "
            f"at least the server's version; install postgresql-client-{server}"
        )
    conninfo, env = _libpq(url)
    tables, rows = _summary(url)  # as of just before the dump's snapshot
    argv = [pg_dump, "--format=custom", "--verbose", "--no-owner", "--no-privileges"]
    argv += [f"--file={target}", f"--dbname={conninfo}"]
    _run_tool(argv, env, tables, on_progress, re.compile(r"dumping contents of table"))
    return tables, rows


def _postgres_restore(url: sa.URL, source: Path, on_progress: Progress) -> tuple[int, int]:
    pg_restore = _tool("pg_restore")
    listing = subprocess.run(  # noqa: S603 - pg_restore found on the PATH
        [pg_restore, "--list", str(source)], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise BackupError(
            f"{source} is not a pg_dump archive (custom format): {listing.stderr.strip()[:200]}"
        )
    entries = [line for line in listing.stdout.splitlines() if line and not line.startswith(";")]
    conninfo, env = _libpq(url)
    argv = [pg_restore, "--single-transaction", "--exit-on-error", "--no-owner"]
    argv += ["--no-privileges", "--clean", "--if-exists", "--verbose", f"--dbname={conninfo}"]
    argv.append(str(source))
    _run_tool(
        argv, env, len(entries), on_progress, re.compile(r"pg_restore: (creating|processing)")
    )
    return _summary(url)
