"""The formats: CSV, HXL and GeoJSON streamed batch by batch; XLSX in XlsxWriter's constant-memory
mode. Each writer takes the columns and an iterator of row batches (backend.exports.kinds)."""

from __future__ import annotations

import csv
import io
import json
import math
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from backend.exports.kinds import BOOL, DATE, DATETIME, FLOAT, INT, Column

Batches = Iterable[Sequence[tuple[Any, ...]]]

# Excel's limit of rows on a sheet, the header included; beyond it the export is refused.
EXCEL_MAX_ROWS = 1_048_576


class ExcelRowLimit(Exception):
    """More rows than a sheet holds; the caller turns it into a 4xx pointing to CSV."""

    def __init__(self, rows: int, limit: int) -> None:
        super().__init__(f"{rows} rows do not fit on an Excel sheet ({limit - 1} at most)")
        self.rows = rows
        self.limit = limit


def _text(value: Any) -> Any:
    """A cell of CSV/HXL: ISO 8601 times (UTC, with offset), `true`/`false`, empty for none."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return value.value
    return value


def delimited(
    columns: Sequence[Column], batches: Batches, *, hashtags: bool = False
) -> Iterator[bytes]:
    """CSV (RFC 4180, UTF-8, CRLF) with a header row, and for HXL the hashtag row under it.

    The header is yielded before any row is read, so the first byte goes out at once."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    yield _header(columns, hashtags)
    # The csv module writes None as empty and dates as ISO already, and times arrive as ISO text
    # (backend.exports.reading); only booleans need converting.
    special = [i for i, c in enumerate(columns) if c.type == BOOL]
    for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        if not special:
            writer.writerows(batch)
        else:
            for row in batch:
                values = list(row)
                for i in special:
                    value = values[i]
                    if value is not None and value.__class__ is not str:
                        values[i] = _text(value)
                writer.writerow(values)
        yield buffer.getvalue().encode()


def _header(columns: Sequence[Column], hashtags: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    if hashtags:
        writer.writerow([c.tag for c in columns])
    return buffer.getvalue().encode()


def delimited_text(
    columns: Sequence[Column], batches: Iterable[bytes], *, hashtags: bool = False
) -> Iterator[bytes]:
    """The same file as `delimited`, from records the database wrote already (each batch's CSV
    records, CRLF-ended: backend.exports.reading.read_csv_text): the header at once, then each
    batch as it comes."""
    yield _header(columns, hashtags)
    yield from batches


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def geojson(columns: Sequence[Column], batches: Batches) -> Iterator[bytes]:
    """An RFC 7946 FeatureCollection: WGS 84, [longitude, latitude], no `crs` member; a record
    without coordinates has a null geometry. Streamed batch by batch.

    Ids, times and vocabulary arrive as text (backend.exports.reading), so a feature's properties
    go to the JSON encoder as they are; only dates, booleans and floats (not finite: null) are
    converted, value by value."""
    names = [c.name for c in columns]
    lat, lon = names.index("latitude"), names.index("longitude")
    props = [i for i in range(len(names)) if i not in (lat, lon)]
    prop_names = [names[i] for i in props]
    values = operator.itemgetter(*props)
    converted = [(names[i], _json_value) for i in props if columns[i].type in (DATE, BOOL, FLOAT)]
    yield b'{"type":"FeatureCollection","features":['
    first = True
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for batch in batches:
        features = []
        for row in batch:
            y, x = row[lat], row[lon]
            properties = dict(zip(prop_names, values(row), strict=True))
            for name, convert in converted:
                properties[name] = convert(properties[name])
            features.append(
                {
                    "type": "Feature",
                    "id": row[0],
                    "geometry": None
                    if x is None or y is None
                    else {"type": "Point", "coordinates": [x, y]},
                    "properties": properties,
                }
            )
        if features:
            body = dumps(features)[1:-1]  # one encoder call per batch, without its brackets
            yield ((b"" if first else b",") + body.encode())
            first = False
    yield b"]}"


def geojson_text(batches: Iterable[bytes]) -> Iterator[bytes]:
    """The same FeatureCollection as `geojson`, from features the database wrote already (each
    batch's features, comma-separated: backend.exports.reading.read_geojson_text)."""
    yield b'{"type":"FeatureCollection","features":['
    for n, batch in enumerate(batches):
        yield batch if n == 0 else b"," + batch
    yield b"]}"


def _naive_utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # ISO 8601 text, as read from SQLite
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).replace(tzinfo=None)


def _xlsx_cell(column: Column) -> Callable[[Any], Any]:
    if column.type == DATETIME:
        # XlsxWriter writes naive times; every time here is UTC, as the header says.
        return _naive_utc
    if column.type == BOOL:
        return lambda v: None if v is None else bool(v)
    if column.type in (INT, FLOAT, DATE):
        return lambda v: v
    return lambda v: None if v is None else (v.value if isinstance(v, Enum) else str(v))


def xlsx(
    path: Path,
    sheets: Sequence[tuple[str, Sequence[Column], Batches]],
    notes: Sequence[tuple[str, str]],
) -> None:
    """An XLSX file at `path`: one sheet per record kind with typed cells, the header frozen and
    an autofilter over it, and a last sheet `about` with the export's notes.

    Constant-memory mode writes each row to disk as it comes, so rows must come in order and
    memory does not grow with them."""
    import xlsxwriter

    book = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_numbers": False, "strings_to_urls": False}
    )
    try:
        bold = book.add_format({"bold": True, "bg_color": "#DCE6F1", "bottom": 1})
        formats = {
            DATETIME: book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            DATE: book.add_format({"num_format": "yyyy-mm-dd"}),
        }
        for title, columns, batches in sheets:
            sheet = book.add_worksheet(title[:31])
            for x, c in enumerate(columns):
                name = c.name + (" (UTC)" if c.type == DATETIME else "")
                sheet.write_string(0, x, name, bold)
                sheet.set_column(x, x, 20 if c.type in (DATETIME, DATE) else max(10, len(name) + 2))
            sheet.freeze_panes(1, 0)
            cells = [_xlsx_cell(c) for c in columns]
            kinds = [c.type for c in columns]
            y = 0
            for batch in batches:
                for row in batch:
                    y += 1
                    if y >= EXCEL_MAX_ROWS:
                        raise ExcelRowLimit(y, EXCEL_MAX_ROWS)
                    for x, (cell, kind, value) in enumerate(zip(cells, kinds, row, strict=True)):
                        v = cell(value)
                        if v is None:
                            continue
                        if kind in formats:
                            sheet.write_datetime(y, x, v, formats[kind])
                        elif kind == BOOL:
                            sheet.write_boolean(y, x, v)
                        elif kind in (INT, FLOAT):
                            sheet.write_number(y, x, v)
                        else:
                            sheet.write_string(y, x, v)
            sheet.autofilter(0, 0, max(y, 1), len(columns) - 1)
        about = book.add_worksheet("about")
        about.write_row(0, 0, ["item", "value"], bold)
        for y, (key, value) in enumerate(notes, start=1):
            about.write_string(y, 0, key)
            about.write_string(y, 1, value)
        about.set_column(0, 0, 22)
        about.set_column(1, 1, 80)
    finally:
        book.close()
