"""`peacewatch demo` and `peacewatch simulate`."""

from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from backend.config import Settings
from backend.db import Database
from backend.demo.generate import DEFAULT_SEED
from backend.errors import DomainError

err = Console(stderr=True)

# `demo --if-new` exits with this when the database is not new (it is left alone).
NOT_NEW_EXIT = 10


def demo_command(
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives the same records")
    ] = DEFAULT_SEED,
    force: Annotated[bool, typer.Option(help="Seed even if the database has records")] = False,
    if_new: Annotated[
        bool,
        typer.Option(
            help=f"Seed only a new database (no records, no tokens); else exit {NOT_NEW_EXIT} "
            "and change nothing (make run uses it)"
        ),
    ] = False,
    anchor: Annotated[
        datetime | None,
        typer.Option(
            help="The day after the mission's last (default: today, UTC)", formats=["%Y-%m-%d"]
        ),
    ] = None,
) -> None:
    """Seed a FICTIONAL demo mission: parties, agreements, DDR, diplomacy and ~18 months of incidents."""
    from backend.cli import _fail, _require_current_schema
    from backend.demo import seed as seeding

    today: date | None = anchor.date() if anchor else None
    db = Database(Settings())
    try:
        _require_current_schema(db)
        if if_new:
            with db.session(write=False) as session:
                if not seeding.is_new(session):
                    err.print(
                        "existing database: the demo mission is not seeded (it is left alone)"
                    )
                    raise typer.Exit(NOT_NEW_EXIT)
        started = time.perf_counter()
        try:
            written = seeding.seed(db, seed=seed, today=today, force=force)
        except DomainError as exc:
            raise _fail(exc.message) from None
        elapsed = time.perf_counter() - started
    finally:
        db.dispose()
    table = Table("records", "rows", title="Demo mission — fictional")
    for name, rows in sorted(written.items()):
        table.add_row(name, str(rows))
    err.print(table)
    err.print(
        f"seed {seed}: seeded in {elapsed:.1f}s, ending {(today or datetime.now(UTC).date()).isoformat()}; "
        "every name in it is invented"
    )


def simulate_command(
    rate: Annotated[
        float, typer.Option(help="Records sent per minute (re-sends come on top)", min=0.1)
    ] = 30,
    duration: Annotated[
        float | None, typer.Option(help="Seconds to run (default: until Ctrl-C or SIGTERM)", min=0)
    ] = None,
    url: Annotated[str, typer.Option(help="The server's base URL")] = "http://127.0.0.1:8000",
    reporter_token: Annotated[
        str | None,
        typer.Option(envvar="PEACEWATCH_SIM_REPORTER_TOKEN", help="Default: made in the database"),
    ] = None,
    analyst_token: Annotated[
        str | None,
        typer.Option(envvar="PEACEWATCH_SIM_ANALYST_TOKEN", help="Default: made in the database"),
    ] = None,
    every: Annotated[int, typer.Option(help="Print a progress line every N records", min=1)] = 25,
    seed: Annotated[int | None, typer.Option(help="Random seed of the simulator")] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the server to answer")] = 60,
) -> None:
    """Post plausible field reports, verifications and DDR milestones through the public API."""
    from backend.demo.client import normalise_url, wait_until_up
    from backend.demo.simulate import Simulator

    url = normalise_url(url)
    # The server first: a new server makes the first admin's token only if no token exists yet.
    if not wait_until_up(url, wait):
        err.print(f"[red]error:[/red] no server answers at {url}/healthz (waited {wait:.0f}s)")
        raise typer.Exit(1)
    if not reporter_token or not analyst_token:
        reporter_token, analyst_token = _tokens(reporter_token, analyst_token)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    say(
        f"simulator: {rate:g} records a minute to {url}"
        + (f" for {duration:g}s" if duration else "")
    )
    simulator = Simulator(
        url=url,
        reporter_token=reporter_token,
        analyst_token=analyst_token,
        rate_per_minute=rate,
        duration_s=duration,
        seed=seed,
        every=every,
        say=say,
        stop=stop,
    )
    try:
        tally = simulator.run()
    except KeyboardInterrupt:
        stop.set()
        tally = simulator.tally
    say(f"simulator done: {tally.sent} records sent: {tally.line()}")


def _tokens(reporter: str | None, analyst: str | None) -> tuple[str, str]:
    """Tokens for the simulated teams, made in the database of PEACEWATCH_DATABASE_URL."""
    from backend.auth import service as tokens
    from backend.vocab import Role

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    db = Database(Settings())
    try:
        with db.session() as session:
            if not reporter:
                _, reporter = tokens.create_token(
                    session=session, name=f"simulator-reporter-{stamp}", role=Role.reporter
                )
            if not analyst:
                _, analyst = tokens.create_token(
                    session=session, name=f"simulator-analyst-{stamp}", role=Role.analyst
                )
    finally:
        db.dispose()
    err.print(f"simulator tokens made: simulator-reporter-{stamp}, simulator-analyst-{stamp}")
    return reporter, analyst
