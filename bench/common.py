"""Helpers shared by the benchmark and the crash test: real server processes, throwaway databases,
and a minimal HTTP/1.1 keep-alive client that costs the load generator as little CPU as possible.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
API = "/api/v1"


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a PeaceWatch process on `database_url`: no rate limit, quiet logs."""
    env = dict(os.environ)
    env.update(
        {
            "PEACEWATCH_DATABASE_URL": database_url,
            "PEACEWATCH_RATE_LIMIT_PER_MINUTE": "0",
            "PEACEWATCH_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
        }
    )
    env.update(extra)
    return env


def run_cli(
    env: dict[str, str], *args: str, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess:
    """`peacewatch ARGS` in a subprocess (as `python -m backend.cli`, the same entry point)."""
    done = subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(
            f"peacewatch {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def prepare_database(env: dict[str, str], cwd: Path, token_name: str = "bench") -> str:  # noqa: S107
    """Migrate the database of `env` and return a new reporter token's secret."""
    run_cli(env, "db", "upgrade", cwd=cwd)
    done = run_cli(env, "token", "create", "--name", token_name, "--role", "reporter", cwd=cwd)
    return done.stdout.strip().splitlines()[-1]


class Server:
    """A server process on 127.0.0.1:`port`; `start()` returns once GET /healthz answers 200."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int, cwd: Path, log: Path):
        self.argv, self.env, self.port, self.cwd, self.log_path = argv, env, port, cwd, log
        self.proc: subprocess.Popen | None = None

    @classmethod
    def peacewatch(cls, env: dict[str, str], cwd: Path, name: str = "server") -> Server:
        port = free_port()
        argv = [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1"]
        argv += ["--port", str(port)]
        return cls(argv, env, port, cwd, cwd / f"{name}.log")

    def start(self, timeout: float = 60.0) -> Server:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                try:
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        return self
                finally:
                    conn.close()
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not answer /healthz in {timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no rollback; as a power cut is to the process."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# --- PostgreSQL -------------------------------------------------------------------------------


def sqlalchemy_url(url: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def libpq_url(url: str) -> str:
    """The URL psycopg takes (no `+psycopg`)."""
    import sqlalchemy as sa

    return sa.make_url(sqlalchemy_url(url)).set(drivername="postgresql").render_as_string(False)


@contextlib.contextmanager
def postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the server of `server_url`, dropped afterwards; yields its URL."""
    import psycopg
    import sqlalchemy as sa

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(sqlalchemy_url(server_url)).set(database=name).render_as_string(False)
    finally:
        with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- request bodies ---------------------------------------------------------------------------

_CATEGORIES = ("armed_clash", "shelling", "movement_of_forces", "denial_of_access")


def incident(i: int, *, now: datetime | None = None) -> dict[str, Any]:
    """The body of incident number `i`, with a device-made id (as tests/helpers.incident_body)."""
    now = now or datetime.now(UTC)
    occurred = (now - timedelta(minutes=10 + i % 5000)).replace(microsecond=0)
    return {
        "id": str(uuid.uuid4()),
        "occurred_at": occurred.isoformat(),
        "category": _CATEGORIES[i % len(_CATEGORIES)],
        "latitude": round(6.3106 + (i % 100) / 1000, 4),
        "longitude": -10.8047,
        "location_name": "Tubmanburg",
        "admin1": "Bomi",
        "source_type": "patrol",
        "fatalities": i % 3,
        "injuries": i % 7,
        "description": f"Exchange of fire near the checkpoint (report {i})",
    }


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def sync_body(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": [{"kind": "incident", "data": item} for item in items]}


# --- a cheap HTTP/1.1 client ------------------------------------------------------------------


def raw_request(method: str, path: str, body: bytes, token: str | None, port: int) -> bytes:
    """A whole HTTP/1.1 request, serialised once, to be written as is (keep-alive)."""
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    head += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(head).encode() + body


class RawConnection:
    """One keep-alive connection writing pre-serialised requests and reading Content-Length bodies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes, bytes]:
        """(status, raw headers, body)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at < 0:
            raise RuntimeError(f"response without content-length: {head[:200]!r}")
        end = lower.index(b"\r\n", at + 2)
        length = int(lower[at + 17 : end])
        body = await self.reader.readexactly(length) if length else b""
        return status, head, body

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]
