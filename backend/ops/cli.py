"""`peacewatch backup PATH` and `peacewatch restore PATH`, with a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from backend.config import Settings
from backend.ops.backup import BackupError, Summary, backup, restore

err = Console(stderr=True)


@contextmanager
def _progress(title: str) -> Iterator[Callable[[int, int, str], None]]:
    bar = Progress(
        TextColumn(f"{title} [dim]{{task.fields[what]}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )
    tasks: list[TaskID] = []  # drawn from the first report: a refusal draws no empty bar

    def report(done: int, total: int, what: str) -> None:
        if not tasks:
            bar.start()
            tasks.append(bar.add_task(title, total=total, what=what))
        bar.update(tasks[0], completed=done, total=total, what=what)

    try:
        yield report
    finally:
        if tasks:
            bar.stop()


def _described(summary: Summary) -> str:
    return (
        f"{summary.path} ({summary.size_bytes / 2**20:,.1f} MiB): "
        f"{summary.tables} tables, {summary.rows:,} rows"
    )


def backup_command(
    path: Annotated[Path, typer.Argument(help="The backup file to write", dir_okay=False)],
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists")] = False,
) -> None:
    """Back up the database to PATH while the server keeps running (SQLite's online backup;
    pg_dump's custom format on PostgreSQL)."""
    settings = Settings()
    try:
        with _progress("backing up") as report:
            summary = backup(settings, path, force=force, on_progress=report)
    except BackupError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    print(f"backup written: {_described(summary)}")


def restore_command(
    path: Annotated[Path, typer.Argument(help="A file written by `peacewatch backup`")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that holds records")
    ] = False,
) -> None:
    """Restore the database from PATH. Stop the server first; a database that holds records is
    replaced only with --force."""
    settings = Settings()
    try:
        with _progress("restoring") as report:
            summary = restore(settings, path, force=force, on_progress=report)
    except BackupError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    print(f"restored from {_described(summary)}")
    _check_restored(settings)


def _check_restored(settings: Settings) -> None:
    """Say whether the restored database needs migrating, and whether its audit chain holds."""
    from backend.audit.service import verify_chain
    from backend.db import Database
    from backend.migrate import pending

    db = Database(settings)
    try:
        current, head = pending(db)
        if current != head:
            err.print(
                f"the backup's schema is at {current}, this version needs {head}: "
                "run `peacewatch db upgrade` before serving",
                soft_wrap=True,
            )
            return
        with db.session(write=False) as session:
            report = verify_chain(session=session)
    finally:
        db.dispose()
    if not report.ok:
        err.print(
            f"[red]audit chain broken at entry {report.first_bad_seq}:[/red] {report.problem}"
        )
        raise typer.Exit(1)
    print(f"audit chain intact: {report.count} entries, head {report.head_hash}")
