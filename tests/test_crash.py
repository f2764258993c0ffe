"""Crash: the real server is killed with SIGKILL while records stream in, and restarted.

Every record whose 2xx answer reached the client is there, no `/sync` batch is half-written, the
database is clean (`PRAGMA integrity_check`; amcheck on PostgreSQL), the audit chain verifies,
and re-sending everything (as a device's outbox does) leaves exactly one row per id.

The moment of the kill is random; the seed is printed, and PEACEWATCH_CRASH_SEED=<seed> repeats it
(as far as thread timing allows).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bench.common import (
    Server,
    incident,
    postgres_database,
    prepare_database,
    run_cli,
    server_env,
    sync_body,
)

POSTGRES_URL = os.environ.get("PEACEWATCH_TEST_POSTGRES_URL", "").strip()
API = "/api/v1"


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
def crash_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own: the server runs in another process, so it cannot share the session's."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.db'}"
    else:
        # A fresh database on the test server, dropped afterwards.
        with postgres_database(POSTGRES_URL, "peacewatch_crash") as url:
            yield url


class Client:
    """One keep-alive connection of a device."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        payload = None if body is None else json.dumps(body)
        self.conn.request(method, path, body=payload, headers=self.headers)
        response = self.conn.getresponse()
        raw = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, json.loads(raw) if raw else None

    def close(self) -> None:
        self.conn.close()


@dataclass
class Outbox:
    """What the devices sent, and which of it the server acknowledged."""

    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    singles: list[dict[str, Any]] = field(default_factory=list)
    acked: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def ack(self, ids: list[str]) -> None:
        with self.lock:
            self.acked.update(ids)

    def sent_ids(self) -> set[str]:
        with self.lock:
            return {i["id"] for b in self.batches for i in b} | {i["id"] for i in self.singles}


_DEAD = (OSError, http.client.HTTPException)  # refused, reset, or closed mid-answer


def stream_batches(port: int, token: str, outbox: Outbox, sizes: list[int]) -> None:
    client = Client(port, token)
    n = 0
    try:
        for size in sizes:
            if outbox.stop.is_set():
                return
            items = [incident(n + i) for i in range(size)]
            n += size
            with outbox.lock:
                outbox.batches.append(items)
            try:
                status, _, body = client.call("POST", f"{API}/sync", sync_body(items))
            except _DEAD:
                return  # the server died; this batch is unacknowledged
            if status != 200:
                outbox.problems.append(f"/sync answered {status}: {str(body)[:300]}")
                return
            statuses = {r["status"] for r in body["results"]}
            if statuses != {"created"}:
                outbox.problems.append(f"/sync first send: {body['counts']}")
            outbox.ack([r["id"] for r in body["results"] if r["status"] == "created"])
    finally:
        client.close()


def stream_singles(port: int, token: str, outbox: Outbox, count: int) -> None:
    client = Client(port, token)
    try:
        for n in range(count):
            if outbox.stop.is_set():
                return
            item = incident(100_000 + n)
            with outbox.lock:
                outbox.singles.append(item)
            try:
                status, _, body = client.call("POST", f"{API}/incidents", item)
            except _DEAD:
                return
            if status != 201:
                outbox.problems.append(f"POST /incidents answered {status}: {str(body)[:300]}")
                return
            outbox.ack([body["id"]])
    finally:
        client.close()


def stored_ids(url: str) -> list[str]:
    from backend.incidents.models import Incident

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [str(i) for i in conn.execute(sa.select(Incident.id)).scalars()]  # type: ignore[call-overload]
    finally:
        engine.dispose()


def audit_creates(url: str) -> dict[str, int]:
    """{incident id: how many `create` entries the audit trail has for it}."""
    from backend.audit.models import AuditEntry

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(AuditEntry.record_id, sa.func.count())  # type: ignore[call-overload]
                .where(AuditEntry.record_kind == "incident", AuditEntry.action == "create")
                .group_by(AuditEntry.record_id)
            ).all()
    finally:
        engine.dispose()
    return {str(uuid.UUID(record_id)): n for record_id, n in rows}


def check_storage(url: str) -> None:
    """The database's own consistency check after the crash."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(sa.make_url(url).database)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        finally:
            conn.close()
        return
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if conn.exec_driver_sql(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'"
            ).first():
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
                # Every B-tree index of our tables matches its heap (raises if not).
                conn.exec_driver_sql(
                    "SELECT bt_index_check(c.oid, true) FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_am am ON am.oid = c.relam "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE am.amname = 'btree' AND n.nspname = current_schema()"
                ).all()
            # Every table reads end to end.
            for (table,) in conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).all():
                conn.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar_one()  # noqa: S608
    finally:
        engine.dispose()


def audit_verify(env: dict[str, str], cwd: Path) -> None:
    done = run_cli(env, "audit", "verify", cwd=cwd, check=False)
    assert done.returncode == 0, f"audit verify failed:\n{done.stdout}\n{done.stderr}"


def test_sigkill_mid_stream_loses_nothing_acknowledged(crash_db: str, tmp_path: Path) -> None:
    seed = int(os.environ.get("PEACEWATCH_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"crash seed {seed} (PEACEWATCH_CRASH_SEED={seed} to repeat)")
    rng = random.Random(seed)
    env = server_env(crash_db)
    token = prepare_database(env, tmp_path, token_name="patrol-crash")
    server = Server.peacewatch(env, tmp_path, "server").start()
    try:
        probe = Client(server.port, token)
        has_sync = probe.call("POST", f"{API}/sync", {"items": []})[0] != 404
        probe.close()

        # Stream: batches through /sync (when the server has it) and single posts, side by side.
        outbox = Outbox()
        threads = [
            threading.Thread(
                target=stream_singles, args=(server.port, token, outbox, 5_000), daemon=True
            )
        ]
        if has_sync:
            sizes = [rng.randint(10, 200) for _ in range(1_000)]
            threads.append(
                threading.Thread(
                    target=stream_batches,
                    args=(server.port, token, outbox, sizes),
                    daemon=True,
                )
            )
        for t in threads:
            t.start()
        # Kill at a random moment once something is acknowledged (and every stream is under way).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not outbox.problems:
            with outbox.lock:
                started = len(outbox.singles) > 5 and (not has_sync or len(outbox.batches) > 1)
                if started and len(outbox.acked) > 20:
                    break
            time.sleep(0.01)
        delay = rng.uniform(0.0, 1.5)
        time.sleep(delay)
        with outbox.lock:
            at_kill = len(outbox.acked)
        server.kill()
        for t in threads:
            t.join(60)
        outbox.stop.set()
        assert not outbox.problems, outbox.problems
        sent = outbox.sent_ids()
        print(
            f"killed {delay:.3f}s after the first acknowledgements ({at_kill} acknowledged then); "
            f"{len(outbox.acked)} acknowledged of {len(sent)} sent in "
            f"{len(outbox.batches)} batches and {len(outbox.singles)} single posts"
        )

        # Restart on the same database: it must come up by itself.
        server = Server.peacewatch(env, tmp_path, "restarted").start()

        present = stored_ids(crash_db)
        assert len(present) == len(set(present))
        stored = set(present)
        missing = outbox.acked - stored
        assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:3]}"
        assert stored <= sent, "rows nobody sent"
        print(f"after the restart: {len(stored - outbox.acked)} stored without an answer")
        for n, batch in enumerate(outbox.batches):
            there = sum(item["id"] in stored for item in batch)
            assert there in (0, len(batch)), f"batch {n} half-written: {there} of {len(batch)}"
        check_storage(crash_db)
        audit_verify(env, tmp_path)
        assert audit_creates(crash_db) == dict.fromkeys(stored, 1), "audit trail != incidents"

        # What the client was told is what the API serves.
        client = Client(server.port, token)
        for record_id in rng.sample(sorted(outbox.acked), min(30, len(outbox.acked))):
            status, _, body = client.call("GET", f"{API}/incidents/{record_id}")
            assert status == 200, body

        # The device re-sends its whole outbox: nothing is stored twice.
        for batch in outbox.batches:
            status, _, body = client.call("POST", f"{API}/sync", sync_body(batch))
            assert status == 200, body
            for result in body["results"]:
                expected = "replayed" if result["id"] in stored else "created"
                assert result["status"] == expected, result
        for item in outbox.singles:
            status, headers, body = client.call("POST", f"{API}/incidents", item)
            if item["id"] in stored:
                assert status == 200, body
                assert headers.get("idempotent-replayed") == "true", headers
            else:
                assert status == 201, body
            assert body["id"] == item["id"]
        client.close()

        final = stored_ids(crash_db)
        assert len(final) == len(set(final)) == len(sent)
        assert set(final) == sent
        audit_verify(env, tmp_path)
        assert audit_creates(crash_db) == dict.fromkeys(sent, 1)
    finally:
        server.stop()
