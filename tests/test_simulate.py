"""`peacewatch simulate` against a real server: records appear, re-sends come back as replays and
never make a second row."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from backend.audit.service import verify_chain
from backend.auth import service as token_service
from backend.config import Settings
from backend.db import Database
from backend.demo.seed import seed
from backend.demo.simulate import Simulator
from backend.vocab import Role
from tests.helpers import ThreadServer, free_port, today

BIN = Path(sys.executable).with_name("peacewatch")


@pytest.fixture
def server(settings: Settings, db: Database) -> Iterator[ThreadServer]:
    seed(db, today=today())
    with ThreadServer(settings) as running:
        yield running


def _token(db: Database, name: str, role: Role) -> str:
    with db.session() as session:
        _, secret = token_service.create_token(session=session, name=name, role=role)
    return secret


def _ids(db: Database, sql: str, **params: Any) -> list[str]:
    with db.engine.connect() as conn:
        return [str(uuid.UUID(str(v))) for v in conn.execute(sa.text(sql), params).scalars()]


def test_the_simulator_creates_records_and_replays_never_duplicate(db, server):
    reporter = _token(db, "sim-reporter", Role.reporter)
    analyst = _token(db, "sim-analyst", Role.analyst)
    lines: list[str] = []
    enough = threading.Event()

    def say(line: str) -> None:
        # Stop after 80 records rather than after a set time: a database slowed by whatever
        # else shares the machine (a commit can wait seconds behind another database's bulk
        # load on a shared PostgreSQL server) must not make the count the test expects.
        lines.append(line)
        sent = re.match(r"simulator: (\d+) records sent", line)
        if sent and int(sent.group(1)) >= 80:
            enough.set()

    simulator = Simulator(
        url=server.url,
        reporter_token=reporter,
        analyst_token=analyst,
        rate_per_minute=1500,
        duration_s=90,
        seed=11,
        every=20,
        say=say,
        stop=enough,
    )
    tally = simulator.run()
    assert enough.is_set(), f"80 records not sent in 90 s: {tally.line()}"

    counts = tally.counts
    assert counts["created"] >= 40, tally.line()
    assert counts["replayed"] >= 1, tally.line()
    assert counts["failed"] == 0
    assert counts["conflict"] == 0
    assert any(line.startswith("simulator: 20 records sent") for line in lines), lines

    # One row per id the server said it created: re-sends and outbox twins made nothing new.
    incidents = _ids(db, "SELECT id FROM incident WHERE reported_by = 'sim-reporter'")
    milestones = _ids(db, "SELECT id FROM ddr_milestone WHERE reported_by = 'sim-reporter'")
    steps = _ids(db, "SELECT id FROM verification_event WHERE recorded_by = 'sim-analyst'")
    assert len(incidents) == len(set(incidents)) == len(tally.created_ids["incident"])
    assert set(incidents) == tally.created_ids["incident"]
    assert set(milestones) == tally.created_ids.get("ddr_milestone", set())
    assert set(steps) == tally.created_ids.get("verification_event", set())
    assert steps, "the analyst verified nothing"
    created = set().union(*tally.created_ids.values())
    assert tally.replayed_ids <= created
    assert counts["created"] == len(created)

    # The analyst moved reports along, including the demo's waiting ones.
    moved = _ids(
        db,
        "SELECT DISTINCT incident_id FROM verification_event WHERE recorded_by = 'sim-analyst' "
        "AND incident_id IS NOT NULL",
    )
    assert moved
    with db.session(write=False) as session:
        assert verify_chain(session=session).ok


def test_the_command_makes_its_tokens_and_prints_a_summary(db, server, database_url):
    env = {**os.environ, "PEACEWATCH_DATABASE_URL": database_url}
    done = subprocess.run(
        [str(BIN), "simulate", "--url", server.url, "--rate", "600", "--duration", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = done.stderr.strip().splitlines()[-1]
    assert summary.startswith("simulator done:"), done.stderr
    created = int(summary.split("created ")[1].split(",")[0])
    assert created > 0
    with db.engine.connect() as conn:
        names = conn.execute(sa.text("SELECT name, role FROM api_token")).all()
    assert {role for name, role in names if name.startswith("simulator-")} == {
        "reporter",
        "analyst",
    }
    reporter = next(n for n, r in names if n.startswith("simulator-") and r == "reporter")
    analyst = next(n for n, r in names if n.startswith("simulator-") and r == "analyst")
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM incident WHERE reported_by = :r) "
                "+ (SELECT count(*) FROM ddr_milestone WHERE reported_by = :r) "
                "+ (SELECT count(*) FROM verification_event WHERE recorded_by = :a)"
            ),
            {"r": reporter, "a": analyst},
        ).scalar_one()
    assert rows == created


def test_the_command_gives_up_when_no_server_answers(database_url):
    env = {**os.environ, "PEACEWATCH_DATABASE_URL": database_url}
    done = subprocess.run(
        [str(BIN), "simulate", "--url", f"http://127.0.0.1:{free_port()}", "--wait", "0.5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "no server answers" in done.stderr
