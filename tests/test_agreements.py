"""Agreements, commitments and implementation progress through the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.db import Database
from tests.helpers import API, error_field, ids, post, today, walk

AGREEMENTS = f"{API}/agreements"
COMMITMENTS = f"{API}/commitments"
UNKNOWN = "00000000-0000-4000-8000-000000000004"


@pytest.fixture
def parties(make_party: Callable[..., dict]) -> list[str]:
    return [make_party()["id"] for _ in range(3)]


@pytest.fixture
def analyst(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth("analyst", "pam-analyst")


def agreement_body(party_ids: list[str], **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Revitalised Agreement",
        "kind": "peace",
        "signed_on": "2018-09-12",
        "summary": "R-ARCSS",
        "party_ids": party_ids,
    }
    return {**body, **overrides}


def commitment_body(agreement_id: str, party_ids: list[str], **overrides: Any) -> dict[str, Any]:
    body = {
        "agreement_id": agreement_id,
        "reference": "Art. 2.1",
        "title": "Canton forces within 30 days",
        "category": "ceasefire",
        "due_on": None,
        "party_ids": party_ids,
    }
    return {**body, **overrides}


def count(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608


@pytest.fixture
def agreement(client: TestClient, admin: dict, parties: list[str]) -> dict:
    return post(client, AGREEMENTS, agreement_body(parties), admin)


def progress(
    client: TestClient, headers: dict, commitment_id: str, level: str, changed_on: str
) -> dict:
    body = {"level": level, "changed_on": changed_on, "evidence_note": f"report of {changed_on}"}
    return post(client, f"{COMMITMENTS}/{commitment_id}/progress", body, headers)


# Agreements


def test_agreement_round_trip(client: TestClient, admin: dict, parties: list[str]) -> None:
    created = post(client, AGREEMENTS, agreement_body(parties[:2]), admin)
    assert sorted(created["party_ids"]) == sorted(parties[:2])
    assert (created["name"], created["signed_on"]) == ("Revitalised Agreement", "2018-09-12")
    url = f"{AGREEMENTS}/{created['id']}"
    assert client.get(url, headers=admin).json() == created
    assert walk(client, AGREEMENTS, admin) == [created]

    changes = {"name": "R-ARCSS", "party_ids": [parties[2]], "kind": "ceasefire"}
    response = client.patch(url, json=changes, headers=admin)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["name"], updated["kind"], updated["party_ids"]) == (
        "R-ARCSS",
        "ceasefire",
        [parties[2]],
    )
    assert client.get(url, headers=admin).json() == updated


def test_agreement_rules(
    client: TestClient, admin: dict, agreement: dict, parties: list[str], auth: Callable
) -> None:
    duplicate = agreement_body(parties, name="revitalised agreement")
    assert error_field(client.post(AGREEMENTS, json=duplicate, headers=admin), 409) == "name"
    unknown = agreement_body([UNKNOWN], name="Other")
    assert error_field(client.post(AGREEMENTS, json=unknown, headers=admin)) == "party_ids.0"
    for role in ("analyst", "reporter", "viewer"):
        body = agreement_body(parties, name=f"By {role}")
        assert client.post(AGREEMENTS, json=body, headers=auth(role)).status_code == 403
    assert walk(client, AGREEMENTS, admin) == [agreement]

    other = post(
        client, AGREEMENTS, agreement_body(parties, name="Cessation of Hostilities"), admin
    )
    url = f"{AGREEMENTS}/{other['id']}"
    clash = client.patch(url, json={"name": "REVITALISED AGREEMENT"}, headers=admin)
    assert error_field(clash, 409) == "name"
    assert error_field(client.patch(url, json={"signed_on": None}, headers=admin)) == "signed_on"
    assert error_field(client.patch(url, json={"party_ids": []}, headers=admin)) == "party_ids"
    assert client.patch(url, json={"summary": "x"}, headers=auth("analyst")).status_code == 403
    assert client.get(url, headers=admin).json() == other
    same_name = client.patch(url, json={"name": "Cessation of Hostilities"}, headers=admin)
    assert same_name.status_code == 200, same_name.text
    assert client.get(f"{AGREEMENTS}/{UNKNOWN}", headers=admin).status_code == 404


def test_agreement_filters_and_pages(client: TestClient, admin: dict, parties: list[str]) -> None:
    made = [
        post(
            client,
            AGREEMENTS,
            agreement_body(
                parties[: n % 3 + 1],
                name=f"Protocol {n}",
                kind="ddr_protocol" if n % 2 else "ceasefire",
                signed_on=f"2019-0{n % 4 + 1}-01",
            ),
            admin,
        )
        for n in range(7)
    ]
    listed = walk(client, AGREEMENTS, admin, limit=2)
    assert sorted(a["id"] for a in listed) == sorted(a["id"] for a in made)
    keys = [(a["signed_on"], a["id"]) for a in listed]
    assert keys == sorted(keys, reverse=True)
    assert ids(client, AGREEMENTS, admin, kind="ddr_protocol") == {a["id"] for a in made[1::2]}
    with_third = {a["id"] for a in made if parties[2] in a["party_ids"]}
    assert len(with_third) == 2
    assert ids(client, AGREEMENTS, admin, party_id=parties[2]) == with_third


# Commitments


def test_commitment_round_trip(
    client: TestClient, admin: dict, agreement: dict, parties: list[str], auth: Callable
) -> None:
    created = post(client, COMMITMENTS, commitment_body(agreement["id"], parties[:1]), admin)
    assert created["party_ids"] == parties[:1]
    assert (created["level"], created["level_changed_on"], created["overdue"]) == (
        "not_initiated",
        None,
        False,
    )
    url = f"{COMMITMENTS}/{created['id']}"
    viewer = auth("viewer")
    assert client.get(url, headers=viewer).json() == created
    assert walk(client, COMMITMENTS, viewer) == [created]

    changes = {"title": "Canton forces", "due_on": "2019-01-01", "party_ids": parties[1:]}
    response = client.patch(url, json=changes, headers=admin)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["title"], updated["due_on"], updated["overdue"]) == (
        "Canton forces",
        "2019-01-01",
        True,
    )
    assert sorted(updated["party_ids"]) == sorted(parties[1:])
    assert client.get(url, headers=viewer).json() == updated


def test_commitment_rules(
    client: TestClient,
    admin: dict,
    agreement: dict,
    parties: list[str],
    db: Database,
    auth: Callable,
) -> None:
    orphan = commitment_body(UNKNOWN, parties)
    assert error_field(client.post(COMMITMENTS, json=orphan, headers=admin)) == "agreement_id"
    unknown_party = commitment_body(agreement["id"], [parties[0], UNKNOWN])
    assert error_field(client.post(COMMITMENTS, json=unknown_party, headers=admin)) == "party_ids.1"
    body = commitment_body(agreement["id"], parties)
    assert client.post(COMMITMENTS, json=body, headers=auth("analyst")).status_code == 403
    assert (count(db, "commitment"), count(db, "commitment_party")) == (0, 0)

    created = post(client, COMMITMENTS, body, admin)
    url = f"{COMMITMENTS}/{created['id']}"
    assert error_field(client.patch(url, json={"category": None}, headers=admin)) == "category"
    bad_party = client.patch(url, json={"party_ids": [UNKNOWN]}, headers=admin)
    assert error_field(bad_party) == "party_ids.0"
    assert error_field(client.patch(url, json={"level": "complete"}, headers=admin)) == "level"
    assert client.get(url, headers=admin).json() == created


def test_overdue(
    client: TestClient, admin: dict, analyst: dict, agreement: dict, parties: list[str]
) -> None:
    def make(due_on: str | None) -> dict:
        body = commitment_body(agreement["id"], parties, due_on=due_on)
        return post(client, COMMITMENTS, body, admin)

    yesterday, tomorrow = str(today() - timedelta(days=1)), str(today() + timedelta(days=1))
    late, done, due_today, later, undated = (
        make(yesterday),
        make(yesterday),
        make(str(today())),
        make(tomorrow),
        make(None),
    )
    progress(client, analyst, done["id"], "complete", str(today()))

    by_id = {c["id"]: c["overdue"] for c in walk(client, COMMITMENTS, admin)}
    assert by_id == {
        late["id"]: True,
        done["id"]: False,
        due_today["id"]: False,
        later["id"]: False,
        undated["id"]: False,
    }
    assert ids(client, COMMITMENTS, admin, overdue=True) == {late["id"]}
    assert ids(client, COMMITMENTS, admin, overdue=False) == set(by_id) - {late["id"]}
    assert client.get(f"{COMMITMENTS}/{late['id']}", headers=admin).json()["overdue"] is True


def test_commitment_filters_and_pages(
    client: TestClient, admin: dict, analyst: dict, agreement: dict, parties: list[str]
) -> None:
    second = post(client, AGREEMENTS, agreement_body(parties, name="Second"), admin)["id"]
    first = agreement["id"]
    ddr = post(client, COMMITMENTS, commitment_body(first, parties[:1], category="ddr"), admin)[
        "id"
    ]
    political = post(
        client, COMMITMENTS, commitment_body(second, parties[1:], category="political"), admin
    )["id"]
    ceasefire = post(client, COMMITMENTS, commitment_body(second, parties[:2]), admin)["id"]
    progress(client, analyst, political, "minimal", "2024-01-01")

    assert ids(client, COMMITMENTS, admin, agreement_id=second) == {political, ceasefire}
    assert ids(client, COMMITMENTS, admin, category=["ddr", "political"]) == {ddr, political}
    assert ids(client, COMMITMENTS, admin, party_id=parties[1]) == {political, ceasefire}
    assert ids(client, COMMITMENTS, admin, level="minimal") == {political}
    assert ids(client, COMMITMENTS, admin, level="not_initiated", party_id=parties[0]) == {
        ddr,
        ceasefire,
    }
    listed = [c["id"] for c in walk(client, COMMITMENTS, admin, limit=2)]
    assert listed == [ceasefire, political, ddr]  # newest first


# Progress


def test_level_derived_from_progress_history(
    client: TestClient,
    admin: dict,
    analyst: dict,
    agreement: dict,
    parties: list[str],
    auth: Callable,
) -> None:
    commitment = post(client, COMMITMENTS, commitment_body(agreement["id"], parties), admin)
    url = f"{COMMITMENTS}/{commitment['id']}"

    def state() -> tuple[str, str | None]:
        body = client.get(url, headers=admin).json()
        return body["level"], body["level_changed_on"]

    first = progress(client, analyst, commitment["id"], "intermediate", "2024-05-01")
    assert first["recorded_by"] == "pam-analyst"
    assert first["commitment_id"] == commitment["id"]
    assert state() == ("intermediate", "2024-05-01")
    # A back-dated row fills in history; it does not undo the later change.
    progress(client, analyst, commitment["id"], "minimal", "2024-01-15")
    assert state() == ("intermediate", "2024-05-01")
    # On the same day, the later record wins.
    progress(client, admin, commitment["id"], "complete", "2024-05-01")
    assert state() == ("complete", "2024-05-01")

    history = client.get(f"{url}/progress", headers=auth("viewer")).json()
    assert history["next_cursor"] is None
    levels = [(p["level"], p["changed_on"]) for p in history["items"]]
    assert levels == [
        ("minimal", "2024-01-15"),
        ("intermediate", "2024-05-01"),
        ("complete", "2024-05-01"),
    ]


def test_progress_rules(
    client: TestClient,
    admin: dict,
    analyst: dict,
    agreement: dict,
    parties: list[str],
    db: Database,
    auth: Callable,
) -> None:
    commitment = post(client, COMMITMENTS, commitment_body(agreement["id"], parties), admin)
    url = f"{COMMITMENTS}/{commitment['id']}/progress"
    ok = {"level": "minimal", "changed_on": "2024-02-01", "evidence_note": "JMEC report 12"}
    bad = [
        ({**ok, "changed_on": str(today() + timedelta(days=5))}, "changed_on"),
        ({**ok, "changed_on": "1899-01-01"}, "changed_on"),
        ({**ok, "ddr_milestone_id": UNKNOWN}, "ddr_milestone_id"),
        ({**ok, "track_activity_id": UNKNOWN}, "track_activity_id"),
        ({**ok, "verification_event_id": UNKNOWN}, "verification_event_id"),
        ({"level": "minimal", "changed_on": "2024-02-01"}, "evidence_note"),  # no evidence at all
    ]
    for body, field in bad:
        assert error_field(client.post(url, json=body, headers=analyst)) == field
    for role in ("reporter", "viewer"):
        assert client.post(url, json=ok, headers=auth(role)).status_code == 403
    assert count(db, "commitment_progress") == 0
    after = client.get(f"{COMMITMENTS}/{commitment['id']}", headers=admin).json()
    assert after == commitment
    missing = client.post(f"{COMMITMENTS}/{UNKNOWN}/progress", json=ok, headers=analyst)
    assert missing.status_code == 404
    assert client.get(f"{COMMITMENTS}/{UNKNOWN}/progress", headers=admin).status_code == 404


def test_progress_evidenced_by_a_track_activity(
    client: TestClient, admin: dict, analyst: dict, agreement: dict, parties: list[str]
) -> None:
    activity = {
        "track": "track_1",
        "kind": "formal_talks",
        "title": "Security arrangements workshop",
        "occurred_on": "2024-03-01",
        "outcome": "agreement_reached",
        "party_ids": parties,
    }
    activity_id = post(client, f"{API}/track-activities", activity, analyst)["id"]
    commitment = post(client, COMMITMENTS, commitment_body(agreement["id"], parties), admin)
    body = {"level": "minimal", "changed_on": "2024-03-01", "track_activity_id": activity_id}
    row = post(client, f"{COMMITMENTS}/{commitment['id']}/progress", body, analyst)
    assert (row["track_activity_id"], row["evidence_note"]) == (activity_id, "")
    history = client.get(f"{COMMITMENTS}/{commitment['id']}/progress", headers=admin).json()
    assert history == {"items": [row], "next_cursor": None}
