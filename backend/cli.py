"""The `peacewatch` command."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from backend.auth import service as tokens
from backend.config import Settings
from backend.db import Database
from backend.demo.cli import demo_command, simulate_command
from backend.errors import DomainError
from backend.exports.cli import brief_command, export_command
from backend.imports.cli import import_app
from backend.ops.cli import backup_command, restore_command
from backend.vocab import Role

app = typer.Typer(no_args_is_help=True, help="PeaceWatch: ceasefire, DDR and diplomacy monitoring.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema migrations.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens: create, list, revoke.")
app.add_typer(db_app, name="db")
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit trail.")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.command("demo")(demo_command)
app.command("simulate")(simulate_command)
app.add_typer(import_app, name="import")
app.command("export")(export_command)
app.command("brief")(brief_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
metrics_app = typer.Typer(no_args_is_help=True, help="The measures' rollup tables.")
app.add_typer(metrics_app, name="metrics")

err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _database() -> Database:
    return Database(Settings())


def _require_current_schema(db: Database) -> None:
    from backend.migrate import SchemaNotCurrent, require_current

    try:
        require_current(db)
    except SchemaNotCurrent as exc:
        raise _fail(str(exc)) from None


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations (to the newest schema by default)."""
    from backend.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url, revision)
    err.print(f"schema upgraded to {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION (`base` empties the database)."""
    from backend.migrate import downgrade

    downgrade(Settings().database_url, revision)
    err.print(f"schema downgraded to {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's schema revision and the newest one."""
    from backend.migrate import pending

    db = _database()
    try:
        current, head = pending(db)
    finally:
        db.dispose()
    print(f"current: {current or 'empty'}\nhead:    {head}")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who holds it, e.g. `patrol-sector-2`")],
    role: Annotated[Role, typer.Option(help="reporter, analyst, viewer or admin")],
    expires: Annotated[
        datetime | None, typer.Option(help="Expiry (ISO 8601, UTC if no offset)")
    ] = None,
) -> None:
    """Make a token. The secret is printed once, alone on the last line."""
    from datetime import UTC

    expires_at = expires.replace(tzinfo=expires.tzinfo or UTC) if expires else None
    db = _database()
    try:
        with db.session() as session:
            token, secret = tokens.create_token(
                session=session, name=name, role=role, expires_at=expires_at
            )
    except DomainError as exc:
        raise _fail(exc.message) from None
    finally:
        db.dispose()
    err.print(f"token '{token.name}' ({token.role.value}) created; it is shown only now:")
    print(secret)


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    db = _database()
    try:
        with db.session(write=False) as session:
            rows = tokens.list_tokens(session=session)
    finally:
        db.dispose()
    table = Table("name", "role", "created", "expires", "revoked")
    for t in rows:
        table.add_row(
            t.name,
            t.role.value,
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    Console().print(table)


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    """Revoke the token NAME at once."""
    db = _database()
    try:
        with db.session() as session:
            tokens.revoke_token(session=session, name=name)
    except DomainError as exc:
        raise _fail(exc.message) from None
    finally:
        db.dispose()
    err.print(f"token '{name}' revoked")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming the first entry altered, removed or reordered."""
    from backend.audit.service import verify_chain

    db = _database()
    try:
        with db.session(write=False) as session:
            report = verify_chain(session=session)
    finally:
        db.dispose()
    if not report.ok:
        raise _fail(f"audit chain broken at entry {report.first_bad_seq}: {report.problem}")
    print(f"audit chain intact: {report.count} entries, head {report.head_hash}")


@metrics_app.command("rebuild")
def metrics_rebuild() -> None:
    """Recompute the metrics rollups from the raw incidents, in one transaction."""
    from backend.metrics.rollups import rebuild

    db = _database()
    try:
        _require_current_schema(db)
        with db.session() as session:
            counts = rebuild(session, progress=lambda text: err.print(f"  {text}"))
    finally:
        db.dispose()
    print("rollups rebuilt: " + ", ".join(f"{t} {n:,} rows" for t, n in counts.items()))


@audit_app.command("export")
def audit_export(
    output: Annotated[typer.FileTextWrite, typer.Option("--output", "-o")] = "-",  # type: ignore[assignment]
) -> None:
    """Write the chain's head and count as JSON, for a briefing to quote."""
    import json

    from backend.audit.service import verify_chain
    from backend.db import utcnow

    db = _database()
    try:
        with db.session(write=False) as session:
            report = verify_chain(session=session)
    finally:
        db.dispose()
    output.write(
        json.dumps(
            {
                "verified": report.ok,
                "entries": report.count,
                "head_seq": report.head_seq,
                "head_hash": report.head_hash,
                "problem": report.problem,
                "exported_at": utcnow().isoformat(),
            },
            indent=2,
        )
        + "\n"
    )
    if not report.ok:
        raise typer.Exit(1)


def _first_admin(db: Database, host: str, port: int) -> None:
    """On a new database, make the first admin's token and say how to sign in (as Jupyter does)."""
    with db.session() as session:
        if tokens.has_tokens(session=session):
            return
        _, secret = tokens.create_token(session=session, name="admin", role=Role.admin)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - only compared
    # Plain print, not rich: the lines must never wrap, so they can be pasted from any log.
    print(
        "\nNew database: a token was made for the first admin (shown once, keep it):\n"
        f"    {secret}\n"
        f"Dashboard: http://{shown}:{port}/signin?token={secret}\n"
        f"API docs:  http://{shown}:{port}/docs  (Authorize, then paste the token)\n"
        f'Try it:    curl -H "Authorization: Bearer {secret}" http://{shown}:{port}/api/v1/parties\n',
        file=sys.stderr,
        flush=True,
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="PEACEWATCH_WORKERS",
            help="Server processes; more than one needs PostgreSQL (docs/deployment.md)",
        ),
    ] = 1,
) -> None:
    """Serve the API and the dashboard. The schema must be migrated first."""
    import uvicorn

    settings = Settings()
    if workers > 1 and settings.is_sqlite:
        raise _fail(_SQLITE_WORKERS.format(workers=workers), code=2)
    db = Database(settings)
    try:
        _require_current_schema(db)
        _first_admin(db, host, port)
    finally:
        db.dispose()
    # Each worker checks the schema again as it starts (backend.migrate.check_at_startup), so a
    # worker that uvicorn restarts later never serves on a schema changed behind its back.
    level = settings.log_level.lower()
    if workers > 1:
        _serve_workers(host=host, port=port, workers=workers, log_level=level)
    else:
        from backend.app import create_app

        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            proxy_headers=True,
            log_level=level,
            timeout_graceful_shutdown=_GRACEFUL_S,
        )


def _serve_workers(*, host: str, port: int, workers: int, log_level: str) -> None:
    """uvicorn's own worker processes, each building the app with `create_app()` from the same
    environment. As `uvicorn.run` does, but a worker that failed to start (an old schema) makes
    the exit status 3 instead of 0, so that a supervisor sees the failure."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "backend.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level=log_level,
        timeout_graceful_shutdown=_GRACEFUL_S,
    )
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        raise _fail("a worker could not start (its error is above); stopped", code=STARTUP_FAILURE)


# Open live streams never end by themselves: on shutdown they get this long, then are closed.
_GRACEFUL_S = 5
_SQLITE_WORKERS = (
    "--workers {workers} needs PostgreSQL: on SQLite each worker would hear only its own commits, "
    "so live streams would miss records, and the workers would queue for one file's write lock. "
    "Serve with one worker, or set PEACEWATCH_DATABASE_URL=postgresql+psycopg://... "
    "(docs/deployment.md)"
)


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
