"""The daily and weekly PDF brief: the measures of backend.metrics, laid out by ReportLab with
matplotlib figures, so it is built offline in a second or two with no browser.

Every figure comes from the metrics service (the numbers the API and the dashboard show), counted
over what the caller may read; the incident list and map read incidents through the export's own
redacted reader. The brief is recorded in the audit trail and quotes the chain's head, which is
its own entry, so anyone can trace the figures to the state of the records.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa
from sqlmodel import col

from backend.audit.models import AuditEntry
from backend.audit.service import append, set_actor
from backend.auth.service import Principal
from backend.config import Settings
from backend.db import Database, utcnow
from backend.errors import InvalidInput, NotFound
from backend.exports.filters import ExportFilters
from backend.exports.kinds import INCIDENTS, Context
from backend.exports.reading import read_batches
from backend.metrics import service as metrics
from backend.metrics.service import ImplementationFilters, TrustFilters
from backend.metrics.window import Interval, MetricFilters

PERIOD_DAYS = {"daily": 1, "weekly": 7}
CONTEXT_DAYS = 30  # the timeline, compliance and trust look back this far
DDR_DAYS = 365  # DDR targets and achievements of the last year
SERIOUS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class Brief:
    period: str
    date_from: date
    date_to: date
    export_id: str
    head_seq: int
    head_hash: str
    pages: int


@dataclass
class Figures:
    """What the brief shows, gathered before any drawing."""

    incidents: Any
    previous: Any
    context: Any
    verification: Any
    implementation: Any
    compliance: Any
    trust: Any
    ddr: Any
    tracks: Any
    alerts: Any
    parties: dict[str, str]
    points: list[tuple[float, float, str, int]]
    serious: list[tuple[Any, ...]]


def period_window(period: str, on: date | None) -> tuple[date, date]:
    if period not in PERIOD_DAYS:
        raise NotFound(f"no brief '{period}'; daily or weekly", field="period")
    last = on or (utcnow().date() - timedelta(days=1))
    if last > utcnow().date():
        raise InvalidInput("date is in the future", field="date")
    return last - timedelta(days=PERIOD_DAYS[period] - 1), last


def _gather(
    db: Database, settings: Settings, principal: Principal, first: date, last: date
) -> Figures:
    days = (last - first).days + 1
    kw: dict[str, Any] = {"principal": principal, "settings": settings}
    period = MetricFilters(date_from=first, date_to=last)
    before = MetricFilters(
        date_from=first - timedelta(days=days), date_to=first - timedelta(days=1)
    )
    context_from = last - timedelta(days=CONTEXT_DAYS - 1)
    context = MetricFilters(date_from=context_from, date_to=last, interval=Interval.day)
    with db.session(write=False) as s:
        figures = Figures(
            incidents=metrics.incidents(session=s, filters=period, **kw),
            previous=metrics.incidents(session=s, filters=before, **kw),
            context=metrics.incidents(session=s, filters=context, **kw),
            verification=metrics.verification(session=s, filters=period, **kw),
            implementation=metrics.implementation(
                session=s,
                filters=ImplementationFilters(date_from=context_from, date_to=last),
                **kw,
            ),
            compliance=metrics.compliance(
                session=s,
                filters=MetricFilters(date_from=context_from, date_to=last, interval=Interval.week),
                **kw,
            ),
            trust=metrics.trust(
                session=s,
                filters=TrustFilters(
                    date_from=context_from,
                    date_to=last,
                    interval=Interval.week,
                    compare_days=max(days, 1),
                ),
                **kw,
            ),
            ddr=metrics.ddr(
                session=s,
                filters=MetricFilters(date_from=last - timedelta(days=DDR_DAYS - 1), date_to=last),
                **kw,
            ),
            tracks=metrics.tracks(session=s, filters=period, **kw),
            alerts=metrics.alerts(session=s, filters=MetricFilters(date_to=last), **kw),
            parties={},
            points=[],
            serious=[],
        )
    figures.parties = {str(p.party.id): p.party.code for p in figures.compliance.parties}
    figures.parties.update({str(p.id): p.code for p in figures.trust.parties})
    # The period's incidents through the export reader: the same redaction as an export.
    ctx = Context(principal=principal, filters=ExportFilters(date_from=first, date_to=last),
                  today=utcnow().date())  # fmt: skip
    names = [c.name for c in INCIDENTS.columns_for(principal)]
    at = {n: i for i, n in enumerate(names)}
    severity = settings.metrics_category_severity
    rows: list[tuple[Any, ...]] = []
    for batch in read_batches(db.engine, INCIDENTS, ctx):
        rows.extend(batch)
    figures.points = [
        (r[at["longitude"]], r[at["latitude"]], str(r[at["category"]]), r[at["fatalities"]])
        for r in rows
    ]

    def weight(r: tuple[Any, ...]) -> tuple[float, int]:
        deaths = min(r[at["fatalities"]], settings.metrics_fatality_cap)
        points = (
            severity.get(str(r[at["category"]]), 1.0) + settings.metrics_fatality_weight * deaths
        )
        return points, r[at["injuries"]]

    wanted = ("occurred_at", "category", "location_name", "admin1", "alleged_party_code",
              "fatalities", "injuries", "status", "finding", "attributed_party_code")  # fmt: skip
    figures.serious = [
        tuple(r[at[n]] for n in wanted)
        for r in sorted(rows, key=weight, reverse=True)[:SERIOUS_SHOWN]
    ]
    return figures


def _record(
    db: Database, principal: Principal, period: str, first: date, last: date, channel: str
) -> tuple[str, int, str]:
    """The brief's audit entry; the chain's head after it is that entry itself."""
    export_id = str(uuid.uuid4())
    record = {
        "kind": "briefing",
        "format": "pdf",
        "by": principal.name,
        "role": principal.role.value,
        "filters": {"period": period, "date_from": first.isoformat(), "date_to": last.isoformat()},
        "channel": channel,
        "redacted": not principal.sees_everything,
    }
    with db.session() as session:
        set_actor(session, principal.name, principal.role.value)
        append(session, [("export", "export", export_id, record)])
        seq, head = (
            session.connection()
            .execute(
                sa.select(AuditEntry.seq, AuditEntry.hash)
                .order_by(col(AuditEntry.seq).desc())
                .limit(1)
            )
            .one()
        )
    return export_id, seq, head


def build_brief(
    *,
    db: Database,
    settings: Settings,
    principal: Principal,
    period: str,
    on: date | None = None,
    channel: str = "api",
) -> tuple[bytes, Brief]:
    first, last = period_window(period, on)
    figures = _gather(db, settings, principal, first, last)
    export_id, seq, head = _record(db, principal, period, first, last, channel)
    from backend.exports.brief_layout import render

    pdf, pages = render(
        figures=figures,
        period=period,
        first=first,
        last=last,
        principal=principal,
        export_id=export_id,
        head=(seq, head),
    )
    return pdf, Brief(period, first, last, export_id, seq, head, pages)


def text(value: Any) -> str:
    return escape("" if value is None else str(value))


__all__ = ["Brief", "Figures", "build_brief", "period_window", "text"]
