"""Idempotent creates and POST /api/v1/sync: re-sends never duplicate, changes never slip in."""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.audit.models import AuditEntry
from backend.audit.service import verify_chain
from backend.db import utcnow
from backend.ddr.models import DdrMilestone
from backend.diplomacy.models import TrackActivity, TrackActivityParty
from backend.incidents.models import Incident
from backend.ingest.idempotency import purge_expired
from backend.ingest.models import IdempotencyKey
from backend.verification.models import VerificationEvent
from tests.helpers import API, count, field_errors, incident_body

SYNC = f"{API}/sync"
INCIDENTS = f"{API}/incidents"


def item(kind: str = "incident", **data: object) -> dict:
    body = incident_body(id=str(uuid.uuid4())) if kind == "incident" else {}
    body.update(data)
    return {"kind": kind, "data": body}


def sync(client: TestClient, items: list[dict], headers: dict[str, str]) -> dict:
    response = client.post(SYNC, json={"items": items}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# Single posts


def test_a_retried_post_with_the_same_id_replays_the_original_answer(client, auth, db):
    reporter = auth("reporter")
    body = incident_body(id=str(uuid.uuid4()))
    first = client.post(INCIDENTS, json=body, headers=reporter)
    retry = client.post(INCIDENTS, json=body, headers=reporter)

    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert count(db, Incident) == 1


def test_the_idempotency_key_header_replays_and_is_scoped_to_the_token(client, auth, db):
    team_a, team_b = auth("reporter", "team-a"), auth("reporter", "team-b")
    key = {"Idempotency-Key": "outbox-0001"}
    first = client.post(INCIDENTS, json=incident_body(), headers={**team_a, **key})
    retry = client.post(INCIDENTS, json=incident_body(), headers={**team_a, **key})
    other_team = client.post(INCIDENTS, json=incident_body(), headers={**team_b, **key})

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    assert other_team.status_code == 201  # another token's key is another key
    assert other_team.json()["id"] != first.json()["id"]
    assert count(db, Incident) == 2


def test_a_reused_key_or_id_with_a_changed_body_is_a_409_and_changes_nothing(client, auth, db):
    reporter = auth("reporter")
    key = {"Idempotency-Key": "k-1"}
    first = client.post(INCIDENTS, json=incident_body(), headers={**reporter, **key}).json()
    by_key = client.post(INCIDENTS, json=incident_body(fatalities=9), headers={**reporter, **key})
    assert by_key.status_code == 409
    assert "different request" in field_errors(by_key)["Idempotency-Key"]

    body = incident_body(id=str(uuid.uuid4()))
    client.post(INCIDENTS, json=body, headers=reporter)
    by_id = client.post(INCIDENTS, json={**body, "fatalities": 9}, headers=reporter)
    assert by_id.status_code == 409
    assert "different content" in field_errors(by_id)["id"]

    assert count(db, Incident) == 2
    stored = client.get(f"{INCIDENTS}/{first['id']}", headers=reporter).json()
    assert stored["fatalities"] == first["fatalities"]


def test_a_malformed_idempotency_key_is_refused_by_name(client, auth, db):
    response = client.post(
        INCIDENTS,
        json=incident_body(),
        headers={**auth("reporter"), "Idempotency-Key": "x" * 256},
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in field_errors(response)
    assert count(db, Incident) == 0


def test_a_refused_create_leaves_its_key_free_for_the_corrected_record(client, auth, db):
    reporter = {**auth("reporter"), "Idempotency-Key": "fix-me"}
    unknown_party = incident_body(alleged_party_id=str(uuid.uuid4()))
    assert client.post(INCIDENTS, json=unknown_party, headers=reporter).status_code == 422
    assert client.post(INCIDENTS, json=incident_body(), headers=reporter).status_code == 201


def test_keys_expire_after_the_retention_but_a_device_id_stays_taken(client, auth, db, settings):
    reporter = auth("reporter")
    body = incident_body(id=str(uuid.uuid4()))
    assert client.post(INCIDENTS, json=body, headers=reporter).status_code == 201
    later = utcnow() + timedelta(days=settings.idempotency_retention_days, seconds=1)
    with db.session() as session:
        assert purge_expired(session, now=utcnow()) == 0
        assert purge_expired(session, now=later) == 1
    assert count(db, IdempotencyKey) == 0

    response = client.post(INCIDENTS, json=body, headers=reporter)
    assert response.status_code == 409  # no replay any more, and still no twin
    assert count(db, Incident) == 1


# Batch sync


def test_sync_answers_each_item_and_stores_only_the_good_ones(client, auth, db, make_party):
    party = make_party()
    analyst = auth("analyst", "jvt-1")
    good = [item(alleged_party_id=party["id"]) for _ in range(3)]
    bad_time = item(occurred_at="2999-01-01T00:00:00Z")
    bad_party = item(alleged_party_id=str(uuid.uuid4()))
    bad_shape = item(latitude=123)
    no_id = {"kind": "incident", "data": incident_body()}
    unknown_kind = {"kind": "rumour", "data": {}}
    twin = {"kind": "incident", "data": dict(good[0]["data"])}

    result = sync(
        client, [*good, bad_time, bad_party, bad_shape, no_id, unknown_kind, twin], analyst
    )

    statuses = [r["status"] for r in result["results"]]
    assert statuses == [*["created"] * 3, *["rejected"] * 5, "replayed"]
    assert [r["index"] for r in result["results"]] == list(range(9))
    assert result["counts"] == {"created": 3, "replayed": 1, "conflict": 0, "rejected": 5}
    errors = [{e["field"] for e in r["errors"]} for r in result["results"][3:8]]
    assert errors == [{"occurred_at"}, {"alleged_party_id"}, {"latitude"}, {"id"}, {"kind"}]
    created = result["results"][0]
    assert created["id"] == good[0]["data"]["id"]
    assert created["record"]["reported_by"] == "jvt-1"
    assert created["record"]["status"] == "received"
    assert result["results"][8]["record"] == created["record"]
    assert count(db, Incident) == 3
    stored = client.get(f"{INCIDENTS}/{created['id']}", headers=analyst).json()
    assert stored == created["record"]


def test_a_resent_batch_is_replayed_with_the_original_answers(client, auth, db):
    reporter = auth("reporter")
    items = [item() for _ in range(20)]
    first = sync(client, items, reporter)
    again = sync(client, items, reporter)

    assert again["counts"] == {"created": 0, "replayed": 20, "conflict": 0, "rejected": 0}
    assert [r["record"] for r in again["results"]] == [r["record"] for r in first["results"]]
    assert count(db, Incident) == 20


def test_a_changed_record_under_a_used_id_is_a_conflict_and_changes_nothing(client, auth, db):
    reporter = auth("reporter")
    original = item()
    sync(client, [original], reporter)
    changed = {**original, "data": {**original["data"], "description": "rewritten"}}
    result = sync(client, [changed, item()], reporter)

    assert [r["status"] for r in result["results"]] == ["conflict", "created"]
    assert result["results"][0]["errors"][0]["field"] == "id"
    stored = client.get(f"{INCIDENTS}/{original['data']['id']}", headers=reporter).json()
    assert stored["description"] == original["data"]["description"]
    assert count(db, Incident) == 2


def test_a_single_post_and_a_sync_of_the_same_record_are_one_record(client, auth, db):
    reporter = auth("reporter")
    body = incident_body(id=str(uuid.uuid4()))
    posted = client.post(INCIDENTS, json=body, headers=reporter).json()
    result = sync(client, [{"kind": "incident", "data": body}], reporter)

    assert result["results"][0]["status"] == "replayed"
    assert result["results"][0]["record"] == posted
    assert count(db, Incident) == 1


def test_sync_takes_every_kind_a_field_team_sends(client, auth, db, make_party):
    a, b = make_party(), make_party()
    analyst = auth("analyst")
    incident = item()
    milestone = {
        "kind": "ddr_milestone",
        "data": {
            "id": str(uuid.uuid4()),
            "indicator": "weapons_collected",
            "party_id": a["id"],
            "achieved_on": "2026-11-01",
            "quantity": 40,
        },
    }
    activity = {
        "kind": "track_activity",
        "data": {
            "id": str(uuid.uuid4()),
            "track": "track_2",
            "kind": "dialogue",
            "title": "Elders' dialogue",
            "occurred_on": "2026-11-02",
            "outcome": "held",
            "party_ids": [a["id"], b["id"]],
        },
    }
    step = {
        "kind": "incident_verification",
        "subject_id": incident["data"]["id"],
        "data": {
            "id": str(uuid.uuid4()),
            "occurred_at": "2026-11-21T09:00:00Z",
            "status": "closed",
            "method": "site_visit",
            "finding": "verified",
            "attributed_party_id": a["id"],
        },
    }
    result = sync(client, [incident, milestone, activity, step], analyst)

    assert [r["status"] for r in result["results"]] == ["created"] * 4, result
    assert result["results"][2]["record"]["party_ids"] == sorted([a["id"], b["id"]])
    assert (count(db, DdrMilestone), count(db, TrackActivity)) == (1, 1)
    assert (count(db, TrackActivityParty), count(db, VerificationEvent)) == (2, 1)
    # Each answer is the record as its GET shows it (the incident's, as it was when created).
    records = [r["record"] for r in result["results"]]
    assert (
        records[1] == client.get(f"{API}/ddr/milestones/{records[1]['id']}", headers=analyst).json()
    )
    assert (
        records[2]
        == client.get(f"{API}/track-activities/{records[2]['id']}", headers=analyst).json()
    )
    steps = client.get(f"{INCIDENTS}/{records[0]['id']}/verifications", headers=analyst).json()
    assert [records[3]] == steps["items"]
    stored = client.get(f"{INCIDENTS}/{incident['data']['id']}", headers=analyst).json()
    moved = {"status", "finding", "attributed_party_id", "updated_at", "verified_at"}
    assert {k: v for k, v in records[0].items() if k not in moved} == {
        k: v for k, v in stored.items() if k not in moved
    }
    assert list(records[0]) == list(stored)  # the same fields, in the same order
    assert (stored["status"], stored["finding"]) == ("closed", "verified")
    assert stored["attributed_party_id"] == a["id"]
    with db.session(write=False) as session:
        report = verify_chain(session=session)
    assert report.ok
    kinds = {k for (k,) in _audit_kinds(db)}
    assert {"incident", "ddr_milestone", "track_activity", "verification_event"} <= kinds


def _audit_kinds(db):
    with db.engine.connect() as conn:
        return conn.execute(sa.select(AuditEntry.record_kind).distinct()).all()


def test_a_reporter_may_not_sync_verification_steps_and_a_viewer_nothing(client, auth, db):
    reporter = auth("reporter")
    incident = item()
    step = {
        "kind": "incident_verification",
        "subject_id": incident["data"]["id"],
        "data": {
            "id": str(uuid.uuid4()),
            "occurred_at": "2026-11-21T09:00:00Z",
            "status": "closed",
            "method": "site_visit",
            "finding": "verified",
        },
    }
    result = sync(client, [incident, step], reporter)
    assert [r["status"] for r in result["results"]] == ["created", "rejected"]
    assert result["results"][1]["errors"][0]["type"] == "Forbidden"
    assert count(db, VerificationEvent) == 0

    viewer = client.post(SYNC, json={"items": [item()]}, headers=auth("viewer"))
    assert viewer.status_code == 403


def test_each_sync_limit_is_a_setting(settings, db, auth):
    small = settings.model_copy(update={"sync_max_items": 3, "sync_max_body_bytes": 4096})
    with TestClient(create_app(small)) as client:
        reporter = auth("reporter")
        too_many = client.post(SYNC, json={"items": [item() for _ in range(4)]}, headers=reporter)
        assert too_many.status_code == 422
        assert "at most 3" in field_errors(too_many)["items"]

        padded = [item(description="x" * 2000) for _ in range(3)]
        too_big = client.post(SYNC, json={"items": padded}, headers=reporter)
        assert too_big.status_code == 413
        # Other routes keep their own limit: the sync limit is for /sync only.
    assert count(db, Incident) == 0


def test_the_default_sync_body_limit_takes_a_full_batch(client, auth, db):
    items = [item(description="Patrol report. " * 60) for _ in range(1000)]
    result = sync(client, items, auth("reporter"))
    assert result["counts"]["created"] == 1000
    assert count(db, Incident) == 1000


# Retries under concurrency: the proof the issue asks for


@pytest.mark.parametrize("path", ["single", "sync"])
def test_500_records_sent_twice_from_threads_make_exactly_500_rows(client, auth, db, path):
    reporter = auth("reporter")
    records = [incident_body(id=str(uuid.uuid4()), fatalities=i % 7) for i in range(500)]
    sends = records + records  # every record twice
    answers: dict[str, list[dict]] = {}

    def post_one(body: dict) -> tuple[str, int, dict]:
        response = client.post(INCIDENTS, json=body, headers=reporter)
        return body["id"], response.status_code, response.json()

    def post_batch(batch: list[dict]) -> list[tuple[str, int, dict]]:
        payload = {"items": [{"kind": "incident", "data": b} for b in batch]}
        response = client.post(SYNC, json=payload, headers=reporter)
        assert response.status_code == 200, response.text
        codes = {"created": 201, "replayed": 200}
        return [
            (b["id"], codes.get(r["status"], 0), r["record"])
            for b, r in zip(batch, response.json()["results"], strict=True)
        ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        if path == "single":
            outcomes = list(pool.map(post_one, sends))
        else:
            batches = [sends[i : i + 50] for i in range(0, len(sends), 50)]
            outcomes = [o for batch in pool.map(post_batch, batches) for o in batch]

    for record_id, status, body in outcomes:
        assert status in (200, 201), body
        answers.setdefault(record_id, []).append(body)
    assert count(db, Incident) == 500
    assert all(len(bodies) == 2 and bodies[0] == bodies[1] for bodies in answers.values())
    created = [s for _, s, _ in outcomes if s == 201]
    assert len(created) == 500
    with db.session(write=False) as session:
        assert verify_chain(session=session).ok


def test_batches_in_flight_together_never_deadlock_on_the_rollups(client, auth, db):
    """Batches whose incidents fall in the same rollup rows, in different orders, from eight
    threads at once: every one is stored. (On PostgreSQL, two batches' triggers once upserted the
    same rollup rows in opposite orders, and the database cancelled one as a deadlock.)"""
    reporter = auth("reporter")
    rng = random.Random(7)
    keys = [
        (f"2026-11-{day:02d}T10:00:00+00:00", category, region)
        for day in (18, 19, 20)
        for category in ("armed_clash", "shelling", "abduction", "movement_of_forces")
        for region in ("Bomi", "Lofa", "Nimba")
    ]

    def batch() -> list[dict]:
        return [
            item(occurred_at=at, category=category, admin1=region)
            for at, category, region in rng.sample(keys, 10)
        ]

    batches = [batch() for _ in range(96)]

    def post(items: list[dict]) -> str:
        response = client.post(SYNC, json={"items": items}, headers=reporter)
        if response.status_code != 200:
            return response.text
        return ",".join(sorted({r["status"] for r in response.json()["results"]}))

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, batches))
    assert answers == ["created"] * len(batches)
    assert count(db, Incident) == 10 * len(batches)


def test_a_row_the_database_refuses_fails_alone(client, auth, db, monkeypatch):
    """Should a check ever miss what a constraint catches, only that item is refused."""
    reporter = auth("reporter")
    taken = item()
    sync(client, [taken], reporter)
    monkeypatch.setattr("backend.ingest.kinds._refuse_taken_ids", lambda *_: None)
    clash = {"kind": "incident", "key": "other-key", "data": taken["data"]}

    result = sync(client, [item(), clash, item()], reporter)

    assert [r["status"] for r in result["results"]] == ["created", "rejected", "created"]
    assert "constraint" in result["results"][1]["errors"][0]["message"]
    assert count(db, Incident) == 3
    with db.session(write=False) as session:
        assert verify_chain(session=session).ok  # the refused batch left no audit entries
