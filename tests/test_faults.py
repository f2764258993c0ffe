"""Faults: a link that drops, resets and delays; a full disk; a read-only database.

Through `tests/faultproxy.py`, a device that re-sends each record with its id until it gets an
answer ends with exactly its records: none lost, none twice, even when the answer was lost after
the server committed. A full disk or a read-only database answers writes with a 503 that says
so, stores nothing of a refused request, keeps serving reads, and takes writes again once the
fault is gone; the database is clean afterwards and the audit chain verifies.

The faults are real: SQLite's disk is a small tmpfs filled up to the last byte; its read-only
file is a file without write permission, opened by a server without CAP_DAC_OVERRIDE (root
writes any file otherwise); PostgreSQL's disk is a tablespace on a small tmpfs, and its
read-only database is `default_transaction_read_only`, as after a switch to a standby.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from backend.demo.client import Answer
from bench.common import (
    Server,
    incident,
    libpq_url,
    postgres_database,
    prepare_database,
    server_env,
    sqlalchemy_url,
    sync_body,
)
from tests.faultproxy import Fault, FaultProxy
from tests.test_crash import audit_creates, audit_verify, check_storage, stored_ids

POSTGRES_URL = os.environ.get("PEACEWATCH_TEST_POSTGRES_URL", "").strip()
API = "/api/v1"
needs_postgres = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not POSTGRES_URL, reason="set PEACEWATCH_TEST_POSTGRES_URL (make test-postgres)"
    ),
]


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=needs_postgres),
    ]
)
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own for a server in another process."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'faults.db'}"
    else:
        with postgres_database(POSTGRES_URL, "peacewatch_faults") as url:
            yield url


# --- a device's client ----------------------------------------------------------------------------


def call(port: int, token: str, method: str, path: str, body: Any = None, timeout: float = 30):
    """One request on a connection of its own (a device reconnects after every failure)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return Answer(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            json.loads(raw) if raw else None,
        )
    finally:
        conn.close()


def resend_until_answered(
    port: int, token: str, path: str, body: Any, *, timeout: float, attempts: int = 60
) -> tuple[Answer, int]:
    """Send `body` again (the same ids) until an answer other than a broken link or a 503."""
    for attempt in range(1, attempts + 1):
        try:
            answer = call(port, token, "POST", path, body, timeout=timeout)
        except (OSError, http.client.HTTPException):
            answer = None
        if answer is not None and answer.status != 503:
            return answer, attempt
        time.sleep(min(0.5, 0.02 * attempt))
    raise AssertionError(f"no answer for {path} after {attempts} attempts")


# --- a link that drops --------------------------------------------------------------------------

PLAN = {
    Fault.none: 0.35,
    Fault.delay: 0.15,
    Fault.stall: 0.1,
    Fault.reset: 0.15,
    Fault.drop_response: 0.15,
    Fault.cut_response: 0.1,
}
CLIENT_TIMEOUT_S = 1.5  # the proxy's stall (2.5 s) outlasts it: the original arrives after a retry


def test_retries_over_a_faulty_link_store_each_record_exactly_once(
    server_db: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("PEACEWATCH_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    print(f"fault seed {seed} (PEACEWATCH_FAULT_SEED={seed} to repeat)")
    env = server_env(server_db)
    token = prepare_database(env, tmp_path, token_name="patrol-faulty-link")
    singles = [incident(i) for i in range(60)]
    batches = [[incident(1_000 + 20 * b + i) for i in range(20)] for b in range(8)]
    sent = {item["id"] for item in singles} | {item["id"] for b in batches for item in b}
    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    lock = threading.Lock()

    def send_single(item: dict[str, Any], port: int) -> None:
        answer, attempts = resend_until_answered(
            port, token, f"{API}/incidents", item, timeout=CLIENT_TIMEOUT_S
        )
        with lock:
            if answer.status == 201:
                outcomes["single created"] += 1
            elif answer.status == 200 and answer.replayed and answer.body["id"] == item["id"]:
                outcomes["single replayed"] += 1
            else:
                problems.append(f"POST /incidents: {answer.status} {answer.body}")
            outcomes["attempts"] += attempts

    def send_batch(items: list[dict[str, Any]], port: int) -> None:
        answer, attempts = resend_until_answered(
            port, token, f"{API}/sync", sync_body(items), timeout=CLIENT_TIMEOUT_S * 2
        )
        with lock:
            outcomes["attempts"] += attempts
            if answer.status != 200:
                problems.append(f"POST /sync: {answer.status} {answer.body}")
                return
            if [r["id"] for r in answer.body["results"]] != [i["id"] for i in items]:
                problems.append(f"/sync answered other ids: {answer.body['results'][:2]}")
            for result in answer.body["results"]:
                outcomes[f"batch item {result['status']}"] += 1

    server = Server.peacewatch(env, tmp_path, "faulty-link").start()
    try:
        plan = dict(PLAN)
        with FaultProxy(server.port, plan, seed=seed, stall_s=2.5) as proxy:
            with ThreadPoolExecutor(4) as pool:
                jobs = [pool.submit(send_single, item, proxy.port) for item in singles]
                jobs += [pool.submit(send_batch, batch, proxy.port) for batch in batches]
                for job in jobs:
                    job.result()
            stats = dict(proxy.stats)
        print(f"faults applied: {stats}; outcomes: {dict(outcomes)}")
        assert not problems, problems[:5]
        assert all(stats.get(fault, 0) > 0 for fault in PLAN), f"a fault never happened: {stats}"
        # Answers lost after the commit came back as replays, never as second records.
        assert outcomes["single replayed"] + outcomes["batch item replayed"] > 0, outcomes
        assert set(outcomes) <= {
            "single created",
            "single replayed",
            "batch item created",
            "batch item replayed",
            "attempts",
        }, outcomes

        # Let stalled originals still on their way arrive, then count what is stored.
        time.sleep(3)
        stored = stored_ids(server_db)
        assert len(stored) == len(set(stored)), "a record stored twice"
        assert set(stored) == sent, f"lost {len(sent - set(stored))}, extra {set(stored) - sent}"
        assert audit_creates(server_db) == dict.fromkeys(sent, 1), "audit trail != records"
        check_storage(server_db)
        audit_verify(env, tmp_path)
        for item in random.Random(seed).sample(singles, 10):  # and the API serves them
            assert call(server.port, token, "GET", f"{API}/incidents/{item['id']}").status == 200
    finally:
        server.stop()


# --- a full disk, a read-only database --------------------------------------------------------


def exercise_storage_fault(
    port: int,
    token: str,
    *,
    earlier: list[str],
    says: str,
    fix: Callable[[], None],
    first_write_fails: bool = True,
) -> list[str]:
    """With the fault in place: writes get a 503 that `says` what is wrong, nothing of them is
    stored, reads work; after `fix()` the same records go in. Returns every id stored."""
    created, refused = list(earlier), []
    streak = 0
    for n in range(2_000):
        item = incident(10_000 + n)
        answer = call(port, token, "POST", f"{API}/incidents", item)
        if answer.status == 201:
            assert not (first_write_fails and n == 0), "the first write after the fault was taken"
            created.append(item["id"])
            streak = 0
            continue
        assert answer.status == 503, (answer.status, answer.body)
        refused.append(item)
        streak += 1
        if streak == 3:
            break
    assert refused, f"2,000 writes and no 503 ({says})"
    body = answer.body
    assert set(body) == {"detail", "errors", "request_id"}, body
    assert says in body["detail"], body
    assert "nothing of this request was stored" in body["detail"], body
    assert body["request_id"] == answer.headers["x-request-id"]
    # An operator's fix takes minutes: the client is told to come back in a minute, not hammer.
    assert answer.headers["retry-after"] == "60", answer.headers

    batch = [incident(20_000 + i) for i in range(20)]
    answer = call(port, token, "POST", f"{API}/sync", sync_body(batch))
    assert answer.status == 503, (answer.status, answer.body)
    assert says in answer.body["detail"], answer.body

    # Reads go on, and nothing of a refused request is there.
    page = call(port, token, "GET", f"{API}/incidents?limit=5")
    assert page.status == 200, page.body
    assert page.body["items"], page.body
    assert call(port, token, "GET", f"{API}/incidents/{earlier[0]}").status == 200
    for item in [*refused, batch[0]]:
        assert call(port, token, "GET", f"{API}/incidents/{item['id']}").status == 404
    assert call(port, token, "GET", "/healthz").status == 200

    fix()
    for item in refused:
        answer, _ = resend_until_answered(
            port, token, f"{API}/incidents", item, timeout=30, attempts=10
        )
        assert answer.status == 201, (answer.status, answer.body)
        created.append(item["id"])
    answer, _ = resend_until_answered(port, token, f"{API}/sync", sync_body(batch), timeout=30)
    assert answer.status == 200, answer.body
    assert {r["status"] for r in answer.body["results"]} == {"created"}, answer.body["counts"]
    return created + [item["id"] for item in batch]


def post_some(port: int, token: str, count: int = 5) -> list[str]:
    ids = []
    for n in range(count):
        answer = call(port, token, "POST", f"{API}/incidents", incident(n))
        assert answer.status == 201, answer.body
        ids.append(answer.body["id"])
    return ids


def assert_clean(url: str, env: dict[str, str], cwd: Path, expected: list[str]) -> None:
    stored = stored_ids(url)
    assert len(stored) == len(set(stored)), "a record stored twice"
    assert set(stored) == set(expected)
    assert audit_creates(url) == dict.fromkeys(expected, 1)
    check_storage(url)
    audit_verify(env, cwd)


@contextlib.contextmanager
def small_tmpfs(size: str, mode: int = 0o700) -> Iterator[Path]:
    """A tmpfs of `size` (as root); skips the test where mounting is not allowed."""
    where = Path(tempfile.mkdtemp(prefix="peacewatch-disk-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode={mode:o}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs to fill up (needs root): {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


def fill(disk: Path) -> Path:
    """Write a file until the disk has not one byte left."""
    filler = disk / "filler"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(block)
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0")
    return filler


def full_disk_scenario(url: str, disk: Path, tmp_path: Path) -> None:
    """A server on `url`, whose files live on `disk`: writes, then the disk fills, then room
    is made again; 503s meanwhile, and a clean database at the end."""
    env = server_env(url)
    token = prepare_database(env, tmp_path, token_name="patrol-full-disk")
    server = Server.peacewatch(env, tmp_path, "full-disk").start()
    try:
        earlier = post_some(server.port, token)
        filler = fill(disk)
        stored = exercise_storage_fault(
            server.port,
            token,
            earlier=earlier,
            says="disk is full",
            fix=filler.unlink,
            first_write_fails=False,  # free room inside existing files or pages takes a few
        )
    finally:
        server.stop()
    assert_clean(url, env, tmp_path, stored)


def test_full_disk_sqlite_answers_503_and_recovers(tmp_path: Path) -> None:
    with small_tmpfs("16m") as disk:
        full_disk_scenario(f"sqlite:///{disk / 'peacewatch.db'}", disk, tmp_path)


# Run before exec in the server's process: root gives up its right to write any file
# (PR_CAPBSET_DROP of CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH), so file modes bind it.
_LAUNCHER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for capability in (1, 2):
    if libc.prctl(24, capability, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
os.execv(sys.argv[1], sys.argv[1:])
"""


def capped(server: Server) -> Server:
    server.argv = [sys.executable, "-c", _LAUNCHER, *server.argv]
    return server


def test_read_only_sqlite_file_answers_503_and_recovers(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: makes a file read-only for a server that gives up root's rights")
    db_file = tmp_path / "peacewatch.db"
    url = f"sqlite:///{db_file}"
    env = server_env(url)
    token = prepare_database(env, tmp_path, token_name="patrol-read-only")
    server = Server.peacewatch(env, tmp_path, "before").start()
    try:
        earlier = post_some(server.port, token)
    finally:
        server.stop()

    files = [
        db_file,
        db_file.with_name("peacewatch.db-wal"),
        db_file.with_name("peacewatch.db-shm"),
    ]
    for f in files:
        if f.exists():
            f.chmod(0o444)

    def fix() -> None:
        for f in files:
            if f.exists():
                f.chmod(0o644)

    server = capped(Server.peacewatch(env, tmp_path, "read-only")).start()
    try:
        stored = exercise_storage_fault(
            server.port, token, earlier=earlier, says="read-only", fix=fix
        )
    finally:
        server.stop()
        fix()
    assert_clean(url, env, tmp_path, stored)


def _admin(sql: str, *params: Any) -> None:
    with psycopg.connect(libpq_url(POSTGRES_URL), autocommit=True) as conn:
        conn.execute(sql, params)  # type: ignore[arg-type]


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="set PEACEWATCH_TEST_POSTGRES_URL")
def test_read_only_postgresql_answers_503_and_recovers(tmp_path: Path) -> None:
    with postgres_database(POSTGRES_URL, "peacewatch_readonly") as url:
        name = sa.make_url(url).database
        env = server_env(url)
        token = prepare_database(env, tmp_path, token_name="patrol-read-only")
        server = Server.peacewatch(env, tmp_path, "read-only").start()
        try:
            earlier = post_some(server.port, token)
            # As after a switch to a standby: new sessions are read-only, old ones are gone.
            _admin(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            _admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                name,
            )

            def fix() -> None:
                _admin(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')

            stored = exercise_storage_fault(
                server.port, token, earlier=earlier, says="read-only", fix=fix
            )
        finally:
            server.stop()
        assert_clean(url, env, tmp_path, stored)


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="set PEACEWATCH_TEST_POSTGRES_URL")
def test_full_disk_postgresql_answers_503_and_recovers(tmp_path: Path) -> None:
    """The database lives in a tablespace on a small tmpfs (the server runs on this machine)."""
    host = sa.make_url(sqlalchemy_url(POSTGRES_URL)).host
    if host not in ("127.0.0.1", "localhost", None):
        pytest.skip("the PostgreSQL server is not on this machine: cannot give it a small disk")
    import pwd

    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no `postgres` user here to own a tablespace's folder")
    with small_tmpfs("48m", mode=0o755) as disk:
        folder = disk / "tablespace"
        folder.mkdir()
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        space = f"peacewatch_small_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        _admin(f"CREATE TABLESPACE \"{space}\" LOCATION '{folder}'")
        name = f"peacewatch_fulldisk_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        try:
            _admin(f'CREATE DATABASE "{name}" TABLESPACE "{space}"')
            url = sa.make_url(sqlalchemy_url(POSTGRES_URL)).set(database=name)
            full_disk_scenario(url.render_as_string(False), disk, tmp_path)
        finally:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _admin(f'DROP TABLESPACE IF EXISTS "{space}"')


# --- a database kept busy -------------------------------------------------------------------------


def test_sqlite_writer_held_past_the_busy_timeout_gets_503_and_retry_after(tmp_path: Path) -> None:
    """Another process holding SQLite's write lock longer than the server waits: a 503 saying the
    database is busy and `Retry-After: 1` (not a 500 that reads like a bug); nothing stored;
    the same record goes in once the lock is free."""
    from fastapi.testclient import TestClient

    from backend import migrate
    from backend.app import create_app
    from backend.auth import service as token_service
    from backend.config import Settings
    from backend.db import Database
    from backend.vocab import Role

    path = tmp_path / "busy.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    settings = Settings(database_url=url, sqlite_busy_timeout_ms=300, _env_file=None)  # type: ignore[call-arg]
    database = Database(settings)
    with database.session() as session:
        _, secret = token_service.create_token(session=session, name="patrol", role=Role.reporter)
    database.dispose()
    headers = {"Authorization": f"Bearer {secret}"}
    item = incident(1)

    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        other = sqlite3.connect(path, isolation_level=None)  # another process's writer, in effect
        other.execute("BEGIN IMMEDIATE")
        try:
            for path_, body in ((f"{API}/incidents", item), (f"{API}/sync", sync_body([item]))):
                answer = client.post(path_, json=body, headers=headers)
                assert answer.status_code == 503, (path_, answer.status_code, answer.text)
                assert answer.headers["retry-after"] == "1"
                assert "busy with other writers" in answer.json()["detail"]
                assert "nothing of this request was stored" in answer.json()["detail"]
        finally:
            other.rollback()
            other.close()
        assert client.get(f"{API}/incidents/{item['id']}", headers=headers).status_code == 404
        assert client.post(f"{API}/incidents", json=item, headers=headers).status_code == 201
        assert client.post(f"{API}/incidents", json=item, headers=headers).status_code == 200
