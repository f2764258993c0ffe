"""Importing ACLED and UCDP files: every format in the wild, mapped values, re-imports, bad rows,
party links and the audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEntry
from backend.audit.service import verify_chain
from backend.db import Database
from backend.errors import InvalidInput
from backend.imports.models import ImportReport
from backend.imports.service import Source, import_events
from backend.incidents.models import Incident
from backend.parties.models import Party
from backend.vocab import PartyKind
from tests.conftest import SHARED_DATA
from tests.helpers import count

DATA = Path(__file__).parent / "data"
GED = DATA / "ucdp" / "ged191-myanmar-bangladesh-400.csv"
GED_HXL = DATA / "ucdp" / "conflict_data_BGD.hxl.csv"
GED_49 = DATA / "ucdp" / "ged-49-columns-60.csv"
ACLED = DATA / "acled" / "acled-2024-current.csv"
ACLED_REVISED = DATA / "acled" / "acled-2024-current-revised.csv"
ACLED_OLD = DATA / "acled" / "acled-2016-old-cp1252.csv"
ACLED_BROKEN = DATA / "acled" / "acled-broken-rows.csv"
SSPDF = "Military Forces of South Sudan (2011-)"
IO = "SPLM/A-IO: Sudan People's Liberation Movement/Army (In Opposition)"


def run(
    db: Database, source: str, path: Path | bytes, *, create_parties: bool = False
) -> ImportReport:
    chunks = io.BytesIO(path) if isinstance(path, bytes) else path.open("rb")
    with chunks:
        return import_events(
            sessions=db.session,
            source=Source(source),
            chunks=chunks,
            create_parties=create_parties,
            reported_by="importer-1",
            batch_rows=150,  # several batches even for the small files
        )


def incidents(db: Database, dataset: str) -> dict[str, dict[str, Any]]:
    table = Incident.__table__
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(table).where(table.c.source_dataset == dataset))
        return {r.external_id: r._asdict() for r in rows}


def file_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r for r in rows if not r["id"].startswith("#") and r["id"]]


def day(text: str) -> datetime:
    return datetime.fromisoformat(text[:10]).replace(tzinfo=UTC)


# UCDP -----------------------------------------------------------------------------------------


def test_ucdp_extract_gives_one_incident_per_row_with_the_files_values(db):
    expected = file_rows(GED)
    report = run(db, "ucdp", GED)

    assert (report.rows, report.created, report.rejected) == (len(expected), len(expected), 0)
    assert report.encoding == "utf-8"
    assert not report.hxl_tags
    stored = incidents(db, "ucdp_ged")
    assert set(stored) == {r["id"] for r in expected}
    for row in expected:
        got = stored[row["id"]]
        assert got["latitude"] == float(row["latitude"])
        assert got["longitude"] == float(row["longitude"])
        assert got["occurred_at"] == day(row["date_start"])
        assert (got["fatalities"], got["fatalities_low"], got["fatalities_high"]) == (
            int(row["best"]),
            int(row["low"]),
            int(row["high"]),
        )
        assert got["alleged_actor_name"] == row["side_a"]
        assert got["target_actor_name"] == row["side_b"]
        assert got["admin1"] == (row["adm_1"] or None)
        assert got["source_name"] == (row["source_office"].strip() or None)


def test_ucdp_codes_map_to_our_vocabularies(db):
    run(db, "ucdp", GED)
    stored = incidents(db, "ucdp_ged")
    by_id = {r["id"]: r for r in file_rows(GED)}
    categories = {"1": "armed_clash", "2": "armed_clash", "3": "attack_on_civilians"}
    dates = {"1": "day", "2": "week", "3": "month", "4": "month", "5": "month"}
    places = {"1": "exact", "2": "near", **{str(n): "region" for n in range(3, 8)}}
    for event_id, got in stored.items():
        row = by_id[event_id]
        assert got["category"] == categories[row["type_of_violence"]]
        assert got["date_precision"] == dates[row["date_prec"]]
        assert got["geo_precision"] == places[row["where_prec"]]
        assert got["source_category"].startswith(f"type_of_violence {row['type_of_violence']}")
        assert (got["source_type"], got["sensitivity"]) == ("media", "public")
        assert (got["status"], got["finding"]) == ("received", "unverified")
        assert got["reported_by"] == "importer-1"
    assert {r["type_of_violence"] for r in by_id.values()} == {"1", "2", "3"}


def test_the_hxl_hashtag_row_is_recognised_and_skipped(db):
    report = run(db, "ucdp", GED_HXL)
    assert report.hxl_tags
    assert (report.rows, report.created, report.rejected) == (601, 601, 0)
    assert count(db, Incident) == 601


def test_the_49_column_layout_of_later_releases_imports_alike(db):
    report = run(db, "ucdp", GED_49)
    assert (report.created, report.rejected) == (60, 0)
    # The same events in the 42-column layout are the same incidents, unchanged.
    again = run(db, "ucdp", GED)
    assert (again.unchanged, again.created) == (60, 340)
    stored = incidents(db, "ucdp_ged")
    assert stored["209980"]["occurred_at"] == day("2015-05-11")
    assert stored["209980"]["fatalities_high"] == 30


@pytest.mark.skipif(
    not (SHARED_DATA / "ucdp" / "ged191-myanmar-bangladesh.csv").is_file(),
    reason="the full UCDP extract in ../shared/data is not here",
)
def test_the_full_shared_ucdp_extract_and_its_hdx_twin(db):
    full = SHARED_DATA / "ucdp" / "ged191-myanmar-bangladesh.csv"
    report = run(db, "ucdp", full)
    assert (report.rows, report.created, report.rejected) == (3194, 3194, 0)
    # HDX's Bangladesh file holds 601 of the same events, with an HXL row and an iso3 column.
    twin = run(db, "ucdp", SHARED_DATA / "ucdp" / "conflict_data_BGD.hxl.csv")
    assert (twin.unchanged, twin.created, twin.updated) == (601, 0, 0)
    assert count(db, Incident) == 3194


def test_reimporting_the_same_file_adds_and_writes_nothing(db):
    first = run(db, "ucdp", GED)
    run(db, "acled", ACLED)
    entries = count(db, AuditEntry)
    again = run(db, "ucdp", GED)
    acled_again = run(db, "acled", ACLED)
    assert (again.created, again.updated, again.unchanged) == (0, 0, first.created)
    assert (acled_again.created, acled_again.updated, acled_again.unchanged) == (0, 0, 12)
    assert count(db, Incident) == first.created + 12
    assert count(db, AuditEntry) == entries


def test_a_changed_ucdp_row_is_updated_and_reported(db):
    run(db, "ucdp", GED)
    text = GED.read_text(encoding="utf-8")
    header, first, rest = text.split("\n", 2)
    assert first.startswith("209980,")
    assert first.endswith(",0,1,0,0,1,1,30")
    changed = first.removesuffix(",1,1,30") + ",2,3,40"
    report = run(db, "ucdp", f"{header}\n{changed}\n{rest}".encode())
    assert (report.updated, report.created, report.rejected) == (1, 0, 0)
    [change] = report.changes
    assert (change.line, change.external_id) == (2, "209980")
    assert change.changes == {
        "fatalities": [1, 3],
        "fatalities_low": [1, 2],
        "fatalities_high": [30, 40],
    }
    assert incidents(db, "ucdp_ged")["209980"]["fatalities"] == 3


# ACLED ----------------------------------------------------------------------------------------


def test_acled_current_format_maps_types_precisions_and_text(db):
    report = run(db, "acled", ACLED)
    assert (report.rows, report.created, report.rejected) == (12, 12, 0)
    stored = incidents(db, "acled")
    assert {k: v["category"] for k, v in stored.items()} == {
        "SSD1001": "armed_clash",
        "SSD1002": "shelling",
        "SSD1003": "attack_on_civilians",
        "SSD1004": "sexual_violence",
        "SSD1005": "abduction",
        "SSD1006": "attack_on_civilians",  # an IED aimed at civilians
        "SSD1007": "movement_of_forces",
        "SSD1008": "weapons_in_restricted_zone",
        "SSD1009": "other",
        "SSD1010": "other",
        "SSD1011": "other",  # a type we do not know: kept as the source wrote it
        "SSD1012": "armed_clash",
    }
    assert stored["SSD1011"]["source_category"] == "Drone sightings / Loitering drone"
    first = stored["SSD1001"]
    assert first["occurred_at"] == datetime(2024, 11, 1, tzinfo=UTC)
    assert (first["latitude"], first["longitude"], first["fatalities"]) == (4.095, 30.678, 3)
    assert first["description"] == (
        "On 1 November 2024, SSPDF and SPLA-IO clashed near Yei.\n"
        "Both sides blamed each other for the attack."
    )
    assert first["source_name"] == "Radio Tamazuj; Eye Radio"
    assert (first["location_name"], first["admin1"], first["admin2"]) == (
        "Yei",
        "Central Equatoria",
        "Yei",
    )
    assert first["source_timestamp"] == 1730764800
    assert (stored["SSD1002"]["date_precision"], stored["SSD1002"]["geo_precision"]) == (
        "week",
        "near",
    )
    assert (stored["SSD1012"]["date_precision"], stored["SSD1012"]["geo_precision"]) == (
        "month",
        "region",
    )
    assert (first["source_type"], first["status"], first["finding"]) == (
        "media",
        "received",
        "unverified",
    )


def test_acled_old_upper_case_cp1252_export(db):
    report = run(db, "acled", ACLED_OLD)
    assert (report.rows, report.created, report.rejected) == (5, 5, 0), report.rejections
    assert report.encoding == "cp1252"
    stored = incidents(db, "acled")
    assert {k: v["occurred_at"].date().isoformat() for k, v in stored.items()} == {
        "CIV1201": "2015-12-29",  # 29/12/2015
        "CIV1202": "2016-05-09",  # 9-May-16
        "CIV1203": "2016-11-01",  # 01 November 2016
        "CIV1204": "2016-01-15",
        "CIV1205": "2016-06-03",
    }
    assert {k: v["category"] for k, v in stored.items()} == {
        "CIV1201": "armed_clash",
        "CIV1202": "attack_on_civilians",
        "CIV1203": "shelling",
        "CIV1204": "other",
        "CIV1205": "movement_of_forces",
    }
    assert stored["CIV1201"]["location_name"] == "Bouaké"
    assert "l\u2019armée" in stored["CIV1201"]["description"]  # cp1252's 0x92
    assert stored["CIV1202"]["description"] == (
        "Des Dozos ont attaqué un village près de Duékoué.\nDeux civils tués."
    )
    assert stored["CIV1202"]["geo_precision"] == "near"
    assert stored["CIV1205"]["geo_precision"] == "region"
    assert stored["CIV1201"]["source_timestamp"] is None
    assert (stored["CIV1201"]["latitude"], stored["CIV1201"]["longitude"]) == (7.6899, -5.0307)


def test_a_latin1_file_and_a_utf8_bom_are_read(db):
    text = ACLED.read_text(encoding="utf-8").replace("Yei,,Yei,4.0950", "Yéi,,Yéi,4.0950")
    latin = run(db, "acled", text.encode("latin-1"))
    assert (latin.created, latin.encoding) == (12, "cp1252")
    assert incidents(db, "acled")["SSD1001"]["location_name"] == "Yéi"
    # The BOM is not part of the first column's name. "Yei" again under the same timestamp: kept.
    bom = run(db, "acled", b"\xef\xbb\xbf" + ACLED.read_bytes())
    assert (bom.rejected, bom.unchanged) == (0, 12)


def test_a_newer_acled_file_updates_changed_rows_and_says_what_changed(db):
    run(db, "acled", ACLED)
    before = incidents(db, "acled")
    report = run(db, "acled", ACLED_REVISED)

    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 1, 11, 0)
    [change] = report.changes
    assert (change.line, change.external_id) == (2, "SSD1001")
    assert change.incident_id == before["SSD1001"]["id"]
    assert change.changes["fatalities"] == [3, 5]
    assert change.changes["description"][1].endswith("Two wounded died later.")
    assert set(change.changes) == {"fatalities", "description"}
    after = incidents(db, "acled")
    assert (after["SSD1001"]["fatalities"], after["SSD1001"]["source_timestamp"]) == (
        5,
        1731369600,
    )
    # Same content under a newer timestamp, and other content under an old one: left alone.
    assert after["SSD1002"] == before["SSD1002"]
    assert after["SSD1003"]["fatalities"] == 2
    with db.engine.connect() as conn:
        audited = conn.execute(
            sa.select(AuditEntry.changes).where(
                AuditEntry.action == "update", AuditEntry.record_id == str(change.incident_id)
            )
        ).scalar_one()
    assert audited["fatalities"] == [3, 5]


def test_bad_rows_are_reported_by_line_while_good_rows_land(db):
    report = run(db, "acled", ACLED_BROKEN)
    problems = {(p.line, p.external_id): p.reason for p in report.rejections}
    assert set(problems) == {
        (4, "SSD2001"),
        (5, "SSD2002"),
        (6, "SSD2003"),
        (10, "SSD2005"),
        (11, "SSD2006"),
        (12, None),
        (13, "SSD1001"),
        (15, "SSD2007"),
        (16, None),
    }
    assert "event_date '2024-13-45' is not a date" in problems[(4, "SSD2001")]
    assert problems[(5, "SSD2002")] == "latitude is empty"
    assert "latitude 123.4 is outside -90..90" in problems[(6, "SSD2003")]
    assert "geo_precision '7'" in problems[(10, "SSD2005")]
    assert "fatalities 'many' is not a whole number" in problems[(11, "SSD2006")]
    assert problems[(12, None)] == "event_id_cnty is empty"
    assert "appears already on line 2" in problems[(13, "SSD1001")]
    assert "in the future" in problems[(15, "SSD2007")]
    assert "32 fields but the header has 31" in problems[(16, None)]
    assert (report.rows, report.created, report.rejected) == (12, 3, 9)
    assert set(incidents(db, "acled")) == {"SSD1001", "SSD2004", "SSD2009"}


def test_a_file_of_the_wrong_kind_is_refused_whole_with_a_hint(db):
    with pytest.raises(InvalidInput, match="looks like a UCDP GED file: use `import ucdp`"):
        run(db, "acled", GED)
    with pytest.raises(InvalidInput, match="no column id, type_of_violence"):
        run(db, "ucdp", ACLED)
    with pytest.raises(InvalidInput, match="the file is empty"):
        run(db, "ucdp", b"")
    assert count(db, Incident) == 0


# Parties --------------------------------------------------------------------------------------


def add_party(db: Database, name: str, code: str, aliases: list[str]) -> Party:
    with db.session() as session:
        party = Party(name=name, code=code, kind=PartyKind.state_force, aliases=aliases)
        session.add(party)
    return party


def test_actors_link_to_parties_through_aliases_and_others_are_counted(db):
    gov = add_party(db, "South Sudan People's Defence Forces", "SSPDF", [SSPDF.upper()])
    report = run(db, "acled", ACLED)

    stored = incidents(db, "acled")
    assert stored["SSD1001"]["alleged_party_id"] == gov.id
    assert stored["SSD1012"]["target_party_id"] == gov.id
    assert stored["SSD1001"]["target_party_id"] is None
    assert stored["SSD1001"]["target_actor_name"] == IO
    assert report.parties_created == []
    assert count(db, Party) == 1
    # Unknown armed actors are counted; civilians and protesters are not parties at all.
    assert report.unlinked_actor_names == {
        IO: 5,
        "NAS: National Salvation Front": 2,
        "Unidentified Armed Group (South Sudan)": 1,
    }
    assert report.unlinked_actors == 8


def test_create_parties_makes_each_armed_actor_once_and_links_it(db):
    report = run(db, "acled", ACLED, create_parties=True)
    assert sorted(report.parties_created) == sorted(
        [SSPDF, IO, "NAS: National Salvation Front", "Unidentified Armed Group (South Sudan)"]
    )
    assert report.unlinked_actors == 0
    with db.engine.connect() as conn:
        parties = {p.name: p for p in conn.execute(sa.select(Party.__table__))}
    assert parties[SSPDF].kind == "state_force"
    assert parties[IO].kind == "rebel_group"
    assert parties["Unidentified Armed Group (South Sudan)"].kind == "militia"
    assert len({p.code for p in parties.values()}) == 4
    stored = incidents(db, "acled")
    assert stored["SSD1001"]["alleged_party_id"] == parties[SSPDF].id
    assert stored["SSD1001"]["target_party_id"] == parties[IO].id
    assert stored["SSD1003"]["target_party_id"] is None  # civilians


def test_a_later_import_links_actors_that_have_a_party_now(db):
    run(db, "acled", ACLED)
    report = run(db, "acled", ACLED, create_parties=True)
    assert (report.created, report.updated, report.unchanged) == (0, 11, 1)  # SSD1010: protesters
    assert all(set(c.changes) <= {"alleged_party_id", "target_party_id"} for c in report.changes)
    assert incidents(db, "acled")["SSD1001"]["alleged_party_id"] is not None


# Audit ----------------------------------------------------------------------------------------


def test_every_imported_row_and_party_is_audited_and_the_chain_verifies(db):
    run(db, "acled", ACLED, create_parties=True)
    run(db, "acled", ACLED_REVISED)
    run(db, "ucdp", GED)
    incident_id = str(incidents(db, "acled")["SSD1001"]["id"])
    with db.engine.connect() as conn:
        kinds = dict(
            conn.execute(
                sa.select(AuditEntry.record_kind, sa.func.count()).group_by(AuditEntry.record_kind)
            ).all()
        )
        created = conn.execute(
            sa.select(AuditEntry.changes).where(
                AuditEntry.record_id == incident_id, AuditEntry.action == "create"
            )
        ).scalar_one()
    assert kinds == {"party": 4, "incident": 12 + 1 + 400}
    assert created["external_id"] == "SSD1001"
    assert (created["fatalities"], created["category"]) == (3, "armed_clash")
    with db.session(write=False) as session:
        chain = verify_chain(session=session)
    assert chain.ok, chain.problem
    assert chain.count == 4 + 12 + 1 + 400
