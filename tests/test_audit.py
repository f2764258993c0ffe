"""The audit trail: every change recorded with who and what, and any tampering detected."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEntry
from backend.audit.service import verify_chain
from tests.helpers import incident_body

BIN = Path(sys.executable).with_name("peacewatch")


@pytest.fixture
def history(client, auth, make_party):
    """A small history: a party, an incident, a correction and a verification."""
    party = make_party()
    reporter, analyst = auth("reporter", "patrol-1"), auth("analyst", "jvt-1")
    incident = client.post(
        "/api/v1/incidents", json=incident_body(alleged_party_id=party["id"]), headers=reporter
    ).json()
    client.patch(f"/api/v1/incidents/{incident['id']}", json={"fatalities": 3}, headers=reporter)
    client.post(
        f"/api/v1/incidents/{incident['id']}/verifications",
        headers=analyst,
        json={
            "occurred_at": "2026-11-21T09:00:00Z",
            "method": "site_visit",
            "status": "closed",
            "finding": "verified",
        },
    )
    return incident


def _verify(db):
    with db.session(write=False) as session:
        return verify_chain(session=session)


def test_each_change_is_recorded_with_who_and_what(client, admin, db, history):
    params = {"record_kind": "incident", "record_id": history["id"]}
    entries = client.get("/api/v1/audit", params=params, headers=admin).json()["items"]
    actions = [(e["action"], e["actor"]) for e in reversed(entries)]
    assert actions == [("create", "patrol-1"), ("update", "patrol-1"), ("update", "jvt-1")]
    correction = entries[1]
    assert correction["changes"]["fatalities"] == [2, 3]
    assert _verify(db).ok


def test_tokens_are_audited_without_their_hash(client, admin, db):
    client.post("/api/v1/tokens", json={"name": "hq", "role": "viewer"}, headers=admin)
    with db.engine.connect() as conn:
        rows = (
            conn.execute(sa.select(AuditEntry.changes).where(AuditEntry.record_kind == "api_token"))
            .scalars()
            .all()
        )
    assert rows
    assert all("token_hash" not in r for r in rows)


def _tamper(db, sql: str) -> None:
    with db.engine.begin() as conn:
        for statement in sql.split("; "):
            conn.exec_driver_sql(statement)


@pytest.mark.parametrize(
    ("sql", "bad_seq", "words"),
    [
        ("UPDATE audit_entry SET actor = 'someone-else' WHERE seq = 3", 3, "altered"),
        ("UPDATE audit_entry SET changes = '{}' WHERE seq = 4", 4, "altered"),
        ("DELETE FROM audit_entry WHERE seq = 2", 3, "missing"),
        # Swap two entries (each keeps its own hash), through negative numbers for uniqueness.
        (
            "UPDATE audit_entry SET seq = -seq WHERE seq IN (3, 4); "
            "UPDATE audit_entry SET seq = CASE seq WHEN -3 THEN 4 ELSE 3 END WHERE seq < 0",
            3,
            "does not follow",
        ),
    ],
)
def test_tampering_in_sql_is_found_and_named(db, history, database_url, sql, bad_seq, words):
    assert _verify(db).ok
    _tamper(db, sql)

    report = _verify(db)
    assert not report.ok
    assert report.first_bad_seq == bad_seq
    assert words in report.problem

    env = {**os.environ, "PEACEWATCH_DATABASE_URL": database_url}
    cli = subprocess.run(
        [str(BIN), "audit", "verify"], env=env, capture_output=True, text=True, timeout=60
    )
    assert cli.returncode == 1
    assert f"broken at entry {bad_seq}" in cli.stderr


def test_export_quotes_the_head_and_count(db, history, database_url):
    env = {**os.environ, "PEACEWATCH_DATABASE_URL": database_url}
    out = subprocess.run(
        [str(BIN), "audit", "export"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    exported = json.loads(out.stdout)
    report = _verify(db)
    assert exported["verified"] is True
    assert exported["entries"] == report.count >= 6
    assert exported["head_hash"] == report.head_hash
    ok = subprocess.run(
        [str(BIN), "audit", "verify"], env=env, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0
    assert report.head_hash in ok.stdout
