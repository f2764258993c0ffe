"""Several server processes on one PostgreSQL database, as a mission that outgrows one machine runs.

Two servers share a private PostgreSQL cluster: `peacewatch serve --workers 2` (uvicorn's worker
processes) and a plain `peacewatch serve`. A record posted to either reaches the live stream of
the other (PostgreSQL LISTEN/NOTIFY), and a PostgreSQL restart mid-stream loses no acknowledged
record: the posting device retries with its ids until answered, and the same open stream hears
of new records again once the database is back.

The cluster is made for this module with initdb in a temporary folder on a free port (as the
`postgres` user when the tests run as root, since PostgreSQL refuses root), because restarting the
shared server would disturb everything else using it. Without PostgreSQL's binaries these tests
skip and say so.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from backend.notices.listener import APPLICATION_NAME
from bench.common import (
    ROOT,
    Server,
    free_port,
    incident,
    libpq_url,
    prepare_database,
    run_cli,
    server_env,
)

API = "/api/v1"


# --- a private PostgreSQL cluster ---------------------------------------------------------------


def _postgres_bindir() -> Path | None:
    """The newest folder holding both initdb and pg_ctl (Debian's, then the PATH's)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(initdb).resolve().parent))
    for folder in candidates:
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in a temporary folder, listening on 127.0.0.1:`port`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="peacewatch-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"
        self._as: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
            os.chown(self.home, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") else []
            if not self._as:
                pytest.skip(
                    "running as root and `runuser` is missing to run PostgreSQL as postgres"
                )

    def _run(self, *argv: str) -> None:
        done = subprocess.run(
            [*self._as, *argv], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed:\n{done.stdout}\n{done.stderr}\n{log}")

    def init(self) -> PrivatePostgres:
        self._run(
            str(self.bindir / "initdb"),
            *("-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"),
        )
        return self.start()

    def start(self) -> PrivatePostgres:
        # fsync off: the test restarts the server, never the machine, so what reached the kernel
        # survives; an immediate stop still makes PostgreSQL recover from its WAL.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.home} "
            "-c fsync=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            *("-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"),
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash as far as the clients can tell: no goodbye, recovery at start."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(libpq_url(self.url()), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or PATH")
    pg = PrivatePostgres(bindir)
    try:
        yield pg.init()
    finally:
        pg.destroy()


# --- clients ------------------------------------------------------------------------------------


def listeners(url: str) -> int:
    """Server processes LISTENing for notices on the database of `url` (0 if it is down)."""
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = %s AND datname = current_database() "
                "AND query ILIKE 'LISTEN %%'",
                (APPLICATION_NAME,),
            ).fetchone()
    except psycopg.OperationalError:
        return 0
    return int(row[0]) if row else 0


def wait_for_listeners(url: str, expected: int, timeout: float) -> float:
    """Seconds until `expected` processes listen; fails the test if they never do."""
    start = time.monotonic()
    while (n := listeners(url)) != expected:
        assert time.monotonic() - start < timeout, f"{n} of {expected} processes listening"
        time.sleep(0.1)
    return time.monotonic() - start


def post_incident(port: int, token: str, body: dict[str, Any]) -> int:
    """POST one incident on a fresh connection; its status, or 0 if no answer came."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            f"{API}/incidents",
            body=json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


class Stream:
    """An SSE client of GET /api/v1/stream, reading in a thread; collects the ids it hears of."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.conn.request(
            "GET", f"{API}/stream?topics=incident", headers={"Authorization": f"Bearer {token}"}
        )
        response = self.conn.getresponse()
        assert response.status == 200, response.read()
        assert response.getheader("content-type", "").startswith("text/event-stream")
        self.response = response
        self.ids: set[str] = set()
        self.ended: str | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while line := self.response.readline():
                if line.startswith(b"data:"):
                    notice = json.loads(line[5:])
                    with self._changed:
                        self.ids.add(notice["id"])
                        self._changed.notify_all()
            reason = "the server ended the stream"
        except Exception as exc:  # a reset, a timeout, or `close()` pulling the socket away
            reason = f"the stream broke: {exc!r}"
        with self._changed:
            self.ended = reason
            self._changed.notify_all()

    def hears(self, record_id: str, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: record_id in self.ids or self.ended is not None, timeout
            ) and (record_id in self.ids)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.conn.sock is not None:
                self.conn.sock.shutdown(2)
        self.conn.close()
        self._thread.join(5)


@dataclass
class Deployment:
    url: str
    env: dict[str, str]
    cwd: Path
    reporter: str
    analyst: str
    pair: Server  # `serve --workers 2`
    single: Server  # `serve`


@pytest.fixture(scope="module")
def deployment(
    cluster: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """Two servers on one database, all three of their processes listening for notices."""
    cwd = tmp_path_factory.mktemp("workers")
    url = cluster.create_database("peacewatch_workers")
    env = server_env(url, PEACEWATCH_STREAM_HEARTBEAT_SECONDS="1")
    reporter = prepare_database(env, cwd, token_name="patrol-workers")
    analyst = run_cli(env, "token", "create", "--name", "analyst", "--role", "analyst", cwd=cwd)
    pair = Server.peacewatch(env, cwd, "pair")
    pair.argv += ["--workers", "2"]
    single = Server.peacewatch(env, cwd, "single")
    try:
        pair.start()
        single.start()
        wait_for_listeners(url, 3, timeout=30)
        yield Deployment(
            url, env, cwd, reporter, analyst.stdout.strip().splitlines()[-1], pair, single
        )
    finally:
        single.stop()
        pair.stop()


# --- the tests ----------------------------------------------------------------------------------


def test_serve_refuses_several_workers_on_sqlite(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'peacewatch.db'}")
    done = run_cli(
        env, "serve", "--workers", "2", "--port", str(free_port()), cwd=tmp_path, check=False
    )
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    assert "--workers 2 needs PostgreSQL" in message
    assert "PEACEWATCH_DATABASE_URL" in message
    assert not (tmp_path / "peacewatch.db").exists(), "it must refuse before touching the database"


def test_serve_names_a_schema_newer_than_its_code(tmp_path: Path) -> None:
    """After the app is rolled back to an older version, it says why it will not serve."""
    url = f"sqlite:///{tmp_path / 'peacewatch.db'}"
    env = server_env(url)
    run_cli(env, "db", "upgrade", cwd=tmp_path)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    engine.dispose()
    done = run_cli(env, "serve", "--port", str(free_port()), cwd=tmp_path, check=False)
    assert done.returncode == 1
    message = " ".join(done.stderr.split())
    assert "at 9999_from_the_future, which this version of PeaceWatch does not know" in message
    assert "migrated by a newer version?" in message


def test_servers_on_one_database_agree_on_every_record_posted_to_either(
    deployment: Deployment,
) -> None:
    # Three processes listen: the two workers of `serve --workers 2`, and `serve`.
    assert listeners(deployment.url) == 3
    at_pair = Stream(deployment.pair.port, deployment.analyst)
    at_single = Stream(deployment.single.port, deployment.analyst)
    try:
        for target in (deployment.pair, deployment.single, deployment.pair, deployment.single):
            body = incident(1)
            assert post_incident(target.port, deployment.reporter, body) == 201
            assert at_pair.hears(body["id"]), f"the --workers 2 server never heard of {body['id']}"
            assert at_single.hears(body["id"]), f"the single server never heard of {body['id']}"
    finally:
        at_pair.close()
        at_single.close()


@dataclass
class Device:
    """A field device posting one record after another to both servers in turn, each retried
    with its own id (a fresh connection each time) until a 2xx answer acknowledges it."""

    ports: tuple[int, int]
    token: str
    sent: list[str] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    failures: int = 0
    unexpected: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            body = incident(n)
            self.sent.append(body["id"])
            while True:  # a device never drops a record it made
                status = post_incident(self.ports[n % 2], self.token, body)
                if status in (200, 201):  # 200: a retry of a record already stored
                    self.acked.append(body["id"])
                    break
                self.failures += 1
                if status not in (0, 500, 503):
                    self.unexpected.append(status)
                time.sleep(0.05)
            n += 1


def stored(url: str) -> tuple[list[str], dict[str, int]]:
    """(incident ids as stored, {incident id: `create` entries in the audit trail})."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ids = [str(i) for i in conn.exec_driver_sql("SELECT id FROM incident").scalars()]
            audit = conn.exec_driver_sql(
                "SELECT record_id, count(*) FROM audit_entry "
                "WHERE record_kind = 'incident' AND action = 'create' GROUP BY record_id"
            ).all()
    finally:
        engine.dispose()
    return ids, {str(uuid.UUID(str(record_id))): n for record_id, n in audit}


def wait_until(predicate: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def test_a_postgresql_restart_loses_no_acknowledged_record_and_the_stream_resumes(
    deployment: Deployment, cluster: PrivatePostgres
) -> None:
    earlier = set(stored(deployment.url)[0])  # records of the tests before this one
    stream = Stream(deployment.single.port, deployment.analyst)
    device = Device((deployment.pair.port, deployment.single.port), deployment.reporter)
    poster = threading.Thread(target=device.run, daemon=True)
    poster.start()
    try:
        wait_until(lambda: len(device.acked) >= 20, 30, "the device's first records")
        before = len(device.acked)
        cluster.stop("immediate")  # as if the database machine lost power
        time.sleep(2)
        during = len(device.acked)
        cluster.start()
        resumed_s = wait_for_listeners(deployment.url, 3, timeout=30)
        wait_until(lambda: len(device.acked) >= during + 20, 60, "posts never worked again")
        device.stop.set()
        poster.join(60)
        assert not poster.is_alive()

        print(
            f"{len(device.acked)} records acknowledged ({before} before the restart); "
            f"{device.failures} posts failed and were retried"
        )
        assert device.failures > 0, "the outage was never seen: the test proved nothing"
        assert not device.unexpected, f"answers other than 2xx/5xx: {device.unexpected[:5]}"
        assert device.acked == device.sent  # a record was retried until acknowledged

        # Every acknowledged record is there exactly once, with exactly one audit `create`.
        ids, audit_creates = stored(deployment.url)
        assert len(ids) == len(set(ids))
        assert set(ids) - earlier == set(device.acked)
        assert {i: n for i, n in audit_creates.items() if i not in earlier} == dict.fromkeys(
            device.acked, 1
        )
        done = run_cli(deployment.env, "audit", "verify", cwd=deployment.cwd, check=False)
        assert done.returncode == 0, done.stderr

        # The stream opened before the restart is still open and hears of new records again.
        print(f"every process listening again {resumed_s:.1f} s after the database restarted")
        for target in (deployment.pair, deployment.single):
            body = incident(9_999)
            assert post_incident(target.port, deployment.reporter, body) == 201
            assert stream.hears(body["id"]), (
                stream.ended or f"the stream never heard of {body['id']} after the restart"
            )
    finally:
        device.stop.set()
        stream.close()


def test_every_worker_refuses_to_serve_an_old_schema(
    cluster: PrivatePostgres, tmp_path: Path
) -> None:
    url = cluster.create_database("peacewatch_old")
    env = server_env(url)
    run_cli(env, "db", "upgrade", cwd=tmp_path)
    run_cli(env, "db", "downgrade", "--", "-1", cwd=tmp_path)  # one revision behind

    done = run_cli(
        env, "serve", "--workers", "2", "--port", str(free_port()), cwd=tmp_path, check=False
    )
    assert done.returncode == 1
    assert "run `peacewatch db upgrade` first" in " ".join(done.stderr.split())

    # Started by uvicorn itself (or gunicorn), each worker checks as it starts, and none serves:
    # the supervisor stops by itself (uvicorn's exits 0 even so; `peacewatch serve` exits 3).
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "backend.app:create_app", "--factory"]
    argv += ["--workers", "2", "--port", str(port)]
    served = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert served.stderr.count("run `peacewatch db upgrade` first") >= 1, served.stderr
    assert "Application startup failed" in served.stderr
    assert post_incident(port, "nobody", incident(0)) == 0  # nothing listens on the port

    # `serve`'s own supervisor (the schema changed after its check): the failure is its status.
    code = (
        "import sys, typer\nfrom backend.cli import _serve_workers\ntry:\n"
        f"    _serve_workers(host='127.0.0.1', port={port}, workers=2, log_level='warning')\n"
        "except typer.Exit as stop:\n    sys.exit(stop.exit_code)\n"
    )
    supervised = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert supervised.returncode == 3, supervised.stderr
    assert "a worker could not start" in supervised.stderr


def test_machines_that_migrate_at_once_take_turns(cluster: PrivatePostgres, tmp_path: Path) -> None:
    env = server_env(cluster.create_database("peacewatch_race"))
    argv = [sys.executable, "-m", "backend.cli", "db", "upgrade"]
    runs = [
        subprocess.Popen(argv, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], errors
    current = run_cli(env, "db", "current", cwd=tmp_path).stdout.split()
    assert current[1] == current[3], current  # current == head
