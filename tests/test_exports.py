"""Exports read back with real readers: csv, openpyxl, json (RFC 7946 rules) and libhxl; redaction
per role, the audit entry of each export, the API's filters, streaming and Excel's row limit."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import hxl
import openpyxl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.auth.service import Principal
from backend.db import Database
from backend.exports import service, writers
from backend.exports.filters import ExportFilters
from backend.exports.reading import crlf, read_batches
from backend.incidents.models import Incident
from backend.parties.models import Party
from backend.vocab import Role
from tests.helpers import API, incident_body, post, walk

EXPORTS = f"{API}/exports"


def read_csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))


@pytest.fixture
def mission(
    client: TestClient, admin: dict, auth: Callable[..., dict], make_party: Callable[..., dict]
) -> dict[str, Any]:
    """Two parties, incidents of every sensitivity from two patrols, a verification, DDR, tracks
    and a commitment."""
    gov, reb = make_party(code="GOV", name="Government"), make_party(code="REB", name="Rebels")
    patrol_1, patrol_2 = auth("reporter", "patrol-1"), auth("reporter", "patrol-2")
    analyst = auth("analyst", "jvt-1")
    incidents = {}
    specs = [
        ("public", patrol_1, "Bomi", "armed_clash", gov, "2026-11-01T08:00:00+00:00"),
        ("restricted", patrol_1, "Bomi", "shelling", reb, "2026-11-02T09:30:00+02:00"),
        ("confidential", patrol_1, "Lofa", "abduction", gov, "2026-11-03T10:00:00+00:00"),
        ("public", patrol_2, "Lofa", "armed_clash", reb, "2026-11-04T11:00:00+00:00"),
        ("confidential", patrol_2, "Bomi", "sexual_violence", reb, "2026-11-05T12:00:00+00:00"),
    ]
    for n, (sensitivity, who, region, category, party, at) in enumerate(specs):
        body = incident_body(
            occurred_at=at,
            sensitivity=sensitivity,
            admin1=region,
            category=category,
            alleged_party_id=party["id"],
            latitude=6.0 + n / 10,
            longitude=-10.0 - n / 10,
            fatalities=n,
            description=f"Événement n°{n}, «quoted», comma, here",
        )
        incidents[n] = post(client, f"{API}/incidents", body, who)
    step = {
        "occurred_at": "2026-11-06T08:00:00+00:00",
        "method": "site_visit",
        "team": "JVT Sector 2",
        "status": "closed",
        "finding": "verified",
        "attributed_party_id": gov["id"],
    }
    post(client, f"{API}/incidents/{incidents[0]['id']}/verifications", step, analyst)
    target = {
        "indicator": "combatants_disarmed",
        "party_id": reb["id"],
        "site": "Camp Alpha",
        "period_start_on": "2026-01-01",
        "period_end_on": "2026-12-31",
        "target_quantity": 1000,
    }
    post(client, f"{API}/ddr/targets", target, analyst)
    milestone = {
        "indicator": "combatants_disarmed",
        "party_id": reb["id"],
        "site": "Camp Alpha",
        "achieved_on": "2026-11-02",
        "quantity": 250,
    }
    post(client, f"{API}/ddr/milestones", milestone, patrol_1)
    activity = {
        "track": "track_1",
        "kind": "formal_talks",
        "title": "Round 3",
        "occurred_on": "2026-11-03",
        "outcome": "held",
        "party_ids": [gov["id"], reb["id"]],
    }
    post(client, f"{API}/track-activities", activity, patrol_2)
    agreement = {
        "name": "Ceasefire (test)",
        "kind": "ceasefire",
        "signed_on": "2025-01-01",
        "party_ids": [gov["id"], reb["id"]],
    }
    agreement_id = post(client, f"{API}/agreements", agreement, admin)["id"]
    commitment = {
        "agreement_id": agreement_id,
        "title": "Withdraw heavy weapons",
        "category": "withdrawal",
        "due_on": "2025-06-01",
        "party_ids": [gov["id"], reb["id"]],
    }
    post(client, f"{API}/commitments", commitment, admin)
    return {
        "gov": gov,
        "reb": reb,
        "incidents": incidents,
        "patrol_1": patrol_1,
        "analyst": analyst,
    }


def test_csv_parses_back_to_the_database_rows(client, admin, db: Database, mission):
    rows = read_csv(client.get(f"{EXPORTS}/incidents.csv", headers=admin))
    with db.engine.connect() as conn:
        stored = {
            str(r.id): r
            for r in conn.execute(sa.select(Incident.__table__).order_by(Incident.occurred_at))
        }
    assert [r["id"] for r in rows] == list(stored)  # every record, in time order
    for row in rows:
        incident = stored[row["id"]]
        assert datetime.fromisoformat(row["occurred_at"]) == incident.occurred_at
        assert row["occurred_at"].endswith("+00:00")  # ISO 8601 with its offset
        assert float(row["latitude"]) == incident.latitude
        assert float(row["longitude"]) == incident.longitude
        assert int(row["fatalities"]) == incident.fatalities
        assert row["description"] == incident.description  # quotes, commas, accents intact
        assert row["sensitivity"] == incident.sensitivity
        assert row["reported_by"] == incident.reported_by
    verified = next(r for r in rows if r["id"] == mission["incidents"][0]["id"])
    assert verified["finding"] == "verified"
    assert verified["attributed_party_code"] == "GOV"
    assert verified["verification_method"] == "site_visit"
    assert verified["verification_team"] == "JVT Sector 2"
    assert datetime.fromisoformat(verified["verified_at"]) == datetime(2026, 11, 6, 8, tzinfo=UTC)
    assert verified["alleged_party_code"] == "GOV"


def _latest_step_columns(client, admin, incident_id: str) -> dict[str, str]:
    rows = read_csv(client.get(f"{EXPORTS}/incidents.csv", headers=admin))
    row = next(r for r in rows if r["id"] == incident_id)
    return {k: row[k] for k in ("verified_at", "verification_method", "verification_team",
                                "status", "finding", "attributed_party_code")}  # fmt: skip


def _latest_step_of_history(client, admin, incident_id: str, codes: dict[str, str]):
    history = walk(client, f"{API}/incidents/{incident_id}/verifications", admin)
    last = history[-1]  # in the order steps took place (occurred_at, then recorded)
    return {
        "verified_at": last["occurred_at"],
        "verification_method": last["method"],
        "verification_team": last["team"],
        "status": last["status"],
        "finding": last["finding"],
        "attributed_party_code": codes.get(last["attributed_party_id"], ""),
    }


def test_latest_verification_columns_are_the_latest_steps(client, admin, mission):
    """The export's verification columns are those of the incident's latest step by the time it
    took place, after each new step, whatever the order they are recorded in."""
    incident_id = mission["incidents"][0]["id"]
    codes = {mission["gov"]["id"]: "GOV", mission["reb"]["id"]: "REB"}
    url = f"{API}/incidents/{incident_id}/verifications"

    def same_as_history() -> dict[str, str]:
        exported = _latest_step_columns(client, admin, incident_id)
        expected = _latest_step_of_history(client, admin, incident_id, codes)
        assert datetime.fromisoformat(exported.pop("verified_at")) == datetime.fromisoformat(
            expected.pop("verified_at")
        )
        assert exported == expected
        return exported

    assert same_as_history()["verification_team"] == "JVT Sector 2"
    later = {
        "occurred_at": "2026-11-09T15:45:30.250000+00:00",
        "method": "joint_mechanism_meeting",
        "team": 'JVT "North", Sector 5',  # a comma and quotes, as CSV must keep them
        "status": "closed",
        "finding": "disputed",
        "attributed_party_id": mission["reb"]["id"],
    }
    post(client, url, later, mission["analyst"])
    after = same_as_history()
    assert after["verification_team"] == 'JVT "North", Sector 5'
    assert after["finding"] == "disputed"
    assert after["attributed_party_code"] == "REB"
    # Recorded last but took place before the latest: the latest stays the latest.
    earlier = {**later, "occurred_at": "2026-11-07T10:00:00+00:00", "method": "interview",
               "team": "JVT Sector 9", "finding": "refuted", "attributed_party_id": None}  # fmt: skip
    post(client, url, earlier, mission["analyst"])
    assert same_as_history()["verification_team"] == 'JVT "North", Sector 5'
    exported = _latest_step_columns(client, admin, incident_id)
    assert exported["verified_at"] == "2026-11-09T15:45:30.250000+00:00"
    # An incident never verified has them empty.
    never = _latest_step_columns(client, admin, mission["incidents"][1]["id"])
    assert never["verified_at"] == never["verification_method"] == never["verification_team"] == ""
    assert never["finding"] == "unverified"


# Values that CSV must quote and JSON must escape, and floats whose shortest text needs 16 or 17
# digits (latitude, longitude, location_name, admin2 of the first three incidents).
AWKWARD = [
    ('two "quoted", words\r\nand a line break', 6.300000000000001, 1e-07, None, ""),
    ("Événement, «accents»\tback\\slash \x01", 6.220000000000001, -10.0, "Kakata, Margibi", "x"),
    ('"', 0.1 + 0.2, 123.456789012345678, '""', " "),
]


def _awkward_incidents(db: Database) -> None:
    with db.engine.begin() as conn:
        # A party's name that CSV must quote (the parties' fields are written once per party).
        conn.execute(sa.update(Party).where(Party.code == "GOV").values(name='Gov, "interim"'))
        ids = [r[0] for r in conn.execute(sa.select(Incident.id).order_by(Incident.occurred_at))]
        for incident_id, (text, lat, lon, place, area) in zip(ids, AWKWARD, strict=False):
            conn.execute(
                sa.update(Incident)
                .where(Incident.id == incident_id)
                .values(description=text, latitude=lat, longitude=lon % 180,
                        location_name=place, admin2=area)
            )  # fmt: skip


def _written_by_database_and_by_python(db: Database, role: Role, format_name: str):
    """The export as streamed (written by the database) and as the Python writers write the same
    rows (read_batches), in batches of 2 so that batch boundaries fall between awkward rows."""
    principal = Principal(name="briefing", role=role)
    export = service.start_export(db=db, principal=principal, kind_name="incidents",
                                  format_name=format_name, filters=ExportFilters())  # fmt: skip
    streamed = b"".join(service.open_stream(db, export, batch_size=2))
    columns = export.kind.columns_for(principal)
    batches = read_batches(db.engine, export.kind, export.context, 2)
    write = writers.geojson if format_name == "geojson" else writers.delimited
    return streamed, b"".join(write(columns, batches))


def test_csv_written_by_the_database_is_the_csv_modules(db: Database, mission):
    """Where the database writes the CSV records itself (SQLite's printf, PostgreSQL's COPY), the
    file is byte for byte what the csv module writes from the same rows: quoting, line breaks
    (CRLF, and a CRLF kept inside a quoted field), empty values, floats."""
    _awkward_incidents(db)
    for role in (Role.admin, Role.viewer):
        streamed, expected = _written_by_database_and_by_python(db, role, "csv")
        assert streamed == expected, role
        if role is Role.admin:  # every incident, in time order: the awkward ones first
            rows = list(csv.DictReader(io.StringIO(streamed.decode(), newline="")))
            assert [r["description"] for r in rows[:3]] == [a[0] for a in AWKWARD]
            assert [float(r["latitude"]) for r in rows[:3]] == [a[1] for a in AWKWARD]
            assert len(rows) == 5
            assert 'Gov, "interim"' in {r["alleged_party_name"] for r in rows}


def test_geojson_written_by_the_database_is_the_json_modules(db: Database, mission):
    """Where the database writes the GeoJSON features itself, the file is byte for byte what the
    json module writes from the same rows: escapes, nulls, floats to their last digit."""
    _awkward_incidents(db)
    for role in (Role.admin, Role.viewer):
        streamed, expected = _written_by_database_and_by_python(db, role, "geojson")
        assert streamed == expected, role
        features = json.loads(streamed)["features"]
        assert len(features) == 5 if role is Role.admin else 3
        if role is Role.admin:
            first = features[:3]
            assert [f["properties"]["description"] for f in first] == [a[0] for a in AWKWARD]
            assert [f["geometry"]["coordinates"] for f in first] == [
                [a[2] % 180, a[1]] for a in AWKWARD
            ]
            assert first[0]["properties"]["location_name"] is None


def test_redaction_by_role(client, auth, mission):
    everything = {r["id"] for r in read_csv(client.get(f"{EXPORTS}/incidents.csv",
                                                       headers=auth("admin")))}  # fmt: skip
    assert len(everything) == 5
    confidential = {
        i["id"] for i in mission["incidents"].values() if i["sensitivity"] == "confidential"
    }

    viewer = read_csv(client.get(f"{EXPORTS}/incidents.csv", headers=auth("viewer")))
    assert {r["id"] for r in viewer} == everything - confidential
    assert "reported_by" not in viewer[0]

    own = read_csv(client.get(f"{EXPORTS}/incidents.csv", headers=mission["patrol_1"]))
    mine = {i["id"] for n, i in mission["incidents"].items() if n < 3}
    public = {i["id"] for i in mission["incidents"].values() if i["sensitivity"] == "public"}
    assert {r["id"] for r in own} == mine | public
    assert "reported_by" not in own[0]

    analyst = read_csv(client.get(f"{EXPORTS}/incidents.csv", headers=mission["analyst"]))
    assert {r["id"] for r in analyst} == everything
    assert {r["reported_by"] for r in analyst} == {"patrol-1", "patrol-2"}

    # Verification steps follow their incident; the recorder's name is for analysts and admins.
    steps = read_csv(client.get(f"{EXPORTS}/verifications.csv", headers=auth("viewer")))
    assert len(steps) == 1
    assert "recorded_by" not in steps[0]
    for fmt in ("hxl", "geojson", "xlsx"):
        body = client.get(f"{EXPORTS}/incidents.{fmt}", headers=auth("viewer")).content
        if fmt == "xlsx":
            sheet = openpyxl.load_workbook(io.BytesIO(body))["incidents"]
            ids = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
            assert ids == everything - confidential
        else:
            assert not any(i.encode() in body for i in confidential), fmt
            assert b"patrol-1" not in body


def test_filters_are_the_apis(client, admin, mission):
    gov = mission["gov"]["id"]
    cases = [
        {"admin1": "Bomi"},
        {"category": ["armed_clash", "shelling"]},
        {"party_id": gov},
        {"finding": "verified"},
        {"occurred_from": "2026-11-02T00:00:00+00:00", "occurred_to": "2026-11-04T00:00:00Z"},
    ]
    for params in cases:
        exported = read_csv(client.get(f"{EXPORTS}/incidents.csv", params=params, headers=admin))
        listed = walk(client, f"{API}/incidents", admin, **params)
        assert {r["id"] for r in exported} == {i["id"] for i in listed}, params
        assert 0 < len(exported) < 5, params
    # date_from/date_to (whole UTC days, as the measures take) and region (as admin1)
    days = read_csv(
        client.get(
            f"{EXPORTS}/incidents.csv",
            params={"date_from": "2026-11-02", "date_to": "2026-11-03", "region": "Lofa"},
            headers=admin,
        )
    )
    assert [r["category"] for r in days] == ["abduction"]
    ddr = read_csv(
        client.get(f"{EXPORTS}/ddr_milestones.csv", params={"party_id": gov}, headers=admin)
    )
    assert ddr == []


def test_bad_requests_say_what_is_wrong(client, admin, mission):
    for url, field in (
        (f"{EXPORTS}/nothing.csv", "kind"),
        (f"{EXPORTS}/incidents.pdf", "format"),
        (f"{EXPORTS}/commitments.geojson", "format"),
    ):
        response = client.get(url, headers=admin)
        assert response.status_code == 404, (url, response.text)
        assert response.json()["errors"][0]["field"] == field
    cases = [
        (f"{EXPORTS}/ddr_milestones.csv", {"region": "Bomi"}, "region"),
        (f"{EXPORTS}/incidents.csv", {"category": "picnic"}, "category"),
        (f"{EXPORTS}/incidents.csv", {"colour": "red"}, "colour"),
        (f"{EXPORTS}/incidents.csv", {"date_from": "2026-11-05", "date_to": "2026-11-01"}, None),
    ]
    for url, params, field in cases:
        response = client.get(url, params=params, headers=admin)
        assert response.status_code == 422, (url, params, response.text)
        if field:
            assert response.json()["errors"][0]["field"] == field, response.text


def test_every_kind_in_every_format(client, admin, mission):
    for kind in ("incidents", "verifications", "ddr_milestones", "track_activities", "commitments"):
        rows = read_csv(client.get(f"{EXPORTS}/{kind}.csv", headers=admin))
        assert rows, kind
    ddr = read_csv(client.get(f"{EXPORTS}/ddr_milestones.csv", headers=admin))
    assert ddr[0]["target_quantity"] == "1000"
    assert float(ddr[0]["share_of_target"]) == 0.25
    assert ddr[0]["party_code"] == "REB"
    tracks = read_csv(client.get(f"{EXPORTS}/track_activities.csv", headers=admin))
    assert tracks[0]["party_codes"] == "GOV;REB"
    commitments = read_csv(client.get(f"{EXPORTS}/commitments.csv", headers=admin))
    assert commitments[0]["overdue"] == "true"
    assert commitments[0]["agreement_name"] == "Ceasefire (test)"


def test_xlsx_has_typed_cells_a_frozen_header_and_a_filter(client, admin, mission):
    response = client.get(f"{EXPORTS}/incidents.xlsx", headers=admin)
    assert response.status_code == 200, response.text
    assert 'filename="peacewatch-incidents-' in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["incidents", "about"]
    sheet = book["incidents"]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["id", "occurred_at (UTC)"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(header))}6"
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 5
    first = dict(zip(header, rows[0], strict=True))
    assert first["occurred_at (UTC)"] == datetime(2026, 11, 1, 8, 0)
    second = dict(zip(header, rows[1], strict=True))
    assert second["latitude"] == 6.1  # numbers, not text
    assert isinstance(second["fatalities"], int)
    kinds = {h: c.data_type for h, c in zip(header, sheet[2], strict=True)}
    assert kinds["occurred_at (UTC)"] == "d"
    assert kinds["latitude"] == kinds["fatalities"] == "n"
    assert kinds["category"] == "s"
    assert first["alleged_party_code"] == "GOV"
    about = {r[0]: r[1] for r in book["about"].iter_rows(min_row=2, values_only=True)}
    assert about["export id"] == response.headers["x-export-id"]


def test_xlsx_beyond_excels_rows_points_to_csv(client, admin, mission, monkeypatch):
    monkeypatch.setattr(writers, "EXCEL_MAX_ROWS", 5)  # a header and 4 rows; 5 incidents exist
    response = client.get(f"{EXPORTS}/incidents.xlsx", headers=admin)
    assert response.status_code == 422
    assert "incidents.csv" in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "format"
    assert client.get(f"{EXPORTS}/commitments.xlsx", headers=admin).status_code == 200


def test_geojson_follows_rfc_7946(client, admin, mission):
    response = client.get(f"{EXPORTS}/incidents.geojson", headers=admin)
    assert response.headers["content-type"] == "application/geo+json"
    doc = json.loads(response.content)
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc  # RFC 7946 §4: WGS 84 always, no crs member
    by_id = {i["id"]: i for i in mission["incidents"].values()}
    assert len(doc["features"]) == 5
    for feature in doc["features"]:
        assert feature["type"] == "Feature"
        assert set(feature) == {"type", "id", "geometry", "properties"}
        assert feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        incident = by_id[feature["id"]]
        assert (lon, lat) == (incident["longitude"], incident["latitude"])  # longitude first
        assert -180 <= lon <= 180
        assert -90 <= lat <= 90
        assert "latitude" not in feature["properties"]
        assert feature["properties"]["category"] == incident["category"]


def test_hxl_parses_with_libhxl(client, admin, mission, tmp_path):
    response = client.get(f"{EXPORTS}/incidents.hxl", headers=admin)
    assert response.headers["content-disposition"].endswith('.hxl.csv"')
    path = tmp_path / "incidents.hxl.csv"
    path.write_bytes(response.content)
    dataset = hxl.data(str(path), hxl.InputOptions(allow_local=True))
    tags = [c.display_tag for c in dataset.columns]
    for tag in ("#event+code", "#date+occurred", "#group+name+first", "#group+name+second",
                "#adm1+name", "#loc+name", "#geo+lat", "#geo+lon", "#affected+killed",
                "#affected+injured", "#meta+source", "#description", "#status"):  # fmt: skip
        assert tag in tags
    rows = list(dataset)
    assert len(rows) == 5
    assert {r.get("#event+code") for r in rows} == {i["id"] for i in mission["incidents"].values()}
    assert {r.get("#group+name+first") for r in rows} == {"Government", "Rebels"}
    assert sorted(float(r.get("#geo+lat")) for r in rows) == [6.0, 6.1, 6.2, 6.3, 6.4]
    for kind in ("ddr_milestones", "track_activities", "commitments", "verifications"):
        other = tmp_path / f"{kind}.hxl.csv"
        other.write_bytes(client.get(f"{EXPORTS}/{kind}.hxl", headers=admin).content)
        assert list(hxl.data(str(other), hxl.InputOptions(allow_local=True))), kind


def test_every_export_is_in_the_audit_trail(client, admin, auth, mission):
    viewer = auth("viewer", "briefing-officer")
    response = client.get(
        f"{EXPORTS}/incidents.csv", params={"admin1": "Bomi", "finding": "verified"}, headers=viewer
    )
    assert response.status_code == 200
    entries = walk(client, f"{API}/audit", admin, record_kind="export")
    entry = next(e for e in entries if e["record_id"] == response.headers["x-export-id"])
    assert entry["action"] == "export"
    assert entry["actor"] == "briefing-officer"
    assert entry["actor_role"] == "viewer"
    assert entry["changes"]["kind"] == "incidents"
    assert entry["changes"]["format"] == "csv"
    assert entry["changes"]["filters"] == {"admin1": "Bomi", "finding": ["verified"]}
    assert entry["changes"]["redacted"] is True
    audit = client.get(f"{API}/audit", params={"record_kind": "export"}, headers=admin).json()
    before = len(audit["items"])
    client.get(f"{EXPORTS}/commitments.xlsx", headers=admin)
    after = client.get(f"{API}/audit", params={"record_kind": "export"}, headers=admin).json()
    assert len(after["items"]) == before + 1


def _bulk_incidents(db: Database, n: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "occurred_at": start + timedelta(minutes=i // 7),  # ties across batch boundaries
            "category": "armed_clash",
            "latitude": 6.0,
            "longitude": -10.0,
            "source_type": "patrol",
            "description": "x" * 200,
            "sensitivity": "public",
            "reported_by": "bulk",
            "fatalities": 0,
            "injuries": 0,
        }
        for i in range(n)
    ]
    with db.session() as session:
        session.connection().execute(sa.insert(Incident), rows)


def test_csv_streams_in_batches_with_flat_memory(db: Database, client, admin):
    _bulk_incidents(db, 30_000)
    principal = Principal(name="admin", role=Role.admin)
    export = service.start_export(
        db=db, principal=principal, kind_name="incidents", format_name="csv",
        filters=ExportFilters(),
    )  # fmt: skip
    chunks = service.open_stream(db, export, batch_size=1_000)
    tracemalloc.start()
    header = next(chunks)  # before a single row is read
    assert header.startswith(b"id,occurred_at,")
    first = next(chunks)
    assert first.count(b"\r\n") == 1_000  # one batch, not the whole table
    total = len(header) + len(first)
    for _ in range(2):
        total += len(next(chunks))
    _, early_peak = tracemalloc.get_traced_memory()  # what three batches took
    tracemalloc.reset_peak()
    for chunk in chunks:
        total += len(chunk)
    _, late_peak = tracemalloc.get_traced_memory()  # and the 27 batches after them
    tracemalloc.stop()
    assert total > 10_000_000
    assert late_peak < 1.5 * early_peak, (early_peak, late_peak)  # flat: it does not grow

    # Over HTTP: the response is streamed, its first chunk is the header row.
    with client.stream("GET", f"{EXPORTS}/incidents.csv", headers=admin) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        body = b"".join(response.iter_bytes())
    ids = [r["id"] for r in csv.DictReader(io.StringIO(body.decode(), newline=""))]
    assert len(ids) == len(set(ids)) == 30_000  # keyset paging over tied times: none lost or twice


def test_a_stopped_download_reads_no_more_and_holds_no_connection(db: Database):
    """Batches are read ahead (two at once), but a download stopped after its first batch
    leaves no read running and no connection checked out of the pool."""
    _bulk_incidents(db, 3_000)
    export = service.start_export(
        db=db, principal=Principal(name="admin", role=Role.admin), kind_name="incidents",
        format_name="csv", filters=ExportFilters(),
    )  # fmt: skip
    chunks = service.open_stream(db, export, batch_size=100)
    next(chunks)  # the header
    assert next(chunks).count(b"\r\n") == 100
    chunks.close()  # the client went away
    assert db.engine.pool.checkedout() == 0


def test_copy_line_ends_become_crlf_outside_quoted_fields():
    """COPY ends its CSV records in LF; the file has the csv module's CRLF, and a line break
    inside a quoted field (with doubled quotes around it) is kept as it is."""
    copied = b'a,"one\ntwo",3\nb,"say ""hi""\n",\nc,,\n'
    assert crlf(copied, 3) == b'a,"one\ntwo",3\r\nb,"say ""hi""\n",\r\nc,,\r\n'
    assert crlf(b"a,1\nb,2\n", 2) == b"a,1\r\nb,2\r\n"
    rows = list(csv.reader(io.StringIO(crlf(copied, 3).decode(), newline="")))
    assert rows == [["a", "one\ntwo", "3"], ["b", 'say "hi"\n', ""], ["c", "", ""]]


def test_cli_export_writes_the_file_and_audits_it(settings, db, mission, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from backend.cli import app

    monkeypatch.setenv("PEACEWATCH_DATABASE_URL", settings.database_url)
    out = tmp_path / "bomi.csv"
    result = CliRunner().invoke(
        app,
        ["export", "incidents", "csv", "-o", str(out), "--region", "Bomi", "--party", "REB",
         "--as-role", "viewer"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [r["category"] for r in rows] == ["shelling"]  # the confidential one left out
    assert "reported_by" not in rows[0]
    with db.engine.connect() as conn:
        actor = conn.execute(
            sa.text("SELECT actor, actor_role FROM audit_entry WHERE record_kind = 'export'")
        ).one()
    assert tuple(actor) == ("cli", "viewer")
    bad = CliRunner().invoke(app, ["export", "tracks", "csv", "-o", str(out)])
    assert bad.exit_code == 1
    assert "no export kind" in bad.output
