"""The audit trail: every change recorded with who and what, and any tampering detected."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEntry
from backend.audit.service import entry_hash, verify_chain
from backend.vocab import Role
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


def test_the_hash_of_an_entry_never_changes_its_recipe():
    """Chains written by earlier versions must still verify: the hash of a fixed entry is pinned
    (SHA-256 of the JSON array of its fields, `changes` with sorted keys, compact, UTF-8)."""
    changes = {
        "id": str(uuid.UUID("12345678-1234-5678-1234-567812345678")),
        "occurred_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).isoformat(),
        "on": date(2026, 1, 2).isoformat(),
        "q": str(Decimal("1.50")),
        "role": Role.reporter.value,
        "title": "Frappe près de Kadugli — ✓",
        "n": 3,
        "f": 1.25,
        "b": True,
        "none": None,
        "nested": {"b": [1, "x"], "a": {"z": 1, "y": 2}},
    }
    entry = AuditEntry(
        seq=7,
        at=datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC),
        actor="patrol-7",
        actor_role="reporter",
        action="create",
        record_kind="incident",
        record_id="12345678-1234-5678-1234-567812345678",
        changes=changes,
        prev_hash="ab" * 32,
        hash="",
    )
    expected = "24d558fdb885a0b3e008110e4a74df7b0d4b7c412516fb7acd19a351fbe1eef2"
    assert entry_hash(entry) == expected
    # The same text as encoding the whole array at once, as the first version did.
    payload = [
        7,
        entry.at.isoformat(),
        "patrol-7",
        "reporter",
        "create",
        "incident",
        entry.record_id,
        changes,
        "ab" * 32,
    ]
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(raw.encode()).hexdigest() == expected
