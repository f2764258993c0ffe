"""CPU per item of the batch sync path, in process, beside the raw driver writing the same rows.

    python -m bench.sync_cpu                                   # a fresh SQLite file
    python -m bench.sync_cpu --http                            # through the whole FastAPI app
    python -m bench.sync_cpu --url postgresql+psycopg://postgres@127.0.0.1:5432/mydb
    python -m bench.sync_cpu --profile --sort cumulative       # and cProfile's top functions

No network and no load generator: what one item costs the server's own process
(`time.process_time`) beside the wall time, so that a change to the path can be judged on a
shared, noisy machine, where throughput figures swing with the neighbours' load but CPU per item
much less. By default `ingest.service.sync` is called directly; `--http` sends each batch through
the ASGI app (FastAPI's body parsing, the token check, the JSON answer), less the socket.

The baseline, in the same run: the rows the batches stored (each incident, its audit entry, its
idempotency key), read back and written again by the raw driver into a fresh database, one
transaction per batch (`bench.ingest`'s second `/sync` baseline). The database server's own
work (PostgreSQL) is not in the CPU figures; it is in the wall times.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend import migrate
from backend.app import create_app
from backend.audit import service as audit
from backend.auth import service as tokens
from backend.auth.service import Principal
from backend.config import Settings
from backend.db import Database
from backend.ingest import service
from backend.ingest.schemas import SyncRequest
from backend.vocab import Role
from bench.common import dumps, incident, postgres_database, sync_body
from bench.ingest import RawPostgres, RawSqlite, Tables

BATCH = 500


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_cpu", description=__doc__)
    parser.add_argument("--url", help="an empty database to use (default: a fresh SQLite file)")
    parser.add_argument("--batches", type=int, default=20, help="timed batches of 500 (20)")
    parser.add_argument("--http", action="store_true", help="through the ASGI app, not the service")
    parser.add_argument("--runs", type=int, default=1, help="timed runs of each, alternating (1)")
    parser.add_argument(
        "--profile", action="store_true", help="also print cProfile's top functions"
    )
    parser.add_argument("--sort", default="tottime", help="cProfile's order: tottime, cumulative")
    parser.add_argument("--top", type=int, default=30, help="how many functions to print (30)")
    args = parser.parse_args(argv)

    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='sync-cpu-')) / 'sync.db'}"
    migrate.upgrade(url)
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    db = Database(settings)
    warm = 4
    per_run = warm + args.batches
    bodies = [
        dumps(sync_body([incident(b * BATCH + i) for i in range(BATCH)]))
        for b in range(per_run * args.runs)
    ]
    send = _http_sender(settings, db) if args.http else _service_sender(settings, db)
    raw = _raw_driver(url)
    path = "the ASGI app" if args.http else "service.sync"
    print(f"{db.dialect}: {args.runs} run(s) of {args.batches} batches of {BATCH}, through {path}")
    for run in range(args.runs):
        batch_bodies = bodies[run * per_run : (run + 1) * per_run]
        for body in batch_bodies[:warm]:
            send(body)
        profile = cProfile.Profile() if args.profile and run == 0 else None
        ours = _timed(send, batch_bodies[warm:], profile)
        stored = _stored_rows(raw["reader"], batch_bodies[warm:])
        theirs = _timed(raw["writer"].insert_tables, stored, None)
        items = args.batches * BATCH
        print(
            f"  run {run + 1}: PeaceWatch {items / ours[0]:,.0f}/s wall, "
            f"{ours[1] / items * 1e6:.0f} µs CPU per item | raw driver, the same rows "
            f"{items / theirs[0]:,.0f}/s wall, {theirs[1] / items * 1e6:.0f} µs CPU per item | "
            f"ratio {theirs[0] / ours[0]:.0%} of the driver's rate"
        )
        if profile:
            pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)
    raw["close"]()
    db.dispose()
    return 0


def _timed(
    each: Callable[[Any], object], batches: list[Any], profile: cProfile.Profile | None
) -> tuple[float, float]:
    """Wall and process time of `each` over `batches`."""
    wall, cpu = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    for batch in batches:
        each(batch)
    if profile:
        profile.disable()
    return time.perf_counter() - wall, time.process_time() - cpu


def _service_sender(settings: Settings, db: Database) -> Callable[[bytes], None]:
    principal = Principal(name="bench", role=Role.reporter)

    def send(raw: bytes) -> None:
        items = SyncRequest.model_validate_json(raw).items
        with db.session() as session:
            audit.set_actor(session, principal.name, principal.role.value)
            service.sync(session=session, principal=principal, settings=settings, items=items)
            session.commit()

    return send


def _http_sender(settings: Settings, db: Database) -> Callable[[bytes], None]:
    """POST /api/v1/sync through the ASGI app, in this thread's event loop (no socket)."""
    with db.session() as session:
        _, secret = tokens.create_token(session=session, name="bench", role=Role.reporter)
        session.commit()
    app = create_app(settings)
    headers = [
        (b"authorization", f"Bearer {secret}".encode()),
        (b"content-type", b"application/json"),
        (b"host", b"bench"),
    ]
    loop = asyncio.new_event_loop()
    lifespan = app.router.lifespan_context(app)
    loop.run_until_complete(lifespan.__aenter__())

    async def post(body: bytes) -> None:
        sent = False
        status = 0

        async def receive() -> dict[str, object]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def respond(message: dict[str, object]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]  # type: ignore[assignment]

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/v1/sync",
            "raw_path": b"/api/v1/sync",
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 1),
            "server": ("bench", 80),
            "state": {},
        }
        await app(scope, receive, respond)
        if status != 200:
            raise SystemExit(f"POST /api/v1/sync answered {status}")

    return lambda body: loop.run_until_complete(post(body))


def _raw_driver(url: str) -> dict[str, object]:
    """A reader of PeaceWatch's database and a raw writer into a fresh, migrated one."""
    if url.startswith("sqlite"):
        fresh = Path(tempfile.mkdtemp(prefix="sync-cpu-raw-")) / "raw.db"
        migrate.upgrade(f"sqlite:///{fresh}")
        reader, writer = RawSqlite(Path(url.removeprefix("sqlite:///"))), RawSqlite(fresh)
        return {
            "reader": reader,
            "writer": writer,
            "close": lambda: (reader.close(), writer.close()),
        }
    server = url.rsplit("/", 1)[0] + "/postgres"
    databases = postgres_database(server, "pw_synccpu_raw")
    fresh_url = databases.__enter__()
    migrate.upgrade(fresh_url)
    reader, writer = RawPostgres(url), RawPostgres(fresh_url)

    def close() -> None:
        reader.close()
        writer.close()
        databases.__exit__(None, None, None)

    return {"reader": reader, "writer": writer, "close": close}


def _stored_rows(reader: RawSqlite | RawPostgres, bodies: list[bytes]) -> list[Tables]:
    return [reader.stored([str(i.data["id"]) for i in SyncRequest.model_validate_json(b).items])
            for b in bodies]  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
