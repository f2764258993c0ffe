"""The rollup tables (backend/metrics/models.py): recomputed from raw rows, and compared with them.

Day to day the rollups are kept by triggers on `incident` (migration 0005) and, for the delays to
verify, on `verification_event` and `incident` (migration 0006), in the transaction that writes.
`rebuild` recomputes them from scratch (`peacewatch metrics rebuild`); `recompute` gives what
they should hold, for tests and checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.metrics.models import INCIDENT_DIMENSIONS, VIOLATION_DIMENSIONS

INCIDENT_KEYS = ["day", *INCIDENT_DIMENSIONS]
VIOLATION_KEYS = ["day", *VIOLATION_DIMENSIONS, "fatalities"]
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
TABLES = ("metrics_incident_day", "metrics_violation_day", "metrics_verify_delay")


def _expr(key: str, dialect: str) -> str:
    """The rollup key of incident row `x`: the same expressions as the triggers of 0005."""
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


def _delays(dialect: str) -> str:
    first = "min(v.occurred_at)"
    dims = ", ".join(f"x.{d}" for d in VERIFY_DIMS)
    return (
        f"SELECT x.id, {first}, {_delay(first, 'x.received_at', dialect)}, {dims} "  # noqa: S608
        f"FROM incident AS x JOIN verification_event AS v ON v.incident_id = x.id "
        f"WHERE v.finding IN {_FOUND} GROUP BY x.id"
    )


def _selects(dialect: str) -> dict[str, str]:
    cols = ", ".join(_expr(k, dialect) for k in INCIDENT_KEYS)
    vcols = ", ".join(_expr(k, dialect) for k in VIOLATION_KEYS)
    group = ", ".join(str(n) for n in range(1, len(INCIDENT_KEYS) + 1))
    vgroup = ", ".join(str(n) for n in range(1, len(VIOLATION_KEYS) + 1))
    return {
        "metrics_incident_day": (
            f"SELECT {cols}, count(*), sum(x.fatalities) FROM incident AS x GROUP BY {group}"  # noqa: S608 - fixed text
        ),
        "metrics_violation_day": (
            f"SELECT {vcols}, count(*) FROM incident AS x WHERE {_VERIFIED} GROUP BY {vgroup}"  # noqa: S608
        ),
        "metrics_verify_delay": _delays(dialect),
    }


def _columns(table: str) -> str:
    if table == "metrics_incident_day":
        return ", ".join([*INCIDENT_KEYS, "incidents", "fatalities"])
    if table == "metrics_verify_delay":
        return ", ".join(["incident_id", "first_found_at", "delay_s", *VERIFY_DIMS])
    return ", ".join([*VIOLATION_KEYS, "incidents"])


def rebuild(session: Session, progress: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Empty every rollup and fill it again from the raw rows, in the caller's transaction.

    Returns the number of rollup rows of each table."""
    dialect = session.get_bind().dialect.name
    counts: dict[str, int] = {}
    for table, select in _selects(dialect).items():
        progress(f"{table}: deleting")
        session.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names
        progress(f"{table}: recomputing from incident")
        session.execute(sa.text(f"INSERT INTO {table} ({_columns(table)}) {select}"))
        counts[table] = session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
        progress(f"{table}: {counts[table]:,} rows")
    return counts


def _rows(session: Session, sql: str) -> set[tuple[Any, ...]]:
    return {tuple(str(v) for v in row) for row in session.execute(sa.text(sql))}


def stored(session: Session) -> dict[str, set[tuple[Any, ...]]]:
    """The rollup rows as they are (as text, for comparison)."""
    return {
        table: _rows(session, f"SELECT {_columns(table)} FROM {table}")  # noqa: S608
        for table in TABLES
    }


def recompute(session: Session) -> dict[str, set[tuple[Any, ...]]]:
    """What the rollups should hold, computed from the raw rows now (as text)."""
    dialect = session.get_bind().dialect.name
    return {table: _rows(session, select) for table, select in _selects(dialect).items()}
