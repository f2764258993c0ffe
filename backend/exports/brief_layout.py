"""The brief's pages: ReportLab's platypus flows the sections onto A4 pages."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from backend.auth.service import Principal
from backend.db import utcnow
from backend.exports import charts
from backend.exports.briefing import CONTEXT_DAYS, DDR_DAYS, Figures, text

WIDTH = A4[0] - 3 * cm
_styles = getSampleStyleSheet()
H1 = _styles["Title"]
H2 = ParagraphStyle("h2", parent=_styles["Heading2"], spaceBefore=10, spaceAfter=4)
BODY = ParagraphStyle("body", parent=_styles["BodyText"], fontSize=9, leading=11.5)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.5, leading=9.5, textColor="#444444")
GRID = TableStyle(
    [
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dce6f1")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _image(png: bytes, width: float = WIDTH) -> Image:
    image = Image(io.BytesIO(png))
    scale = width / image.imageWidth
    image.drawWidth, image.drawHeight = width, image.imageHeight * scale
    return image


def _change(now: float, before: float) -> str:
    diff = now - before
    if before == 0:
        return f"{diff:+.0f}"
    return f"{diff:+.0f} ({100 * diff / before:+.0f}%)"


def _table(rows: list[list[Any]], widths: list[float] | None = None) -> Table:
    cells = [[Paragraph(text(v), SMALL) for v in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(GRID)
    return table


def _headline(f: Figures) -> list[Any]:
    inc, prev = f.incidents, f.previous
    overdue = sum(len(a.overdue) for a in f.implementation.agreements)
    held = f.tracks.overall.by_outcome
    rows = [
        ["measure", "this period", "change vs the period before"],
        ["incidents", inc.incidents, _change(inc.incidents, prev.incidents)],
        ["fatalities", inc.fatalities, _change(inc.fatalities, prev.fatalities)],
        ["verified (of the period's incidents)", f.verification.by_finding.get("verified", 0), ""],
        ["awaiting verification (queue)", f.verification.queue_total, ""],
        ["overdue commitments", overdue, ""],
        [
            "track activities held / total",
            f"{held.get('held', 0) + held.get('agreement_reached', 0)} / {f.tracks.overall.total}",
            "",
        ],
        ["open alerts", len(f.alerts.alerts), ""],
    ]
    return [Paragraph("Headline figures", H2), _table(rows, [7 * cm, 4 * cm, 6 * cm])]


def _incidents(f: Figures, first: date) -> list[Any]:
    days = [p.on for p in f.context.series]
    out: list[Any] = [
        Paragraph("Incidents: where and when", H2),
        _image(charts.incident_map(f.points, "Incidents of the period"), WIDTH * 0.95),
        _image(
            charts.timeline(
                days,
                [p.incidents for p in f.context.series],
                [p.fatalities for p in f.context.series],
                first,
            )
        ),
    ]
    hot = [["region", "district", "incidents", "before", "fatalities"]] + [
        [h.admin1, h.admin2, h.incidents, h.previous_incidents, h.fatalities]
        for h in f.incidents.hotspots[:6]
    ]
    if len(hot) > 1:
        out += [Paragraph("Hotspots of the period", BODY), _table(hot)]
    return out


def _serious(f: Figures) -> list[Any]:
    rows = [["occurred (UTC)", "category", "place", "alleged", "killed", "injured",
             "status", "finding", "attributed to"]]  # fmt: skip
    for at, cat, place, region, alleged, dead, hurt, status, finding, attributed in f.serious:
        when = at if isinstance(at, str) else at.isoformat()
        rows.append([when[:16].replace("T", " "), cat, f"{place or ''}, {region or ''}", alleged,
                     dead, hurt, status, finding, attributed])  # fmt: skip
    if len(rows) == 1:
        return [Paragraph("Most serious incidents", H2), Paragraph("None in the period.", BODY)]
    return [Paragraph("Most serious incidents, with their verification status", H2), _table(rows)]


def _agreements(f: Figures) -> list[Any]:
    bars = [
        (a.name, {str(k): v for k, v in a.overall.shares.items()})
        for a in f.implementation.agreements
    ]
    out: list[Any] = [
        Paragraph("Agreement implementation (Peace Accords Matrix levels)", H2),
        _image(charts.implementation_bars(bars)),
    ]
    overdue = [["agreement", "ref", "commitment", "due", "level", "days overdue"]]
    names = {a.agreement_id: a.name for a in f.implementation.agreements}
    for a in f.implementation.agreements:
        for c in a.overdue:
            overdue.append([names[c.agreement_id], c.reference, c.title, c.due_on, c.level,
                            c.days_overdue])  # fmt: skip
    if len(overdue) > 1:
        out += [Paragraph("Overdue commitments", BODY), _table(overdue)]
    else:
        out.append(Paragraph("No commitment is overdue.", BODY))
    return out


def _parties(f: Figures) -> list[Any]:
    comp = [(p.party.code, p.index, p.trend) for p in f.compliance.parties]
    labels = [p.code for p in f.trust.parties]
    moved = sorted(f.trust.pairs, key=lambda p: abs(p.change), reverse=True)[:5]
    why = [["pair", "trust", "change", "what moved it (change of each component, points)"]]
    for p in moved:
        pair = f"{f.parties.get(str(p.party_a_id), '?')} - {f.parties.get(str(p.party_b_id), '?')}"
        parts = ", ".join(
            f"{k} {v:+.1f}"
            for k, v in sorted(p.component_changes.items(), key=lambda kv: -abs(kv[1]))
            if abs(v) >= 0.05
        )
        why.append([pair, f"{p.value:.0f}", f"{p.change:+.1f}", parts or "no change"])
    overall = f.trust.overall
    return [
        Paragraph(f"Compliance per party (last {CONTEXT_DAYS} days, trend in points)", H2),
        _image(charts.index_bars(comp, "Compliance index (0-100)")),
        KeepTogether(
            [
                Paragraph(
                    "Trust between parties"
                    + (f" (overall {overall:.0f})" if overall is not None else ""),
                    H2,
                ),
                _image(charts.trust_heatmap(labels, f.trust.matrix), WIDTH * 0.6),
            ]
        ),
        Paragraph(f"What moved trust over the last {f.trust.compare_days} day(s)", BODY),
        _table(why, [3 * cm, 1.5 * cm, 1.7 * cm, 10.8 * cm]),
    ]


def _ddr_and_tracks(f: Figures) -> list[Any]:
    lines = [(line.key, line.achieved, line.target) for line in f.ddr.by_indicator if line.target]
    tracks = [["track", "activities", "held", "cancelled or postponed"]] + [
        [
            t.key,
            t.total,
            f"{(t.held_share or 0) * 100:.0f}%",
            f"{(t.cancelled_share or 0) * 100:.0f}%",
        ]
        for t in f.tracks.by_track
    ]
    out: list[Any] = [
        Paragraph(f"DDR progress against targets (last {DDR_DAYS} days)", H2),
        _image(charts.progress_bars(lines)),
        Paragraph("Diplomacy activity of the period", H2),
    ]
    out.append(_table(tracks) if len(tracks) > 1 else Paragraph("No track activity.", BODY))
    return out


def _alerts(f: Figures) -> list[Any]:
    rows = [["kind", "alert", "why"]] + [[a.kind, a.title, a.reason] for a in f.alerts.alerts]
    if len(rows) == 1:
        return [Paragraph("Open alerts", H2), Paragraph("No alert stands.", BODY)]
    return [Paragraph("Open alerts", H2), _table(rows, [3 * cm, 5.5 * cm, 8.5 * cm])]


def render(
    *,
    figures: Figures,
    period: str,
    first: date,
    last: date,
    principal: Principal,
    export_id: str,
    head: tuple[int, str],
) -> tuple[bytes, int]:
    """The PDF's bytes and its page count."""
    out = io.BytesIO()
    pages: list[int] = []
    span = first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"

    def footer(canvas: Any, doc: Any) -> None:
        pages.append(doc.page)
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(1.5 * cm, 1 * cm, f"PeaceWatch {period} brief, {span} (UTC)")
        canvas.drawRightString(A4[0] - 1.5 * cm, 1 * cm, f"page {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=1.5 * cm,
        rightMargin=1.5 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.6 * cm,
        title=f"PeaceWatch {period} brief {span}",
        author="PeaceWatch",
    )
    seq, chain_head = head
    scope = (
        "every record"
        if principal.sees_everything
        else f"the records a {principal.role.value} may read (confidential reports left out)"
    )
    story: list[Any] = [
        Paragraph(f"PeaceWatch {period.capitalize()} Brief", H1),
        Paragraph(
            f"<b>Period:</b> {span} (UTC). <b>Data window:</b> incidents {span}; "
            f"timeline, compliance and trust over the {CONTEXT_DAYS} days to {last.isoformat()}; "
            f"DDR over {DDR_DAYS} days. Counted over {scope}.",
            BODY,
        ),
        Paragraph(
            f"<b>Audit chain head:</b> entry {seq}, hash {chain_head} (this brief's own entry, "
            f"export {export_id}). Prepared {utcnow():%Y-%m-%d %H:%M} UTC for "
            f"{text(principal.name)} ({principal.role.value}); check the chain with "
            "<font face='Courier'>peacewatch audit verify</font>.",
            SMALL,
        ),
        Spacer(1, 4),
        *_headline(figures),
        *_incidents(figures, first),
        *_serious(figures),
        *_agreements(figures),
        *_parties(figures),
        *_ddr_and_tracks(figures),
        *_alerts(figures),
    ]
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue(), max(pages, default=0)
