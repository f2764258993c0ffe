"""Reading an export's rows: keyset batches, each on a short connection of its own, with ids
and times turned to text by the database where it can (SQLite), so memory stays flat and Python
does little per row.

Each batch is read on a connection of its own, released before the batch is written out: a slow
download never holds a database connection (or, on SQLite, a long read transaction)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

from backend.db import UTCDateTime
from backend.exports.kinds import Context, Kind
from backend.parties.models import Party


def load_parties(conn: sa.Connection) -> dict[str, tuple[str, str]]:
    rows = conn.execute(sa.select(Party.id, Party.code, Party.name))
    return {str(r[0]): (r[1], r[2]) for r in rows}


def count_rows(conn: sa.Connection, kind: Kind, ctx: Context) -> int:
    stmt = kind.statement_for(ctx)
    return conn.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()


def _text_id(value: Any) -> str | None:
    return None if value is None else str(value)


def _sqlite_dashed(column: Any) -> Any:
    """A UUID as SQLite stores it (32 hex digits) in its usual form, in SQL (NULL stays NULL)."""
    part = sa.func.substr
    return (
        part(column, 1, 8) + "-" + part(column, 9, 4) + "-" + part(column, 13, 4) + "-"
        + part(column, 17, 4) + "-" + part(column, 21)
    )  # fmt: skip


def _sqlite_iso(column: Any) -> Any:
    """A time as SQLite stores it (UTC, `2026-11-20 04:30:00.000000`) as ISO 8601 text with its
    offset, as `datetime.isoformat()` writes it, in SQL; writers that need a datetime parse it."""
    part = sa.func.substr
    clock = sa.case((part(column, 20) == ".000000", part(column, 12, 8)), else_=part(column, 12))
    return part(column, 1, 10) + "T" + clock + "+00:00"


def _raw_reading(
    stmt: sa.Select[Any], dialect: str, keys: tuple[int, int]
) -> tuple[sa.Select[Any], list[tuple[int, Callable[[Any], Any]]], tuple[int, int]]:
    """Ids and vocabulary values always come out as text, times as ISO 8601 text (SQLite) or
    aware datetimes (PostgreSQL). On SQLite the text is made by SQLite itself, far cheaper than
    through UUID and datetime objects; the keyset keys are then read again, as stored, at the end
    of the row. Returns the statement, converters to apply in Python, and the keys' positions."""
    raw = dialect == "sqlite"
    columns, converters = [], []
    for n, column in enumerate(stmt.selected_columns):
        if isinstance(column.type, sa.Uuid):
            if raw:
                column = sa.type_coerce(_sqlite_dashed(column), sa.String).label(column.key)
            else:
                converters.append((n, _text_id))
        elif raw and isinstance(column.type, UTCDateTime):
            column = sa.type_coerce(_sqlite_iso(column), sa.String).label(column.key)
        elif isinstance(column.type, sa.Enum):
            # Vocabulary values as plain text: the same in every format, no enum lookup per value.
            column = sa.type_coerce(column, sa.String).label(column.key)
        columns.append(column)
    if not raw:
        return stmt.with_only_columns(*columns), converters, keys
    typed = stmt.selected_columns
    stored = [sa.type_coerce(typed[k], sa.String).label(f"_key{n}") for n, k in enumerate(keys)]
    width = len(columns)
    return stmt.with_only_columns(*columns, *stored), converters, (width, width + 1)


def read_batches(
    engine: sa.Engine, kind: Kind, ctx: Context, batch_size: int = 5_000
) -> Iterator[list[tuple[Any, ...]]]:
    """The export's rows in keyset order, `batch_size` at a time, each batch on a short read."""
    typed = kind.statement_for(ctx)  # built first: a wrong filter fails before the first byte
    names = list(typed.selected_columns.keys())
    i1, i2 = names.index(kind.keys[0]), names.index(kind.keys[1])
    k1, k2 = typed.selected_columns[i1], typed.selected_columns[i2]
    stmt, converters, (j1, j2) = _raw_reading(typed, engine.dialect.name, (i1, i2))
    # Compare keys in the form they were read (as stored, on SQLite).
    c1 = k1 if j1 == i1 else sa.type_coerce(k1, sa.String)
    c2 = k2 if j2 == i2 else sa.type_coerce(k2, sa.String)
    project = kind.projector(ctx.principal)
    last: tuple[Any, Any] | None = None
    while True:
        page = stmt
        if last is not None:
            page = page.where(sa.or_(c1 > last[0], sa.and_(c1 == last[0], c2 > last[1])))
        page = page.order_by(k1, k2).limit(batch_size)
        with engine.connect() as conn:
            if not ctx.parties:
                ctx.parties = load_parties(conn)
            fetched = conn.execute(page).all()
            if not fetched:
                return
            rows: list[Any] = fetched
            if converters:
                rows = []
                for row in fetched:
                    values = list(row)
                    for n, convert in converters:
                        values[n] = convert(values[n])
                    rows.append(values)
            out = kind.rows(conn, rows, ctx)
        yield [project(r) for r in out]
        if len(fetched) < batch_size:
            return
        last = (fetched[-1][j1], fetched[-1][j2])
