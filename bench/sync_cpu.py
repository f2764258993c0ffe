"""CPU per item of the batch sync path, in process: `ingest.service.sync` on batches of 500.

    python -m bench.sync_cpu                                   # a fresh SQLite file
    python -m bench.sync_cpu --url postgresql+psycopg://postgres@127.0.0.1:5432/mydb
    python -m bench.sync_cpu --profile                          # and cProfile's top functions

No HTTP and no load generator: what one item costs the server's own process (`time.process_time`)
beside the wall time, so that a change to the path can be judged on a shared, noisy machine,
where throughput figures swing with the neighbours' load but CPU per item much less. The database
server's own work (PostgreSQL) is not in the CPU figure; it is in the wall time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from backend import migrate
from backend.audit import service as audit
from backend.auth.service import Principal
from backend.config import Settings
from backend.db import Database
from backend.ingest import service
from backend.ingest.schemas import SyncRequest
from backend.vocab import Role
from bench.common import dumps, incident, sync_body

BATCH = 500


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_cpu", description=__doc__)
    parser.add_argument("--url", help="an empty database to use (default: a fresh SQLite file)")
    parser.add_argument("--batches", type=int, default=20, help="timed batches of 500 (20)")
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top 30")
    args = parser.parse_args(argv)

    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='sync-cpu-')) / 'sync.db'}"
    migrate.upgrade(url)
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    db = Database(settings)
    principal = Principal(name="bench", role=Role.reporter)
    warm = 4
    bodies = [
        dumps(sync_body([incident(b * BATCH + i) for i in range(BATCH)]))
        for b in range(warm + args.batches)
    ]

    def one(raw: bytes) -> None:
        items = SyncRequest.model_validate_json(raw).items
        with db.session() as session:
            audit.set_actor(session, principal.name, principal.role.value)
            service.sync(session=session, principal=principal, settings=settings, items=items)
            session.commit()

    for raw in bodies[:warm]:
        one(raw)
    profile = cProfile.Profile() if args.profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    for raw in bodies[warm:]:
        one(raw)
    if profile:
        profile.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    items = args.batches * BATCH
    print(f"{db.dialect}: {items:,} items in {wall:.2f} s ({items / wall:,.0f}/s wall), "
          f"{cpu / items * 1e6:.0f} µs of this process's CPU per item")  # fmt: skip
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
