"""The PDF brief, read back with pypdf: its period, headline figures, sections and the audit chain's
head; redacted by role and recorded in the audit trail."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pypdf
import pypdfium2 as pdfium
import pytest
import sqlalchemy as sa

from backend.audit.service import verify_chain
from backend.auth.service import Principal
from backend.db import Database
from backend.demo.seed import seed
from backend.exports.briefing import _gather, period_window
from backend.incidents.models import Incident
from backend.vocab import Role
from tests.helpers import API, today

SECTIONS = (
    "Headline figures",
    "Incidents: where and when",
    "Most serious incidents",
    "Agreement implementation",
    "Overdue commitments",
    "Compliance per party",
    "Trust between parties",
    "What moved trust",
    "DDR progress against targets",
    "Diplomacy activity",
    "Open alerts",
)


@pytest.fixture
def demo(db: Database) -> None:
    seed(db, today=today())


def pdf_text(body: bytes) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(body))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


def test_weekly_brief_holds_every_section_and_the_chain_head(client, admin, db, demo):
    last = today() - timedelta(days=1)
    response = client.get(
        f"{API}/briefings/weekly.pdf", params={"date": last.isoformat()}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    pages, text = pdf_text(response.content)
    assert 3 <= pages <= 8
    flat = " ".join(text.split())
    first = last - timedelta(days=6)
    assert f"{first.isoformat()} to {last.isoformat()}" in flat
    for section in SECTIONS:
        assert section in flat, section
    # The headline counts are the measures' own.
    measured = client.get(
        f"{API}/metrics/incidents",
        params={"date_from": first.isoformat(), "date_to": last.isoformat()},
        headers=admin,
    ).json()
    assert f"incidents {measured['incidents']} " in flat
    assert f"fatalities {measured['fatalities']} " in flat
    # The chain head printed is the brief's own audit entry, and the chain is intact.
    with db.session(write=False) as session:
        report = verify_chain(session=session)
    assert report.ok
    assert report.head_hash in flat.replace(" ", "") or report.head_hash in text.replace("\n", "")
    entries = client.get(f"{API}/audit", params={"record_kind": "export"}, headers=admin).json()
    assert entries["items"][0]["record_id"] == response.headers["x-export-id"]
    assert entries["items"][0]["changes"]["kind"] == "briefing"


def test_every_page_of_the_brief_renders_to_an_image(client, admin, demo):
    """Rendered by PDFium (Chromium's PDF engine), each page is an A4 portrait image with ink on
    it, and the map and charts are in colour: a reader sees pages, not only extractable text."""
    last = today() - timedelta(days=1)
    response = client.get(
        f"{API}/briefings/daily.pdf", params={"date": last.isoformat()}, headers=admin
    )
    assert response.status_code == 200, response.text
    document = pdfium.PdfDocument(response.content)
    assert len(document) >= 2
    coloured = 0
    for number, page in enumerate(document, start=1):
        image = page.render(scale=1).to_pil().convert("RGB")  # 72 dpi
        width, height = image.size
        assert abs(height / width - 297 / 210) < 0.02, (number, image.size)  # A4 portrait
        darkest, _ = image.convert("L").getextrema()
        assert darkest < 100, f"page {number} is blank"
        hues = image.convert("HSV").getchannel("S").getextrema()[1]
        coloured += hues > 100
    assert coloured >= 1, "no page has a coloured figure"


def test_a_viewers_brief_leaves_confidential_incidents_out(client, auth, admin, db, settings, demo):
    _, last = period_window("weekly", None)
    first = last - timedelta(days=59)  # a span of the demo that holds confidential reports
    start = datetime.combine(first, time(), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(Incident.sensitivity).where(
                Incident.occurred_at >= start, Incident.occurred_at < end
            )
        ).scalars()
        by_sensitivity = Counter(str(s) for s in rows)
    assert by_sensitivity["confidential"] > 0
    viewer = _gather(db, settings, Principal("officer", Role.viewer), first, last)
    everyone = _gather(db, settings, Principal("admin", Role.admin), first, last)
    assert len(everyone.points) == sum(by_sensitivity.values())
    assert len(viewer.points) == sum(by_sensitivity.values()) - by_sensitivity["confidential"]

    response = client.get(f"{API}/briefings/daily.pdf", headers=auth("viewer"))
    assert response.status_code == 200
    _, text = pdf_text(response.content)
    assert "confidential reports left out" in " ".join(text.split())
    assert last.isoformat() in text


def test_brief_refuses_what_it_cannot_make(client, admin):
    assert client.get(f"{API}/briefings/monthly.pdf", headers=admin).status_code == 404
    future = (today() + timedelta(days=3)).isoformat()
    response = client.get(f"{API}/briefings/daily.pdf", params={"date": future}, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "date"


def test_cli_brief_writes_a_pdf(settings, db, demo, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from backend.cli import app

    monkeypatch.setenv("PEACEWATCH_DATABASE_URL", settings.database_url)
    out = tmp_path / "daily.pdf"
    result = CliRunner().invoke(app, ["brief", "daily", "-o", str(out)])
    assert result.exit_code == 0, result.output
    pages, text = pdf_text(out.read_bytes())
    assert pages >= 3
    assert "PeaceWatch Daily Brief" in text
