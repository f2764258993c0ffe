"""Track activities through the API: round trips, party links, filters, pages and every rule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.helpers import API, error_field, ids, post, today, walk

ACTIVITIES = f"{API}/track-activities"


@pytest.fixture
def reporter(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth("reporter", "civil-affairs")


@pytest.fixture
def parties(make_party: Callable[..., dict]) -> list[str]:
    return [make_party()["id"] for _ in range(3)]


def activity_body(party_ids: list[str], **overrides: Any) -> dict[str, Any]:
    body = {
        "track": "track_1",
        "kind": "formal_talks",
        "title": "Round 3 of the Juba talks",
        "occurred_on": "2025-03-04",
        "venue": "Juba",
        "facilitator": "IGAD envoy",
        "participants": 24,
        "women_participants": 5,
        "outcome": "held",
        "summary": "Agreed on the cantonment sites.",
        "party_ids": party_ids,
    }
    return {**body, **overrides}


def test_round_trip(client: TestClient, reporter: dict, parties: list[str]) -> None:
    client_id = "0b5a7d2c-8e3f-4f61-9c0a-2d7e4b9f1a23"
    created = post(client, ACTIVITIES, activity_body(parties[:2], id=client_id), reporter)
    assert created["id"] == client_id
    assert created["reported_by"] == "civil-affairs"
    assert sorted(created["party_ids"]) == sorted(parties[:2])
    assert (created["participants"], created["women_participants"]) == (24, 5)

    url = f"{ACTIVITIES}/{client_id}"
    assert client.get(url, headers=reporter).json() == created
    assert walk(client, ACTIVITIES, reporter) == [created]
    retry = client.post(ACTIVITIES, json=activity_body(parties[:2], id=client_id), headers=reporter)
    assert (retry.status_code, retry.json()) == (200, created)
    changed = client.post(
        ACTIVITIES,
        json=activity_body(parties[:2], id=client_id, venue="Elsewhere"),
        headers=reporter,
    )
    assert error_field(changed, 409) == "id"

    changes = {"party_ids": [parties[2], parties[0], parties[2]], "outcome": "stalled"}
    response = client.patch(url, json=changes, headers=reporter)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert sorted(updated["party_ids"]) == sorted([parties[0], parties[2]])
    assert updated["outcome"] == "stalled"
    assert client.get(url, headers=reporter).json() == updated
    assert ids(client, ACTIVITIES, reporter, party_id=parties[1]) == set()


def test_unknown_party_stores_nothing(
    client: TestClient, reporter: dict, parties: list[str]
) -> None:
    unknown = "00000000-0000-4000-8000-000000000003"
    response = client.post(ACTIVITIES, json=activity_body([parties[0], unknown]), headers=reporter)
    assert error_field(response) == "party_ids.1"
    assert walk(client, ACTIVITIES, reporter) == []

    created = post(client, ACTIVITIES, activity_body([parties[0]]), reporter)
    url = f"{ACTIVITIES}/{created['id']}"
    response = client.patch(url, json={"party_ids": [unknown], "title": "x"}, headers=reporter)
    assert error_field(response) == "party_ids.0"
    assert client.get(url, headers=reporter).json() == created


def test_dates_and_counts(client: TestClient, reporter: dict, parties: list[str]) -> None:
    next_week = str(today() + timedelta(days=7))
    bad = [
        (activity_body(parties, occurred_on=next_week), "occurred_on"),
        (activity_body(parties, occurred_on=next_week, outcome="agreement_reached"), "occurred_on"),
        (activity_body(parties, occurred_on="1899-06-01", outcome="cancelled"), "occurred_on"),
        (activity_body(parties, women_participants=25), "women_participants"),
    ]
    for body, field in bad:
        assert error_field(client.post(ACTIVITIES, json=body, headers=reporter)) == field
    assert walk(client, ACTIVITIES, reporter) == []

    planned = post(
        client,
        ACTIVITIES,
        activity_body(parties, occurred_on=next_week, outcome="postponed"),
        reporter,
    )
    url = f"{ACTIVITIES}/{planned['id']}"
    assert error_field(client.patch(url, json={"outcome": "held"}, headers=reporter)) == (
        "occurred_on"
    )
    assert error_field(client.patch(url, json={"participants": 4}, headers=reporter)) == (
        "women_participants"
    )
    assert error_field(client.patch(url, json={"title": None}, headers=reporter)) == "title"
    assert error_field(client.patch(url, json={"party_ids": None}, headers=reporter)) == "party_ids"
    assert client.get(url, headers=reporter).json() == planned
    # Held once it happened: the date and the outcome change together.
    held = {"outcome": "held", "occurred_on": str(today())}
    response = client.patch(url, json=held, headers=reporter)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "held"


def test_edit_rights(
    client: TestClient, reporter: dict, parties: list[str], auth: Callable
) -> None:
    created = post(client, ACTIVITIES, activity_body(parties), reporter)
    url = f"{ACTIVITIES}/{created['id']}"
    other = auth("reporter", "another-team")
    assert client.patch(url, json={"title": "hijack"}, headers=other).status_code == 403
    assert client.patch(url, json={"title": "x"}, headers=auth("viewer")).status_code == 403
    assert (
        client.post(ACTIVITIES, json=activity_body(parties), headers=auth("viewer")).status_code
        == 403
    )
    response = client.patch(url, json={"title": "Round 3 (corrected)"}, headers=auth("analyst"))
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Round 3 (corrected)"
    assert response.json()["reported_by"] == "civil-affairs"


def test_filters(client: TestClient, reporter: dict, parties: list[str]) -> None:
    gov, rebels, militia = parties
    talks = post(client, ACTIVITIES, activity_body([gov, rebels]), reporter)["id"]
    workshop = post(
        client,
        ACTIVITIES,
        activity_body([rebels], track="track_2", kind="workshop", occurred_on="2025-01-10"),
        reporter,
    )["id"]
    dialogue = post(
        client,
        ACTIVITIES,
        activity_body(
            [militia],
            track="track_3",
            kind="dialogue",
            outcome="cancelled",
            occurred_on="2025-05-20",
        ),
        reporter,
    )["id"]

    assert ids(client, ACTIVITIES, reporter, track="track_2") == {workshop}
    assert ids(client, ACTIVITIES, reporter, track=["track_2", "track_3"]) == {workshop, dialogue}
    assert ids(client, ACTIVITIES, reporter, kind="formal_talks") == {talks}
    assert ids(client, ACTIVITIES, reporter, outcome="cancelled") == {dialogue}
    assert ids(client, ACTIVITIES, reporter, party_id=rebels) == {talks, workshop}
    assert ids(client, ACTIVITIES, reporter, occurred_from="2025-03-04") == {talks, dialogue}
    assert ids(client, ACTIVITIES, reporter, occurred_to="2025-03-04") == {talks, workshop}
    assert error_field(client.get(ACTIVITIES, params={"track": "track_9"}, headers=reporter)) == (
        "track.0"
    )


def test_pages_by_occurred_on(client: TestClient, reporter: dict, parties: list[str]) -> None:
    made = [
        post(
            client,
            ACTIVITIES,
            activity_body(parties[: day % 3 + 1], occurred_on=f"2025-02-{day:02d}"),
            reporter,
        )
        for day in (5, 1, 3, 3, 9, 2, 3)
    ]
    listed = walk(client, ACTIVITIES, reporter, limit=3)
    assert sorted(a["id"] for a in listed) == sorted(a["id"] for a in made)
    keys = [(a["occurred_on"], a["id"]) for a in listed]
    assert keys == sorted(keys, reverse=True)
    by_id = {a["id"]: a for a in listed}
    assert all(by_id[a["id"]]["party_ids"] == sorted(a["party_ids"]) for a in made)


@contextmanager
def counting_statements(client: TestClient) -> Iterator[list[str]]:
    engine = client.app.state.db.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_party_ids_load_in_one_query_per_page(
    client: TestClient, reporter: dict, parties: list[str]
) -> None:
    def statements_for(limit: int) -> int:
        with counting_statements(client) as seen:
            page = client.get(ACTIVITIES, params={"limit": limit}, headers=reporter).json()
        assert len(page["items"]) == limit
        assert all(item["party_ids"] for item in page["items"])
        return len(seen)

    for _ in range(8):
        post(client, ACTIVITIES, activity_body(parties), reporter)
    assert statements_for(2) == statements_for(8)
