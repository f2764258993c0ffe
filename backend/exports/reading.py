"""Reading an export's rows: keyset batches, each on a short connection of its own, with ids
and times turned to text by the database (SQLite and PostgreSQL), so memory stays flat and Python
does little per row. For a CSV of a kind whose columns need no Python (incidents), the database
writes each CSV line itself (`read_csv_lines`), byte for byte what the csv module would write.

Each batch is read on a connection of its own, released before the batch is written out: a slow
download never holds a database connection (or, on SQLite, a long read transaction)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from backend.db import UTCDateTime
from backend.exports.kinds import DATETIME, FLOAT, INT, STR, Context, Kind
from backend.parties.models import Party


def load_parties(conn: sa.Connection) -> dict[str, tuple[str, str]]:
    rows = conn.execute(sa.select(Party.id, Party.code, Party.name))
    return {str(r[0]): (r[1], r[2]) for r in rows}


def count_rows(conn: sa.Connection, kind: Kind, ctx: Context) -> int:
    stmt = kind.statement_for(ctx)
    return conn.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()


def _cat(*parts: Any) -> Any:
    """SQL's `||` of the parts (text)."""
    line = sa.type_coerce(parts[0], sa.String)
    for part in parts[1:]:
        line = line.op("||")(part)
    return sa.type_coerce(line, sa.String)


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


def _postgres_iso(column: Any) -> Any:
    """A `timestamptz` as the same ISO 8601 text, in SQL (whatever the session's time zone): one
    to_char, its fraction dropped when it is zero, as `datetime.isoformat()` does."""
    utc = sa.func.timezone("UTC", column)
    text = sa.func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.US')
    return _cat(sa.func.replace(text, ".000000", ""), sa.literal("+00:00"))


def _as_text(column: Any, dialect: str) -> Any:
    """Ids and times as the text every format writes, made by the database (far cheaper than
    through UUID and datetime objects in Python); vocabulary values as plain text; others as
    they are."""
    if isinstance(column.type, sa.Uuid):
        text = _sqlite_dashed(column) if dialect == "sqlite" else sa.cast(column, sa.Text)
    elif isinstance(column.type, UTCDateTime):
        text = _sqlite_iso(column) if dialect == "sqlite" else _postgres_iso(column)
    elif isinstance(column.type, sa.Enum):
        text = column  # no enum lookup per value
    else:
        return column
    return sa.type_coerce(text, sa.String).label(column.key)


def _csv_field(column: Any, kind: str, dialect: str) -> Any:
    """One field of a CSV line as the csv module writes it (QUOTE_MINIMAL), in the database's SQL:
    empty for NULL; text quoted when it holds a comma, a quote or a line break; numbers as Python
    writes them, so the file is byte for byte the csv module's."""
    text = _as_text(column, dialect)
    value = text.element if isinstance(text, sa.Label) else text
    if kind == FLOAT:
        field = _sqlite_float(value) if dialect == "sqlite" else _postgres_float(value)
    elif kind == INT or isinstance(column.type, sa.Enum | sa.Uuid | UTCDateTime):
        field = sa.cast(value, sa.Text)  # digits, vocabulary, ids, ISO times: nothing to quote
    else:
        special = (
            sa.func.glob('*[",\r\n]*', value) if dialect == "sqlite" else value.op("~")('[",\r\n]')
        )  # a comma, a quote or a line break
        quoted = _cat(sa.literal('"'), sa.func.replace(value, '"', '""'), sa.literal('"'))
        field = sa.case((special, quoted), else_=value)
    return sa.func.coalesce(field, "")


def _sqlite_float(value: Any) -> Any:
    """A REAL as Python's repr writes it: the fewest of 15, 16 or 17 significant digits that read
    back to the same value (SQLite's text has 15), `1e-07` rather than SQLite's `1.0e-07`."""
    digits = [sa.func.printf(f"%!.{n}g", value) for n in (15, 16)]
    shortest = sa.case(
        *((sa.cast(d, sa.Float) == value, d) for d in digits),
        else_=sa.func.printf("%!.17g", value),
    )
    return sa.func.replace(shortest, ".0e", "e")


def _postgres_float(value: Any) -> Any:
    """A double as Python's repr writes it: PostgreSQL's text is the shortest exact one already,
    but writes a whole number without its `.0`."""
    text = sa.cast(value, sa.Text)
    return sa.case((text.op("~")("^-?[0-9]+$"), _cat(text, sa.literal(".0"))), else_=text)


def csv_lines_in_sql(engine: sa.Engine, kind: Kind) -> bool:
    """Whether the database writes this kind's CSV lines itself (`read_csv_lines`): for a kind
    whose statement's columns are the export's and need no conversion in Python."""
    return (
        engine.dialect.name in ("sqlite", "postgresql")
        and kind.rows is None
        and all(c.type in (STR, INT, FLOAT, DATETIME) for c in kind.columns)
    )


def _reading(stmt: sa.Select[Any], dialect: str, keys: tuple[int, int]) -> sa.Select[Any]:
    """The statement with its columns as text (`_as_text`), and after them its two keyset keys
    again, as stored (on SQLite as stored text, so no conversion touches them either way)."""
    typed = stmt.selected_columns
    columns = [_as_text(c, dialect) for c in typed]
    return stmt.with_only_columns(*columns, *_stored_keys(typed, dialect, keys))


def _stored_keys(typed: Any, dialect: str, keys: tuple[int, int]) -> list[Any]:
    return [
        (sa.type_coerce(typed[k], sa.String) if dialect == "sqlite" else typed[k]).label(f"_key{n}")
        for n, k in enumerate(keys)
    ]


def _pages(
    engine: sa.Engine,
    kind: Kind,
    ctx: Context,
    batch_size: int,
    select: Callable[[sa.Select[Any], tuple[int, int]], sa.Select[Any]],
) -> Iterator[tuple[sa.Connection, list[sa.Row[Any]]]]:
    """Keyset pages of `select(statement, key positions)`, whose last two columns are the keys
    as stored, each read on a connection of its own (open while the page is handled)."""
    typed = kind.statement_for(ctx)  # built first: a wrong filter fails before the first byte
    names = list(typed.selected_columns.keys())
    i1, i2 = names.index(kind.keys[0]), names.index(kind.keys[1])
    k1, k2 = typed.selected_columns[i1], typed.selected_columns[i2]
    order = k1, k2
    if engine.dialect.name == "sqlite":  # compare keys in the form they were read (stored text)
        k1, k2 = sa.type_coerce(k1, sa.String), sa.type_coerce(k2, sa.String)
    stmt = select(typed, (i1, i2))
    last: tuple[Any, Any] | None = None
    while True:
        page = stmt
        if last is not None:
            # A row-value comparison: both databases seek the (key1, key2) index to the next row.
            page = page.where(sa.tuple_(k1, k2) > sa.tuple_(*last))
        page = page.order_by(*order).limit(batch_size)
        with engine.connect() as conn:
            fetched = conn.execute(page).all()
            if not fetched:
                return
            yield conn, fetched
        if len(fetched) < batch_size:
            return
        last = (fetched[-1][-2], fetched[-1][-1])


def read_batches(
    engine: sa.Engine, kind: Kind, ctx: Context, batch_size: int = 5_000
) -> Iterator[list[tuple[Any, ...]]]:
    """The export's rows in keyset order, `batch_size` at a time, each batch on a short read."""
    dialect = engine.dialect.name
    project = kind.projector(ctx.principal)
    pages = _pages(engine, kind, ctx, batch_size, lambda s, keys: _reading(s, dialect, keys))
    for conn, fetched in pages:
        if kind.rows is None:
            out: Sequence[Any] = fetched
        else:
            if not ctx.parties:
                ctx.parties = load_parties(conn)
            out = kind.rows(conn, fetched, ctx)
        yield [project(r) for r in out]


def read_csv_lines(
    engine: sa.Engine, kind: Kind, ctx: Context, batch_size: int = 5_000
) -> Iterator[list[str]]:
    """The export's CSV lines (without their line ends), written by the database itself, in the
    order and batches of `read_batches`: Python only joins them (see `csv_lines_in_sql`)."""
    shown = {c.name for c in kind.columns_for(ctx.principal)}
    dialect = engine.dialect.name

    def select(stmt: sa.Select[Any], keys: tuple[int, int]) -> sa.Select[Any]:
        typed = stmt.selected_columns
        fields = [
            _csv_field(column, c.type, dialect)
            for column, c in zip(typed, kind.columns, strict=True)
            if c.name in shown
        ]
        separated = [part for f in fields for part in (sa.literal(","), f)][1:]
        return stmt.with_only_columns(_cat(*separated), *_stored_keys(typed, dialect, keys))

    for _conn, fetched in _pages(engine, kind, ctx, batch_size, select):
        yield [r[0] for r in fetched]
