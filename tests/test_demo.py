"""`peacewatch demo`: a fictional mission of the promised shape, the same for the same seed, that
refuses a used database, keeps the audit chain whole, and whose data tell the story."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from backend.audit.service import verify_chain
from backend.db import Database
from backend.demo import scenario
from backend.demo.cli import NOT_NEW_EXIT
from backend.demo.generate import by_table, generate
from backend.demo.seed import NotEmpty, seed
from backend.errors import Conflict
from backend.models import metadata
from tests.helpers import today

BIN = Path(sys.executable).with_name("peacewatch")
# Not records: who did what, tokens, idempotency keys, and the random stamps that tell the
# measures when commitments, parties and activities (metrics_source_version) or a month of
# violations (metrics_violation_stamp) changed.
SNAPSHOT_SKIP = {
    "audit_entry",
    "api_token",
    "idempotency_key",
    "metrics_source_version",
    "metrics_violation_stamp",
}


def scalar(db: Database, sql: str, **params: Any) -> Any:
    if db.dialect == "sqlite":  # stored as naive UTC text there
        params = {
            k: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v
            for k, v in params.items()
        }
    with db.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def party(db: Database, code: str) -> str:
    with db.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT id FROM party WHERE code = :c"), {"c": code}
        ).scalar_one()


def snapshot(db: Database) -> dict[str, list[tuple]]:
    """Every row of every record table, in a stable order."""
    out = {}
    with db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in SNAPSHOT_SKIP:
                continue
            rows = conn.execute(sa.select(table)).all()
            out[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return out


def wipe(db: Database) -> None:
    with db.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def test_the_demo_seeds_the_promised_shape(db):
    written = seed(db, today=today())
    counts = {
        name: scalar(db, f"SELECT count(*) FROM {name}")  # noqa: S608 - fixed names
        for name in written
    }
    assert counts == written
    assert counts["party"] == 5
    assert counts["agreement"] == 2
    assert 18 <= counts["commitment"] <= 25
    assert counts["commitment_progress"] >= 25
    assert 30 <= counts["ddr_target"] <= 100
    assert 200 <= counts["ddr_milestone"] <= 1000
    assert 40 <= counts["track_activity"] <= 120
    assert 300 <= counts["incident"] <= 2000
    assert counts["verification_event"] > counts["incident"]

    # Labelled fictional wherever a reader looks.
    assert scalar(db, "SELECT count(*) FROM party WHERE name NOT LIKE '%(fictional)'") == 0
    assert (
        scalar(db, "SELECT count(*) FROM incident WHERE description NOT LIKE 'Demo mission%'") == 0
    )
    assert scalar(db, "SELECT count(*) FROM agreement WHERE summary NOT LIKE 'Demo mission%'") == 0

    # About 18 months of incidents, ending before today.
    data = generate(today=today())
    assert scalar(db, "SELECT count(*) FROM incident WHERE occurred_at >= :t", t=data.anchor) == 0
    assert scalar(db, "SELECT count(*) FROM incident WHERE occurred_at < :t", t=data.start) == 0
    month = timedelta(days=30)
    assert scalar(db, "SELECT count(*) FROM incident WHERE occurred_at < :t", t=data.start + month)
    assert scalar(
        db, "SELECT count(*) FROM incident WHERE occurred_at >= :t", t=data.anchor - month
    )
    span = scalar(db, "SELECT count(DISTINCT admin1) FROM incident")
    assert span >= 5

    for outcome in ("held", "postponed", "cancelled", "agreement_reached"):
        assert scalar(db, "SELECT count(*) FROM track_activity WHERE outcome = :o", o=outcome) > 0
    for status in ("received", "in_review", "closed", "duplicate", "rejected"):
        assert scalar(db, "SELECT count(*) FROM incident WHERE status = :s", s=status) > 0, status

    # People counts carry the IDDRS breakdown, and it adds up.
    assert scalar(db, "SELECT count(*) FROM ddr_milestone WHERE women IS NOT NULL") > 50
    assert (
        scalar(
            db,
            "SELECT count(*) FROM ddr_milestone WHERE women IS NOT NULL "
            "AND women + men + boys + girls <> quantity",
        )
        == 0
    )
    # A commitment's level is its latest progress row's.
    assert (
        scalar(
            db,
            "SELECT count(*) FROM commitment c WHERE c.level <> coalesce(("
            "SELECT p.level FROM commitment_progress p WHERE p.commitment_id = c.id "
            "ORDER BY p.changed_on DESC, p.created_at DESC LIMIT 1), 'not_initiated')",
        )
        == 0
    )


def test_an_incidents_state_is_its_latest_verification_step(db):
    seed(db, today=today())
    mismatched = scalar(
        db,
        """SELECT count(*) FROM incident i JOIN verification_event v ON v.id = (
               SELECT v2.id FROM verification_event v2 WHERE v2.incident_id = i.id
               ORDER BY v2.occurred_at DESC, v2.created_at DESC LIMIT 1)
           WHERE v.status <> i.status OR v.finding <> i.finding
              OR coalesce(v.attributed_party_id, '00000000-0000-0000-0000-000000000000')
                 <> coalesce(i.attributed_party_id, '00000000-0000-0000-0000-000000000000')""",
    )
    assert mismatched == 0
    unverified_without_steps = scalar(
        db,
        "SELECT count(*) FROM incident i WHERE i.status <> 'received' AND NOT EXISTS "
        "(SELECT 1 FROM verification_event v WHERE v.incident_id = i.id)",
    )
    assert unverified_without_steps == 0


def test_the_same_seed_gives_the_same_records_and_another_seed_others(db):
    day = today()
    seed(db, seed=2003, today=day)
    first = snapshot(db)
    wipe(db)
    seed(db, seed=2003, today=day)
    assert snapshot(db) == first

    ids = {
        str(r["id"]) for rows in by_table(generate(2003, day)).values() for r in rows if "id" in r
    }
    other = {
        str(r["id"]) for rows in by_table(generate(2004, day)).values() for r in rows if "id" in r
    }
    with db.engine.connect() as conn:
        stored = {str(i) for i in conn.execute(sa.text("SELECT id FROM incident")).scalars()}
    assert stored
    assert {str(uuid.UUID(i)) for i in stored} <= ids
    assert not ids & other
    # The ids do not depend on the day it is run: only on the seed.
    later = by_table(generate(2003, day + timedelta(days=3)))
    now = by_table(generate(2003, day))
    for name in ("party", "incident", "verification_event", "ddr_milestone"):
        assert [r["id"] for r in later[name]] == [r["id"] for r in now[name]], name


def test_it_refuses_a_database_with_records_unless_forced(db, make_party):
    make_party(name="Real Party", code="REAL")
    with pytest.raises(NotEmpty, match="--force"):
        seed(db, today=today())
    assert scalar(db, "SELECT count(*) FROM incident") == 0
    assert scalar(db, "SELECT count(*) FROM party") == 1

    written = seed(db, today=today(), force=True)
    assert scalar(db, "SELECT count(*) FROM party") == 6
    assert scalar(db, "SELECT count(*) FROM incident") == written["incident"]
    with pytest.raises(Conflict, match="a demo mission is there"):
        seed(db, today=today(), force=True)


def test_the_command_refuses_a_used_database_and_leaves_it_alone(db, database_url, make_party):
    env = {**os.environ, "PEACEWATCH_DATABASE_URL": database_url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN), "demo", *args], env=env, capture_output=True, text=True, timeout=120
        )

    make_party(name="Real Party", code="REAL")
    refused = run()
    assert refused.returncode == 1
    assert "records already" in refused.stderr
    left_alone = run("--if-new")
    assert left_alone.returncode == NOT_NEW_EXIT
    assert scalar(db, "SELECT count(*) FROM party") == 1

    wipe(db)
    seeded = run("--if-new", "--seed", "7")
    assert seeded.returncode == 0, seeded.stderr
    assert "seed 7" in seeded.stderr
    assert scalar(db, "SELECT count(*) FROM party") == len(scenario.PARTIES)


def test_the_audit_chain_records_every_row_and_verifies(db):
    written = seed(db, today=today())
    with db.session(write=False) as session:
        report = verify_chain(session=session)
    assert report.ok, report.problem
    assert report.count == sum(written.values())
    assert scalar(db, "SELECT count(*) FROM audit_entry WHERE actor <> 'demo-seed'") == 0
    assert (
        scalar(db, "SELECT count(*) FROM audit_entry WHERE record_kind = 'incident'")
        == written["incident"]
    )


def _window(db: Database, sql: str, **params: Any) -> tuple[int, int]:
    """The count in the mission's first 90 days and in its last 90 days."""
    start = generate(today=today()).start
    end = start + timedelta(days=scenario.MISSION_DAYS)
    early = scalar(db, sql, lo=start, hi=start + timedelta(days=90), **params)
    late = scalar(db, sql, lo=end - timedelta(days=90), hi=end, **params)
    return early, late


def test_the_story_holds_in_the_data(db):
    seed(db, today=today())
    gov, mur, dfs = party(db, "GOV"), party(db, "MUR"), party(db, "DFS")

    # The spoiler: verified violations attributed to MUR rise by a clear factor.
    early, late = _window(
        db,
        "SELECT count(*) FROM incident WHERE finding = 'verified' AND attributed_party_id = :p "
        "AND occurred_at >= :lo AND occurred_at < :hi",
        p=mur,
    )
    assert early >= 5
    assert late >= 2.5 * early, (early, late)

    # Trust recovering: violations between GOV and DFS (either way) fall.
    early, late = _window(
        db,
        "SELECT count(*) FROM incident WHERE ((alleged_party_id = :a AND target_party_id = :b) "
        "OR (alleged_party_id = :b AND target_party_id = :a)) "
        "AND occurred_at >= :lo AND occurred_at < :hi",
        a=gov,
        b=dfs,
    )
    assert early >= 3 * max(late, 1), (early, late)

    # Commitments: MUR's lag past their due dates; those of GOV and DFS together are kept.
    overdue_sql = (
        "SELECT count(*) FROM commitment c WHERE c.due_on < :day AND c.level <> 'complete' "
        "AND EXISTS (SELECT 1 FROM commitment_party cp WHERE cp.commitment_id = c.id "
        "AND cp.party_id = :p) AND NOT EXISTS (SELECT 1 FROM commitment_party cp "
        "WHERE cp.commitment_id = c.id AND cp.party_id NOT IN (:p, :q))"
    )
    assert scalar(db, overdue_sql, day=today(), p=mur, q=mur) >= 5
    joint_kept = scalar(
        db,
        "SELECT count(*) FROM commitment c WHERE c.level = 'complete' AND 2 = (SELECT count(*) "
        "FROM commitment_party cp WHERE cp.commitment_id = c.id AND cp.party_id IN (:a, :b)) "
        "AND 2 = (SELECT count(*) FROM commitment_party cp WHERE cp.commitment_id = c.id)",
        a=gov,
        b=dfs,
    )
    assert joint_kept >= 5
    assert scalar(db, overdue_sql, day=today(), p=gov, q=dfs) == 0

    # Talks: those with MUR fail more in the second half; GOV-DFS dialogues are mostly held.
    half = generate(today=today()).start + timedelta(days=scenario.MISSION_DAYS // 2)
    failed_sql = (
        "SELECT count(*) FROM track_activity t JOIN track_activity_party tp "
        "ON tp.track_activity_id = t.id AND tp.party_id = :p "
        "WHERE t.outcome IN ('cancelled', 'stalled', 'postponed') AND t.occurred_on {op} :half"
    )
    first_half = scalar(db, failed_sql.format(op="<"), p=mur, half=half.date())
    second_half = scalar(db, failed_sql.format(op=">="), p=mur, half=half.date())
    assert second_half >= 3 * max(first_half, 1), (first_half, second_half)
    dialogues_held = scalar(
        db,
        "SELECT count(*) FROM track_activity WHERE kind = 'dialogue' AND outcome = 'held'",
    )
    dialogues = scalar(db, "SELECT count(*) FROM track_activity WHERE kind = 'dialogue'")
    assert dialogues >= 10
    assert dialogues_held >= 0.8 * dialogues

    # DDR: DFS gets much further toward its targets than MUR.
    def reach(p: str) -> float:
        done = scalar(
            db,
            "SELECT coalesce(sum(quantity), 0) FROM ddr_milestone WHERE party_id = :p "
            "AND indicator = 'combatants_disarmed'",
            p=p,
        )
        target = scalar(
            db,
            "SELECT sum(target_quantity) FROM ddr_target WHERE party_id = :p "
            "AND indicator = 'combatants_disarmed'",
            p=p,
        )
        return done / target

    assert reach(dfs) > 0.8
    assert reach(mur) < 0.4


def test_the_api_serves_the_demo(db, client, auth):
    seed(db, today=today())
    analyst = auth("analyst")
    response = client.get("/api/v1/incidents", params={"limit": 500}, headers=analyst)
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 500
    overdue = client.get("/api/v1/commitments", params={"overdue": "true"}, headers=analyst)
    assert overdue.status_code == 200
    mur = str(uuid.UUID(str(party(db, "MUR"))))
    assert any(mur in c["party_ids"] for c in overdue.json()["items"])
    for url in ("/api/v1/ddr/milestones", "/api/v1/ddr/targets", "/api/v1/track-activities"):
        assert client.get(url, headers=analyst).status_code == 200, url
