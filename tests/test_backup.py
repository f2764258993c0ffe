"""`peacewatch backup` and `peacewatch restore`, run as an operator runs them, on both databases.

A restored database holds exactly the rows of the one backed up (every table, every row), and its
audit chain verifies; a backup taken while the server takes records is one consistent moment (no
record without its audit entry, no `/sync` batch in part); a restore never replaces records
unless forced, and bad paths are refused with what to do.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from bench.common import Server, postgres_database, prepare_database, run_cli, server_env
from tests.test_crash import (
    Outbox,
    audit_creates,
    audit_verify,
    check_storage,
    stored_ids,
    stream_batches,
    stream_singles,
)

POSTGRES_URL = os.environ.get("PEACEWATCH_TEST_POSTGRES_URL", "").strip()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not POSTGRES_URL, reason="set PEACEWATCH_TEST_POSTGRES_URL (make test-postgres)"
                ),
            ],
        ),
    ]
)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@contextmanager
def new_database(kind: str, where: Path, name: str) -> Iterator[str]:
    """An empty database (a file not yet there; a new PostgreSQL database, dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{where / f'{name}.db'}"
    else:
        with postgres_database(POSTGRES_URL, f"peacewatch_{name}") as url:
            yield url


def every_row(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """{table: its rows, in a stable order} of the whole database."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            return {
                name: sorted((tuple(r) for r in conn.execute(sa.select(table))), key=repr)
                for name, table in metadata.tables.items()
            }
    finally:
        engine.dispose()


def cli(url: str, cwd: Path, *args: str, ok: bool = True) -> str:
    done = run_cli(server_env(url), *args, cwd=cwd, check=False)
    output = done.stdout + done.stderr
    assert (done.returncode == 0) is ok, f"peacewatch {' '.join(args)}: {output}"
    return output


def test_round_trip_restores_every_row_and_the_audit_chain(kind: str, tmp_path: Path) -> None:
    backup_file = tmp_path / "mission.bak"
    with new_database(kind, tmp_path, "source") as source:
        cli(source, tmp_path, "db", "upgrade")
        cli(source, tmp_path, "demo")  # every kind of record, verification steps, audit trail
        cli(source, tmp_path, "token", "create", "--name", "hq", "--role", "admin")
        before = every_row(source)
        assert len(before["incident"]) > 1_000, "the demo mission is the test's data"

        out = cli(source, tmp_path, "backup", str(backup_file))
        assert "backup written" in out
        assert backup_file.stat().st_size > 0

        # Not over an existing file, unless forced.
        out = cli(source, tmp_path, "backup", str(backup_file), ok=False)
        assert "exists already" in out
        assert "--force" in out
        cli(source, tmp_path, "backup", str(backup_file), "--force")

        with new_database(kind, tmp_path, "restored") as restored:
            out = cli(restored, tmp_path, "restore", str(backup_file))
            assert "audit chain intact" in out, out
            assert every_row(restored) == before
            audit_verify(server_env(restored), tmp_path)
            check_storage(restored)

        # A database that holds records is replaced only with --force, and then wholly.
        cli(source, tmp_path, "token", "create", "--name", "after-the-backup", "--role", "viewer")
        out = cli(source, tmp_path, "restore", str(backup_file), ok=False)
        assert "--force" in out
        assert "rows" in out
        assert every_row(source) != before  # untouched: the new token is still there
        cli(source, tmp_path, "restore", str(backup_file), "--force")
        assert every_row(source) == before
        audit_verify(server_env(source), tmp_path)


def test_restore_refuses_what_is_not_a_backup(kind: str, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n" * 100)
    with new_database(kind, tmp_path, "target") as target:
        out = cli(target, tmp_path, "restore", str(junk), ok=False)
        assert "not a" in out  # "not a SQLite backup" / "not a pg_dump archive"
        out = cli(target, tmp_path, "restore", str(tmp_path / "missing.bak"), ok=False)
        assert "no backup file" in out


def test_backup_while_the_server_writes_is_one_consistent_moment(kind: str, tmp_path: Path) -> None:
    backup_file = tmp_path / "live.bak"
    with new_database(kind, tmp_path, "live") as live:
        env = server_env(live)
        token = prepare_database(env, tmp_path, token_name="patrol-backup")
        server = Server.peacewatch(env, tmp_path, "live").start()
        outbox = Outbox()
        writers = [
            threading.Thread(
                target=stream_batches,
                args=(server.port, token, outbox, [20] * 400),
                daemon=True,
            ),
            threading.Thread(
                target=stream_singles, args=(server.port, token, outbox, 5_000), daemon=True
            ),
        ]
        try:
            for t in writers:
                t.start()
            deadline = time.monotonic() + 60
            while len(outbox.acked) < 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            acked_before = set(outbox.acked)
            cli(live, tmp_path, "backup", str(backup_file))
            time.sleep(0.5)  # writes go on after the backup too
        finally:
            outbox.stop.set()
            for t in writers:
                t.join(60)
            server.stop()
        assert not outbox.problems, outbox.problems
        final = set(stored_ids(live))

        with new_database(kind, tmp_path, "restored") as restored:
            cli(restored, tmp_path, "restore", str(backup_file))
            present = stored_ids(restored)
            in_backup = set(present)
            assert len(present) == len(in_backup)
            assert acked_before <= in_backup, "records acknowledged before the backup are missing"
            assert in_backup < final, "the backup was not taken while records came in"
            for n, batch in enumerate(outbox.batches):
                there = sum(item["id"] in in_backup for item in batch)
                assert there in (0, len(batch)), f"batch {n} is in the backup in part"
            assert audit_creates(restored) == dict.fromkeys(in_backup, 1)
            audit_verify(server_env(restored), tmp_path)
            check_storage(restored)
