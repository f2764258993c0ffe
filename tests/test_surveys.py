"""Perception surveys: recorded by analysts, listed by readers, read by the trust index."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import API, error_field, post, today


@pytest.fixture
def pair(make_party):
    return make_party(name="Government", code="GOV")["id"], make_party(name="Rebels", code="REB")[
        "id"
    ]


def survey(a: str, b: str, **overrides: object) -> dict:
    body = {
        "respondent_party_id": a,
        "trusted_party_id": b,
        "surveyed_on": (today() - timedelta(days=2)).isoformat(),
        "score": 4.2,
        "respondents": 1200,
        "respondent_group": "  Malakal returnees ",
        "admin1": "Upper Nile",
        "source": "SCORE South Sudan 2026",
    }
    return {**body, **overrides}


def test_an_analyst_records_a_survey_and_every_reader_lists_it(client, auth, pair):
    a, b = pair
    made = post(client, f"{API}/perception-surveys", survey(a, b), auth("analyst", "jvt-1"))
    assert made["score"] == 4.2
    assert made["respondent_group"] == "Malakal returnees"
    assert made["recorded_by"] == "jvt-1"
    viewer = auth("viewer")
    listed = client.get(f"{API}/perception-surveys", params={"party_id": b}, headers=viewer)
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["items"]] == [made["id"]]
    other = client.get(
        f"{API}/perception-surveys",
        params={"surveyed_from": today().isoformat()},
        headers=viewer,
    )
    assert other.json()["items"] == []
    one = client.get(f"{API}/perception-surveys/{made['id']}", headers=viewer)
    assert one.status_code == 200
    assert one.json()["source"] == "SCORE South Sudan 2026"
    # Who recorded it is in the audit trail.
    audit = client.get(
        f"{API}/audit",
        params={"record_kind": "perception_survey", "record_id": made["id"]},
        headers=auth("admin"),
    ).json()["items"]
    assert [e["actor"] for e in audit] == ["jvt-1"]


@pytest.mark.parametrize("role", ["reporter", "viewer"])
def test_field_teams_and_viewers_may_not_record_surveys(client, auth, pair, role):
    response = client.post(f"{API}/perception-surveys", json=survey(*pair), headers=auth(role))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"score": 10.5}, "score"),
        ({"score": -1}, "score"),
        ({"respondents": 0}, "respondents"),
        ({"source": "   "}, "source"),
        ({"surveyed_on": (today() + timedelta(days=5)).isoformat()}, "surveyed_on"),
        ({"trusted_party_id": "same"}, "trusted_party_id"),
        ({"trusted_party_id": "00000000-0000-4000-8000-000000000001"}, "trusted_party_id"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_a_bad_survey_is_refused_naming_the_field(client, auth, pair, overrides, field):
    a, b = pair
    if overrides.get("trusted_party_id") == "same":
        overrides = {"trusted_party_id": a}
    response = client.post(
        f"{API}/perception-surveys", json=survey(a, b, **overrides), headers=auth("analyst")
    )
    assert response.status_code == 422, response.text
    assert error_field(response) == field


def _perception(client, headers: dict[str, str]) -> tuple[float, dict]:
    body = client.get(f"{API}/metrics/trust", headers=headers).json()
    (pair_trust,) = body["pairs"]
    parts = {c["name"]: c for c in pair_trust["components"]}
    assert sum(c["contribution"] for c in parts.values()) == pytest.approx(pair_trust["value"])
    return pair_trust["value"], parts["perception"]


def test_a_survey_enters_the_pair_s_trust_as_its_perception_component(client, auth, pair):
    a, b = pair
    analyst = auth("analyst")
    value, perception = _perception(client, analyst)
    assert value == pytest.approx(100.0)  # nothing but the absence of violations
    assert perception["score"] is None
    assert perception["weight"] == 0

    # Two surveys of the pair, either way round: today's 2/10 and 2/10 a half-life ago, 7/10.
    post(
        client,
        f"{API}/perception-surveys",
        survey(b, a, score=2, surveyed_on=today().isoformat()),
        analyst,
    )
    post(
        client,
        f"{API}/perception-surveys",
        survey(a, b, score=7, surveyed_on=(today() - timedelta(days=30)).isoformat()),
        analyst,
    )
    value, perception = _perception(client, analyst)
    # Decayed mean: (1 x 0.2 + 0.5 x 0.7) / 1.5 = 0.3667; weights 0.4 violations, 0.1 perception.
    assert perception["counts"] == {"surveys": 2}
    assert perception["score"] == pytest.approx(0.55 / 1.5)
    assert perception["weight"] == pytest.approx(0.1 / 0.5)
    assert value == pytest.approx(100 * (0.4 * 1 + 0.1 * 0.55 / 1.5) / 0.5)
    assert round(value, 1) == 87.3  # docs/methodology.md's worked example


def test_a_region_filter_reads_that_region_s_surveys_only(client, auth, pair):
    a, b = pair
    analyst = auth("analyst")
    post(client, f"{API}/perception-surveys", survey(a, b, score=1, admin1="Jonglei"), analyst)
    body = client.get(f"{API}/metrics/trust", params={"region": "Upper Nile"}, headers=analyst)
    (pair_trust,) = body.json()["pairs"]
    perception = {c["name"]: c for c in pair_trust["components"]}["perception"]
    assert perception["counts"] == {"surveys": 0}
    assert pair_trust["value"] == pytest.approx(100.0)
