"""Incidents through the API: reporting, reading back, visibility, filters, pages, corrections."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backend.incidents.models import Incident
from tests.helpers import count, field_errors, incident_body

URL = "/api/v1/incidents"


def test_reporter_posts_an_incident_that_reads_back_received_and_unverified(
    client, auth, make_party
):
    gov, rebels = make_party(kind="state_force"), make_party()
    reporter = auth("reporter", "patrol-1")
    body = incident_body(alleged_party_id=rebels["id"], target_party_id=gov["id"])

    created = client.post(URL, json=body, headers=reporter)

    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["status"] == "received"
    assert incident["finding"] == "unverified"
    assert incident["reported_by"] == "patrol-1"
    assert incident["occurred_at"] == "2026-11-20T08:15:00Z"  # stored and shown in UTC
    fetched = client.get(f"{URL}/{incident['id']}", headers=reporter)
    assert fetched.status_code == 200
    assert fetched.json() == incident


def test_client_chosen_id_is_kept(client, auth):
    chosen = str(uuid.uuid4())
    response = client.post(URL, json=incident_body(id=chosen), headers=auth("reporter"))
    assert response.status_code == 201
    assert response.json()["id"] == chosen


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"latitude": 91}, "latitude", "less than or equal to 90"),
        ({"longitude": -180.5}, "longitude", "greater than or equal to -180"),
        ({"category": "riot"}, "category", "armed_clash"),
        ({"source_type": "rumour"}, "source_type", "patrol"),
        ({"occurred_at": "2026-11-20T10:15:00"}, "occurred_at", "timezone"),
        ({"occurred_at": "1899-12-31T23:00:00Z"}, "occurred_at", "before 1900"),
        ({"fatalities": -1}, "fatalities", "greater than or equal to 0"),
        ({"status": "closed"}, "status", "Extra inputs are not permitted"),
        ({"finding": "verified"}, "finding", "Extra inputs are not permitted"),
        ({"reported_by": "someone-else"}, "reported_by", "Extra inputs are not permitted"),
        ({"description": "nul\u0000byte"}, "description", "NUL"),
        ({"location_name": "A\u0000"}, "location_name", "NUL"),
        ({"alleged_party_id": str(uuid.uuid4())}, "alleged_party_id", "unknown party"),
        ({"target_party_id": "not-a-uuid"}, "target_party_id", "UUID"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(client, auth, db, change, field, message):
    response = client.post(URL, json=incident_body(**change), headers=auth("reporter"))

    assert response.status_code == 422, response.text
    errors = field_errors(response)
    assert field in errors, errors
    assert message in errors[field]
    assert field in response.json()["detail"]
    assert count(db, Incident) == 0


def test_a_time_in_the_future_is_refused(client, auth, db):
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    response = client.post(URL, json=incident_body(occurred_at=future), headers=auth("reporter"))
    assert response.status_code == 422
    assert "in the future" in field_errors(response)["occurred_at"]
    assert count(db, Incident) == 0


def test_a_few_minutes_of_device_clock_skew_is_accepted(client, auth):
    ahead = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    response = client.post(URL, json=incident_body(occurred_at=ahead), headers=auth("reporter"))
    assert response.status_code == 201


def test_missing_required_fields_are_each_named(client, auth, db):
    response = client.post(URL, json={"description": "no details"}, headers=auth("reporter"))
    assert response.status_code == 422
    assert {"occurred_at", "category", "latitude", "longitude", "source_type"} <= set(
        field_errors(response)
    )
    assert count(db, Incident) == 0


def test_malformed_json_is_a_clear_422(client, auth, db):
    response = client.post(
        URL,
        content=b'{"category": "shelling",',
        headers={**auth("reporter"), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert "malformed JSON" in field_errors(response)["body"]
    assert count(db, Incident) == 0


def test_oversized_body_is_413_and_nothing_is_stored(client, auth, db, settings):
    huge = incident_body(description="x" * (settings.max_body_bytes + 10))
    response = client.post(URL, json=huge, headers=auth("reporter"))
    assert response.status_code == 413
    assert "exceeds the limit" in response.json()["detail"]
    assert count(db, Incident) == 0


def test_oversized_body_without_content_length_is_413(client, auth, db, settings):
    def chunks():
        yield b'{"description": "'
        for _ in range(settings.max_body_bytes // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        URL, content=chunks(), headers={**auth("reporter"), "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert count(db, Incident) == 0


def test_an_id_already_used_is_a_conflict_and_changes_nothing(client, auth, db):
    first = client.post(URL, json=incident_body(), headers=auth("reporter", "team-a")).json()
    other = auth("reporter", "team-b")

    response = client.post(
        URL, json=incident_body(id=first["id"], description="overwrite"), headers=other
    )

    assert response.status_code == 409
    assert "exists already" in field_errors(response)["id"]
    assert count(db, Incident) == 1
    admin_view = client.get(f"{URL}/{first['id']}", headers=auth("admin")).json()
    assert admin_view["description"] == first["description"]
    assert admin_view["reported_by"] == "team-a"


def _post(client, headers, **overrides):
    response = client.post(URL, json=incident_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_reporters_read_their_own_and_public_reports_only(client, auth):
    mine_h, theirs_h = auth("reporter", "team-a"), auth("reporter", "team-b")
    mine = _post(client, mine_h, sensitivity="confidential")
    public = _post(client, theirs_h, sensitivity="public")
    restricted = _post(client, theirs_h, sensitivity="restricted")
    confidential = _post(client, theirs_h, sensitivity="confidential")

    listed = {i["id"] for i in client.get(URL, headers=mine_h).json()["items"]}

    assert listed == {mine["id"], public["id"]}
    for hidden in (restricted, confidential):
        response = client.get(f"{URL}/{hidden['id']}", headers=mine_h)
        assert response.status_code == 404  # no hint that it exists
    viewer = {i["id"] for i in client.get(URL, headers=auth("viewer")).json()["items"]}
    assert viewer == {public["id"], restricted["id"]}
    analyst = {i["id"] for i in client.get(URL, headers=auth("analyst")).json()["items"]}
    assert analyst == {mine["id"], public["id"], restricted["id"], confidential["id"]}


def test_filters_narrow_the_list(client, auth, make_party):
    rebels, militia = make_party(), make_party(kind="militia")
    h = auth("analyst")
    a = _post(
        client,
        h,
        category="shelling",
        alleged_party_id=rebels["id"],
        admin1="Bomi",
        occurred_at="2026-11-01T00:00:00Z",
        latitude=6.8,
        longitude=-10.8,
    )
    b = _post(
        client,
        h,
        category="abduction",
        target_party_id=militia["id"],
        admin1="Lofa",
        occurred_at="2026-11-10T00:00:00Z",
        latitude=8.4,
        longitude=-9.8,
    )
    c = _post(
        client,
        h,
        category="shelling",
        admin1="Lofa",
        occurred_at="2026-11-15T00:00:00Z",
        latitude=8.2,
        longitude=-9.7,
    )

    def ids(**params):
        response = client.get(URL, params=params, headers=h)
        assert response.status_code == 200, response.text
        return {i["id"] for i in response.json()["items"]}

    assert ids(category="shelling") == {a["id"], c["id"]}
    assert ids(category=["shelling", "abduction"]) == {a["id"], b["id"], c["id"]}
    assert ids(party_id=rebels["id"]) == {a["id"]}
    assert ids(party_id=militia["id"]) == {b["id"]}
    assert ids(admin1="Lofa") == {b["id"], c["id"]}
    assert ids(occurred_from="2026-11-05T00:00:00Z") == {b["id"], c["id"]}
    assert ids(occurred_to="2026-11-10T00:00:00Z") == {a["id"]}
    assert ids(bbox="-10,8,-9,9") == {b["id"], c["id"]}
    assert ids(finding="unverified", status="received") == {a["id"], b["id"], c["id"]}
    assert ids(finding="verified") == set()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "0,10,1,5"}, "bbox"),
        ({"category": "riot"}, "category"),
        ({"occurred_from": "yesterday"}, "occurred_from"),
        ({"limit": 0}, "limit"),
        ({"limit": 100_000}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_list_parameters_name_the_parameter(client, auth, params, field):
    response = client.get(URL, params=params, headers=auth("analyst"))
    assert response.status_code == 422, response.text
    assert field in {name.split(".")[0] for name in field_errors(response)}


def test_pages_walk_every_incident_once_newest_first(client, auth):
    h = auth("analyst")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    # Pairs share a timestamp, so the cursor must break ties by id.
    made = [
        _post(client, h, occurred_at=(start + timedelta(hours=i // 2)).isoformat())["id"]
        for i in range(11)
    ]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(URL, params=params, headers=h).json()
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 4
    assert sorted(i["id"] for i in seen) == sorted(made)
    times = [i["occurred_at"] for i in seen]
    assert times == sorted(times, reverse=True)


def test_reporter_corrects_own_report_until_it_is_under_verification(client, auth):
    reporter = auth("reporter", "team-a")
    incident = _post(client, reporter)
    url = f"{URL}/{incident['id']}"

    fixed = client.patch(url, json={"fatalities": 3}, headers=reporter)
    assert fixed.status_code == 200
    assert fixed.json()["fatalities"] == 3

    other = client.patch(url, json={"fatalities": 9}, headers=auth("reporter", "team-b"))
    assert other.status_code in (403, 404)
    client.post(
        f"{url}/verifications",
        json={
            "occurred_at": "2026-11-21T09:00:00Z",
            "method": "site_visit",
            "status": "in_review",
            "finding": "unverified",
        },
        headers=auth("analyst"),
    )
    locked = client.patch(url, json={"fatalities": 4}, headers=reporter)
    assert locked.status_code == 403
    assert "under verification" in locked.json()["detail"]
    by_analyst = client.patch(url, json={"fatalities": 4}, headers=auth("analyst"))
    assert by_analyst.status_code == 200
    assert client.get(url, headers=reporter).json()["fatalities"] == 4


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "closed"}, "status"),
        ({"category": None}, "category"),
        ({"latitude": 100}, "latitude"),
        ({"alleged_party_id": str(uuid.uuid4())}, "alleged_party_id"),
    ],
)
def test_bad_corrections_are_refused_and_change_nothing(client, auth, change, field):
    h = auth("analyst")
    incident = _post(client, h)
    response = client.patch(f"{URL}/{incident['id']}", json=change, headers=h)
    assert response.status_code == 422
    assert field in field_errors(response)
    assert client.get(f"{URL}/{incident['id']}", headers=h).json() == incident
