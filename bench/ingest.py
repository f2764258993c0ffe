"""Ingestion benchmark: single posts and `/sync` batches, each beside a baseline of the same run.

    python -m bench.ingest                      # SQLite (make bench)
    python -m bench.ingest --quick              # a smaller run, under a minute
    python -m bench.ingest --postgres postgresql://postgres@127.0.0.1:5432/postgres
    python -m bench.ingest --postgres URL --workers 2   # `peacewatch serve --workers 2`

The real server (`peacewatch serve`) runs in a subprocess on a fresh database; so does the
baseline of the single posts, a bare FastAPI endpoint validating the same body and storing
nothing (bench/bare_app.py). The baselines of `/sync` are the raw driver (sqlite3 `executemany`,
or psycopg `COPY`) inserting into freshly migrated tables (same indexes, constraints and
triggers): the incidents' rows alone, and the very rows `/sync` stored for each batch (the
incident, its audit entry and its idempotency key, read back from the server's database).

The load generator shares the machine's cores with the server; it writes pre-serialised requests
over keep-alive connections and parses little, so that it takes as little CPU as it can.
Each measure runs several times, alternating with its baseline; medians are reported, and each
ratio is the median of the ratios of the pairs run side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import (
    API,
    RawConnection,
    Server,
    dumps,
    free_port,
    incident,
    libpq_url,
    percentile,
    postgres_database,
    prepare_database,
    raw_request,
    run_cli,
    server_env,
    sync_body,
)

GOAL_SINGLE_EPS = 1000.0
GOAL_SINGLE_P99_MS = 50.0
GOAL_SINGLE_RATIO = 0.40
GOAL_SYNC_EPS = 30_000.0
GOAL_SYNC_RATIO = 0.50

_TTY = sys.stderr.isatty()


def say(message: str = "") -> None:
    print(message, flush=True)


def progress(message: str) -> None:
    """A transient status line on a terminal; nothing in a log."""
    if _TTY:
        sys.stderr.write(f"\r\033[K{message}")
        sys.stderr.flush()


def clear_progress() -> None:
    if _TTY:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


# --- measures ---------------------------------------------------------------------------------


@dataclass
class Run:
    events: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def eps(self) -> float:
        return self.events / self.seconds

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


async def post_load(
    port: int, requests: list[bytes], clients: int, label: str, ok: tuple[int, ...] = (200, 201)
) -> Run:
    """Send `requests` over `clients` keep-alive connections at once, as fast as they answer."""
    conns = [await RawConnection.open(port) for _ in range(clients)]
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    samples: list[bytes] = []
    indexes = iter(range(len(requests)))
    done = 0

    async def worker(conn: RawConnection) -> None:
        nonlocal done
        clock = time.perf_counter
        for i in indexes:  # one iterator shared by every worker: each request is sent once
            t0 = clock()
            status, _, body = await conn.send(requests[i])
            latencies.append(clock() - t0)
            done += 1
            if status not in ok:
                failures[str(status)] += 1
                if len(samples) < 3:
                    samples.append(body[:300])

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.5)
            progress(f"  {label}: {done}/{len(requests)}")

    tick = asyncio.create_task(ticker())
    start = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    seconds = time.perf_counter() - start
    tick.cancel()
    clear_progress()
    for conn in conns:
        await conn.close()
    if samples:
        say(f"  ! {label}: {dict(failures)} failed, e.g. {samples[0]!r}")
    return Run(len(requests), seconds, sorted(x * 1000 for x in latencies), dict(failures))


async def sync_load(port: int, requests: list[bytes], batch_size: int, label: str) -> Run:
    """Send the `/sync` batches one after another on one connection, as a device's outbox."""
    conn = await RawConnection.open(port)
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    decoder = json.JSONDecoder()
    start = time.perf_counter()
    for n, request in enumerate(requests, 1):
        t0 = time.perf_counter()
        status, _, body = await conn.send(request)
        latencies.append(time.perf_counter() - t0)
        if status != 200:
            failures[str(status)] += batch_size
            if len(failures) == 1 and sum(failures.values()) == batch_size:
                say(f"  ! {label}: HTTP {status}: {body[:300]!r}")
        else:
            # Only the counts, at the end of the body: the client must stay cheap.
            text = body.decode()
            counts, _ = decoder.raw_decode(text, text.rindex('"counts"') + len('"counts":'))
            for kind, k in counts.items():
                if kind != "created" and k:
                    failures[kind] += k
        progress(f"  {label}: batch {n}/{len(requests)}")
    seconds = time.perf_counter() - start
    clear_progress()
    await conn.close()
    if failures:
        say(f"  ! {label}: not created: {dict(failures)}")
    return Run(
        len(requests) * batch_size, seconds, sorted(x * 1000 for x in latencies), dict(failures)
    )


# --- the raw driver ---------------------------------------------------------------------------

_DEFAULTS = {
    "date_precision": "day",
    "geo_precision": "exact",
    "sensitivity": "restricted",
    "status": "received",
    "finding": "unverified",
    "reported_by": "bench",
    "fatalities": 0,
    "injuries": 0,
    "description": "",
}
_TIMES = {"occurred_at", "reported_at", "received_at", "updated_at"}
_UUIDS = {"id", "alleged_party_id", "target_party_id", "attributed_party_id"}


def storage_rows(
    bodies: list[dict[str, Any]], columns: list[str], dialect: str
) -> list[tuple[Any, ...]]:
    """The rows PeaceWatch stores for `bodies`, as the driver takes them (SQLAlchemy's formats:
    on SQLite a UUID is 32 hex digits and a time is naive UTC text)."""
    now = datetime.now(UTC)
    rows = []
    for body in bodies:
        values = {**_DEFAULTS, "received_at": now, "updated_at": now, **body}
        row = []
        for name in columns:
            value = values.get(name)
            if value is not None and name in _TIMES:
                if isinstance(value, str):
                    value = datetime.fromisoformat(value)
                value = value.astimezone(UTC)
                if dialect == "sqlite":
                    value = value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
            elif value is not None and name in _UUIDS:
                value = uuid.UUID(value) if isinstance(value, str) else value
                if dialect == "sqlite":
                    value = value.hex
            row.append(value)
        rows.append(tuple(row))
    return rows


# The rows `/sync` stores for each incident: the record, its audit entry, its idempotency key.
STORED_TABLES = ("incident", "audit_entry", "idempotency_key")
Tables = list[tuple[str, list[str], list[tuple[Any, ...]]]]  # (table, columns, rows), in order


class RawSqlite:
    """sqlite3 `executemany` into a migrated database, one transaction per batch, with the
    pragmas PeaceWatch sets (WAL, synchronous=NORMAL, foreign keys)."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.columns = self.columns_of("incident")

    def columns_of(self, table: str) -> list[str]:
        return [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]

    def insert_tables(self, tables: Tables) -> None:
        """Rows of several tables in one transaction: `(table, columns, rows)`, in order."""
        self.conn.execute("BEGIN IMMEDIATE")
        for table, columns, rows in tables:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - the tables' own names
            self.conn.executemany(sql, rows)
        self.conn.execute("COMMIT")

    def stored(self, ids: list[str]) -> Tables:
        """What the database holds for the incidents `ids`, as it is stored: each row of
        STORED_TABLES that belongs to them (this connection reads PeaceWatch's database)."""
        hexes = [uuid.UUID(i).hex for i in ids]
        where = {
            "incident": ("id", hexes),
            "audit_entry": ("record_kind = 'incident' AND record_id", ids),
            "idempotency_key": ("scope = 'incident' AND key", ids),
        }
        out = []
        for table in STORED_TABLES:
            test, values = where[table]
            marks = ", ".join("?" * len(values))
            sql = f"SELECT * FROM {table} WHERE {test} IN ({marks})"  # noqa: S608 - fixed texts
            out.append((table, self.columns_of(table), self.conn.execute(sql, values).fetchall()))
        return out

    def close(self) -> None:
        self.conn.close()


class RawPostgres:
    """psycopg `COPY ... FROM STDIN`, one transaction per batch."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg
        from psycopg.types.string import TextLoader

        self.conn = psycopg.connect(libpq_url(url))
        for json_type in ("json", "jsonb"):  # JSON read and written back as its text
            self.conn.adapters.register_loader(json_type, TextLoader)
        self.columns = self.columns_of("incident")

    def columns_of(self, table: str) -> list[str]:
        cur = self.conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        )
        columns = [r[0] for r in cur.fetchall()]
        self.conn.commit()
        return columns

    def insert_tables(self, tables: Tables) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            for table, columns, rows in tables:
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)

    def stored(self, ids: list[str]) -> Tables:
        where = {
            "incident": "id = ANY(%s::uuid[])",
            "audit_entry": "record_kind = 'incident' AND record_id = ANY(%s)",
            "idempotency_key": "scope = 'incident' AND key = ANY(%s)",
        }
        out = []
        for table in STORED_TABLES:
            columns = self.columns_of(table)
            sql = f"SELECT {', '.join(columns)} FROM {table} WHERE {where[table]}"  # noqa: S608 - fixed texts
            out.append((table, columns, self.conn.execute(sql, (ids,)).fetchall()))
        self.conn.commit()
        return out

    def close(self) -> None:
        self.conn.close()


def driver_load(driver: RawSqlite | RawPostgres, batches: list[Tables], label: str) -> Run:
    """The raw driver writing `batches` one after another, each in one transaction; the events
    of a batch are the rows of its first table."""
    latencies = []
    start = time.perf_counter()
    for n, tables in enumerate(batches, 1):
        t0 = time.perf_counter()
        driver.insert_tables(tables)
        latencies.append(time.perf_counter() - t0)
        progress(f"  {label}: batch {n}/{len(batches)}")
    seconds = time.perf_counter() - start
    clear_progress()
    events = sum(len(tables[0][2]) for tables in batches)
    return Run(events, seconds, sorted(x * 1000 for x in latencies))


# --- report -----------------------------------------------------------------------------------


def med(values: list[float]) -> float:
    return statistics.median(values)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def line_of(label: str, runs: list[Run]) -> str:
    eps = [r.eps for r in runs]
    return (
        f"  {label:<26} {med(eps):>10,.0f}   {med([r.p(50) for r in runs]):>7.1f}"
        f" {med([r.p(95) for r in runs]):>7.1f} {med([r.p(99) for r in runs]):>7.1f}"
        f"    runs: {', '.join(f'{e:,.0f}' for e in eps)}"
    )


def summarise(name: str, base: list[Run], real: list[Run]) -> dict[str, Any]:
    ratios = [r.eps / b.eps for b, r in zip(base, real, strict=True)]
    return {
        "measure": name,
        "runs": len(real),
        "events_per_run": real[0].events,
        "eps": med([r.eps for r in real]),
        "eps_runs": [r.eps for r in real],
        "p50_ms": med([r.p(50) for r in real]),
        "p95_ms": med([r.p(95) for r in real]),
        "p99_ms": med([r.p(99) for r in real]),
        "baseline_eps": med([b.eps for b in base]),
        "baseline_eps_runs": [b.eps for b in base],
        "baseline_p50_ms": med([b.p(50) for b in base]),
        "baseline_p95_ms": med([b.p(95) for b in base]),
        "baseline_p99_ms": med([b.p(99) for b in base]),
        "ratio": med(ratios),
        "ratio_runs": ratios,
        "failures": sum(sum(r.failures.values()) for r in real),
    }


def goal_lines(goals: list[tuple[str, str, bool]]) -> list[str]:
    return [f"  goal {g:<36} {figure:>14}   {verdict(ok)}" for g, figure, ok in goals]


# --- the benchmark ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "system": f"{platform.system()} {platform.release()}",
    }


async def bench_single(
    real: Server, bare: Server, token: str, args: argparse.Namespace
) -> dict[str, Any]:
    say(
        f"\n== single posts: {args.clients} clients, {args.events:,} incidents per run, "
        f"{args.runs} runs, alternating with the bare endpoint =="
    )

    def requests(port: int, n: int, with_token: bool) -> list[bytes]:
        path = f"{API}/incidents"
        return [
            raw_request("POST", path, dumps(incident(i)), token if with_token else None, port)
            for i in range(n)
        ]

    # Warm both up (first requests import and compile lazily); not measured.
    await post_load(
        bare.port, requests(bare.port, args.warmup, False), args.clients, "warm-up bare"
    )
    await post_load(real.port, requests(real.port, args.warmup, True), args.clients, "warm-up real")
    base_runs, real_runs = [], []
    for r in range(1, args.runs + 1):
        b = await post_load(
            bare.port, requests(bare.port, args.events, False), args.clients, f"run {r} bare"
        )
        p = await post_load(
            real.port, requests(real.port, args.events, True), args.clients, f"run {r} peacewatch"
        )
        base_runs.append(b)
        real_runs.append(p)
        say(
            f"  run {r}/{args.runs}: bare {b.eps:,.0f}/s p99 {b.p(99):.1f} ms | "
            f"peacewatch {p.eps:,.0f}/s p99 {p.p(99):.1f} ms | ratio {p.eps / b.eps:.0%}"
        )
    return summarise("single", base_runs, real_runs) | {
        "clients": args.clients,
        "_base": base_runs,
        "_real": real_runs,
    }


async def bench_sync(
    real: Server,
    token: str,
    raw_factory: Callable[[str], RawSqlite | RawPostgres],
    args: argparse.Namespace,
) -> dict[str, Any] | None:
    say(
        f"\n== /sync: {args.batches} batches of {args.batch_size} per run, one connection, "
        f"{args.runs} runs, alternating with the raw driver =="
    )
    probe = await RawConnection.open(real.port)
    status, _, _ = await probe.send(
        raw_request("POST", f"{API}/sync", dumps({"items": []}), token, real.port)
    )
    await probe.close()
    if status == 404:
        say("  skipped: this server has no POST /api/v1/sync yet")
        return None

    def batches() -> list[list[dict[str, Any]]]:
        return [
            [incident(b * args.batch_size + i) for i in range(args.batch_size)]
            for b in range(args.batches)
        ]

    warm = [
        raw_request("POST", f"{API}/sync", dumps(sync_body(b)), token, real.port)
        for b in batches()[:2]
    ]
    await sync_load(real.port, warm, args.batch_size, "warm-up")
    driver, replayer, reader = raw_factory("raw"), raw_factory("stored"), raw_factory("server")
    try:
        base_runs, real_runs, full_runs = [], [], []
        for r in range(1, args.runs + 1):
            rows = [storage_rows(b, driver.columns, driver.dialect) for b in batches()]
            incident_rows = [[("incident", driver.columns, batch)] for batch in rows]
            b = driver_load(driver, incident_rows, f"run {r} raw driver")
            bodies = batches()
            requests = [
                raw_request("POST", f"{API}/sync", dumps(sync_body(items)), token, real.port)
                for items in bodies
            ]
            p = await sync_load(real.port, requests, args.batch_size, f"run {r} /sync")
            stored = [reader.stored([item["id"] for item in items]) for items in bodies]
            f = driver_load(replayer, stored, f"run {r} raw driver, rows /sync stored")
            base_runs.append(b)
            real_runs.append(p)
            full_runs.append(f)
            say(
                f"  run {r}/{args.runs}: raw driver {b.eps:,.0f}/s | /sync {p.eps:,.0f}/s "
                f"(batch p50 {p.p(50):.0f} ms) | raw driver, the rows /sync stored "
                f"{f.eps:,.0f}/s | ratios {p.eps / b.eps:.0%}, {p.eps / f.eps:.0%}"
            )
    finally:
        for conn in (driver, replayer, reader):
            conn.close()
    stored_ratio = [p.eps / f.eps for p, f in zip(real_runs, full_runs, strict=True)]
    return summarise("sync", base_runs, real_runs) | {
        "batch_size": args.batch_size,
        "batches": args.batches,
        "stored_rows_baseline_eps": med([f.eps for f in full_runs]),
        "stored_rows_baseline_eps_runs": [f.eps for f in full_runs],
        "stored_rows_ratio": med(stored_ratio),
        "stored_rows_ratio_runs": stored_ratio,
        "_base": base_runs,
        "_real": real_runs,
        "_full": full_runs,
    }


def report(db_name: str, single: dict[str, Any], sync: dict[str, Any] | None) -> list[str]:
    lines = [f"\n== results on {db_name} (medians) =="]
    lines.append(f"  {'':<26} {'events/s':>10}   {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    lines.append(line_of("bare FastAPI endpoint", single["_base"]))
    lines.append(line_of(f"POST /incidents ({single['clients']} cl.)", single["_real"]))
    goals = []
    if db_name == "SQLite":
        goals += [
            (
                "single posts >= 1,000 events/s",
                f"{single['eps']:,.0f}/s",
                single["eps"] >= GOAL_SINGLE_EPS,
            ),
            (
                "single posts p99 < 50 ms",
                f"{single['p99_ms']:.1f} ms",
                single["p99_ms"] < GOAL_SINGLE_P99_MS,
            ),
        ]
    goals.append(
        (
            "single posts >= 40% of bare endpoint",
            f"{single['ratio']:.0%}",
            single["ratio"] >= GOAL_SINGLE_RATIO,
        )
    )
    if sync:
        driver = "raw sqlite3 executemany" if db_name == "SQLite" else "raw psycopg COPY"
        lines.append(line_of(driver, sync["_base"]) + "  (latency per batch)")
        lines.append(
            line_of("  the rows /sync stored", sync["_full"]) + "  (incident + audit entry + key)"
        )
        lines.append(
            line_of(f"/sync, batches of {sync['batch_size']}", sync["_real"])
            + "  (latency per batch)"
        )
        goals += [
            ("/sync >= 30,000 events/s", f"{sync['eps']:,.0f}/s", sync["eps"] >= GOAL_SYNC_EPS),
            (
                "/sync >= 50% of raw driver",
                f"{sync['ratio']:.0%}",
                sync["ratio"] >= GOAL_SYNC_RATIO,
            ),
            (
                "/sync >= 50% of raw, rows it stored",
                f"{sync['stored_rows_ratio']:.0%}",
                sync["stored_rows_ratio"] >= GOAL_SYNC_RATIO,
            ),
        ]
    else:
        lines.append("  /sync: not measured (no such route on this server)")
    return [*lines, *goal_lines(goals)]


async def run(args: argparse.Namespace) -> int:
    info = machine()
    command = "python -m bench.ingest " + shlex.join(sys.argv[1:])
    say(f"PeaceWatch ingestion benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    say(
        f"  machine: {info['cpu']}, {info['cores']} cores; Python {info['python']}, SQLite {info['sqlite']}"
    )
    say(f"  command: {command}")
    db_name = "PostgreSQL" if args.postgres else "SQLite"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="peacewatch-bench-")))
        if args.postgres:
            url = stack.enter_context(postgres_database(args.postgres, "peacewatch_bench"))
            raw_urls = {"server": url}
            for role in ("raw", "stored"):
                raw_urls[role] = stack.enter_context(
                    postgres_database(args.postgres, f"peacewatch_bench_{role}")
                )
                run_cli(server_env(raw_urls[role]), "db", "upgrade", cwd=tmp)

            def raw_factory(role: str) -> RawSqlite | RawPostgres:
                return RawPostgres(raw_urls[role])

            import psycopg

            with psycopg.connect(libpq_url(url)) as conn:
                info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
        else:
            url = f"sqlite:///{tmp / 'peacewatch.db'}"
            raw_paths = {"server": tmp / "peacewatch.db"}
            for role in ("raw", "stored"):
                raw_paths[role] = tmp / f"{role}.db"
                run_cli(server_env(f"sqlite:///{raw_paths[role]}"), "db", "upgrade", cwd=tmp)

            def raw_factory(role: str) -> RawSqlite | RawPostgres:
                return RawSqlite(raw_paths[role])

        say(f"  database: {db_name} (a fresh one, migrated by `peacewatch db upgrade`)")
        env = server_env(url)
        token = prepare_database(env, tmp)
        real = Server.peacewatch(env, tmp)
        real.argv += ["--workers", str(args.workers)]
        say(f"  server: peacewatch serve --workers {args.workers}")
        bare_port = free_port()
        bare = Server(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.bare_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
            ],
            env,
            bare_port,
            tmp,
            tmp / "bare.log",
        )
        say("  starting the servers ...")
        stack.callback(real.stop)
        stack.callback(bare.stop)
        real.start()
        bare.start()
        single = await bench_single(real, bare, token, args)
        bare.stop()  # idle, but the /sync measure gets the machine to itself
        sync = await bench_sync(real, token, raw_factory, args)
        lines = report(db_name, single, sync)
        for text in lines:
            say(text)
        if args.json:
            out = {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": command,
                "database": db_name,
                "machine": info,
                "single": {k: v for k, v in single.items() if not k.startswith("_")},
                "sync": {k: v for k, v in sync.items() if not k.startswith("_")} if sync else None,
            }
            Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
            say(f"\n  figures written to {args.json}")
        if real.proc and real.proc.poll() is not None:
            say(f"  ! the server died:\n{real.log_tail()}")
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on PostgreSQL: a server URL; fresh databases are made on it and dropped",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer events and runs (under a minute)"
    )
    parser.add_argument("--runs", type=int, help="runs of each measure (default 3, quick 2)")
    parser.add_argument(
        "--events", type=int, help="single posts per run (default 5000, quick 1000)"
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--batches", type=int, help="/sync batches per run (default 20, quick 6)")
    parser.add_argument("--batch-size", type=int, default=500, help="items per /sync batch (500)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (more than 1 needs --postgres)"
    )
    args = parser.parse_args(argv)
    if args.workers < 1 or (args.workers > 1 and not args.postgres):
        parser.error("--workers: 1, or more with --postgres (several workers need PostgreSQL)")
    args.runs = args.runs or (2 if args.quick else 3)
    args.events = args.events or (1000 if args.quick else 5000)
    args.batches = args.batches or (6 if args.quick else 20)
    args.warmup = 200 if args.quick else 500
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(run(args))
    return uvloop.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
