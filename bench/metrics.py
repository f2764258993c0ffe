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
series) and over the full ten years (monthly series), as an analyst (every incident) and, for
incidents, as a viewer (the visibility rule). After the fill it runs ANALYZE (and VACUUM on
PostgreSQL), as autovacuum would before the data is in service.

Each measure is timed three times: as a running server answers it again (what it read of tables
that change rarely kept beside their stamps: `queries._kept`, and of the violation rollups per
month: `queries._kept_months`); as the **first call after a verification** (one violation more
or fewer on the latest day with one, in both tiers, before each call: that month read again and
one row changed); and with **all months new** (every month's stamp made new and what the
process derived from the violation rows forgotten, as after a restart: all read and derived
again).

Baselines, in the same run: `SELECT day, count(*) ... GROUP BY day` and `... GROUP BY category,
admin1, alleged_party_id` over the same window of raw rows; and, per measure, **the same measure
over raw rows** (`raw`): the same service function on a connection where every rollup table is
shadowed by a temporary view of the same name that computes it from the raw rows of the span the
measure reads, by the plain `GROUP BY` that `peacewatch metrics rebuild` runs
(`backend.metrics.rollups.raw_selects`), reading days only (no month tier: a month view would
only scan the same rows again), with no month of the violation rollups stamped (nothing summed
from the raw rows is kept). Its ratio is raw p50 / measure p50. `--no-raw` skips it.
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
from sqlmodel import Session

from backend import migrate
from backend.auth.service import Principal
from backend.config import Settings
from backend.db import Database, UTCDateTime, utcnow
from backend.metrics import queries, rollups, service
from backend.metrics import window as windows
from backend.metrics.models import NO_PARTY, ViolationDayRollup, ViolationMonthRollup
from backend.metrics.window import MetricFilters, Term
from backend.vocab import IncidentCategory, Role

CATEGORIES = [c.value for c in IncidentCategory]
YEARS_DAYS = 3650
MONTH_STAMPS = "metrics_violation_stamp"
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


def timed(
    fn: Callable[[], Any], runs: int, before: Callable[[], Any] = lambda: None
) -> list[float]:
    fn()  # warm the caches once, as a running server's are
    out = []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return sorted(out)


def restart(db: Database) -> Callable[[], None]:
    """Every month's stamp of the violation rollups made new and what the process derived from
    the rows forgotten, as after a restart, or an import of history that changes every month:
    the next call of a measure reads and derives everything again."""

    def run() -> None:
        queries.forget_violations()
        service.forget_derived()
        with db.engine.begin() as conn:
            months = conn.exec_driver_sql(f"SELECT month FROM {MONTH_STAMPS}").all()  # noqa: S608
            conn.execute(
                sa.text(f"UPDATE {MONTH_STAMPS} SET version = :v WHERE month = :m"),  # noqa: S608
                [{"v": uuid.uuid4().hex, "m": m} for (m,) in months],
            )

    return run


class Verification:
    """What a verification of a recent incident does to the violation rollups, at each call: one
    violation more (then, the next time, one fewer) on the latest day with a violation between
    two parties, in both tiers, which the triggers stamp (`metrics_violation_stamp`): the next
    call of a measure reads that month again (`queries._kept_months`) and finds one row changed.
    `undo()` leaves the rows as they were."""

    KEYS = ("attributed_party_id", "target_party_id", "category", "admin1", "sensitivity")

    def __init__(self, db: Database) -> None:
        self.db = db
        day_tier = ViolationDayRollup.__table__  # type: ignore[attr-defined]
        with db.engine.connect() as conn:
            self.row = conn.execute(
                sa.select(day_tier.c.day, *(day_tier.c[k] for k in (*self.KEYS, "fatalities")))
                .where(day_tier.c.target_party_id != NO_PARTY, day_tier.c.incidents > 0)
                .order_by(day_tier.c.day.desc())
                .limit(1)
            ).one()
        self.added = 0

    def __call__(self) -> None:
        self._add(-1 if self.added else 1)

    def undo(self) -> None:
        if self.added:
            self._add(-self.added)

    def _add(self, n: int) -> None:
        day, *key, dead = self.row
        with self.db.engine.begin() as conn:
            for table, period, when in (
                (ViolationDayRollup.__table__, "day", day),  # type: ignore[attr-defined]
                (ViolationMonthRollup.__table__, "month", day.replace(day=1)),  # type: ignore[attr-defined]
            ):
                conn.execute(
                    table.update()
                    .where(
                        table.c[period] == when,
                        table.c.fatalities == dead,
                        *(table.c[k] == v for k, v in zip(self.KEYS, key, strict=True)),
                    )
                    .values(incidents=table.c.incidents + n)
                )
        self.added += n


def p95(values: list[float]) -> float:
    return values[max(0, min(len(values) - 1, -(-95 * len(values) // 100) - 1))]


def measures(
    db: Database,
    settings: Settings,
    date_from: date,
    interval: str,
    conn: sa.Connection | None = None,
) -> dict[str, Callable[[], Any]]:
    """Each measure's service call, in a session of its own, or on `conn` if given."""
    analyst = Principal(name="bench-analyst", role=Role.analyst)
    viewer = Principal(name="bench-viewer", role=Role.viewer)
    f = MetricFilters(date_from=date_from, interval=interval)

    def call(fn: Callable[..., Any], principal: Principal = analyst, filters: Any = f):
        def run() -> Any:
            if conn is not None:
                with Session(bind=conn) as session, session.begin():
                    return fn(
                        session=session, principal=principal, settings=settings, filters=filters
                    )
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


def raw_since(name: str, start: date, today: date, settings: Settings) -> date:
    """The first day whose incidents measure `name` reads (its window, plus what it looks back:
    the previous window for incidents, the trailing series span for compliance and trust, the
    recent, baseline and compared periods of alerts)."""
    span = timedelta(days=settings.metrics_series_window_days - 1)
    if name.startswith("incidents"):
        return start - (today - start + timedelta(days=1))
    if name in ("compliance", "trust"):
        return start - max(span, timedelta(days=7))  # trust also compares with 7 days before
    if name == "alerts":
        recent = timedelta(days=settings.alert_recent_days)
        recent_from = today - recent + timedelta(days=1)
        return min(
            recent_from - timedelta(days=settings.alert_baseline_days),
            today - span - recent,
            recent_from - recent,
        )
    return start


@contextlib.contextmanager
def over_raw_rows(db: Database, since: date, end: date) -> Iterator[sa.Connection]:
    """A connection on which each rollup table is a temporary view of the same name (temporary
    objects are found first on both databases) computing it from the raw incidents of
    `since`..`end` by a plain GROUP BY, and on which the measures split no window into months."""
    bounds = (f"{since} 00:00:00", f"{end} 00:00:00")
    if db.dialect == "postgresql":
        bounds = tuple(f"{b}+00" for b in bounds)  # type: ignore[assignment]
    where = f"x.occurred_at >= '{bounds[0]}' AND x.occurred_at < '{bounds[1]}'"
    temp = "temp" if db.dialect == "sqlite" else "pg_temp"
    # A connection of its own on PostgreSQL, with no prepared statements: a pooled one may hold
    # the measure's query prepared against the rollup table, which a view created since does not
    # shadow. (SQLite re-prepares a statement when the schema changes, temporary views included.)
    engine = db.engine
    if db.dialect == "postgresql":
        engine = sa.create_engine(
            db.engine.url, poolclass=sa.NullPool, connect_args={"prepare_threshold": None}
        )
    conn = engine.connect()
    month_terms = windows.month_terms
    schema = "main" if db.dialect == "sqlite" else "public"
    try:
        for table, select in rollups.raw_selects(db.dialect, where).items():
            view = f"CREATE TEMP VIEW {table} ({rollups.columns(table)}) AS {select}"
            conn.exec_driver_sql(view)
        # No month of the violation rollups has a stamp, so nothing summed from them is kept:
        # each call sums the raw rows.
        conn.exec_driver_sql(
            f"CREATE TEMP VIEW {MONTH_STAMPS} AS SELECT * FROM {schema}.{MONTH_STAMPS} WHERE 1 = 0"  # noqa: S608
        )
        conn.commit()
        windows.month_terms = lambda lo, hi: [Term(1, False, lo, hi)]  # type: ignore[assignment]
        yield conn
    finally:
        windows.month_terms = month_terms
        conn.rollback()
        for table in (*rollups.TABLES, MONTH_STAMPS):
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS {temp}.{table}")
        conn.commit()
        conn.close()
        if engine is not db.engine:
            engine.dispose()


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
    db: Database,
    settings: Settings,
    runs: int,
    only: set[str] | None = None,
    raw_runs: int = 3,
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
        overview = raw_overview = 0.0
        for name, fn in measures(db, settings, start, interval).items():
            if only and name not in only:
                continue
            values = timed(fn, runs)
            overview += statistics.median(values)
            rows.append(_row(label, name, values, floor, raw))
            verification = Verification(db)
            try:
                cold = timed(fn, runs, before=verification)
            finally:
                verification.undo()
            rows[-1]["cold_p50_ms"], rows[-1]["cold_p95_ms"] = statistics.median(cold), p95(cold)
            full = timed(fn, runs, before=restart(db))
            rows[-1]["full_p50_ms"], rows[-1]["full_p95_ms"] = statistics.median(full), p95(full)
            r = rows[-1]
            line = (
                f"p50 {r['p50_ms']:>6.1f} p95 {r['p95_ms']:>6.1f}  after a verification "
                f"{r['cold_p50_ms']:>6.1f} {r['cold_p95_ms']:>6.1f}  all months new "
                f"{r['full_p50_ms']:>6.1f} {r['full_p95_ms']:>6.1f} ms"
            )
            if raw_runs:
                since = raw_since(name, start, today, settings)
                with over_raw_rows(db, since, end) as conn:
                    same = timed(measures(db, settings, start, interval, conn)[name], raw_runs)
                rows[-1]["same_raw_p50_ms"] = statistics.median(same)
                rows[-1]["same_raw_over_measure"] = statistics.median(same) / rows[-1]["p50_ms"]
                raw_overview += statistics.median(same)
                line += (
                    f"  raw (same measure) p50 {rows[-1]['same_raw_p50_ms']:>9.1f} ms"
                    f"  x {rows[-1]['same_raw_over_measure']:.1f}"
                )
            say(f"  {label:>8}  {name:<22} {line}")
        total: dict[str, Any] = {
            "window": label,
            "measure": "all of the above (sum of p50)",
            "p50_ms": overview,
        }
        if raw_runs:
            total["same_raw_p50_ms"] = raw_overview
            total["same_raw_over_measure"] = raw_overview / overview if overview else None
        rows.append(total)
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


def _incident_rows(
    n: int, dialect: str, offset: int = 0, parties: list[str] | None = None
) -> list[dict[str, Any]]:
    """`n` incidents over ten years (one per 3,650 / n days), as the bench's fill spreads them;
    given `parties`, every fifth verified and attributed to one of them (a violation), the rest
    unverified."""
    now = utcnow()
    cats = CATEGORIES
    verified = [_id(p, dialect) for p in parties or []]
    return [
        {
            "id": uuid.uuid4() if dialect == "postgresql" else uid(),
            "finding": "verified" if verified and i % 5 == 0 else "unverified",
            "by": verified[i % len(verified)] if verified and i % 5 == 0 else None,
            "on": verified[(i + 1) % len(verified)] if verified and i % 5 == 0 else None,
            "at": now - timedelta(days=((i + offset) * 7919) % YEARS_DAYS, minutes=i % 1440),
            "cat": cats[i % 12],
            "region": f"Region {i % 15}",
            "district": f"District {i % 60}",
            "dead": i % 4,
            "sens": ("public", "restricted", "confidential")[i % 3],
            "now": now,
        }
        for i in range(n)
    ]


_INSERT = sa.text(
    "INSERT INTO incident (id, occurred_at, date_precision, category, latitude, longitude, "
    "geo_precision, location_name, admin1, admin2, fatalities, injuries, source_type, "
    "description, sensitivity, status, finding, attributed_party_id, target_party_id, "
    "reported_by, received_at, updated_at) VALUES "
    "(:id, :at, 'day', :cat, 6.3, -10.8, 'exact', 'Place', :region, :district, :dead, 0, "
    "'patrol', '', :sens, 'received', :finding, :by, :on, 'bench', :now, :now)"
).bindparams(sa.bindparam("at", type_=UTCDateTime), sa.bindparam("now", type_=UTCDateTime))


def insert_cost(server: str | None, n: int) -> list[dict[str, Any]]:
    """What the rollup triggers cost a writer: `n` incidents inserted in batches of 500 (an
    import) and 1,000 inserted one per transaction (field reports), every fifth verified and
    attributed (a violation), into a fresh database at migration 0008 (day rollups only), one at
    0013 (with the month tier of 0009; the delay histogram of 0010 follows verification
    findings, not these inserts) and one at head (with the month stamps of the violation rollups,
    0014), all migrated and timed in this run, one after the other."""
    out = []
    schemas = {
        "0008": "0008 (day rollups)",
        "0013": "0013 (+ month tier)",
        "head": "head (+ month stamps)",
    }
    for revision, schema in schemas.items():
        with database(server, None, None) as url:
            migrate.upgrade(url, revision)
            db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
            parties = [uid() for _ in range(4)]
            try:
                with db.engine.begin() as conn:
                    conn.execute(
                        sa.text(
                            "INSERT INTO party (id, name, code, kind, signatory, aliases, "
                            "created_at, updated_at) VALUES "
                            "(:id, :name, :code, 'rebel_group', true, '[]', :at, :at)"
                        ).bindparams(sa.bindparam("at", type_=UTCDateTime)),
                        [
                            {"id": _id(p, db.dialect), "name": f"Party {k}", "code": f"P{k}"}
                            | {"at": utcnow()}
                            for k, p in enumerate(parties)
                        ],
                    )
                rows = _incident_rows(n, db.dialect, parties=parties)
                started = time.perf_counter()
                for lo in range(0, n, 500):
                    with db.engine.begin() as conn:
                        conn.execute(_INSERT, rows[lo : lo + 500])
                batched = time.perf_counter() - started
                singles = _incident_rows(1000, db.dialect, offset=n, parties=parties)
                started = time.perf_counter()
                for row in singles:
                    with db.engine.begin() as conn:
                        conn.execute(_INSERT, row)
                single = time.perf_counter() - started
            finally:
                db.dispose()
        out.append(
            {"schema": schema, "batched_s": batched, "rows_per_s": n / batched, "single_s": single}
        )
        say(
            f"  {schema:<22} {n:,} in batches of 500: {batched:.2f} s "
            f"({n / batched:,.0f}/s); 1,000 single-row transactions: {single:.2f} s"
        )
    return out


def _cell(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


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
    parser.add_argument(
        "--raw-runs",
        type=int,
        default=3,
        help="timed runs of each measure over raw rows (median; slow over ten years)",
    )
    parser.add_argument(
        "--no-raw", action="store_true", help="skip each measure's raw-rows baseline"
    )
    parser.add_argument(
        "--insert-cost",
        type=int,
        metavar="N",
        help="only time N incident inserts (a fifth of them violations) at migrations 0008 and "
        "0013 and at head (what each tier of triggers costs a writer), "
        "on fresh databases (SQLite, or --postgres)",
    )
    args = parser.parse_args(argv)
    if args.insert_cost:
        rows = insert_cost(args.postgres, args.insert_cost)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
        return 0
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
            rows = run(db, settings, args.runs, only, 0 if args.no_raw else args.raw_runs)
        finally:
            db.dispose()
    say("")
    say(
        "| window | measure | p50 ms | p95 ms | after a verification: p50 ms | p95 ms "
        "| all months new: p50 ms | p95 ms "
        "| x GROUP BY day | raw 3-column GROUP BY / measure "
        "| same measure over raw rows, p50 ms | raw / measure |"
    )
    say("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [
            _cell(r.get(k), f)
            for k, f in (
                ("p50_ms", ",.1f"),
                ("p95_ms", ",.1f"),
                ("cold_p50_ms", ",.1f"),
                ("cold_p95_ms", ",.1f"),
                ("full_p50_ms", ",.1f"),
                ("full_p95_ms", ",.1f"),
                ("x_baseline", ".1f"),
                ("raw_over_measure", ".1f"),
                ("same_raw_p50_ms", ",.1f"),
                ("same_raw_over_measure", ".1f"),
            )
        ]
        say(f"| {r['window']} | {r['measure']} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
