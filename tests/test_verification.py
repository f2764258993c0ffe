"""Verification events: an incident's status, finding and attribution come from them alone."""

from __future__ import annotations

import uuid

import pytest

from backend.verification.models import VerificationEvent
from tests.helpers import count, field_errors, incident_body


@pytest.fixture
def incident(client, auth):
    response = client.post("/api/v1/incidents", json=incident_body(), headers=auth("reporter"))
    return response.json()


def step(**overrides):
    body = {
        "occurred_at": "2026-11-21T09:00:00Z",
        "method": "site_visit",
        "team": "JVT Bomi",
        "status": "in_review",
        "finding": "unverified",
    }
    body.update(overrides)
    return body


def test_status_and_finding_follow_the_latest_step(client, auth, make_party, incident):
    analyst, rebels = auth("analyst"), make_party()
    url = f"/api/v1/incidents/{incident['id']}"

    client.post(f"{url}/verifications", json=step(), headers=analyst)
    assert client.get(url, headers=analyst).json()["status"] == "in_review"

    closing = step(
        occurred_at="2026-11-22T09:00:00Z",
        status="closed",
        finding="verified",
        attributed_party_id=rebels["id"],
        method="joint_mechanism_meeting",
    )
    created = client.post(f"{url}/verifications", json=closing, headers=analyst)
    assert created.status_code == 201, created.text
    # A late entry for an earlier visit must not undo the later finding.
    client.post(
        f"{url}/verifications",
        json=step(occurred_at="2026-11-21T12:00:00Z", finding="disputed"),
        headers=analyst,
    )

    now = client.get(url, headers=analyst).json()
    assert (now["status"], now["finding"]) == ("closed", "verified")
    assert now["attributed_party_id"] == rebels["id"]
    history = client.get(f"{url}/verifications", headers=analyst).json()["items"]
    assert [h["occurred_at"] for h in history] == [
        "2026-11-21T09:00:00Z",
        "2026-11-21T12:00:00Z",
        "2026-11-22T09:00:00Z",
    ]
    assert all(h["recorded_by"].startswith("analyst-") for h in history)


def test_refuted_finding_clears_the_attribution(client, auth, make_party, incident):
    analyst, rebels = auth("analyst"), make_party()
    url = f"/api/v1/incidents/{incident['id']}"
    client.post(
        f"{url}/verifications",
        json=step(status="closed", finding="verified", attributed_party_id=rebels["id"]),
        headers=analyst,
    )
    client.post(
        f"{url}/verifications",
        json=step(occurred_at="2026-11-23T09:00:00Z", status="closed", finding="refuted"),
        headers=analyst,
    )
    now = client.get(url, headers=analyst).json()
    assert now["finding"] == "refuted"
    assert now["attributed_party_id"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"finding": "unverified", "attributed_party_id": "PARTY"}, "attributed_party_id"),
        ({"finding": "verified", "attributed_party_id": str(uuid.uuid4())}, "attributed_party_id"),
        ({"occurred_at": "2026-11-19T00:00:00Z"}, "occurred_at"),  # before the incident
        ({"method": "rumour"}, "method"),
        ({"status": "done"}, "status"),
        ({"notes": "\u0000"}, "notes"),
    ],
)
def test_bad_steps_are_refused_and_change_nothing(
    client, auth, db, make_party, incident, change, field
):
    if change.get("attributed_party_id") == "PARTY":
        change["attributed_party_id"] = make_party()["id"]
    analyst = auth("analyst")
    url = f"/api/v1/incidents/{incident['id']}"
    response = client.post(f"{url}/verifications", json=step(**change), headers=analyst)
    assert response.status_code == 422, response.text
    assert field in field_errors(response)
    assert count(db, VerificationEvent) == 0
    assert client.get(url, headers=analyst).json()["status"] == "received"


def test_reporters_and_viewers_cannot_verify(client, auth, db, incident):
    url = f"/api/v1/incidents/{incident['id']}/verifications"
    for role in ("reporter", "viewer"):
        response = client.post(url, json=step(), headers=auth(role))
        assert response.status_code == 403
        assert f"role '{role}' may not verify" in response.json()["detail"]
    assert count(db, VerificationEvent) == 0


def test_verifying_an_unknown_incident_is_404(client, auth):
    response = client.post(
        f"/api/v1/incidents/{uuid.uuid4()}/verifications", json=step(), headers=auth("analyst")
    )
    assert response.status_code == 404
