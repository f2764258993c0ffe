"""Imports through `POST /api/v1/imports/{source}` (admins only) and `peacewatch import`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from backend.cli import app as cli_app
from backend.incidents.models import Incident
from tests.helpers import API, count, walk
from tests.test_imports import ACLED, ACLED_BROKEN, ACLED_REVISED, GED_HXL

CSV = {"Content-Type": "text/csv"}


def test_an_admin_uploads_a_file_and_gets_the_report(client, admin):
    response = client.post(
        f"{API}/imports/ucdp", content=GED_HXL.read_bytes(), headers={**admin, **CSV}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["rejected"], report["hxl_tags"]) == (601, 0, True)
    assert report["unlinked_actors"] > 0

    again = client.post(
        f"{API}/imports/ucdp?create_parties=true",
        content=GED_HXL.read_bytes(),
        headers={**admin, **CSV},
    ).json()
    assert (again["created"], again["unchanged"] + again["updated"]) == (0, 601)
    assert again["parties_created"]

    items = walk(client, f"{API}/incidents", admin, limit=500)
    assert len(items) == 601
    one = items[0]
    assert one["source_dataset"] == "ucdp_ged"
    assert one["external_id"]
    assert (one["status"], one["finding"], one["source_type"]) == (
        "received",
        "unverified",
        "media",
    )
    assert one["reported_by"] == "admin"
    assert "source_hash" not in one


def test_imported_incidents_are_public_to_field_teams(client, admin, auth):
    client.post(f"{API}/imports/acled", content=ACLED.read_bytes(), headers={**admin, **CSV})
    reporter = auth("reporter")
    assert len(walk(client, f"{API}/incidents", reporter)) == 12


def test_the_report_names_bad_rows_and_changes(client, admin):
    broken = client.post(
        f"{API}/imports/acled", content=ACLED_BROKEN.read_bytes(), headers={**admin, **CSV}
    ).json()
    assert (broken["created"], broken["rejected"]) == (3, 9)
    assert {"line": 4, "external_id": "SSD2001"}.items() <= broken["rejections"][0].items()

    client.post(f"{API}/imports/acled", content=ACLED.read_bytes(), headers={**admin, **CSV})
    revised = client.post(
        f"{API}/imports/acled", content=ACLED_REVISED.read_bytes(), headers={**admin, **CSV}
    ).json()
    assert revised["updated"] == 1
    assert revised["changes"][0]["changes"]["fatalities"] == [3, 5]


@pytest.mark.parametrize("role", ["reporter", "analyst", "viewer"])
def test_only_admins_may_import(client, auth, db, role):
    response = client.post(
        f"{API}/imports/acled", content=ACLED.read_bytes(), headers={**auth(role), **CSV}
    )
    assert response.status_code == 403
    assert count(db, Incident) == 0


def test_a_wrong_file_is_a_422_and_an_unknown_source_a_404(client, admin):
    wrong = client.post(f"{API}/imports/ucdp", content=ACLED.read_bytes(), headers={**admin, **CSV})
    assert wrong.status_code == 422
    assert "looks like an ACLED file" in wrong.json()["detail"]
    unknown = client.post(f"{API}/imports/gdelt", content=b"x", headers={**admin, **CSV})
    assert unknown.status_code == 404
    assert "the sources are acled, ucdp" in unknown.json()["detail"]


def test_the_upload_limit_is_its_own_setting(client, admin, settings):
    assert settings.import_max_bytes > settings.max_body_bytes
    big = ACLED.read_bytes() + b"\n" * (settings.max_body_bytes + 1)
    response = client.post(f"{API}/imports/acled", content=big, headers={**admin, **CSV})
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 12


# CLI ------------------------------------------------------------------------------------------


def cli(database_url: str, *args: str):
    runner = CliRunner()
    return runner.invoke(
        cli_app,
        ["import", *args],
        env={"PEACEWATCH_DATABASE_URL": database_url, "COLUMNS": "200"},
    )


def test_cli_imports_shows_the_summary_and_writes_the_report(db, database_url, tmp_path):
    report_path = tmp_path / "report.json"
    result = cli(database_url, "acled", str(ACLED_BROKEN), "--report", str(report_path))
    assert result.exit_code == 0, result.output
    assert "12 rows" in result.output
    assert "rejected rows" in result.output
    assert "SSD2001" in result.output
    report = json.loads(report_path.read_text())
    assert (report["created"], report["rejected"]) == (3, 9)
    assert count(db, Incident) == 3

    again = cli(database_url, "acled", str(ACLED), "--create-parties")
    assert again.exit_code == 0, again.output
    assert "parties created (4)" in again.output
    assert count(db, Incident) == 14  # SSD1001 was in both files


def test_cli_refuses_a_file_of_the_other_kind(db, database_url):
    result = cli(database_url, "acled", str(GED_HXL))
    assert result.exit_code == 1
    assert "use `import ucdp`" in result.output
    assert count(db, Incident) == 0
