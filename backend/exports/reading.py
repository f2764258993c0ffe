"""Reading an export's rows: keyset batches, each on a short connection of its own, with ids
and times turned to text by the database (SQLite and PostgreSQL), so memory stays flat and Python
does little per row. For a kind whose columns need no Python (incidents), the database writes
the CSV records or GeoJSON features of each batch itself (`read_csv_text`, `read_geojson_text`):
SQLite as one string per batch, PostgreSQL's CSV through `COPY ... TO STDOUT`, byte for byte what
the csv module and the json module write, so Python does no work per row.

Each batch is bounded first: its last key is found by a query on the keys alone (an index-only
scan when no filter needs the row), then the batch is read between the previous bound and this
one, so the next batch can be read while this one is sent (`READERS`). Each batch is read on a
connection of its own, released before the batch is written out: a slow download never holds a
database connection (or, on SQLite, a long read transaction).
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from backend.exports.kinds import DATETIME, FLOAT, INT, STR, Column, Context, Kind
from backend.exports.sqltext import (
    as_text,
    copy_columns,
    csv_line,
    geojson_feature,
    written_parties,
)
from backend.parties.models import Party

T = TypeVar("T")


def load_parties(conn: sa.Connection) -> dict[str, tuple[str, str]]:
    rows = conn.execute(sa.select(Party.id, Party.code, Party.name))
    return {str(r[0]): (r[1], r[2]) for r in rows}


def count_rows(conn: sa.Connection, kind: Kind, ctx: Context) -> int:
    stmt = kind.statement_for(ctx)
    return conn.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()


def text_in_sql(engine: sa.Engine, kind: Kind) -> bool:
    """Whether the database writes this kind's CSV records and GeoJSON features itself
    (`read_csv_text`, `read_geojson_text`): for a kind whose statement's columns are the export's
    and need no conversion in Python."""
    return (
        engine.dialect.name in ("sqlite", "postgresql")
        and kind.rows is None
        and all(c.type in (STR, INT, FLOAT, DATETIME) for c in kind.columns)
    )


_KEYS = ("lo1", "lo2", "hi1", "hi2")  # the bounds of a batch: (lo1, lo2) < keys <= (hi1, hi2)

# On PostgreSQL, batches the database writes itself (`read_csv_text`, `read_geojson_text`) are
# read this many at once, each on a connection of its own: the database's work is most of an
# export's time, it runs in PostgreSQL's own processes, and the machine has more than one core
# (300,000 rows: 1.5 s instead of 2.1 s). The batches still go out in order, and at most this
# many are in memory. Not on SQLite: two readers in one process ran no faster and took twice the
# CPU (SQLite's allocator counts memory under one global lock).
READERS = 2


@contextmanager
def _read_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A short read on a connection of its own."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # With a time window, PostgreSQL multiplies the window's selectivity and the key
            # range's (both on occurred_at), guesses too few rows, and then sorts the whole rest
            # of the window to find a batch's last key (up to 100 ms instead of 4). The keys'
            # index gives the rows in order. For this read transaction only.
            conn.exec_driver_sql("SET LOCAL enable_sort = off")
        yield conn


def _batches(
    engine: sa.Engine,
    kind: Kind,
    ctx: Context,
    batch_size: int,
    shape: Callable[[sa.Select[Any]], Any],
    read: Callable[[sa.Connection, Any, dict[str, Any]], T],
    readers: int = 1,
) -> Iterator[T]:
    """One batch after another, in key order: `read(connection, statement, bounds)` with `shape`
    of the export's statement restricted to the batch and its key bounds as parameters, on a
    short read of its own; `readers` batches at once (in threads) when more than one.

    Each batch's last key is found first, by a query on the keys alone, and the batch is then
    read between two known keys: so it can be read whole by any means (a `COPY`, an aggregate)
    without returning its keys, and the next batch's bounds are known before this one is read.
    The statements are built once per export, the keys bound per batch (nothing is built or
    compiled per batch)."""
    typed = kind.statement_for(ctx)  # built first: a wrong filter fails before the first byte
    names = list(typed.selected_columns.keys())
    k1, k2 = (typed.selected_columns[names.index(k)] for k in kind.keys)
    keys = sa.tuple_(k1, k2)
    lo1, lo2, hi1, hi2 = (
        sa.bindparam(n, None, type_=k.type) for n, k in zip(_KEYS, (k1, k2) * 2, strict=True)
    )
    # Row-value comparisons: both databases seek the (key1, key2) index to the next row. The
    # first key's own range says nothing more, but PostgreSQL estimates a batch's rows from it
    # (from the row values alone it guesses 40 times too many, and reads them in parallel).
    after = sa.and_(keys > sa.tuple_(lo1, lo2), k1 >= lo1)
    upto = sa.and_(keys <= sa.tuple_(hi1, hi2), k1 <= hi1)
    ends = typed.with_only_columns(k1, k2)
    nth = ends.order_by(k1, k2).offset(batch_size - 1).limit(1)
    last = ends.order_by(k1.desc(), k2.desc()).limit(1)  # the last batch ends at the last key
    # (the first batch's statements, the next batches')
    nths, lasts = (nth, nth.where(after)), (last, last.where(after))
    within = typed.order_by(k1, k2)
    batches = shape(within.where(upto)), shape(within.where(after, upto))

    def ranges() -> Iterator[tuple[int, dict[str, Any]]]:
        bounds: dict[str, Any] = {}
        while True:
            n = 1 if bounds else 0
            with _read_transaction(engine) as conn:
                end = conn.execute(nths[n], bounds).first()
                final = end is None
                if final:
                    end = conn.execute(lasts[n], bounds).first()
                    if end is None:
                        return
            yield n, {**bounds, "hi1": end[0], "hi2": end[1]}
            if final:
                return
            bounds = {"lo1": end[0], "lo2": end[1]}

    def read_range(n: int, bounds: dict[str, Any]) -> T:
        with _read_transaction(engine) as conn:
            return read(conn, batches[n], bounds)

    if readers <= 1:
        for n, bounds in ranges():
            yield read_range(n, bounds)
        return
    pending: deque[Future[T]] = deque()
    with ThreadPoolExecutor(readers, thread_name_prefix="export-read") as pool:
        try:
            for n, bounds in ranges():
                pending.append(pool.submit(read_range, n, bounds))
                if len(pending) >= readers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # the download was stopped: read nothing more
            for future in pending:
                future.cancel()


def _reading(stmt: sa.Select[Any], dialect: str) -> sa.Select[Any]:
    """The statement with its columns as text (`as_text`)."""
    return stmt.with_only_columns(*(as_text(c, dialect) for c in stmt.selected_columns))


def read_batches(
    engine: sa.Engine, kind: Kind, ctx: Context, batch_size: int = 5_000
) -> Iterator[list[tuple[Any, ...]]]:
    """The export's rows in keyset order, `batch_size` at a time, each batch on a short read."""
    dialect = engine.dialect.name
    project = kind.projector(ctx.principal)
    reading = functools.partial(_reading, dialect=dialect)

    def read(conn: sa.Connection, stmt: Any, bounds: dict[str, Any]) -> list[tuple[Any, ...]]:
        fetched = conn.execute(stmt, bounds).all()
        if kind.rows is None:
            out: Sequence[Any] = fetched
        else:
            if not ctx.parties:
                ctx.parties = load_parties(conn)
            out = kind.rows(conn, fetched, ctx)
        return [project(r) for r in out]

    for batch in _batches(engine, kind, ctx, batch_size, reading, read):
        if batch:
            yield batch


def _shown(kind: Kind, ctx: Context, stmt: sa.Select[Any]) -> tuple[list[Any], list[Column]]:
    """The statement's columns the reader may see, and their export columns, in order."""
    shown = {c.name for c in kind.columns_for(ctx.principal)}
    pairs = [
        (column, c)
        for column, c in zip(stmt.selected_columns, kind.columns, strict=True)
        if c.name in shown
    ]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _joined(
    engine: sa.Engine,
    kind: Kind,
    ctx: Context,
    batch_size: int,
    item: Callable[[sa.Select[Any]], tuple[sa.Select[Any], Any]],
    separator: str,
) -> Iterator[str]:
    """Per batch, one string made by the database: the `item` of each row (an expression over the
    batch's statement, which `item` may join more to) in key order, joined by `separator`. SQLite: group_concat over the batch's
    ordered subquery (SQLite 3.40 has no ORDER BY inside an aggregate; it does not flatten an
    ordered subquery into an aggregate, so rows come in order: the tests pin it); PostgreSQL:
    string_agg with its ORDER BY."""

    def joined(stmt: sa.Select[Any]) -> Any:
        names = list(stmt.selected_columns.keys())
        by = [stmt.selected_columns[names.index(k)] for k in kind.keys]
        stmt, value = item(stmt)
        if engine.dialect.name == "sqlite":
            rows = stmt.with_only_columns(value.label("item")).subquery()
            return sa.select(sa.func.group_concat(rows.c.item, separator))
        ordered = aggregate_order_by(sa.literal_column(_quoted(separator)), *by)
        agg = sa.func.string_agg(value, ordered)
        return stmt.order_by(None).with_only_columns(sa.type_coerce(agg, sa.String))

    def read(conn: sa.Connection, stmt: Any, bounds: dict[str, Any]) -> str | None:
        return conn.execute(stmt, bounds).scalar()

    readers = READERS if engine.dialect.name == "postgresql" else 1  # (see READERS)
    for text in _batches(engine, kind, ctx, batch_size, joined, read, readers):
        if text:
            yield text


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_csv_text(
    engine: sa.Engine, kind: Kind, ctx: Context, batch_size: int = 5_000
) -> Iterator[bytes]:
    """The export's CSV records, each ending in CRLF, written by the database itself, batch by
    batch in the order of `read_batches` (see `text_in_sql`): SQLite writes each line with one
    printf and joins the batch's lines; PostgreSQL writes the batch with `COPY ... (FORMAT csv)`."""
    if engine.dialect.name == "postgresql":
        yield from _copy_csv(engine, kind, ctx, batch_size)
        return

    def line(stmt: sa.Select[Any]) -> tuple[sa.Select[Any], Any]:
        columns, exported = _shown(kind, ctx, stmt)
        stmt, columns, kinds = written_parties(stmt, columns, [c.type for c in exported])
        return stmt, csv_line(columns, kinds)

    for text in _joined(engine, kind, ctx, batch_size, line, "\r\n"):
        yield (text + "\r\n").encode()


def _copy_csv(engine: sa.Engine, kind: Kind, ctx: Context, batch_size: int) -> Iterator[bytes]:
    def copy_of(stmt: sa.Select[Any]) -> sa.Compiled:
        columns, exported = _shown(kind, ctx, stmt)
        selected = stmt.with_only_columns(*copy_columns(columns, exported))
        return selected.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})

    def read(conn: sa.Connection, compiled: Any, bounds: dict[str, Any]) -> bytes:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        sql = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)"
        with cursor.copy(sql, _driver_params(compiled, bounds, engine.dialect)) as copy:
            data = b"".join(copy)
        return crlf(data, cursor.rowcount) if data else data

    for data in _batches(engine, kind, ctx, batch_size, copy_of, read, READERS):
        if data:
            yield data


def _driver_params(
    compiled: sa.Compiled, bounds: dict[str, Any], dialect: sa.Dialect
) -> dict[str, Any]:
    """The compiled statement's parameters for psycopg, which binds them client-side (COPY takes
    none), each converted as SQLAlchemy converts it for its type."""
    params = {**compiled.construct_params(), **bounds}  # (no new parameters once expanded)
    for name, bind in compiled.binds.items():  # type: ignore[attr-defined]
        processor = bind.type.bind_processor(dialect)
        if processor is not None and name in params:
            params[name] = processor(params[name])
    return params


_QUOTED_OR_LF = re.compile(rb'"(?:[^"]|"")*"|\n')


def crlf(data: bytes, records: int) -> bytes:
    """COPY's CSV with the csv module's line ends: each record ends in CRLF where COPY writes LF.
    A line break inside a quoted field stays as it is: when there are more LFs than records, the
    quoted fields are stepped over whole (in COPY's CSV as in the csv module's, a quote only ever
    opens or closes a quoted field, or is doubled inside one)."""
    if data.count(b"\n") == records:
        return data.replace(b"\n", b"\r\n")
    return _QUOTED_OR_LF.sub(lambda m: b"\r\n" if m[0] == b"\n" else m[0], data)


def read_geojson_text(
    engine: sa.Engine, kind: Kind, ctx: Context, batch_size: int = 5_000
) -> Iterator[bytes]:
    """The export's GeoJSON features, comma-separated, written by the database itself, batch by
    batch in the order of `read_batches` (see `text_in_sql` and `sqltext.geojson_feature`)."""

    def feature(stmt: sa.Select[Any]) -> tuple[sa.Select[Any], Any]:
        columns, exported = _shown(kind, ctx, stmt)
        return stmt, geojson_feature(columns, exported, engine.dialect.name)

    for text in _joined(engine, kind, ctx, batch_size, feature, ","):
        yield text.encode()
