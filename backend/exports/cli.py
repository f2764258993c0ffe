"""`peacewatch export KIND FORMAT` and `peacewatch brief`: the API's exports and briefing from the
command line, with the same checks, redaction and audit entry."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from pydantic import ValidationError
from rich.console import Console

from backend.auth.service import Principal
from backend.config import Settings
from backend.db import Database
from backend.errors import DomainError
from backend.vocab import Role

err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


def _party_id(db: Database, party: str | None) -> str | None:
    """A party given by id or by code (`GOV`)."""
    if party is None:
        return None
    try:
        return str(uuid.UUID(party))
    except ValueError:
        pass
    from backend.parties.models import Party

    with db.engine.connect() as conn:
        found = conn.execute(sa.select(Party.id).where(Party.code == party)).scalar_one_or_none()
    if found is None:
        raise _fail(f"no party with code '{party}'; give its code or id")
    return str(found)


AsRole = Annotated[
    Role,
    typer.Option(
        "--as-role",
        help="Export as this role would see it: viewer and reporter exports are redacted",
    ),
]


def export_command(
    kind: Annotated[
        str,
        typer.Argument(
            help="incidents, verifications, ddr_milestones, track_activities, commitments"
        ),
    ],
    format: Annotated[str, typer.Argument(help="csv, xlsx, geojson or hxl")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write")],
    date_from: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    date_to: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    region: Annotated[str | None, typer.Option(help="Region (admin1)")] = None,
    party: Annotated[str | None, typer.Option(help="Party code or id")] = None,
    category: Annotated[list[str] | None, typer.Option(help="Repeat for several")] = None,
    finding: Annotated[list[str] | None, typer.Option(help="Repeat for several")] = None,
    status: Annotated[list[str] | None, typer.Option(help="Repeat for several")] = None,
    as_role: AsRole = Role.admin,
) -> None:
    """Export records to a file, as `GET /api/v1/exports/KIND.FORMAT` does (recorded in the audit
    trail as actor `cli`)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from backend.exports.filters import ExportFilters
    from backend.exports.service import export_to_file

    db = Database(Settings())
    try:
        given: dict[str, Any] = {
            "date_from": date_from.date() if date_from else None,
            "date_to": date_to.date() if date_to else None,
            "region": region,
            "party_id": _party_id(db, party),
            "category": category or [],
            "finding": finding or [],
            "status": status or [],
        }
        try:
            filters = ExportFilters(**{k: v for k, v in given.items() if v not in (None, [])})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise _fail(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
        ) as progress:
            progress.add_task(f"exporting {kind} as {format} to {output}", total=None)
            done = export_to_file(
                db=db,
                principal=Principal(name="cli", role=as_role),
                kind_name=kind,
                format_name=format,
                filters=filters,
                path=output,
            )
    except DomainError as exc:
        raise _fail(exc.message) from None
    finally:
        db.dispose()
    size = output.stat().st_size
    err.print(f"wrote {output} ({size:,} bytes); export {done.id} recorded in the audit trail")


def brief_command(
    period: Annotated[str, typer.Argument(help="daily or weekly")] = "daily",
    on: Annotated[
        datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="Last day covered (default: yesterday)"),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    as_role: AsRole = Role.admin,
) -> None:
    """Write the daily or weekly PDF brief, as `GET /api/v1/briefings/PERIOD.pdf` does."""
    from backend.exports.briefing import build_brief

    day: date | None = on.date() if on else None
    db = Database(Settings())
    try:
        with err.status(f"building the {period} brief"):
            pdf, brief = build_brief(
                db=db,
                settings=db.settings,
                principal=Principal(name="cli", role=as_role),
                period=period,
                on=day,
                channel="cli",
            )
    except DomainError as exc:
        raise _fail(exc.message) from None
    finally:
        db.dispose()
    path = output or Path(f"peacewatch-{period}-brief-{brief.date_to.isoformat()}.pdf")
    path.write_bytes(pdf)
    err.print(f"wrote {path} ({len(pdf):,} bytes, {brief.pages} pages)")
