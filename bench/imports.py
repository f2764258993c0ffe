"""Import benchmark: ACLED rows per minute, beside a baseline measured in the same run.

    python -m bench.imports                       # 100,000 rows, SQLite, 3 runs
    python -m bench.imports --rows 20000 --runs 1 # quicker
    python -m bench.imports --postgres postgresql://postgres@127.0.0.1:5432/postgres

It writes N synthetic ACLED rows (the current 31-column export; a few notes with line breaks)
to a temporary file and imports them as `peacewatch import acled` does (in process, a commit per
batch, audit entries and notices included) into a fresh database, then imports the same file
again (every row unchanged). The baseline reads the same file with the csv module and inserts
the same rows into the same migrated `incident` table with the raw driver's `executemany` in one
transaction (sqlite3; psycopg on PostgreSQL): no mapping, no checks, no audit, the floor.
Medians of the runs are printed; the ratio is importer time / baseline time.
"""

from __future__ import annotations

import argparse
import csv
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from backend import migrate
from backend.config import Settings
from backend.db import Database
from backend.imports.service import Source, import_events

HEADER = [
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type",
    "sub_event_type", "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2",
    "interaction", "civilian_targeting", "iso", "region", "country", "admin1", "admin2", "admin3",
    "location", "latitude", "longitude", "geo_precision", "source", "source_scale", "notes",
    "fatalities", "tags", "timestamp",
]  # fmt: skip
TYPES = [
    ("Battles", "Armed clash", ""),
    ("Explosions/Remote violence", "Shelling/artillery/missile attack", ""),
    ("Violence against civilians", "Attack", "Civilian targeting"),
    ("Violence against civilians", "Abduction/forced disappearance", "Civilian targeting"),
    ("Strategic developments", "Non-violent transfer of territory", ""),
    ("Protests", "Peaceful protest", ""),
]
ACTORS = [
    ("Military Forces of South Sudan (2011-)", "State forces"),
    ("SPLM/A-IO: Sudan People's Liberation Movement/Army (In Opposition)", "Rebel group"),
    ("NAS: National Salvation Front", "Rebel group"),
    ("Civilians (South Sudan)", "Civilians"),
    ("Unidentified Armed Group (South Sudan)", "Political militia"),
]
PLACES = [
    ("Central Equatoria", "Yei", "Yei", 4.095, 30.678),
    ("Central Equatoria", "Juba", "Juba", 4.8594, 31.5713),
    ("Jonglei", "Bor South", "Bor", 6.2088, 31.5594),
    ("Upper Nile", "Nasir", "Nasir", 8.6, 33.0667),
    ("Western Equatoria", "Tambura", "Tambura", 5.6, 27.47),
]


def write_acled(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = date(2015, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(HEADER)
        for n in range(rows):
            kind, sub, targeting = rng.choice(TYPES)
            (a1, i1), (a2, i2) = rng.sample(ACTORS, 2)
            adm1, adm2, loc, lat, lon = rng.choice(PLACES)
            day = start + timedelta(days=rng.randrange(3650))
            notes = f"On {day:%d %B %Y}, {a1} and {a2} were involved in an event near {loc}."
            if n % 50 == 0:
                notes += "\nA second line, as field notes often have."
            out.writerow(
                [
                    f"SSD{n + 1}",
                    day.isoformat(),
                    day.year,
                    rng.choice("1112"),
                    "Political violence",
                    kind,
                    sub,
                    a1,
                    "",
                    i1,
                    a2,
                    "",
                    i2,
                    f"{i1}-{i2}",
                    targeting,
                    728,
                    "Eastern Africa",
                    "South Sudan",
                    adm1,
                    adm2,
                    "",
                    loc,
                    f"{lat + rng.uniform(-0.05, 0.05):.4f}",
                    f"{lon + rng.uniform(-0.05, 0.05):.4f}",
                    rng.choice("1112"),
                    "Radio Tamazuj",
                    "National",
                    notes,
                    rng.choice((0, 0, 0, 1, 2, 5)),
                    "",
                    1730764800,
                ]
            )


# Databases --------------------------------------------------------------------------------------


class Target:
    """A fresh, migrated database per run: a SQLite file, or a throwaway PostgreSQL database."""

    def __init__(self, postgres: str | None, workdir: Path) -> None:
        self.postgres = postgres
        self.workdir = workdir
        self.n = 0

    @property
    def name(self) -> str:
        return "postgresql" if self.postgres else "sqlite"

    def fresh(self) -> str:
        self.n += 1
        if not self.postgres:
            url = f"sqlite:///{self.workdir / f'run{self.n}.db'}"
        else:
            base = sa.make_url(Settings(database_url=self.postgres).database_url)
            name = f"pw_bench_imports_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            admin.dispose()
            url = base.set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(url)
        return url

    def drop(self, url: str) -> None:
        if not self.postgres:
            return
        parsed = sa.make_url(url)
        admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        admin.dispose()


# Measures ---------------------------------------------------------------------------------------


def run_importer(url: str, path: Path, label: str) -> tuple[float, int]:
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    size, done, shown = path.stat().st_size, 0, 0

    def progress(n: int) -> None:
        nonlocal done, shown
        done += n
        if done * 10 // size > shown:
            shown = done * 10 // size
            print(f"\r    {label}: {shown * 10:3d}%", end="", file=sys.stderr, flush=True)

    try:
        with path.open("rb") as f:
            started = time.perf_counter()
            report = import_events(
                sessions=db.session,
                source=Source.acled,
                chunks=f,
                create_parties=True,
                reported_by="bench",
                progress=progress,
            )
            elapsed = time.perf_counter() - started
    finally:
        db.dispose()
    print(file=sys.stderr)
    return elapsed, report.created + report.unchanged + report.updated


_BASE_COLUMNS = (
    "id, occurred_at, date_precision, category, latitude, longitude, geo_precision, "
    "location_name, admin1, admin2, fatalities, injuries, source_type, description, "
    "sensitivity, status, finding, reported_by, received_at, updated_at, source_dataset, "
    "external_id"
)


def _baseline_rows(path: Path) -> list[tuple]:
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    with path.open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            rows.append(
                (
                    uuid.uuid4().hex,
                    r["event_date"],
                    "day",
                    "other",
                    float(r["latitude"]),
                    float(r["longitude"]),
                    "exact",
                    r["location"],
                    r["admin1"],
                    r["admin2"],
                    int(r["fatalities"]),
                    0,
                    "media",
                    r["notes"],
                    "public",
                    "received",
                    "unverified",
                    "bench",
                    now,
                    now,
                    "acled",
                    r["event_id_cnty"],
                )
            )
    return rows


def run_baseline(url: str, path: Path) -> float:
    sql = f"INSERT INTO incident ({_BASE_COLUMNS}) VALUES ({', '.join(['?'] * 22)})"  # noqa: S608 - constants
    started = time.perf_counter()
    rows = _baseline_rows(path)
    if url.startswith("sqlite"):
        conn = sqlite3.connect(sa.make_url(url).database)
        with conn:
            conn.executemany(sql, rows)
        conn.close()
    else:
        import psycopg

        parsed = sa.make_url(url)
        with psycopg.connect(
            host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database,
            password=parsed.password,
        ) as conn, conn.cursor() as cur:  # fmt: skip
            pg_rows = [(uuid.UUID(r[0]), *r[1:]) for r in rows]
            cur.executemany(sql.replace("?", "%s"), pg_rows)
    return time.perf_counter() - started


def per_minute(rows: int, seconds: float) -> float:
    return rows / seconds * 60


def measure(target: Target, path: Path, rows: int, runs: int) -> None:
    first, again, base, ratios = [], [], [], []
    for i in range(1, runs + 1):
        print(f"run {i}/{runs} on {target.name}", file=sys.stderr)
        url = target.fresh()
        try:
            t_first, n = run_importer(url, path, "import")
            t_again, _ = run_importer(url, path, "re-import")
        finally:
            target.drop(url)
        if n != rows:
            raise SystemExit(f"imported {n} rows, expected {rows}")
        url = target.fresh()
        try:
            t_base = run_baseline(url, path)
        finally:
            target.drop(url)
        print(
            f"    import {t_first:.2f} s, re-import {t_again:.2f} s, baseline {t_base:.2f} s",
            file=sys.stderr,
        )
        first.append(t_first)
        again.append(t_again)
        base.append(t_base)
        ratios.append(t_first / t_base)
    show: Callable[[list[float]], str] = lambda ts: (  # noqa: E731
        f"{per_minute(rows, statistics.median(ts)):>12,.0f} rows/min"
        f"  (median {statistics.median(ts):.2f} s)"
    )
    print(f"\n{target.name}, {rows:,} ACLED rows, median of {runs} runs")
    print(f"  import (new rows)          {show(first)}")
    print(f"  re-import (all unchanged)  {show(again)}")
    print(f"  baseline: csv + executemany{show(base)}")
    print(f"  import takes {statistics.median(ratios):.1f}x the baseline's time")
    print("  goal: at least 100,000 rows/min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL URL; throwaway databases are made on it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pw-bench-imports-") as tmp:
        workdir = Path(tmp)
        path = workdir / "acled.csv"
        print(f"writing {args.rows:,} synthetic ACLED rows ...", file=sys.stderr)
        write_acled(path, args.rows)
        print(f"  {path.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
        measure(Target(None, workdir), path, args.rows, args.runs)
        if args.postgres:
            measure(Target(args.postgres, workdir), path, args.rows, args.runs)


if __name__ == "__main__":
    main()
