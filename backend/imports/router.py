"""/api/v1/imports/{source}: an admin uploads an ACLED or UCDP CSV export as the request body."""

from __future__ import annotations

import io
from contextlib import nullcontext
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from backend.auth.permissions import Permission
from backend.auth.service import Principal
from backend.deps import SessionDep, requires
from backend.errors import NotFound
from backend.imports.models import ImportReport
from backend.imports.service import Source, import_events
from backend.schemas import responses

router = APIRouter(prefix="/imports", tags=["imports"])

Importer = Annotated[Principal, requires(Permission.import_data)]


async def _body(request: Request) -> bytes:
    return await request.body()


def _source(
    source: Annotated[
        str, Path(description="`acled` or `ucdp`", json_schema_extra={"enum": list(Source)})
    ],
) -> Source:
    try:
        return Source(source.lower())
    except ValueError:
        names = ", ".join(s.value for s in Source)
        raise NotFound(f"no importer for '{source}'; the sources are {names}") from None


@router.post(
    "/{source}",
    response_model=ImportReport,
    responses=responses(403, 404),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The CSV file as it was downloaded (any encoding, HXL row or not)",
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def import_file(
    principal: Importer,
    source: Annotated[Source, Depends(_source)],
    session: SessionDep,
    body: Annotated[bytes, Depends(_body)],
    create_parties: Annotated[
        bool, Query(description="Make a party for each armed actor no name or alias matches")
    ] = False,
) -> ImportReport:
    """Import a dataset's events as incidents, in this request's one transaction.

    Rows that cannot be imported are listed with their line and reason; they never stop the
    import. For files over the upload limit, use `peacewatch import` on the server.
    """
    return import_events(
        sessions=lambda: nullcontext(session),
        source=source,
        chunks=io.BytesIO(body),
        create_parties=create_parties,
        reported_by=principal.name,
    )
