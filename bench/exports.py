"""Exports benchmark: the CSV export of a million incidents from the real server, beside the raw
driver writing the same rows with the csv module (and `sqlite3 -csv` where it is installed), in the
same run; then a GeoJSON export of about 100,000 incidents and the daily brief.

    python -m bench.exports                          # 1,000,000 incidents, SQLite
    python -m bench.exports --incidents 200000
    python -m bench.exports --postgres postgresql://postgres@127.0.0.1:5432/postgres
    python -m bench.exports --database postgresql://postgres@127.0.0.1:5432/mine   # kept

The database is filled as bench/metrics.py fills it (set-based inserts, ten years of incidents in
15 regions, 40% with a verification event). `peacewatch serve` runs in a subprocess; the client
reads the response over a raw http.client connection and only counts lines. Figures: time to
first byte, total time, rows/s, and the server's resident memory (VmRSS, sampled every 20 ms)
before the request and at its peak during it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from backend import migrate
from backend.config import Settings
from backend.db import Database, utcnow
from bench.common import ROOT, Server, run_cli, server_env
from bench.metrics import database, fill


def say(text: str) -> None:
    print(text, flush=True)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)


def fetch(port: int, path: str, token: str, pid: int, unit: bytes = b"\n") -> dict[str, Any]:
    """GET `path`; time to first byte, total, `unit`s (lines) and bytes read, the server's RSS
    growth."""
    before = rss_mb(pid)
    watch = PeakRss(pid)
    watch.start()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    first = response.read1(65536)
    ttfb = time.perf_counter() - started
    keep = len(unit) - 1  # bytes of a unit that may straddle two reads
    lines, size, tail = first.count(unit), len(first), first[-keep:] if keep else b""
    while chunk := response.read1(1 << 20):
        lines += (tail + chunk).count(unit)  # a unit split across two reads counts once
        size += len(chunk)
        tail = chunk[-keep:] if keep else b""
    total = time.perf_counter() - started
    watch.done.set()
    watch.join()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {first[:300]!r}")
    return {
        "ttfb_s": ttfb,
        "total_s": total,
        "lines": lines,
        "bytes": size,
        "rss_before_mb": before,
        "rss_peak_mb": watch.peak,
        "rss_growth_mb": watch.peak - before,
    }


_RAW_SQL = """SELECT id, occurred_at, date_precision, category, latitude, longitude, geo_precision,
location_name, admin1, admin2, alleged_party_id, target_party_id, fatalities, injuries,
source_type, description, sensitivity, status, finding, attributed_party_id, verified_at,
verification_method, verification_team, reported_at, received_at, updated_at, source_dataset,
external_id, reported_by
FROM incident ORDER BY occurred_at, id"""


def raw_driver(url: str, out: Path) -> dict[str, Any]:
    """The baseline: the driver alone, the same rows, the csv module, no conversion."""
    started = time.perf_counter()
    if url.startswith("sqlite"):
        import sqlite3

        conn: Any = sqlite3.connect(url.split("///", 1)[1])
        cursor = conn.execute(_RAW_SQL)
    else:
        import psycopg

        from bench.common import libpq_url

        conn = psycopg.connect(libpq_url(url))
        cursor = conn.cursor(name="bench_export")  # server-side, so memory stays flat
        cursor.itersize = 5000
        cursor.execute(_RAW_SQL)
    rows = 0
    first = None
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([d[0] for d in cursor.description])
        while batch := cursor.fetchmany(5000):
            if first is None:
                first = time.perf_counter() - started
            writer.writerows(batch)
            rows += len(batch)
    conn.close()
    return {"ttfb_s": first or 0.0, "total_s": time.perf_counter() - started, "lines": rows + 1}


def postgres_copy(url: str, out: Path) -> dict[str, Any] | None:
    """PostgreSQL's own CSV: `COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)`, streamed."""
    if url.startswith("sqlite"):
        return None
    import psycopg

    from bench.common import libpq_url

    started = time.perf_counter()
    first = None
    with psycopg.connect(libpq_url(url)) as conn, out.open("wb") as f:
        sql = f"COPY ({_RAW_SQL}) TO STDOUT WITH (FORMAT csv, HEADER)"
        with conn.cursor().copy(sql) as copy:  # type: ignore[arg-type]
            for data in copy:
                if first is None:
                    first = time.perf_counter() - started
                f.write(data)
    return {"ttfb_s": first, "total_s": time.perf_counter() - started, "lines": None}


def sqlite3_cli(url: str, out: Path) -> dict[str, Any] | None:
    if not url.startswith("sqlite") or shutil.which("sqlite3") is None:
        return None
    started = time.perf_counter()
    with out.open("wb") as f:
        subprocess.run(
            ["sqlite3", "-csv", "-header", url.split("///", 1)[1], _RAW_SQL.replace("\n", " ")],
            stdout=f,
            check=True,
        )
    return {"ttfb_s": None, "total_s": time.perf_counter() - started, "lines": None}


def _latest_step_backfill(dialect: str) -> list[str]:
    """Migration 0007's backfill: bench/metrics.py's set-based fill writes verification events
    without derive_state, which keeps each incident's latest step on it; this does it for them."""
    import importlib.util

    path = ROOT / "migrations" / "versions" / "0007_incident_latest_step.py"
    spec = importlib.util.spec_from_file_location("migration_0007", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.backfill(dialect)


def _as_autovacuum_would(db: Database) -> None:
    """After the backfill rewrote 40% of the rows, what autovacuum would do before the data is in
    service: fresh statistics, and on PostgreSQL a visibility map (index-only scans)."""
    started = time.perf_counter()
    if db.dialect == "sqlite":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    say(f"  {'ANALYZE' if db.dialect == 'sqlite' else 'VACUUM ANALYZE'} in "
        f"{time.perf_counter() - started:.1f} s")  # fmt: skip


def _median(found: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median total time (the lower middle one of an even count)."""
    return sorted(found, key=lambda r: r["total_s"])[(len(found) - 1) // 2]


def _filled(url: str) -> bool:
    """Whether the database at `url` already holds incidents (filled by an earlier run)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("incident"):
                return False
            return conn.execute(sa.text("SELECT count(*) FROM incident")).scalar_one() > 0
    finally:
        engine.dispose()


def row(name: str, r: dict[str, Any], rows: int) -> str:
    ttfb = "" if r.get("ttfb_s") is None else f"{r['ttfb_s'] * 1000:,.0f} ms"
    growth = "" if "rss_growth_mb" not in r else f"{r['rss_growth_mb']:,.0f} MB"
    return (
        f"| {name} | {rows:,} | {ttfb} | {r['total_s']:.2f} s | {rows / r['total_s']:,.0f} | "
        f"{growth} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="a server URL; a throwaway database is made on it")
    parser.add_argument(
        "--runs", type=int, default=3, help="timed runs of each (median); 0: only fill"
    )
    parser.add_argument("--geojson-days", type=int, default=365, help="window of the GeoJSON run")
    parser.add_argument(
        "--keep", type=Path, help="SQLite file to fill once and reuse on later runs (kept)"
    )
    parser.add_argument(
        "--database",
        help="an existing database URL (e.g. an empty PostgreSQL database made with createdb) "
        "to fill once and reuse on later runs (kept)",
    )
    args = parser.parse_args(argv)
    place = (
        contextlib.nullcontext(args.database)
        if args.database
        else database(args.postgres, args.keep)
    )
    with place as url:
        settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
        reuse = (args.keep is None or args.keep.exists()) and _filled(url)
        say(f"database: {url.split('@')[-1]}" + (" (reused)" if reuse else ""))
        migrate.upgrade(url)
        if not reuse:
            db = Database(settings)
            try:
                fill(db, args.incidents)
                started = time.perf_counter()
                with db.engine.begin() as conn:
                    for statement in _latest_step_backfill(db.dialect):
                        conn.exec_driver_sql(statement)
                say(f"  latest verification steps onto the incidents (as migration 0007 does) "
                    f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
                _as_autovacuum_would(db)
            finally:
                db.dispose()
        if args.runs < 1:
            say("filled; no timed runs (--runs 0)")
            return 0
        env = server_env(url)
        token = run_cli(env, "token", "create", "--name", f"bench-{uuid.uuid4().hex[:8]}", "--role", "admin",
                        cwd=ROOT).stdout.strip().splitlines()[-1]  # fmt: skip
        work = Path(tempfile.mkdtemp(prefix="pw-bench-exports-"))  # server log and CSV copies
        server = Server.peacewatch(env, work, name="server").start()
        results: list[str] = []
        try:
            assert server.proc is not None
            pid = server.proc.pid
            since = (utcnow().date() - timedelta(days=args.geojson_days)).isoformat()
            runs: dict[str, list[dict[str, Any]]] = {}
            for n in range(1, args.runs + 1):
                # Interleaved, so a change of the machine's load touches every figure alike.
                say(f"run {n}/{args.runs}: CSV export of every incident through the server ...")
                measured = {
                    "csv": fetch(server.port, "/api/v1/exports/incidents.csv", token, pid),
                    "raw": raw_driver(url, work / "bench-raw.csv"),
                    "cli": sqlite3_cli(url, work / "bench-sqlite3.csv"),
                    "copy": postgres_copy(url, work / "bench-copy.csv"),
                    "geo": fetch(
                        server.port,
                        f"/api/v1/exports/incidents.geojson?date_from={since}",
                        token,
                        pid,
                        unit=b'{"type":"Feature",',
                    ),
                    "brief": fetch(server.port, "/api/v1/briefings/daily.pdf", token, pid),
                }
                for name, figures in measured.items():
                    if figures is not None:
                        runs.setdefault(name, []).append(figures)
                say(f"  CSV {measured['csv']['total_s']:.1f} s, raw driver "
                    f"{measured['raw']['total_s']:.1f} s")  # fmt: skip
            median = {name: _median(found) for name, found in runs.items()}
            csv_run, raw, geo, brief = (median[k] for k in ("csv", "raw", "geo", "brief"))
            cli, copy = median.get("cli"), median.get("copy")
            rows = csv_run["lines"] - 1
        finally:
            server.stop()
            shutil.rmtree(work, ignore_errors=True)
        say(f"\nmedians of {args.runs} runs (the run of median total time for each line)")
        results.append("| run | rows | first byte | total | rows/s | server RSS growth |")
        results.append("|---|---:|---:|---:|---:|---:|")
        results.append(row("CSV export (server, HTTP)", csv_run, rows))
        results.append(row("baseline: raw driver + csv module", raw, rows))
        if cli:
            results.append(row("baseline: `sqlite3 -csv`", cli, rows))
        if copy:
            results.append(row("baseline: `COPY (SELECT ...) TO STDOUT`", copy, rows))
        results.append(row(f"GeoJSON export since {since} (server)", geo, geo["lines"]))
        results.append(
            f"| daily brief PDF (server) | {brief['bytes']:,} bytes | | {brief['total_s']:.2f} s "
            f"| | {brief['rss_growth_mb']:,.0f} MB |"
        )
        say("")
        say("\n".join(results))
        say(
            f"\nCSV: {csv_run['total_s'] / raw['total_s']:.2f}x the raw driver's time; "
            f"server RSS {csv_run['rss_before_mb']:.0f} MB before, peak "
            f"{csv_run['rss_peak_mb']:.0f} MB; {csv_run['bytes'] / 1e6:,.0f} MB sent"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
