"""Every API route by every role, and no token: who is let through and who gets 401 or 403.

The table is written out by hand from DOMAIN.md's roles, independently of backend/auth/permissions.py,
so a change to the permissions that the table does not share fails here.
"""

from __future__ import annotations

import uuid

import pytest

from backend.app import create_app

ALL = {"reporter", "analyst", "viewer", "admin"}
FIELD = {"reporter", "analyst", "admin"}
ANALYSTS = {"analyst", "admin"}
ADMIN = {"admin"}

MATRIX: dict[tuple[str, str], set[str]] = {
    ("GET", "/api/v1/parties"): ALL,
    ("POST", "/api/v1/parties"): ADMIN,
    ("GET", "/api/v1/parties/{party_id}"): ALL,
    ("PATCH", "/api/v1/parties/{party_id}"): ADMIN,
    ("GET", "/api/v1/incidents"): ALL,
    ("POST", "/api/v1/incidents"): FIELD,
    ("POST", "/api/v1/sync"): FIELD,
    ("GET", "/api/v1/incidents/{incident_id}"): ALL,
    ("PATCH", "/api/v1/incidents/{incident_id}"): FIELD,
    ("GET", "/api/v1/incidents/{incident_id}/verifications"): ALL,
    ("POST", "/api/v1/incidents/{incident_id}/verifications"): ANALYSTS,
    ("GET", "/api/v1/ddr/targets"): ALL,
    ("POST", "/api/v1/ddr/targets"): ANALYSTS,
    ("GET", "/api/v1/ddr/targets/{target_id}"): ALL,
    ("PATCH", "/api/v1/ddr/targets/{target_id}"): ANALYSTS,
    ("GET", "/api/v1/ddr/milestones"): ALL,
    ("POST", "/api/v1/ddr/milestones"): FIELD,
    ("GET", "/api/v1/ddr/milestones/{milestone_id}"): ALL,
    ("PATCH", "/api/v1/ddr/milestones/{milestone_id}"): FIELD,
    ("GET", "/api/v1/ddr/milestones/{milestone_id}/verifications"): ALL,
    ("POST", "/api/v1/ddr/milestones/{milestone_id}/verifications"): ANALYSTS,
    ("GET", "/api/v1/track-activities"): ALL,
    ("POST", "/api/v1/track-activities"): FIELD,
    ("GET", "/api/v1/track-activities/{activity_id}"): ALL,
    ("PATCH", "/api/v1/track-activities/{activity_id}"): FIELD,
    ("GET", "/api/v1/agreements"): ALL,
    ("POST", "/api/v1/agreements"): ADMIN,
    ("GET", "/api/v1/agreements/{agreement_id}"): ALL,
    ("PATCH", "/api/v1/agreements/{agreement_id}"): ADMIN,
    ("GET", "/api/v1/commitments"): ALL,
    ("POST", "/api/v1/commitments"): ADMIN,
    ("GET", "/api/v1/commitments/{commitment_id}"): ALL,
    ("PATCH", "/api/v1/commitments/{commitment_id}"): ADMIN,
    ("GET", "/api/v1/commitments/{commitment_id}/progress"): ALL,
    ("POST", "/api/v1/commitments/{commitment_id}/progress"): ANALYSTS,
    ("GET", "/api/v1/tokens"): ADMIN,
    ("POST", "/api/v1/tokens"): ADMIN,
    ("DELETE", "/api/v1/tokens/{name}"): ADMIN,
    ("GET", "/api/v1/audit"): ADMIN,
    ("POST", "/api/v1/imports/{source}"): ADMIN,
    ("GET", "/api/v1/stream"): ALL,
    ("GET", "/api/v1/metrics/implementation"): ALL,
    ("GET", "/api/v1/metrics/compliance"): ALL,
    ("GET", "/api/v1/metrics/trust"): ALL,
    ("GET", "/api/v1/metrics/ddr"): ALL,
    ("GET", "/api/v1/metrics/verification"): ALL,
    ("GET", "/api/v1/metrics/tracks"): ALL,
    ("GET", "/api/v1/metrics/incidents"): ALL,
    ("GET", "/api/v1/alerts"): ALL,
    ("GET", "/api/v1/perception-surveys"): ALL,
    ("POST", "/api/v1/perception-surveys"): ANALYSTS,
    ("GET", "/api/v1/perception-surveys/{survey_id}"): ALL,
    ("GET", "/api/v1/exports/{kind}.{format}"): ALL,
    ("GET", "/api/v1/briefings/{period}.pdf"): ALL,
}
# Endless responses: only their status is read, then the stream is closed at once.
STREAMS = {"/api/v1/stream"}


def test_the_matrix_covers_every_api_route():
    paths = create_app().openapi()["paths"]
    routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/")
        for method in operations
    }
    assert routes == set(MATRIX)


def _concrete(path: str) -> str:
    return path.replace("{name}", "nobody").format_map(_AnyId())


class _AnyId(dict):
    def __missing__(self, key: str) -> str:
        return str(uuid.uuid4())


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_each_role_is_let_through_or_refused(client, auth, method, path):
    url = _concrete(path)
    body = {} if method in ("POST", "PATCH") else None

    def status_of(headers: dict[str, str] | None = None) -> int:
        if path in STREAMS:
            with client.stream(method, url, headers=headers) as response:
                return response.status_code
        return client.request(method, url, json=body, headers=headers).status_code

    assert status_of() == 401, f"{method} {path} without a token"

    for role in sorted(ALL):
        status = status_of(auth(role))
        if role in MATRIX[(method, path)]:
            assert status not in (401, 403), f"{role} refused {method} {path}"
        else:
            assert status == 403, f"{role} allowed {method} {path}"
