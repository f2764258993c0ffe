"""Exports: who may take what (redaction by role), the audit entry of each, and the files.

Redaction follows the one rule of reading (`visible_to`): a viewer's export holds `public` and
`restricted` incidents, never a `confidential` one; a reporter's holds their own reports and what
is `public`; analysts and admins, who read every record through the API, export every record.
The columns naming who reported or recorded a record (`reported_by`, `recorded_by`) go only to
analysts and admins. Verification events of an incident follow their incident's visibility.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from backend.audit.service import append, set_actor
from backend.auth.service import Principal
from backend.db import Database, utcnow
from backend.errors import DomainError, NotFound
from backend.exports import writers
from backend.exports.filters import ExportFilters
from backend.exports.kinds import KINDS, Context, Kind
from backend.exports.reading import (
    count_rows,
    read_batches,
    read_csv_text,
    read_geojson_text,
    text_in_sql,
)


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    geojson = "geojson"
    hxl = "hxl"


MEDIA_TYPES = {
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.hxl: "text/csv; charset=utf-8",
    ExportFormat.geojson: "application/geo+json",
    ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SUFFIXES = {
    ExportFormat.csv: "csv",
    ExportFormat.hxl: "hxl.csv",
    ExportFormat.geojson: "geojson",
    ExportFormat.xlsx: "xlsx",
}


class TooManyRowsForExcel(DomainError):
    status_code = 422


@dataclass(frozen=True, slots=True)
class Export:
    """One export, checked and recorded: what `open_stream` or `write_xlsx` then produce."""

    id: str
    kind: Kind
    format: ExportFormat
    context: Context
    filename: str
    rows: int | None = None  # counted beforehand for XLSX only

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise NotFound(
            f"no export kind '{name}'; one of: {', '.join(KINDS)}", field="kind"
        ) from None


def format_of(name: str) -> ExportFormat:
    try:
        return ExportFormat(name)
    except ValueError:
        known = ", ".join(f.value for f in ExportFormat)
        raise NotFound(f"no export format '{name}'; one of: {known}", field="format") from None


def start_export(
    *,
    db: Database,
    principal: Principal,
    kind_name: str,
    format_name: str,
    filters: ExportFilters,
    channel: str = "api",
) -> Export:
    """Check the request (kind, format, filters, Excel's row limit) and record it in the audit
    trail, in a short transaction of its own, before a byte is sent."""
    kind, fmt = kind_of(kind_name), format_of(format_name)
    if fmt is ExportFormat.geojson and not kind.geo:
        raise NotFound(
            f"{kind.name} have no coordinates, so there is no GeoJSON of them; "
            "use csv, xlsx or hxl",
            field="format",
        )
    ctx = Context(principal=principal, filters=filters, today=utcnow().date())
    kind.statement_for(ctx)  # a filter that does not apply is refused here, as a 422
    rows = None
    if fmt is ExportFormat.xlsx:
        with db.engine.connect() as conn:
            rows = count_rows(conn, kind, ctx)
        if rows + 1 > writers.EXCEL_MAX_ROWS:
            raise TooManyRowsForExcel(
                f"{rows} rows do not fit on an Excel sheet ({writers.EXCEL_MAX_ROWS - 1} at "
                f"most): export them as CSV (/api/v1/exports/{kind.name}.csv), which has no "
                "limit, or narrow the filters",
                field="format",
            )
    export_id = str(uuid.uuid4())
    record = {
        "kind": kind.name,
        "format": fmt.value,
        "by": principal.name,
        "role": principal.role.value,
        "filters": filters.used(),
        "channel": channel,
        "redacted": not principal.sees_everything,
    }
    if rows is not None:
        record["rows"] = rows
    with db.session() as session:
        set_actor(session, principal.name, principal.role.value)
        append(session, [("export", "export", export_id, record)])
    stamp = ctx.today.isoformat()
    return Export(
        id=export_id,
        kind=kind,
        format=fmt,
        context=ctx,
        filename=f"peacewatch-{kind.name}-{stamp}.{SUFFIXES[fmt]}",
        rows=rows,
    )


def open_stream(db: Database, export: Export, batch_size: int | None = None) -> Iterator[bytes]:
    """The bytes of a CSV, HXL or GeoJSON export, batch by batch."""
    kind, ctx = export.kind, export.context
    batch_size = batch_size or db.settings.export_batch_rows
    columns = kind.columns_for(ctx.principal)
    hashtags = export.format is ExportFormat.hxl
    if text_in_sql(db.engine, kind):  # the database writes the records (reading.py)
        if export.format is ExportFormat.geojson:
            return writers.geojson_text(read_geojson_text(db.engine, kind, ctx, batch_size))
        records = read_csv_text(db.engine, kind, ctx, batch_size)
        return writers.delimited_text(columns, records, hashtags=hashtags)
    batches = read_batches(db.engine, kind, ctx, batch_size)
    if export.format is ExportFormat.geojson:
        return writers.geojson(columns, batches)
    return writers.delimited(columns, batches, hashtags=hashtags)


def notes_of(export: Export) -> list[tuple[str, str]]:
    ctx = export.context
    used = export.context.filters.used()
    return [
        ("export id", export.id),
        ("kind", export.kind.name),
        ("exported at (UTC)", utcnow().isoformat()),
        ("exported by", f"{ctx.principal.name} ({ctx.principal.role.value})"),
        ("filters", ", ".join(f"{k}={v}" for k, v in used.items()) or "none"),
        (
            "redaction",
            "none: every record and field"
            if ctx.principal.sees_everything
            else "records this role may read only; reporter identities left out",
        ),
        ("times", "UTC"),
    ]


def write_xlsx(db: Database, export: Export, path: Path) -> None:
    kind, ctx = export.kind, export.context
    batches = read_batches(db.engine, kind, ctx, db.settings.export_batch_rows)
    writers.xlsx(path, [(kind.name, kind.columns_for(ctx.principal), batches)], notes_of(export))


def xlsx_tempfile(db: Database, export: Export) -> Path:
    """Write the XLSX to a temporary file (the caller deletes it once sent)."""
    with tempfile.NamedTemporaryFile(prefix="peacewatch-", suffix=".xlsx", delete=False) as f:
        path = Path(f.name)
    try:
        write_xlsx(db, export, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def export_to_file(
    *,
    db: Database,
    principal: Principal,
    kind_name: str,
    format_name: str,
    filters: ExportFilters,
    path: Path,
) -> Export:
    """The CLI's export: the same checks and audit entry as the API, written to `path`."""
    export = start_export(
        db=db,
        principal=principal,
        kind_name=kind_name,
        format_name=format_name,
        filters=filters,
        channel="cli",
    )
    if export.format is ExportFormat.xlsx:
        write_xlsx(db, export, path)
        return export
    with path.open("wb") as out:
        for chunk in open_stream(db, export):
            out.write(chunk)
    return export


def headers_of(export: Export) -> dict[str, Any]:
    return {
        "Content-Disposition": f'attachment; filename="{export.filename}"',
        "X-Export-Id": export.id,
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",
    }
