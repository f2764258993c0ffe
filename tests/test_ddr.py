"""DDR targets and milestones through the API: round trips, filters, pages and every rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import API, error_field, ids, post, today, walk

TARGETS = f"{API}/ddr/targets"
MILESTONES = f"{API}/ddr/milestones"


# Fixtures


@pytest.fixture
def analyst(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth("analyst", "jvt-analyst")


@pytest.fixture
def reporter(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth("reporter", "team-alpha")


@pytest.fixture
def party(make_party: Callable[..., dict]) -> dict:
    return make_party()


def target_body(party_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "indicator": "combatants_disarmed",
        "party_id": party_id,
        "site": "Camp Alpha",
        "period_start_on": "2025-01-01",
        "period_end_on": "2025-06-30",
        "target_quantity": 1200,
        "notes": "Phase I",
    }
    return {**body, **overrides}


def milestone_body(party_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "indicator": "combatants_disarmed",
        "party_id": party_id,
        "site": "Camp Alpha",
        "achieved_on": "2025-02-10",
        "quantity": 100,
        "women": 20,
        "men": 70,
        "boys": 6,
        "girls": 4,
    }
    return {**body, **overrides}


# Targets


def test_target_round_trip(client: TestClient, analyst: dict, party: dict) -> None:
    created = post(client, TARGETS, target_body(party["id"]), analyst)
    assert created["created_by"] == "jvt-analyst"
    assert created["phase"] == "disarmament"
    assert created["target_quantity"] == 1200
    assert created["period_end_on"] == "2025-06-30"

    url = f"{TARGETS}/{created['id']}"
    assert client.get(url, headers=analyst).json() == created
    assert walk(client, TARGETS, analyst) == [created]

    response = client.patch(url, json={"target_quantity": 1500, "site": None}, headers=analyst)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["target_quantity"] == 1500
    assert updated["site"] is None
    assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(
        created["updated_at"]
    )
    assert client.get(url, headers=analyst).json() == updated


def test_target_rules(client: TestClient, analyst: dict, party: dict, auth: Callable) -> None:
    unknown = "00000000-0000-4000-8000-000000000001"
    response = client.post(TARGETS, json=target_body(unknown), headers=analyst)
    assert error_field(response) == "party_id"
    response = client.post(
        TARGETS, json=target_body(party["id"], period_end_on="2024-12-31"), headers=analyst
    )
    assert error_field(response) == "period_end_on"
    for role in ("reporter", "viewer"):
        response = client.post(TARGETS, json=target_body(party["id"]), headers=auth(role))
        assert response.status_code == 403, response.text
    assert walk(client, TARGETS, analyst) == []

    created = post(client, TARGETS, target_body(party["id"]), analyst)
    url = f"{TARGETS}/{created['id']}"
    assert error_field(
        client.patch(url, json={"period_end_on": "2024-01-01"}, headers=analyst)
    ) == ("period_end_on")
    assert error_field(
        client.patch(url, json={"period_start_on": "2026-01-01"}, headers=analyst)
    ) == ("period_start_on")
    assert error_field(client.patch(url, json={"target_quantity": None}, headers=analyst)) == (
        "target_quantity"
    )
    assert client.patch(url, json={"notes": "x"}, headers=auth("reporter")).status_code == 403
    assert client.get(url, headers=analyst).json() == created
    assert client.get(f"{TARGETS}/{unknown}", headers=analyst).status_code == 404


def test_target_filters(client: TestClient, analyst: dict, make_party: Callable[..., dict]) -> None:
    gov, rebels = make_party()["id"], make_party()["id"]
    disarmed = post(client, TARGETS, target_body(gov), analyst)["id"]
    demobilized = post(
        client,
        TARGETS,
        target_body(gov, indicator="combatants_demobilized", site="Camp B"),
        analyst,
    )["id"]
    weapons = post(client, TARGETS, target_body(rebels, indicator="weapons_collected"), analyst)[
        "id"
    ]

    assert ids(client, TARGETS, analyst, party_id=gov) == {disarmed, demobilized}
    assert ids(client, TARGETS, analyst, indicator="weapons_collected") == {weapons}
    assert ids(client, TARGETS, analyst, phase="demobilization") == {demobilized}
    assert ids(client, TARGETS, analyst, phase="disarmament") == {disarmed, weapons}
    assert ids(client, TARGETS, analyst, phase="reinsertion") == set()
    assert ids(client, TARGETS, analyst, site="Camp B") == {demobilized}
    assert ids(client, TARGETS, analyst, party_id=rebels, site="Camp B") == set()
    response = client.get(TARGETS, params={"colour": "red"}, headers=analyst)
    assert error_field(response) == "colour"


def test_target_pages_newest_first(client: TestClient, analyst: dict, party: dict) -> None:
    made = [post(client, TARGETS, target_body(party["id"]), analyst)["id"] for _ in range(7)]
    first = client.get(TARGETS, params={"limit": 3}, headers=analyst).json()
    assert len(first["items"]) == 3
    assert first["next_cursor"]
    listed = [t["id"] for t in walk(client, TARGETS, analyst, limit=3)]
    assert listed == list(reversed(made))
    assert error_field(client.get(TARGETS, params={"limit": 10_000}, headers=analyst)) == "limit"
    assert error_field(client.get(TARGETS, params={"cursor": "nonsense"}, headers=analyst)) == (
        "cursor"
    )


# Milestones


def test_milestone_round_trip(
    client: TestClient, reporter: dict, analyst: dict, party: dict
) -> None:
    client_id = "6f1c2a4e-0c9b-4c55-9a51-3f1f2d0e8b11"
    created = post(client, MILESTONES, milestone_body(party["id"], id=client_id), reporter)
    assert created["id"] == client_id
    assert created["reported_by"] == "team-alpha"
    assert (created["status"], created["finding"]) == ("received", "unverified")
    assert created["phase"] == "disarmament"
    assert (created["women"], created["men"], created["boys"], created["girls"]) == (20, 70, 6, 4)

    retry = client.post(
        MILESTONES, json=milestone_body(party["id"], id=client_id), headers=reporter
    )
    assert (retry.status_code, retry.json()) == (200, created)
    changed = client.post(
        MILESTONES, json=milestone_body(party["id"], id=client_id, site="Camp B"), headers=reporter
    )
    assert error_field(changed, 409) == "id"
    assert walk(client, MILESTONES, analyst) == [created]

    url = f"{MILESTONES}/{client_id}"
    assert client.get(url, headers=analyst).json() == created
    changes = {"quantity": 110, "men": 80, "notes": "recount"}
    response = client.patch(url, json=changes, headers=reporter)
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in changes} == changes
    assert client.get(url, headers=reporter).json() == response.json()


def test_milestone_rules(client: TestClient, reporter: dict, analyst: dict, party: dict) -> None:
    unknown = "00000000-0000-4000-8000-000000000002"
    bad = [
        (milestone_body(unknown), "party_id"),
        (milestone_body(party["id"], achieved_on=str(today() + timedelta(days=3))), "achieved_on"),
        (milestone_body(party["id"], achieved_on="1899-12-31"), "achieved_on"),
        (milestone_body(party["id"], quantity=99), "quantity"),  # breakdown adds up to 100
    ]
    for body, field in bad:
        assert error_field(client.post(MILESTONES, json=body, headers=reporter)) == field
    assert walk(client, MILESTONES, analyst) == []

    people = post(client, MILESTONES, milestone_body(party["id"]), reporter)
    url = f"{MILESTONES}/{people['id']}"
    assert error_field(client.patch(url, json={"quantity": 90}, headers=reporter)) == "quantity"
    assert error_field(client.patch(url, json={"women": 30}, headers=reporter)) == "women"
    assert error_field(client.patch(url, json={"quantity": None}, headers=reporter)) == "quantity"
    future = str(today() + timedelta(days=3))
    assert error_field(client.patch(url, json={"achieved_on": future}, headers=reporter)) == (
        "achieved_on"
    )
    assert client.get(url, headers=reporter).json() == people
    # Dropping the whole breakdown is fine; a partial one only has to stay within the quantity.
    cleared = {"women": None, "men": None, "boys": None, "girls": None, "quantity": 90}
    assert client.patch(url, json=cleared, headers=reporter).status_code == 200
    assert client.patch(url, json={"women": 10}, headers=reporter).status_code == 200

    weapons = post(
        client,
        MILESTONES,
        {
            "indicator": "weapons_collected",
            "party_id": party["id"],
            "achieved_on": "2025-01-05",
            "quantity": 40,
        },
        reporter,
    )
    response = client.patch(f"{MILESTONES}/{weapons['id']}", json={"girls": 1}, headers=reporter)
    assert error_field(response) == "girls"


def test_milestone_edit_rights(
    client: TestClient, reporter: dict, analyst: dict, party: dict, auth: Callable
) -> None:
    milestone = post(client, MILESTONES, milestone_body(party["id"]), reporter)
    url = f"{MILESTONES}/{milestone['id']}"
    other = auth("reporter", "team-bravo")
    response = client.patch(url, json={"notes": "mine now"}, headers=other)
    assert response.status_code == 403, response.text
    assert "another team" in response.json()["detail"]
    assert (
        client.post(
            MILESTONES, json=milestone_body(party["id"]), headers=auth("viewer")
        ).status_code
        == 403
    )

    verification = {
        "occurred_at": datetime.now(UTC).isoformat(),
        "method": "site_visit",
        "status": "in_review",
        "finding": "unverified",
    }
    assert (
        client.post(f"{url}/verifications", json=verification, headers=analyst).status_code == 201
    )
    locked = client.patch(url, json={"notes": "late fix"}, headers=reporter)
    assert locked.status_code == 403, locked.text
    fixed = client.patch(url, json={"notes": "analyst fix"}, headers=analyst)
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["notes"] == "analyst fix"
    assert fixed.json()["status"] == "in_review"


def test_milestone_filters(
    client: TestClient, reporter: dict, analyst: dict, make_party: Callable[..., dict]
) -> None:
    gov, rebels = make_party()["id"], make_party()["id"]

    def make(party_id: str, **overrides: Any) -> str:
        return post(client, MILESTONES, milestone_body(party_id, **overrides), reporter)["id"]

    january = make(gov, achieved_on="2025-01-15")
    march = make(gov, achieved_on="2025-03-01", site="Camp B")
    enrolled = make(rebels, indicator="reintegration_enrolled", achieved_on="2025-02-01", site=None)
    verification = {
        "occurred_at": datetime.now(UTC).isoformat(),
        "method": "patrol",
        "status": "closed",
        "finding": "verified",
    }
    url = f"{MILESTONES}/{march}/verifications"
    assert client.post(url, json=verification, headers=analyst).status_code == 201

    assert ids(client, MILESTONES, reporter, party_id=rebels) == {enrolled}
    assert ids(client, MILESTONES, reporter, indicator="combatants_disarmed") == {january, march}
    assert ids(client, MILESTONES, reporter, phase="reintegration") == {enrolled}
    assert ids(client, MILESTONES, reporter, site="Camp B") == {march}
    assert ids(client, MILESTONES, reporter, achieved_from="2025-02-01") == {march, enrolled}
    assert ids(client, MILESTONES, reporter, achieved_to="2025-02-01") == {january, enrolled}
    assert ids(client, MILESTONES, reporter, finding="verified") == {march}
    assert ids(client, MILESTONES, reporter, finding="unverified") == {january, enrolled}
    assert ids(client, MILESTONES, reporter, status="closed") == {march}
    response = client.get(MILESTONES, params={"achieved_from": "yesterday"}, headers=reporter)
    assert error_field(response) == "achieved_from"


def test_milestone_pages_by_achieved_on(client: TestClient, reporter: dict, party: dict) -> None:
    made = [
        post(
            client,
            MILESTONES,
            milestone_body(party["id"], achieved_on=f"2025-01-{day:02d}"),
            reporter,
        )
        for day in (3, 1, 2, 2, 5, 4, 2)
    ]
    listed = walk(client, MILESTONES, reporter, limit=2)
    assert sorted(m["id"] for m in listed) == sorted(m["id"] for m in made)
    keys = [(m["achieved_on"], m["id"]) for m in listed]
    assert keys == sorted(keys, reverse=True)
    assert client.get(f"{MILESTONES}/{made[0]['id']}", headers=reporter).json() == made[0]
