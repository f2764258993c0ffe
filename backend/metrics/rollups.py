"""The rollup tables (backend/metrics/models.py): recomputed from raw rows, and compared with them.

Day to day the rollups are kept by triggers on `incident` (migration 0005 for the day tier, 0009
for the month tier) and, for the delays to verify, on `verification_event` and `incident`
(migration 0006), and their histogram per month on `metrics_verify_delay` itself (migration
0010), in the transaction that writes.
`rebuild` recomputes them from scratch (`peacewatch metrics rebuild`); `recompute` gives what
they should hold, for tests and checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.metrics.models import DELAY_BOUNDS_S, INCIDENT_DIMENSIONS, VIOLATION_DIMENSIONS
from backend.metrics.sql import bucket_case

INCIDENT_KEYS = ["day", *INCIDENT_DIMENSIONS]
VIOLATION_KEYS = ["day", *VIOLATION_DIMENSIONS, "fatalities"]
# The month tier (migration 0009): the same keys, the month's first day in place of the day.
MONTH_INCIDENT_KEYS = ["month", *INCIDENT_DIMENSIONS]
MONTH_VIOLATION_KEYS = ["month", *VIOLATION_DIMENSIONS, "fatalities"]
_PARTIES = ("alleged_party_id", "target_party_id", "attributed_party_id")
_PLACES = ("admin1", "admin2")
_VERIFIED = "x.finding = 'verified' AND x.attributed_party_id IS NOT NULL"
VERIFY_DIMS = (
    "occurred_at",
    "admin1",
    "alleged_party_id",
    "target_party_id",
    "attributed_party_id",
    "sensitivity",
    "reported_by",
)
_FOUND = "('verified', 'disputed', 'refuted')"
TABLES = (
    "metrics_incident_day",
    "metrics_violation_day",
    "metrics_incident_month",
    "metrics_violation_month",
    "metrics_verify_delay",
    "metrics_verify_delay_month",  # after the delays it counts (rebuild order)
)
DELAY_MONTH_KEYS = ["month", "sensitivity", "bucket"]
_KEYS = {
    "metrics_incident_day": INCIDENT_KEYS,
    "metrics_violation_day": VIOLATION_KEYS,
    "metrics_incident_month": MONTH_INCIDENT_KEYS,
    "metrics_violation_month": MONTH_VIOLATION_KEYS,
}


def _expr(key: str, dialect: str) -> str:
    """The rollup key of incident row `x`: the same expressions as the triggers of 0005 and 0009."""
    if key == "month":
        if dialect == "sqlite":
            return "(substr(x.occurred_at, 1, 7) || '-01')"
        return "CAST(date_trunc('month', x.occurred_at AT TIME ZONE 'UTC') AS date)"
    if key == "day":
        if dialect == "sqlite":
            return "substr(x.occurred_at, 1, 10)"
        return "CAST((x.occurred_at AT TIME ZONE 'UTC') AS date)"
    if key in _PARTIES:
        nil = (
            "'00000000000000000000000000000000'"
            if dialect == "sqlite"
            else "CAST('00000000-0000-0000-0000-000000000000' AS uuid)"
        )
        return f"coalesce(x.{key}, {nil})"
    if key in _PLACES:
        return f"coalesce(x.{key}, '')"
    return f"x.{key}"


def _delay(first: str, received: str, dialect: str) -> str:
    """Seconds from `received` to `first`: the expression of sql.seconds_between and of 0006."""
    if dialect == "sqlite":
        return f"((julianday({first}) - julianday({received})) * 86400.0)"
    return f"CAST(EXTRACT(EPOCH FROM ({first} - {received})) AS double precision)"


def _delays(dialect: str, where: str) -> str:
    first = "min(v.occurred_at)"
    dims = ", ".join(f"x.{d}" for d in VERIFY_DIMS)
    return (
        f"SELECT x.id, {first}, {_delay(first, 'x.received_at', dialect)}, {dims} "  # noqa: S608
        f"FROM incident AS x JOIN verification_event AS v ON v.incident_id = x.id "
        f"WHERE v.finding IN {_FOUND} AND ({where}) GROUP BY x.id"
    )


def raw_selects(dialect: str, where: str = "1 = 1") -> dict[str, str]:
    """Each rollup table's rows computed from the raw rows of `incident AS x` (those meeting
    `where`, a fixed SQL condition on `x`) by a plain GROUP BY: what `rebuild` inserts, and what
    the benchmark times the measures against."""
    selects = {}
    for table, keys in _KEYS.items():
        cols = ", ".join(_expr(k, dialect) for k in keys)
        group = ", ".join(str(n) for n in range(1, len(keys) + 1))
        if table.startswith("metrics_incident"):
            measures, cond = "count(*), sum(x.fatalities)", where
        else:
            measures, cond = "count(*)", f"{_VERIFIED} AND ({where})"
        selects[table] = (
            f"SELECT {cols}, {measures} FROM incident AS x WHERE {cond} GROUP BY {group}"  # noqa: S608 - fixed text
        )
    selects["metrics_verify_delay"] = _delays(dialect, where)
    selects["metrics_verify_delay_month"] = _delay_months(dialect, selects["metrics_verify_delay"])
    return selects


def delay_bucket(value: str) -> str:
    """SQL text: the `metrics_verify_delay_month` bucket of the delay `value` (migration 0010)."""
    return f"({bucket_case(value, DELAY_BOUNDS_S)})"


def _delay_months(dialect: str, delays: str) -> str:
    """The histogram of the delay rows `delays` (their `raw_selects` query) per month,
    sensitivity and bucket."""
    month = (
        "(substr(d.occurred_at, 1, 7) || '-01')"
        if dialect == "sqlite"
        else "CAST(date_trunc('month', d.occurred_at AT TIME ZONE 'UTC') AS date)"
    )
    return (
        f"WITH d ({columns('metrics_verify_delay')}) AS ({delays}) "  # noqa: S608 - fixed text
        f"SELECT {month}, d.sensitivity, {delay_bucket('d.delay_s')}, count(*) "
        f"FROM d GROUP BY 1, 2, 3"
    )


def columns(table: str) -> str:
    """The columns of rollup `table`, in the order of its `raw_selects` query."""
    if table == "metrics_verify_delay":
        return ", ".join(["incident_id", "first_found_at", "delay_s", *VERIFY_DIMS])
    if table == "metrics_verify_delay_month":
        return ", ".join([*DELAY_MONTH_KEYS, "incidents"])
    measures = (
        ["incidents", "fatalities"] if table.startswith("metrics_incident") else ["incidents"]
    )
    return ", ".join([*_KEYS[table], *measures])


def rebuild(session: Session, progress: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Empty every rollup and fill it again from the raw rows, in the caller's transaction.

    Returns the number of rollup rows of each table."""
    dialect = session.get_bind().dialect.name
    counts: dict[str, int] = {}
    for table, select in raw_selects(dialect).items():
        progress(f"{table}: deleting")
        session.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names
        progress(f"{table}: recomputing from incident")
        session.execute(sa.text(f"INSERT INTO {table} ({columns(table)}) {select}"))
        counts[table] = session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
        progress(f"{table}: {counts[table]:,} rows")
    return counts


def _rows(session: Session, sql: str) -> set[tuple[Any, ...]]:
    return {tuple(str(v) for v in row) for row in session.execute(sa.text(sql))}


def stored(session: Session) -> dict[str, set[tuple[Any, ...]]]:
    """The rollup rows as they are (as text, for comparison)."""
    return {
        table: _rows(session, f"SELECT {columns(table)} FROM {table}")  # noqa: S608
        for table in TABLES
    }


def recompute(session: Session) -> dict[str, set[tuple[Any, ...]]]:
    """What the rollups should hold, computed from the raw rows now (as text)."""
    dialect = session.get_bind().dialect.name
    return {table: _rows(session, select) for table, select in raw_selects(dialect).items()}
