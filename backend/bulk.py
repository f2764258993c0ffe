"""Set-based inserts at the driver's speed: many rows of one table in one go.

Values are converted by the columns' own SQLAlchemy types (the very bind processors a Core insert
applies: UTC times, vocabulary values, UUIDs, JSON), then handed to the driver's fastest path:
`COPY ... FROM STDIN` on PostgreSQL, one prepared `executemany` on SQLite. What is skipped is
SQLAlchemy's per-row bookkeeping around it, which cost more than the insert itself for a batch of
field records. Triggers fire as for any insert (COPY fires them too).

Every row must carry every column named by the first row (the callers build complete rows).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

# Below this many rows, a plain Core insert is as quick and the plan is not worth making.
_MIN_ROWS = 8


@dataclass(frozen=True, slots=True)
class _Plan:
    statement: str
    values_of: Callable[[dict[str, Any]], tuple[Any, ...]]
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]


_plans: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}


def _plan(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> _Plan:
    key = (dialect.name, table.name, columns)
    plan = _plans.get(key)
    if plan is None:
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        target = dialect.identifier_preparer.format_table(table)
        if dialect.name == "postgresql":
            statement = f"COPY {target} ({names}) FROM STDIN"  # names from the table's own columns
        else:
            marks = ", ".join("?" for _ in columns)
            statement = f"INSERT INTO {target} ({names}) VALUES ({marks})"  # noqa: S608 - names from the table's own columns
        converters = []
        for i, name in enumerate(columns):
            process = _bind_processor(table.c[name].type, dialect)
            if process is not None:
                converters.append((i, process))
        getter = operator.itemgetter(*columns)
        values_of = getter if len(columns) > 1 else (lambda row: (getter(row),))
        plan = _plans[key] = _Plan(statement, values_of, tuple(converters))
    return plan


def _bind_processor(type_: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> Any:
    """The column type's conversion of a value for the driver: a quicker one of the type's own
    when it offers it (`bulk_bind_processor`, see `backend.db.UTCDateTime`), else its usual one."""
    quick = getattr(type_, "bulk_bind_processor", None)
    process = quick(dialect) if quick is not None else None
    return process or type_.dialect_impl(dialect).bind_processor(dialect)


def insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts of column values, as a Core insert takes them) into `table`."""
    if len(rows) < _MIN_ROWS:
        if rows:
            conn.execute(sa.insert(table), list(rows))
        return
    plan = _plan(conn.dialect, table, tuple(rows[0]))
    values = [plan.values_of(row) for row in rows]
    if plan.converters:
        converted = []
        for value in values:
            value = list(value)
            for i, process in plan.converters:
                value[i] = process(value[i])
            converted.append(tuple(value))
        values = converted
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            try:
                with cursor.copy(plan.statement) as copy:
                    for value in values:
                        copy.write_row(value)
            except conn.dialect.loaded_dbapi.Error as error:
                # As if SQLAlchemy had run it: its exception classes (an IntegrityError the
                # callers catch) and its handle_error hooks (backend.dbfaults: a read-only
                # database drops the connection and answers 503).
                conn._handle_dbapi_exception(error, plan.statement, None, cursor, None)
    else:
        conn.exec_driver_sql(plan.statement, values)
