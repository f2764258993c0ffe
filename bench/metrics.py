"""Metrics benchmark: each measure's computation at a million incidents, beside a plain GROUP BY
over the same raw rows, measured in the same run.

    python -m bench.metrics                            # 1,000,000 incidents, SQLite
    python -m bench.metrics --incidents 100000 --runs 3
    python -m bench.metrics --keep /tmp/pw_metrics.db      # fill once, re-time later
    python -m bench.metrics --url postgresql://postgres@127.0.0.1:5432/mydb --only alerts,trust
    python -m bench.metrics --postgres postgresql://postgres@127.0.0.1:5432/postgres

It migrates a fresh database and fills it with set-based inserts (no ORM, no API), in proportion:
1,000,000 incidents over ten years in 15 regions, 6 parties (signatories), 40% with a finding and
one verification event each, 1 track activity and 1 DDR milestone per 1,000 incidents, 2 agreements
with 200 commitments and their progress. Then it times each service function (the whole
computation behind `GET /api/v1/metrics/...`, HTTP aside) over the default 90-day window (daily
series) and over the full ten years (monthly series), as an analyst (every incident) and, for incidents, as a viewer (the visibility
rule). Baseline: `SELECT day, count(*) ... GROUP BY day` and `... GROUP BY category, admin1,
alleged_party_id` over the same window of raw rows, on the same connection. After the fill it runs
ANALYZE (and VACUUM on PostgreSQL), as autovacuum would before the data is in service.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from backend import migrate
from backend.auth.service import Principal
from backend.config import Settings
from backend.db import Database, utcnow
from backend.metrics import service
from backend.metrics.window import MetricFilters
from backend.vocab import IncidentCategory, Role

CATEGORIES = [c.value for c in IncidentCategory]
YEARS_DAYS = 3650
CHUNK = 50_000


def say(text: str) -> None:
    print(text, flush=True)


def uid() -> str:
    return uuid.uuid4().hex


# --- data ---------------------------------------------------------------------------------------

_SQLITE_CHUNK = """
INSERT INTO incident (id, occurred_at, date_precision, category, latitude, longitude, geo_precision,
  location_name, admin1, admin2, alleged_party_id, target_party_id, fatalities, injuries,
  source_type, description, sensitivity, status, finding, attributed_party_id, reported_by,
  received_at, updated_at)
WITH RECURSIVE n(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM n WHERE i < :hi),
t(i, at) AS (
  SELECT i, strftime('%Y-%m-%d %H:%M:%S.000000', 'now', '-' || ((i * 7919) % 3650) || ' days',
                     '-' || (i % 1440) || ' minutes') FROM n)
SELECT lower(hex(randomblob(16))), at, 'day', json_extract(:cats, '$[' || (i % 12) || ']'),
  4 + (i % 300) / 100.0, 29 + (i % 400) / 100.0, 'exact', 'Place ' || (i % 500),
  'Region ' || (i % 15), 'District ' || (i % 60),
  json_extract(:parties, '$[' || (i % 6) || ']'),
  json_extract(:parties, '$[' || ((i % 6 + 1 + i % 5) % 6) || ']'),
  i % 4, i % 7, 'patrol', '', json_extract('["public","restricted","confidential"]', '$[' || (i % 3) || ']'),
  CASE WHEN i % 10 < 4 THEN 'closed' ELSE 'received' END,
  CASE WHEN i % 10 < 3 THEN 'verified' WHEN i % 10 = 3 THEN 'refuted' ELSE 'unverified' END,
  CASE WHEN i % 10 < 3 THEN json_extract(:parties, '$[' || (i % 6) || ']') END,
  'bench', datetime(at, '+1 hours'), at
FROM t
"""

_POSTGRES_CHUNK = """
INSERT INTO incident (id, occurred_at, date_precision, category, latitude, longitude, geo_precision,
  location_name, admin1, admin2, alleged_party_id, target_party_id, fatalities, injuries,
  source_type, description, sensitivity, status, finding, attributed_party_id, reported_by,
  received_at, updated_at)
SELECT md5(random()::text || i)::uuid, at, 'day', (CAST(:cats AS text[]))[i % 12 + 1],
  4 + (i % 300) / 100.0, 29 + (i % 400) / 100.0, 'exact', 'Place ' || (i % 500),
  'Region ' || (i % 15), 'District ' || (i % 60),
  (CAST(:parties AS text[]))[i % 6 + 1]::uuid, (CAST(:parties AS text[]))[(i % 6 + 1 + i % 5) % 6 + 1]::uuid,
  i % 4, i % 7, 'patrol', '', (ARRAY['public','restricted','confidential'])[i % 3 + 1],
  CASE WHEN i % 10 < 4 THEN 'closed' ELSE 'received' END,
  CASE WHEN i % 10 < 3 THEN 'verified' WHEN i % 10 = 3 THEN 'refuted' ELSE 'unverified' END,
  CASE WHEN i % 10 < 3 THEN (CAST(:parties AS text[]))[i % 6 + 1]::uuid END,
  'bench', at + interval '1 hour', at
FROM (SELECT i, date_trunc('second', now()) - ((CAST(i AS bigint) * 7919) % 3650) * interval '1 day'
             - (i % 1440) * interval '1 minute' AS at
      FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) AS i) AS t
"""

_VERIFICATIONS = {
    "sqlite": """
INSERT INTO verification_event (id, occurred_at, method, team, status, finding,
  attributed_party_id, notes, incident_id, recorded_by, created_at)
SELECT lower(hex(randomblob(16))), datetime(received_at, '+' || (abs(random()) % 30) || ' days'),
  'site_visit', 'JVT', status, finding, attributed_party_id, '', id, 'bench', received_at
FROM incident WHERE finding != 'unverified'
""",
    "postgresql": """
INSERT INTO verification_event (id, occurred_at, method, team, status, finding,
  attributed_party_id, notes, incident_id, recorded_by, created_at)
SELECT md5(random()::text || id::text)::uuid,
  received_at + floor(random() * 30) * interval '1 day',
  'site_visit', 'JVT', status, finding, attributed_party_id, '', id, 'bench', received_at
FROM incident WHERE finding != 'unverified'
""",
}


def _id(value: str, dialect: str) -> Any:
    return uuid.UUID(value) if dialect == "postgresql" else value


def fill(db: Database, incidents: int) -> None:
    dialect = db.dialect
    parties = [uid() for _ in range(6)]
    now = utcnow()
    today = now.date()
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO party (id, name, code, kind, signatory, aliases, created_at, "
                "updated_at) VALUES (:id, :name, :code, 'rebel_group', :s, '[]', :at, :at)"
            ),
            [
                {"id": _id(p, dialect), "name": f"Party {n}", "code": f"P{n}", "s": True, "at": now}
                for n, p in enumerate(parties)
            ],
        )
    chunk_sql = _SQLITE_CHUNK if dialect == "sqlite" else _POSTGRES_CHUNK
    params: dict[str, Any] = (
        {"cats": json.dumps(CATEGORIES), "parties": json.dumps(parties)}
        if dialect == "sqlite"
        else {"cats": CATEGORIES, "parties": [str(uuid.UUID(p)) for p in parties]}
    )
    started = time.perf_counter()
    for lo in range(1, incidents + 1, CHUNK):
        hi = min(incidents, lo + CHUNK - 1)
        with db.engine.begin() as conn:
            conn.execute(sa.text(chunk_sql), {**params, "lo": lo, "hi": hi})
        rate = hi / (time.perf_counter() - started)
        print(f"\r  incidents {hi:>9,} / {incidents:,}  ({rate:,.0f}/s)", end="", flush=True)
    print(flush=True)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(_VERIFICATIONS[dialect])
        say("  verification events: one per incident with a finding")
        _side_records(conn, parties, incidents, today, now, dialect)
    settle(db)


def settle(db: Database) -> None:
    """What a database in service has after a bulk load: statistics, and on PostgreSQL a vacuumed
    heap (the visibility map that lets index-only scans skip the heap), as autovacuum leaves it."""
    started = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if db.dialect == "postgresql" else "ANALYZE")
    say(
        f"  {'VACUUM ANALYZE' if db.dialect == 'postgresql' else 'ANALYZE'} in "
        f"{time.perf_counter() - started:.0f} s"
    )


def _side_records(conn: Any, parties: list[str], incidents: int, today: date, now: Any, d: str):
    """Track activities and DDR milestones (1 per 1,000 incidents), agreements, commitments."""
    n = max(10, incidents // 1000)
    outcomes = ["held", "held", "agreement_reached", "postponed", "cancelled", "stalled"]
    tracks = ["track_1", "track_1_5", "track_2", "track_3"]
    acts = [
        {
            "id": _id(uid(), d),
            "track": tracks[i % 4],
            "outcome": outcomes[i % 6],
            "on": today - timedelta(days=(i * 37) % YEARS_DAYS),
            "at": now,
        }
        for i in range(n)
    ]
    conn.execute(
        sa.text(
            "INSERT INTO track_activity (id, track, kind, title, occurred_on, outcome, summary, "
            "reported_by, created_at, updated_at) VALUES (:id, :track, 'dialogue', 'Talks', :on, "
            ":outcome, '', 'bench', :at, :at)"
        ),
        acts,
    )
    conn.execute(
        sa.text("INSERT INTO track_activity_party (track_activity_id, party_id) VALUES (:a, :p)"),
        [
            {"a": a["id"], "p": _id(parties[(i + k) % 6], d)}
            for i, a in enumerate(acts)
            for k in (0, 1)
        ],
    )
    indicators = ["combatants_disarmed", "weapons_collected", "combatants_demobilized"]
    conn.execute(
        sa.text(
            "INSERT INTO ddr_milestone (id, indicator, party_id, site, achieved_on, quantity, "
            "notes, status, finding, reported_by, created_at, updated_at) VALUES (:id, :ind, :p, "
            ":site, :on, :q, '', 'received', :f, 'bench', :at, :at)"
        ),
        [
            {
                "id": _id(uid(), d),
                "ind": indicators[i % 3],
                "p": _id(parties[i % 6], d),
                "site": f"Site {i % 8}",
                "on": today - timedelta(days=(i * 13) % YEARS_DAYS),
                "q": 10 + i % 50,
                "f": "verified" if i % 2 else "unverified",
                "at": now,
            }
            for i in range(n)
        ],
    )
    conn.execute(
        sa.text(
            "INSERT INTO ddr_target (id, indicator, party_id, site, period_start_on, "
            "period_end_on, target_quantity, notes, created_by, created_at, updated_at) VALUES "
            "(:id, :ind, :p, :site, :s, :e, 5000, '', 'bench', :at, :at)"
        ),
        [
            {
                "id": _id(uid(), d),
                "ind": ind,
                "p": _id(p, d),
                "site": "Site 0",
                "s": today - timedelta(days=YEARS_DAYS),
                "e": today + timedelta(days=365),
                "at": now,
            }
            for ind in indicators
            for p in parties
        ],
    )
    for a in range(2):
        agreement = _id(uid(), d)
        conn.execute(
            sa.text(
                "INSERT INTO agreement (id, name, kind, signed_on, summary, created_at, "
                "updated_at) VALUES (:id, :name, 'peace', :on, '', :at, :at)"
            ),
            {
                "id": agreement,
                "name": f"Agreement {a}",
                "on": today - timedelta(days=2000),
                "at": now,
            },
        )
        commitments = [_id(uid(), d) for _ in range(100)]
        conn.execute(
            sa.text(
                "INSERT INTO commitment (id, agreement_id, title, text, category, due_on, level, "
                "created_at, updated_at) VALUES (:id, :a, 'Commitment', '', 'ceasefire', :due, "
                ":level, :at, :at)"
            ),
            [
                {
                    "id": c,
                    "a": agreement,
                    "due": today - timedelta(days=(i * 17) % 1500 - 200),
                    "level": ["not_initiated", "minimal", "intermediate", "complete"][i % 4],
                    "at": now,
                }
                for i, c in enumerate(commitments)
            ],
        )
        conn.execute(
            sa.text("INSERT INTO commitment_party (commitment_id, party_id) VALUES (:c, :p)"),
            [{"c": c, "p": _id(parties[i % 6], d)} for i, c in enumerate(commitments)],
        )
        conn.execute(
            sa.text(
                "INSERT INTO commitment_progress (id, commitment_id, level, changed_on, "
                "evidence_note, recorded_by, created_at) VALUES (:id, :c, :level, :on, 'bench', "
                "'bench', :at)"
            ),
            [
                {
                    "id": _id(uid(), d),
                    "c": c,
                    "level": ["minimal", "intermediate", "complete"][(i + k) % 3],
                    "on": today - timedelta(days=(i * 11 + k * 90) % 1500),
                    "at": now,
                }
                for i, c in enumerate(commitments)
                for k in range(i % 4)
            ],
        )
    surveys = _surveys(conn, parties, max(10, incidents // 10_000), today, now, d)
    say(
        f"  {n:,} track activities, {n:,} DDR milestones, 2 agreements, 200 commitments, "
        f"{surveys:,} perception surveys"
    )


def _surveys(conn: Any, parties: list[str], n: int, today: date, now: Any, d: str) -> int:
    """Perception surveys between the parties, spread over the ten years."""
    conn.execute(
        sa.text(
            "INSERT INTO perception_survey (id, respondent_party_id, trusted_party_id, "
            "surveyed_on, score, respondents, admin1, source, notes, recorded_by, created_at) "
            "VALUES (:id, :a, :b, :on, :score, 800, :region, 'bench', '', 'bench', :at)"
        ),
        [
            {
                "id": _id(uid(), d),
                "a": _id(parties[i % 6], d),
                "b": _id(parties[(i + 1 + i % 5) % 6], d),
                "on": today - timedelta(days=(i * 29) % YEARS_DAYS),
                "score": (i * 7) % 101 / 10,
                "region": f"Region {i % 15}",
                "at": now,
            }
            for i in range(n)
        ],
    )
    return n


# --- timing -------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    fn()  # warm the caches once, as a running server's are
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return sorted(out)


def p95(values: list[float]) -> float:
    return values[max(0, min(len(values) - 1, -(-95 * len(values) // 100) - 1))]


def measures(
    db: Database, settings: Settings, date_from: date, interval: str
) -> dict[str, Callable[[], Any]]:
    analyst = Principal(name="bench-analyst", role=Role.analyst)
    viewer = Principal(name="bench-viewer", role=Role.viewer)
    f = MetricFilters(date_from=date_from, interval=interval)

    def call(fn: Callable[..., Any], principal: Principal = analyst, filters: Any = f):
        def run() -> Any:
            with db.session(write=False) as session:
                return fn(session=session, principal=principal, settings=settings, filters=filters)

        return run

    return {
        "implementation": call(
            service.implementation,
            filters=service.ImplementationFilters(date_from=date_from, interval=interval),
        ),
        "compliance": call(service.compliance),
        "trust": call(
            service.trust, filters=service.TrustFilters(date_from=date_from, interval=interval)
        ),
        "ddr": call(service.ddr),
        "verification": call(service.verification),
        "tracks": call(service.tracks),
        "incidents": call(service.incidents),
        "incidents (viewer)": call(service.incidents, viewer),
        "alerts": call(service.alerts),
    }


def baselines(db: Database, start: str, end: str) -> dict[str, Callable[[], Any]]:
    day = "substr(occurred_at, 1, 10)" if db.dialect == "sqlite" else "date(occurred_at)"
    where = f"WHERE occurred_at >= '{start}' AND occurred_at < '{end}'"

    # The window's bounds are dates this script made, not input: no injection to fear.
    def query(sql: str) -> Callable[[], Any]:
        def run() -> Any:
            with db.engine.connect() as conn:
                return conn.exec_driver_sql(sql).all()

        return run

    return {
        "GROUP BY day": query(f"SELECT {day}, count(*) FROM incident {where} GROUP BY 1"),  # noqa: S608
        "GROUP BY category, admin1, party": query(
            f"SELECT category, admin1, alleged_party_id, count(*), sum(fatalities) "  # noqa: S608
            f"FROM incident {where} GROUP BY 1, 2, 3"
        ),
    }


def run(
    db: Database, settings: Settings, runs: int, only: set[str] | None = None
) -> list[dict[str, Any]]:
    today = utcnow().date()
    rows = []
    # A dashboard shows 90 days day by day, and ten years month by month.
    for label, days, interval in (("90 days", 90, "day"), ("10 years", YEARS_DAYS, "month")):
        start = today - timedelta(days=days - 1)
        end = today + timedelta(days=1)
        base = {
            k: timed(fn, runs)
            for k, fn in baselines(db, f"{start} 00:00:00", f"{end} 00:00:00").items()
        }
        floor = statistics.median(base["GROUP BY day"])
        raw = statistics.median(base["GROUP BY category, admin1, party"])
        for name, values in base.items():
            rows.append(_row(label, f"baseline: {name}", values, floor, raw))
        overview = 0.0
        for name, fn in measures(db, settings, start, interval).items():
            if only and name not in only:
                continue
            values = timed(fn, runs)
            overview += statistics.median(values)
            rows.append(_row(label, name, values, floor, raw))
            say(
                f"  {label:>8}  {name:<22} p50 {rows[-1]['p50_ms']:>9.1f} ms  p95 {rows[-1]['p95_ms']:>9.1f} ms"
            )
        rows.append(
            {"window": label, "measure": "all of the above (sum of p50)", "p50_ms": overview}
        )
    return rows


def _row(window: str, name: str, values: list[float], floor: float, raw: float) -> dict[str, Any]:
    p50 = statistics.median(values)
    return {
        "window": window,
        "measure": name,
        "p50_ms": p50,
        "p95_ms": p95(values),
        "x_baseline": p50 / floor if floor else None,
        "raw_over_measure": raw / p50 if p50 else None,
    }


@contextlib.contextmanager
def database(
    postgres: str | None, keep: Path | None = None, url: str | None = None
) -> Iterator[str]:
    if url is not None:
        yield url
    elif keep is not None:
        yield f"sqlite:///{keep}"
    elif postgres:
        from bench.common import postgres_database

        with postgres_database(postgres, "pw_bench_metrics") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'metrics.db'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measure (median)")
    parser.add_argument("--postgres", help="a server URL; a throwaway database is made on it")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--keep",
        type=Path,
        help="a SQLite file to fill and keep (filled only if empty), to re-time or profile later",
    )
    parser.add_argument(
        "--url",
        help="an existing database to fill (only if empty) and keep, e.g. a PostgreSQL database "
        "made with createdb, to re-time it later",
    )
    parser.add_argument(
        "--only", help="comma-separated measures to time (default: all), e.g. alerts,trust"
    )
    args = parser.parse_args(argv)
    with database(args.postgres, args.keep, args.url) as url:
        say(f"database: {url.split('@')[-1]}")
        migrate.upgrade(url)
        settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
        db = Database(settings)
        try:
            with db.engine.connect() as conn:
                stored = conn.exec_driver_sql("SELECT count(*) FROM incident").scalar_one()
            if stored:
                say(f"  {stored:,} incidents already stored; timing {args.runs} runs each")
            else:
                say(f"filling with {args.incidents:,} incidents (set-based inserts)")
                started = time.perf_counter()
                fill(db, args.incidents)
                took = time.perf_counter() - started
                say(f"  filled in {took:.0f} s; timing {args.runs} runs each")
            # As the server does once started (backend/app.py): long-lived objects out of the
            # collector's full passes.
            gc.freeze()
            only = {m.strip() for m in args.only.split(",")} if args.only else None
            rows = run(db, settings, args.runs, only)
        finally:
            db.dispose()
    say("")
    say("| window | measure | p50 ms | p95 ms | x GROUP BY day | raw 3-column GROUP BY / measure |")
    say("|---|---|---|---|---|---|")
    for r in rows:
        x = r.get("x_baseline")
        p95_ms = r.get("p95_ms")
        faster = r.get("raw_over_measure")
        say(
            f"| {r['window']} | {r['measure']} | {r['p50_ms']:,.1f} | "
            f"{'' if p95_ms is None else f'{p95_ms:,.1f}'} | {'' if x is None else f'{x:.1f}'} | "
            f"{'' if faster is None else f'{faster:.1f}'} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
