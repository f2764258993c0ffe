"""Text the database writes for an export: ids, times and numbers as the writers would write them,
CSV lines (SQLite) or the columns for COPY's CSV (PostgreSQL), byte for byte the csv module's,
and GeoJSON features, byte for byte the json module's.

Why in SQL: at a million rows, any Python per row or per value costs more than the database's
reading (backend/exports/reading.py pages through the rows). Why a single `printf` per SQLite
line rather than a chain of `||`: each `||` copies the growing line again, about 70 copies and
allocations per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from backend.db import UTCDateTime
from backend.exports.kinds import DATETIME, FLOAT, INT, STR, Column
from backend.parties.models import Party

WRITTEN = "written"  # a CSV field the database wrote already (`written_parties`)

# SQLite refuses a function call with more arguments than this (SQLITE_MAX_FUNCTION_ARG is 127
# by default; PostgreSQL's FUNC_MAX_ARGS is 100).
_MAX_ARGS = 100


def cat(*parts: Any) -> Any:
    """SQL's `||` of the parts (text)."""
    line = sa.type_coerce(parts[0], sa.String)
    for part in parts[1:]:
        line = line.op("||")(part)
    return sa.type_coerce(line, sa.String)


def _not_null(column: Any) -> bool:
    """Whether the column can never be NULL (a NOT NULL column of the selected table; a joined
    column may be NULL through its outer join, so labels count as nullable)."""
    return isinstance(column, sa.Column) and not column.nullable


def _when_set(column: Any, text: Any) -> Any:
    return text if _not_null(column) else sa.case((column.is_(None), None), else_=text)


# SQLite stores a UUID as 32 hex digits and a time as `2026-11-20 04:30:00.000000` (UTC).


def _sqlite_uuid_parts(column: Any) -> tuple[str, list[Any]]:
    """The dashed form: printf's precision cuts each part's end (one substr fewer per id than
    cutting both ends: a quarter of the time, ids being a third of the line's cost)."""
    rest = [sa.func.substr(column, start) for start in (9, 13, 17, 21)]
    return "%.8s-%.4s-%.4s-%.4s-%s", [column, *rest]


def _sqlite_iso_parts(column: Any) -> tuple[str, list[Any]]:
    """ISO 8601 with its offset, as `datetime.isoformat()` writes it (no fraction when zero)."""
    clock = sa.func.replace(sa.func.replace(column, " ", "T"), ".000000", "")
    return "%s+00:00", [clock]


def _sqlite_printed(form: str, args: list[Any]) -> Any:
    return sa.type_coerce(sa.func.printf(form, *args), sa.String)


def _postgres_iso(column: Any) -> Any:
    """A `timestamptz` as the same ISO 8601 text, whatever the session's time zone: one to_char,
    its fraction dropped when it is zero."""
    text = sa.func.to_char(sa.func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US')
    return cat(sa.func.replace(text, ".000000", ""), sa.literal("+00:00"))


def as_text(column: Any, dialect: str) -> Any:
    """Ids and times as the text every format writes, made by the database (far cheaper than
    through UUID and datetime objects in Python); vocabulary values as plain text; others as
    they are."""
    if isinstance(column.type, sa.Uuid):
        if dialect == "sqlite":
            text = _when_set(column, _sqlite_printed(*_sqlite_uuid_parts(column)))
        else:
            text = sa.cast(column, sa.Text)
    elif isinstance(column.type, UTCDateTime):
        if dialect == "sqlite":
            text = _when_set(column, _sqlite_printed(*_sqlite_iso_parts(column)))
        else:
            text = _postgres_iso(column)
    elif isinstance(column.type, sa.Enum):
        text = column  # no enum lookup per value
    else:
        return column
    return sa.type_coerce(text, sa.String).label(column.key)


def sqlite_float(value: Any) -> Any:
    """A REAL as Python's repr writes it: the fewest of 15, 16 or 17 significant digits that read
    back to the same value (SQLite's text has 15), `1e-07` rather than SQLite's `1.0e-07`."""
    digits = [sa.func.printf(f"%!.{n}g", value) for n in (15, 16)]
    shortest = sa.case(
        *((sa.cast(d, sa.Float) == value, d) for d in digits),
        else_=sa.func.printf("%!.17g", value),
    )
    return sa.func.replace(shortest, ".0e", "e")


def postgres_float(value: Any) -> Any:
    """A double as Python's repr writes it: PostgreSQL's text is the shortest exact one already
    but writes a whole number without its `.0` (below 1e15; from there on it writes `1e+15`, as
    Python does from 1e16: a difference no coordinate meets). Tested on the number, not the text:
    a regular expression per value cost more than the rest of the field."""
    text = sa.cast(value, sa.Text)
    whole = sa.and_(value == sa.func.floor(value), sa.func.abs(value) < 1e15)
    return sa.case((whole, cat(text, sa.literal(".0"))), else_=text)


def _sqlite_csv_text(value: Any) -> Any:
    """Text as the csv module writes it (QUOTE_MINIMAL): quoted when it holds a comma, a quote or
    a line break, its quotes doubled."""
    quoted = cat(sa.literal('"'), sa.func.replace(value, '"', '""'), sa.literal('"'))
    return sa.case((sa.func.glob('*[",\r\n]*', value), quoted), else_=value)


def _csv_piece(column: Any, kind: str) -> tuple[str, list[Any]]:
    """One CSV field as a piece of SQLite's printf format and its arguments: empty for NULL
    (printf's `%s` of NULL), numbers as Python writes them, text quoted as the csv module
    quotes it."""
    if kind == WRITTEN:
        return "%s", [column]
    if _not_null(column) and isinstance(column.type, sa.Uuid | UTCDateTime):
        # Folded into the line's own printf: no call and no string of their own.
        is_uuid = isinstance(column.type, sa.Uuid)
        return _sqlite_uuid_parts(column) if is_uuid else _sqlite_iso_parts(column)
    text = as_text(column, "sqlite")
    value = text.element if isinstance(text, sa.Label) else text
    if kind == FLOAT:
        return "%s", [_when_set(column, sqlite_float(value))]
    if kind == INT or isinstance(column.type, sa.Enum | sa.Uuid | UTCDateTime):
        return "%s", [value]  # digits, vocabulary, ids, ISO times: nothing to quote
    if kind != STR:
        raise ValueError(f"{kind} columns are written by Python (writers.delimited)")
    return "%s", [_sqlite_csv_text(value)]


def _party_fields() -> sa.CTE:
    """SQLite: each party's id, code and name as CSV fields, written once per query (a handful of
    parties) instead of once per row that names them."""
    p = Party.__table__
    fields = sa.select(
        p.c.id.label("key"),
        _sqlite_printed(*_sqlite_uuid_parts(p.c.id)).label("id"),
        _sqlite_csv_text(p.c.code).label("code"),
        _sqlite_csv_text(p.c.name).label("name"),
    )
    return fields.cte("party_fields").prefix_with("MATERIALIZED")


def written_parties(
    stmt: sa.Select[Any], columns: Sequence[Any], kinds: Sequence[str]
) -> tuple[sa.Select[Any], list[Any], list[str]]:
    """SQLite: the statement and its columns with each joined party's id, code and name taken
    from `_party_fields` (joined to that party), as fields written already (`WRITTEN`): three ids
    to dash and five texts to check per incident were a quarter of its line's cost."""
    parties: sa.CTE | None = None
    joined: dict[str, Any] = {}
    out_columns, out_kinds = [], []
    for column, kind in zip(columns, kinds, strict=True):
        inner = column.element if isinstance(column, sa.Label) else column
        table = getattr(inner, "table", None)
        is_party = isinstance(table, sa.Alias) and getattr(table.element, "name", None) == "party"
        if not (is_party and inner.key in ("id", "code", "name")):
            out_columns.append(column)
            out_kinds.append(kind)
            continue
        if table.name not in joined:
            parties = _party_fields() if parties is None else parties
            fields = parties.alias(f"{table.name}_fields")
            stmt = stmt.outerjoin(fields, fields.c.key == table.c.id)
            joined[table.name] = fields
        out_columns.append(joined[table.name].c[inner.key])
        out_kinds.append(WRITTEN)
    return stmt, out_columns, out_kinds


def csv_line(columns: Sequence[Any], kinds: Sequence[str]) -> Any:
    """SQLite: the CSV line (without its line end) of the selected `columns`, of the export types
    `kinds`, as one printf (a few when there are more arguments than a call takes)."""
    calls, form, args = [], [], []
    for n, (column, kind) in enumerate(zip(columns, kinds, strict=True)):
        piece, piece_args = _csv_piece(column, kind)
        if len(args) + len(piece_args) > _MAX_ARGS:
            calls.append(sa.func.printf("".join(form), *args))
            form, args = [], []
        form.append(("," if n else "") + piece)
        args.extend(piece_args)
    calls.append(sa.func.printf("".join(form), *args))
    return cat(*calls) if len(calls) > 1 else sa.type_coerce(calls[0], sa.String)


def copy_columns(columns: Sequence[Any], exported: Sequence[Column]) -> list[Any]:
    """PostgreSQL: the columns for `COPY (...) TO STDOUT (FORMAT csv)` to write the csv module's
    fields: COPY quotes as the csv module does (a comma, a quote, CR or LF) but writes an empty
    text as `""`, so empty text goes as NULL (written empty); times as ISO text; floats with the
    `.0` of a whole number."""
    out = []
    for column, c in zip(columns, exported, strict=True):
        if isinstance(column.type, UTCDateTime):
            value = _postgres_iso(column)
        elif c.type == FLOAT:
            value = postgres_float(column)
        elif c.type == STR and not isinstance(column.type, sa.Enum | sa.Uuid):
            value = sa.func.nullif(column, "")
        elif c.type in (STR, INT):
            value = column  # ids, vocabulary, digits: written as they are
        else:
            raise ValueError(f"{c.type} columns are written by Python (writers.delimited)")
        out.append(sa.type_coerce(value, sa.String).label(c.name))
    return out


def _sqlite_json_number(value: Any) -> Any:
    """A REAL as a JSON number with Python's digits (json_object's own text has only 15)."""
    return sa.func.json(sqlite_float(value))


def _text_of(value: Any) -> Any:
    return value.element if isinstance(value, sa.Label) else value


def geojson_feature(columns: Sequence[Any], exported: Sequence[Column], dialect: str) -> Any:
    """One RFC 7946 Feature as JSON text, byte for byte as writers.geojson writes it (compact,
    keys in order): the first column as its `id`, a Point at [longitude, latitude] (null when
    either is missing), the other columns as its properties, ids and times as text, floats with
    Python's digits. SQLite: json_object; PostgreSQL: the text put together with to_json for
    text values (json_build_object was twice as slow, and writes spaces)."""
    names = [c.name for c in exported]
    lat, lon = columns[names.index("latitude")], columns[names.index("longitude")]
    shown = [
        (col, c)
        for col, c in zip(columns, exported, strict=True)
        if col is not lat and col is not lon
    ]
    for _column, c in shown:
        if c.type not in (STR, INT, FLOAT) and c.type != DATETIME:
            raise ValueError(f"{c.type} columns are written by Python (writers.geojson)")
    if dialect == "sqlite":
        return _sqlite_feature(columns[0], lat, lon, shown)
    return _postgres_feature((columns[0], exported[0]), lat, lon, shown)


def _sqlite_feature(first: Any, lat: Any, lon: Any, shown: list[tuple[Any, Column]]) -> Any:
    properties: list[Any] = []
    for column, c in shown:
        if c.type == FLOAT:
            value = _when_set(column, _sqlite_json_number(column))
        else:
            value = _text_of(as_text(column, "sqlite"))
        properties += [sa.literal_column(f"'{c.name}'"), value]
    if len(properties) > _MAX_ARGS:
        raise ValueError("too many properties for one json_object call")
    point = sa.func.json_object(
        sa.literal_column("'type'"), sa.literal_column("'Point'"),
        sa.literal_column("'coordinates'"),
        sa.func.json_array(_sqlite_json_number(lon), _sqlite_json_number(lat)),
    )  # fmt: skip
    if not (_not_null(lat) and _not_null(lon)):
        # A CASE drops the JSON subtype (the point would be quoted as text); json() restores it.
        point = sa.func.json(sa.case((sa.or_(lat.is_(None), lon.is_(None)), None), else_=point))
    feature = sa.func.json_object(
        sa.literal_column("'type'"), sa.literal_column("'Feature'"),
        sa.literal_column("'id'"), _text_of(as_text(first, "sqlite")),
        sa.literal_column("'geometry'"), point,
        sa.literal_column("'properties'"), sa.func.json_object(*properties),
    )  # fmt: skip
    return sa.type_coerce(feature, sa.String)


def _json_literal(text: str) -> Any:
    return sa.literal_column("'" + text.replace("'", "''") + "'")


def _postgres_json(column: Any, c: Column) -> Any:
    """A property's value as JSON text: null, a number, or a string (to_json escapes it as
    Python's json module does: quotes, backslashes and control characters)."""
    if c.type == FLOAT:
        value = postgres_float(column)
    elif c.type == INT:
        value = sa.cast(column, sa.Text)
    elif isinstance(column.type, sa.Uuid | sa.Enum | UTCDateTime):  # nothing to escape
        value = cat(sa.literal_column("'\"'"), _text_of(as_text(column, "postgresql")),
                    sa.literal_column("'\"'"))  # fmt: skip
    else:
        value = sa.cast(sa.func.to_json(column), sa.Text)
    return value if _not_null(column) else sa.func.coalesce(value, sa.literal_column("'null'"))


def _postgres_feature(
    first: tuple[Any, Column], lat: Any, lon: Any, shown: list[tuple[Any, Column]]
) -> Any:
    point = sa.func.concat(
        _json_literal('{"type":"Point","coordinates":['), postgres_float(lon),
        _json_literal(","), postgres_float(lat), _json_literal("]}"),
    )  # fmt: skip
    if not (_not_null(lat) and _not_null(lon)):
        point = sa.case((sa.or_(lat.is_(None), lon.is_(None)), "null"), else_=point)
    parts: list[Any] = [
        _json_literal('{"type":"Feature","id":'), _postgres_json(*first),
        _json_literal(',"geometry":'), point, _json_literal(',"properties":{'),
    ]  # fmt: skip
    for n, (column, c) in enumerate(shown):
        parts += [_json_literal(("," if n else "") + f'"{c.name}":'), _postgres_json(column, c)]
    parts.append(_json_literal("}}"))
    chunks = [sa.func.concat(*parts[i : i + _MAX_ARGS]) for i in range(0, len(parts), _MAX_ARGS)]
    return sa.type_coerce(cat(*chunks) if len(chunks) > 1 else chunks[0], sa.String)
