"""The export button's links: what each page shows, as export kinds, with the page's filters.

Pure functions: a page's path and query string in, links to `/dashboard/export/{kind}.{format}`
out. That route (dashboard.mount) takes exactly the API's export filters, so only the filters
that apply to a kind are put in its links (the export service refuses the others with a 422).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from backend.exports.kinds import KINDS
from backend.exports.service import ExportFormat
from dashboard import filters

EXPORT_PATH = "/dashboard/export"
# The kinds each page shows, first the main one.
PAGE_KINDS: dict[str, tuple[str, ...]] = {
    "/": ("incidents",),
    "/ceasefire": ("incidents", "verifications"),
    "/verification": ("incidents", "verifications"),
    "/agreements": ("commitments",),
    "/ddr": ("ddr_milestones",),
    "/diplomacy": ("track_activities",),
}
FORMAT_LABELS = {
    ExportFormat.csv: "CSV",
    ExportFormat.xlsx: "Excel (XLSX)",
    ExportFormat.geojson: "GeoJSON",
    ExportFormat.hxl: "HXL (CSV)",
}
# Filters of the page that carry over to an export of the kind. Commitments are shown whatever
# their due date (the page charts each one's level over time), so the window does not narrow them.
_WINDOWED = {"incidents", "verifications", "ddr_milestones", "track_activities"}
_PAGE_KEYS = ("category", "finding")  # page filters (the Ceasefire page's) named as the API's


@dataclass(frozen=True)
class ExportLink:
    kind: str
    format: ExportFormat
    label: str
    href: str


def export_params(kind: str, query: str | None, today: date) -> list[tuple[str, str]]:
    """The export filters of `kind` that the page's `query` (the URL's search) stands for."""
    view = filters.parse(query)
    refused = set(KINDS[kind].refused)
    params: list[tuple[str, str]] = []
    if kind in _WINDOWED:
        first, last = view.window(today)
        params += [("date_from", first.isoformat()), ("date_to", last.isoformat())]
    if view.region and "region" not in refused:
        params.append(("region", view.region))
    if view.party_id and "party_id" not in refused:
        params.append(("party_id", str(view.party_id)))
    if kind in ("incidents", "verifications"):
        for key in _PAGE_KEYS:
            if view.extra.get(key) and key not in refused:
                params.append((key, view.extra[key]))
    return params


def links_for(path: str | None, query: str | None, today: date) -> list[ExportLink]:
    """Every export of what the page at `path` shows, in every format its kind has."""
    kinds = PAGE_KINDS.get((path or "/").rstrip("/") or "/", ())
    links = []
    for kind in kinds:
        title = KINDS[kind].title
        params = urlencode(export_params(kind, query, today))
        for fmt in ExportFormat:
            if fmt is ExportFormat.geojson and not KINDS[kind].geo:
                continue
            href = f"{EXPORT_PATH}/{kind}.{fmt.value}" + (f"?{params}" if params else "")
            links.append(ExportLink(kind, fmt, f"{title} · {FORMAT_LABELS[fmt]}", href))
    return links
