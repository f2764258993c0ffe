"""/api/v1/exports/{kind}.{format}: the records as files, streamed and redacted by role."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from backend.auth.service import Principal
from backend.db import Database
from backend.deps import DatabaseDep, Reader, SettingsDep
from backend.exports import service
from backend.exports.briefing import build_brief
from backend.exports.filters import ExportFilters
from backend.schemas import responses

router = APIRouter(tags=["exports"])

_DESCRIPTION = """Kinds: `incidents` (with their latest verification step), `verifications`,
`ddr_milestones` (with the target each counts toward), `track_activities`, `commitments`.
Formats: `csv` and `hxl` (CSV with the HXL hashtag row) and `geojson` (incidents and
verifications) are streamed, however many rows; `xlsx` is one sheet with typed cells, the header
frozen and an autofilter, refused (422) beyond Excel's 1,048,575 rows: use CSV.
An unknown kind or format, or GeoJSON of records without coordinates, is 404.
Times are ISO 8601 in UTC. A filter that does not apply to the kind is refused (422).
Viewers and reporters get only the records they may read through the API, without the reporter's
identity; every export is recorded in the audit trail."""


@router.get(
    "/exports/{kind}.{format}",
    responses={
        **responses(403, 404),
        200: {
            "content": {media: {} for media in set(service.MEDIA_TYPES.values())},
            "description": "The file",
        },
    },
    description=_DESCRIPTION,
    response_class=StreamingResponse,
    response_model=None,
)
def export(
    kind: str,
    format: str,
    filters: Annotated[ExportFilters, Query()],
    db: DatabaseDep,
    principal: Reader,
) -> StreamingResponse | FileResponse:
    return export_response(db, principal, kind, format, filters)


def export_response(
    db: Database,
    principal: Principal,
    kind: str,
    format: str,
    filters: ExportFilters,
    channel: str = "api",
) -> StreamingResponse | FileResponse:
    """The export as a response: checked and audited first, then streamed (XLSX from a temporary
    file). The API route and the dashboard's cookie-authenticated download both answer with it."""
    done = service.start_export(
        db=db,
        principal=principal,
        kind_name=kind,
        format_name=format,
        filters=filters,
        channel=channel,
    )
    headers = service.headers_of(done)
    if done.format is service.ExportFormat.xlsx:
        path = service.xlsx_tempfile(db, done)
        return FileResponse(
            path,
            media_type=done.media_type,
            headers=headers,
            background=BackgroundTask(path.unlink, missing_ok=True),
        )
    return StreamingResponse(
        service.open_stream(db, done), media_type=done.media_type, headers=headers
    )


@router.get(
    "/briefings/{period}.pdf",
    response_class=Response,
    responses={
        **responses(403, 404),
        200: {"content": {"application/pdf": {}}, "description": "The brief"},
    },
)
def briefing(
    period: str,
    db: DatabaseDep,
    settings: SettingsDep,
    principal: Reader,
    on: Annotated[
        date | None,
        Query(alias="date", description="Last day the brief covers (UTC); default: yesterday"),
    ] = None,
) -> Response:
    """The `daily` or `weekly` brief as a PDF of a few pages: headline figures with their change,
    a map and timeline of incidents, agreement implementation with the overdue commitments,
    compliance, trust and what moved it, DDR against targets, diplomacy, open alerts, the most
    serious incidents, the data's window and the audit chain's head. Counted over what the caller
    may read; recorded in the audit trail."""
    pdf, brief = build_brief(db=db, settings=settings, principal=principal, period=period, on=on)
    name = f"peacewatch-{brief.period}-brief-{brief.date_to.isoformat()}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Export-Id": brief.export_id,
            "Cache-Control": "no-store",
        },
    )
