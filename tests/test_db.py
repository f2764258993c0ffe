"""The storage layer: SQLite set up for a field mission's concurrency, UTC everywhere."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from backend.audit.service import verify_chain
from backend.parties.models import Party
from backend.vocab import PartyKind
from tests.helpers import count


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(db):
    if db.dialect != "sqlite":
        pytest.skip("SQLite settings only")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_sixteen_concurrent_writers_all_succeed(db):
    def write(i: int) -> None:
        for j in range(10):
            with db.session() as session:
                # Read then write in one transaction: the pattern that fails with "database is
                # locked" on SQLite unless writers take the lock up front.
                session.exec(sa.select(sa.func.count()).select_from(Party)).one()
                session.add(Party(name=f"P{i}-{j}", code=f"C{i}x{j}", kind=PartyKind.militia))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(write, range(16)))
    assert count(db, Party) == 160
    with db.session(write=False) as session:
        chain = verify_chain(session=session)
    assert chain.ok, chain.problem  # concurrent appends never fork the audit chain
    assert chain.count == 160


def test_times_come_back_in_utc_whatever_offset_went_in(db):
    east = timezone(timedelta(hours=3))
    with db.session() as session:
        party = Party(
            name="A",
            code="A",
            kind=PartyKind.other,
            created_at=datetime(2026, 1, 1, 12, tzinfo=east),
        )
        session.add(party)
    with db.session(write=False) as session:
        stored = session.get(Party, party.id)
        assert stored.created_at == datetime(2026, 1, 1, 9, tzinfo=UTC)
        assert stored.created_at.tzinfo is UTC
