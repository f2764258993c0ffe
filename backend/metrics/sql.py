"""SQL helpers that read the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class utc_day(FunctionElement[str]):
    """The UTC calendar day of a timestamp column, as text `YYYY-MM-DD`, on either database.

    SQLite keeps UTC timestamps as `YYYY-MM-DD HH:MM:SS[.ffffff]` text (backend.db.UTCDateTime), so
    the day is the first ten characters; PostgreSQL keeps `timestamptz`, read in UTC whatever the
    session's time zone.
    """

    type = sa.String()
    inherit_cache = True
    name = "utc_day"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


class day_ordinal(FunctionElement[int]):
    """A DATE column's day as Python's `date.toordinal()` (0001-01-01 is 1), an integer on either
    database: cheaper to send and to read than the day as text, for thousands of rows."""

    type = sa.Integer()
    inherit_cache = True
    name = "day_ordinal"


@compiles(day_ordinal, "sqlite")
def _day_ordinal_sqlite(element: day_ordinal, compiler: Any, **kw: Any) -> str:
    # julianday('0001-01-01') is 1721425.5: a day's Julian day minus 1721424.5 is its ordinal.
    return f"CAST(julianday({compiler.process(element.clauses, **kw)}) - 1721424.5 AS INTEGER)"


@compiles(day_ordinal, "postgresql")
def _day_ordinal_postgresql(element: day_ordinal, compiler: Any, **kw: Any) -> str:
    return f"(({compiler.process(element.clauses, **kw)}) - DATE '0001-01-01' + 1)"


class seconds_between(FunctionElement[float]):
    """`end - start` in seconds, for two timestamp columns."""

    type = sa.Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def capped(column: Any, cap: int) -> sa.ColumnElement[int]:
    """`min(column, cap)` on both databases (SQLite's two-argument min is PostgreSQL's LEAST)."""
    return sa.case((column > cap, cap), else_=column)


class unindexed(FunctionElement[Any]):
    """`column`, but no index on it is used for this term on SQLite (`+column`): the planner has
    no histogram, so it would take a wide date range over a selective equality."""

    inherit_cache = True
    name = "unindexed"

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


@compiles(unindexed, "postgresql")
def _unindexed_postgresql(element: unindexed, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


class selective(FunctionElement[bool]):
    """A condition the planner should take as very selective (SQLite: `likelihood(x, 1e-6)`).

    `reported_by = ?` is one such: a mission's imports share a reporter, so SQLite's statistics
    say the index is useless, yet a reader's own hidden reports are few."""

    type = sa.Boolean()
    inherit_cache = True
    name = "selective"
    _is_implicitly_boolean = True  # a condition as it is, not `selective(...) = 1`


@compiles(selective, "sqlite")
def _selective_sqlite(element: selective, compiler: Any, **kw: Any) -> str:
    return f"likelihood({compiler.process(element.clauses, **kw)}, 0.000001)"


@compiles(selective, "postgresql")
def _selective_postgresql(element: selective, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


class month_of(FunctionElement[str]):
    """The first day of the month of a date column, as text `YYYY-MM-DD`, on either database."""

    type = sa.String()
    inherit_cache = True
    name = "month_of"


@compiles(month_of, "sqlite")
def _month_of_sqlite(element: month_of, compiler: Any, **kw: Any) -> str:
    return f"(substr({compiler.process(element.clauses, **kw)}, 1, 7) || '-01')"


@compiles(month_of, "postgresql")
def _month_of_postgresql(element: month_of, compiler: Any, **kw: Any) -> str:
    day = compiler.process(element.clauses, **kw)
    return f"to_char(date_trunc('month', CAST({day} AS timestamp)), 'YYYY-MM-DD')"


class utc_month(FunctionElement[str]):
    """The first day of the UTC calendar month of a timestamp column, as text `YYYY-MM-DD`."""

    type = sa.String()
    inherit_cache = True
    name = "utc_month"


@compiles(utc_month, "sqlite")
def _utc_month_sqlite(element: utc_month, compiler: Any, **kw: Any) -> str:
    return f"(substr({compiler.process(element.clauses, **kw)}, 1, 7) || '-01')"


@compiles(utc_month, "postgresql")
def _utc_month_postgresql(element: utc_month, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char(date_trunc('month', ({column}) AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"


def bucket_case(value: str, bounds: Sequence[int], lo: int = 0, hi: int | None = None) -> str:
    """SQL text: how many of the ascending `bounds` are <= `value` (a SQL expression), as a
    binary search of nested CASEs (a few comparisons per row rather than one per bound), the same
    on both databases and without math functions (SQLite may be built without them). Buckets of
    `metrics_verify_delay_month` (migration 0010 has its own copy of this text's generator)."""
    hi = len(bounds) if hi is None else hi
    if lo == hi:
        return str(lo)
    mid = (lo + hi) // 2
    below, above = bucket_case(value, bounds, lo, mid), bucket_case(value, bounds, mid + 1, hi)
    return f"CASE WHEN {value} < {bounds[mid]} THEN {below} ELSE {above} END"


class by_value(unindexed):
    """A timestamp column to sort by, through no index: SQLite `+column` (a no-op on any value,
    as `unindexed`), PostgreSQL `column + interval '0'`. For an `ORDER BY ... LIMIT` whose rows a
    filter on another index finds cheaply: a planner that sees an index in the sort's order may
    walk it from the start instead, reading every row before the ones the filter wants."""

    inherit_cache = True
    name = "by_value"


@compiles(by_value, "postgresql")
def _by_value_postgresql(element: by_value, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)} + interval '0 seconds')"
