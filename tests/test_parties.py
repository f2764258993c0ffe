"""Parties: admins create and change them; everyone signed in reads them."""

from __future__ import annotations

import pytest

from backend.parties.models import Party
from tests.helpers import count, field_errors

URL = "/api/v1/parties"


def test_admin_creates_a_party_that_everyone_reads(client, admin, auth):
    body = {
        "name": "Liberians United for Reconciliation and Democracy",
        "code": "LURD",
        "kind": "rebel_group",
        "signatory": True,
        "aliases": ["LURD", "LURD rebels", "LURD"],
    }
    created = client.post(URL, json=body, headers=admin)
    assert created.status_code == 201, created.text
    party = created.json()
    assert party["aliases"] == ["LURD", "LURD rebels"]
    for role in ("reporter", "analyst", "viewer"):
        assert client.get(f"{URL}/{party['id']}", headers=auth(role)).json() == party


def test_reporter_may_not_create_a_party(client, auth, db):
    response = client.post(
        URL, json={"name": "X", "code": "X", "kind": "militia"}, headers=auth("reporter")
    )
    assert response.status_code == 403
    assert count(db, Party) == 0


def test_a_name_of_spaces_alone_is_refused_and_the_schema_says_so(client, admin, make_party, db):
    """ "   " is no name: refused (not stored as ""), on create and on change, and the published
    schema asks for a character that is not space, so a client can check before sending."""
    blank = {"name": "   ", "code": "BLK", "kind": "militia"}
    response = client.post(URL, json=blank, headers=admin)
    assert response.status_code == 422, response.text
    assert "blank" in field_errors(response)["name"]
    assert count(db, Party) == 0
    party = make_party(name="  Model  ", code="MODEL")
    assert party["name"] == "Model"
    response = client.patch(f"{URL}/{party['id']}", json={"name": " \t "}, headers=admin)
    assert response.status_code == 422, response.text
    assert "blank" in field_errors(response)["name"]
    assert client.get(f"{URL}/{party['id']}", headers=admin).json()["name"] == "Model"
    schema = client.get("/openapi.json").json()["components"]["schemas"]["PartyCreate"]
    assert schema["properties"]["name"]["pattern"] == r"\S"


@pytest.mark.parametrize("field", ["name", "code"])
def test_names_and_codes_are_unique_whatever_the_case(client, admin, make_party, field):
    first = make_party(name="Armed Forces of Liberia", code="AFL")
    clash = {"name": "Other", "code": "OTH", "kind": "state_force"}
    clash[field] = first[field].lower()
    response = client.post(URL, json=clash, headers=admin)
    assert response.status_code == 409
    assert field in field_errors(response)


def test_update_and_filters(client, admin, make_party):
    rebels = make_party(name="Movement for Democracy in Liberia", code="MODEL")
    make_party(name="Civil Defence Militia", code="CDM", kind="militia", signatory=False)
    changed = client.patch(f"{URL}/{rebels['id']}", json={"signatory": False}, headers=admin)
    assert changed.status_code == 200
    assert changed.json()["signatory"] is False

    def names(**p):
        return [x["code"] for x in client.get(URL, params=p, headers=admin).json()["items"]]

    assert names(kind="militia") == ["CDM"]
    assert sorted(names(signatory=False)) == ["CDM", "MODEL"]
    assert names(q="democracy") == ["MODEL"]
    assert (
        client.patch(f"{URL}/{rebels['id']}", json={"name": None}, headers=admin).status_code == 422
    )
