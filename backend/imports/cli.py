"""`peacewatch import acled|ucdp FILE`: the importers on the command line, with a progress bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from backend.config import Settings
from backend.db import Database
from backend.errors import DomainError
from backend.imports.models import ImportReport
from backend.imports.service import Source, import_events

import_app = typer.Typer(
    no_args_is_help=True, help="Import conflict-event history (ACLED, UCDP GED) as incidents."
)
err = Console(stderr=True)
SHOWN = 20  # rejections and changes printed; --report keeps the first 1000 of each

FileArg = Annotated[
    Path,
    typer.Argument(
        exists=True, dir_okay=False, readable=True, help="The CSV export, as downloaded"
    ),
]
CreateParties = Annotated[
    bool,
    typer.Option(
        "--create-parties",
        help="Make a party for each armed actor that no party's name or alias matches "
        "(otherwise such actors are left unlinked and counted)",
    ),
]
ReportOption = Annotated[
    Path | None, typer.Option("--report", help="Also write the full report as JSON to this file")
]


@import_app.command("acled")
def import_acled(file: FileArg, create_parties: CreateParties = False, report: ReportOption = None):
    """Import an ACLED export (current 31 columns or an older upper-case one)."""
    _run(Source.acled, file, create_parties, report)


@import_app.command("ucdp")
def import_ucdp(file: FileArg, create_parties: CreateParties = False, report: ReportOption = None):
    """Import a UCDP GED file (42 or 49 columns, with or without an HXL row)."""
    _run(Source.ucdp, file, create_parties, report)


def _run(source: Source, file: Path, create_parties: bool, report_path: Path | None) -> None:
    from backend.migrate import pending

    db = Database(Settings())
    try:
        current, head = pending(db)
        if current != head:
            err.print(
                f"[red]error:[/red] the database schema is at {current or 'nothing'} but this "
                f"version needs {head}; run `peacewatch db upgrade` first"
            )
            raise typer.Exit(1)
        report = _import_with_progress(db, source, file, create_parties)
    except DomainError as exc:
        err.print(f"[red]error:[/red] {file}: {exc.message}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    _print(report)
    if report_path is not None:
        report_path.write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
        err.print(f"full report written to {report_path}")


def _import_with_progress(
    db: Database, source: Source, file: Path, create_parties: bool
) -> ImportReport:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as progress, file.open("rb") as stream:
        task = progress.add_task(f"importing {file.name}", total=file.stat().st_size)
        pending_bytes = 0

        def advance(n: int) -> None:
            # Redraw every 256 KiB, not every line: a redraw costs more than parsing a row.
            nonlocal pending_bytes
            pending_bytes += n
            if pending_bytes >= 262_144:
                progress.advance(task, pending_bytes)
                pending_bytes = 0

        report = import_events(
            sessions=db.session,
            source=source,
            chunks=stream,
            create_parties=create_parties,
            reported_by="system",
            progress=advance,
        )
        progress.advance(task, pending_bytes)
    return report


def _print(report: ImportReport) -> None:
    out = Console()
    rate = report.rows / report.elapsed_s * 60 if report.elapsed_s else 0
    out.print(
        f"{report.source}: {report.rows} rows in {report.elapsed_s:.1f} s ({rate:,.0f} rows/min), "
        f"encoding {report.encoding}{', HXL row skipped' if report.hxl_tags else ''}"
    )
    summary = Table("created", "updated", "unchanged", "rejected")
    summary.add_row(
        *(str(n) for n in (report.created, report.updated, report.unchanged, report.rejected))
    )
    out.print(summary)
    if report.parties_created:
        out.print(
            f"parties created ({len(report.parties_created)}): " + ", ".join(report.parties_created)
        )
    if report.unlinked_actors:
        names = ", ".join(f"{n} ({c})" for n, c in list(report.unlinked_actor_names.items())[:10])
        out.print(
            f"[yellow]warning:[/yellow] {report.unlinked_actors} actor mentions matched no party "
            f"and were left unlinked: {names}. Add them as aliases of parties, or use "
            "--create-parties, and import again."
        )
    if report.changes:
        table = Table("line", "event", "changed", title="updated rows")
        for change in report.changes[:SHOWN]:
            fields = "; ".join(f"{k}: {old} -> {new}" for k, (old, new) in change.changes.items())
            table.add_row(str(change.line), change.external_id, fields)
        out.print(table)
        if report.updated > SHOWN:
            out.print(f"... and {report.updated - SHOWN} more updated rows (see --report)")
    if report.rejections:
        table = Table("line", "event", "reason", title="rejected rows")
        for problem in report.rejections[:SHOWN]:
            table.add_row(str(problem.line), problem.external_id or "", problem.reason)
        out.print(table)
        if report.rejected > SHOWN:
            out.print(f"... and {report.rejected - SHOWN} more rejected rows (see --report)")
