"""Pure functions from data to Plotly figures: no database, no Dash, easy to test.

Colours are colour-blind safe (Okabe-Ito, then Paul Tol's muted set); every axis is labelled
with its unit; fonts are large enough for a projector.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from backend.metrics.schemas import (
    AgreementImplementation,
    ComplianceReport,
    DdrProgress,
    DdrReport,
    PairTrust,
    TracksReport,
    TrustReport,
    VerificationReport,
)
from backend.metrics.window import Interval, bucket_of

# Every figure's template, as plotly's default: a new figure takes the default without checking it
# again, where naming it in each figure's `update_layout` validated the whole template anew (7 of
# the 8 ms a small figure took to build; the Overview builds several per notice and session).
TEMPLATE = "plotly_white"
pio.templates.default = TEMPLATE

PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#332288",
    "#117733",
    "#882255",
    "#999933",
)
FINDING_COLOURS = {
    "verified": "#D55E00",
    "disputed": "#E69F00",
    "unverified": "#56B4E9",
    "refuted": "#009E73",
}
LEVEL_COLOURS = {
    "not_initiated": "#BBBBBB",
    "minimal": "#E69F00",
    "intermediate": "#56B4E9",
    "complete": "#0072B2",
}
LEVELS = ("not_initiated", "minimal", "intermediate", "complete")
SEX_AGE = ("women", "men", "girls", "boys")
QUEUE_AGE_BINS: tuple[tuple[str, float], ...] = (
    ("< 1 day", 1),
    ("1-3 days", 3),
    ("3-7 days", 7),
    ("1-2 weeks", 14),
    ("2-4 weeks", 28),
    ("> 4 weeks", float("inf")),
)


def label(value: str | None) -> str:
    """`armed_clash` -> `Armed clash`."""
    if not value:
        return "—"
    text = value.replace("_", " ")
    return text[0].upper() + text[1:]


def colour_map(keys: Iterable[str]) -> dict[str, str]:
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(sorted(set(keys)))}


def _layout(fig: go.Figure, title: str | None = None, **more: Any) -> go.Figure:
    fig.update_layout(
        title={"text": title} if title else None,
        font={"size": 14},
        margin={"l": 60, "r": 20, "t": 50 if title else 20, "b": 50},
        legend={"orientation": "h", "y": -0.2},
        **more,
    )
    return fig


def empty(message: str = "No records in this window") -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 16, "color": "#555"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig)


# Headline figures


def change(
    current: float | None, previous: float | None, fmt: str = "{:+,.0f}", relative: bool = True
) -> tuple[str, str]:
    """A change against the previous period as text and a tone (`up`, `down`, `flat`)."""
    if current is None or previous is None:
        return "no earlier figure", "flat"
    delta = current - previous
    if abs(delta) < 1e-9:
        return "no change", "flat"
    text = fmt.format(delta)
    if relative and previous:
        text += f" ({delta / abs(previous):+.0%})"
    return text, "up" if delta > 0 else "down"


# Ceasefire


def convex_hull(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The convex hull of points (Andrew's monotone chain), closed (first point repeated)."""
    pts = sorted(set(points))
    if len(pts) < 3:
        return pts

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[float, float]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    hull = lower[:-1] + upper[:-1]
    return [*hull, hull[0]]


def marker_size(fatalities: int) -> float:
    return 8 + min(fatalities, 30) ** 0.5 * 5


def incident_map(
    rows: Sequence[Mapping[str, Any]],
    *,
    colour_by: str = "category",
    party_codes: Mapping[str, str] | None = None,
    tile_url: str | None = None,
) -> go.Figure:
    """Incidents as points coloured by category or finding and sized by fatalities. Without a
    tile server: longitude/latitude on a plain background with each region's outline (the hull of
    its incidents); with `tile_url`, on those raster tiles. `customdata` carries each id."""
    if not rows:
        return empty()
    codes = party_codes or {}
    colours = FINDING_COLOURS if colour_by == "finding" else colour_map(r[colour_by] for r in rows)
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r[colour_by]].append(r)
    fig = go.Figure()
    if tile_url is None:
        regions: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for r in rows:
            if r["admin1"]:
                regions[r["admin1"]].append((r["longitude"], r["latitude"]))
        for name, pts in sorted(regions.items()):
            hull = convex_hull(pts)
            fig.add_trace(
                go.Scatter(
                    x=[p[0] for p in hull],
                    y=[p[1] for p in hull],
                    mode="lines",
                    line={"color": "#999", "width": 1, "dash": "dot"},
                    fill="toself",
                    fillcolor="rgba(120,120,120,0.06)",
                    name=name,
                    hoverinfo="name",
                    showlegend=False,
                )
            )
    for key, items in sorted(groups.items()):
        text = [
            f"{label(r['category'])} · {r['location_name'] or r['admin1']}<br>"
            f"{r['occurred_at'][:16].replace('T', ' ')} UTC · "
            f"{codes.get(r['alleged_party_id'] or '', 'no party named')}<br>"
            f"{r['fatalities']} killed · {label(r['finding'])}"
            for r in items
        ]
        common = {
            "name": label(key),
            "text": text,
            "hoverinfo": "text",
            "customdata": [r["id"] for r in items],
            "marker": {
                "size": [marker_size(r["fatalities"]) for r in items],
                "color": colours.get(key, "#777"),
                "opacity": 0.75,
            },
        }
        if tile_url is None:
            fig.add_trace(
                go.Scatter(
                    x=[r["longitude"] for r in items],
                    y=[r["latitude"] for r in items],
                    mode="markers",
                    **common,
                )
            )
        else:
            fig.add_trace(
                go.Scattermap(
                    lon=[r["longitude"] for r in items],
                    lat=[r["latitude"] for r in items],
                    mode="markers",
                    **common,
                )
            )
    if tile_url is None:
        fig.update_xaxes(title="Longitude (°E)", showgrid=True, zeroline=False)
        fig.update_yaxes(title="Latitude (°N)", scaleanchor="x", scaleratio=1, zeroline=False)
    else:
        lats = [r["latitude"] for r in rows]
        lons = [r["longitude"] for r in rows]
        fig.update_layout(
            map={
                "style": {
                    "version": 8,
                    "sources": {"t": {"type": "raster", "tiles": [tile_url], "tileSize": 256}},
                    "layers": [{"id": "t", "type": "raster", "source": "t"}],
                },
                "center": {"lat": sum(lats) / len(lats), "lon": sum(lons) / len(lons)},
                "zoom": 6,
            }
        )
    return _layout(fig, clickmode="event", height=520)


def incident_timeline(
    rows: Sequence[Mapping[str, Any]],
    *,
    group_by: str,
    interval: Interval,
    starts: Sequence[date],
    names: Mapping[str, str] | None = None,
) -> go.Figure:
    """Incidents per step of the window, stacked by `group_by` (`category` or
    `alleged_party_id`)."""
    if not rows:
        return empty()
    names = names or {}
    counts: dict[str, Counter[date]] = defaultdict(Counter)
    for r in rows:
        day = datetime.fromisoformat(r["occurred_at"]).date()
        key = r[group_by] or "none"
        counts[key][bucket_of(day, interval)] += 1
    colours = colour_map(counts)
    fig = go.Figure()
    for key in sorted(counts, key=lambda k: -sum(counts[k].values())):
        fig.add_trace(
            go.Bar(
                x=list(starts),
                y=[counts[key].get(s, 0) for s in starts],
                name=names.get(key, label(key)),
                marker_color=colours[key],
            )
        )
    fig.update_xaxes(title=f"{label(interval.value)} starting")
    fig.update_yaxes(title="Incidents")
    return _layout(fig, barmode="stack", height=360)


# Verification


def verification_funnel(report: VerificationReport) -> go.Figure:
    """Reported -> reviewed -> closed -> verified, counted over the window's incidents."""
    if not report.incidents:
        return empty()
    s = report.by_status
    reviewed = report.incidents - s.get("received", 0)
    stages = [
        ("Reported", report.incidents),
        ("Taken into review", reviewed),
        ("Closed", s.get("closed", 0)),
        ("Verified", report.by_finding.get("verified", 0)),
    ]
    fig = go.Figure(
        go.Funnel(
            y=[k for k, _ in stages],
            x=[v for _, v in stages],
            textinfo="value+percent initial",
            marker={"color": ["#56B4E9", "#0072B2", "#009E73", "#D55E00"]},
        )
    )
    fig.update_xaxes(title="Incidents")
    return _layout(fig, height=340)


def queue_by_age(ages_days: Sequence[float]) -> go.Figure:
    """The incidents waiting for a finding, by how long they have waited."""
    counts = dict.fromkeys((name for name, _ in QUEUE_AGE_BINS), 0)
    for age in ages_days:
        for name, upper in QUEUE_AGE_BINS:
            if age < upper:
                counts[name] += 1
                break
    fig = go.Figure(
        go.Bar(
            x=list(counts),
            y=list(counts.values()),
            marker_color=["#56B4E9", "#56B4E9", "#E69F00", "#E69F00", "#D55E00", "#D55E00"],
        )
    )
    fig.update_xaxes(title="Waiting since receipt")
    fig.update_yaxes(title="Incidents in the queue")
    return _layout(fig, height=340)


def time_to_verify(report: VerificationReport) -> go.Figure:
    if report.median_days_to_verify is None:
        return empty("No incident verified in this window")
    fig = go.Figure(
        go.Bar(
            x=["Median", "90th percentile"],
            y=[report.median_days_to_verify, report.p90_days_to_verify],
            marker_color=["#0072B2", "#E69F00"],
            text=[f"{v:.1f} d" for v in (report.median_days_to_verify, report.p90_days_to_verify)],
            textposition="auto",
        )
    )
    fig.update_yaxes(title="Days from receipt to finding")
    return _layout(fig, height=340)


# Compliance and trust


def compliance_bars(report: ComplianceReport) -> go.Figure:
    """Each party's compliance index (0-100) now."""
    if not report.parties:
        return empty("No party to measure")
    parties = sorted(report.parties, key=lambda p: p.index)
    fig = go.Figure(
        go.Bar(
            x=[p.index for p in parties],
            y=[p.party.code for p in parties],
            orientation="h",
            text=[f"{p.index:.0f} ({p.direction})" for p in parties],
            textposition="auto",
            marker_color=[
                "#D55E00" if p.index < 50 else "#E69F00" if p.index < 70 else "#009E73"
                for p in parties
            ],
            hovertext=[p.party.name for p in parties],
        )
    )
    fig.update_xaxes(title="Compliance index (0-100)", range=[0, 100])
    return _layout(fig, height=80 + 45 * len(parties))


def warm_up() -> None:
    """Plotly builds each figure class's validators on first use: half a second or more of the
    first visitor's request, unless done once when the server starts (dashboard/app.py)."""
    import plotly.io

    fig = go.Figure(go.Bar(x=[1.0], y=["P"], orientation="h", text=["1"], marker_color=["#009E73"]))
    fig.update_xaxes(title="warm", range=[0, 100])
    plotly.io.to_json(_layout(fig, height=100))
    plotly.io.to_json(empty())


def compliance_lines(report: ComplianceReport) -> go.Figure:
    if not report.parties:
        return empty("No party to measure")
    colours = colour_map(p.party.code for p in report.parties)
    fig = go.Figure()
    for p in report.parties:
        fig.add_trace(
            go.Scatter(
                x=[v.on for v in p.series],
                y=[v.value for v in p.series],
                name=p.party.code,
                mode="lines+markers",
                line={"color": colours[p.party.code]},
            )
        )
    fig.update_xaxes(title="Date")
    fig.update_yaxes(title="Compliance index (0-100)", range=[0, 100])
    return _layout(fig, height=360)


def trust_heatmap(report: TrustReport) -> go.Figure:
    if len(report.parties) < 2:
        return empty("Trust needs two parties")
    codes = [p.code for p in report.parties]
    fig = go.Figure(
        go.Heatmap(
            z=report.matrix,
            x=codes,
            y=codes,
            zmin=0,
            zmax=100,
            colorscale="Cividis",
            colorbar={"title": "Trust (0-100)"},
            text=[[f"{v:.0f}" if v is not None else "" for v in row] for row in report.matrix],
            texttemplate="%{text}",
            hovertemplate="%{y} - %{x}: %{z:.1f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height=400)


def trust_pair(pair: PairTrust, names: Mapping[str, str]) -> go.Figure:
    """A pair's trust over time."""
    a, b = names.get(str(pair.party_a_id), "?"), names.get(str(pair.party_b_id), "?")
    fig = go.Figure(
        go.Scatter(
            x=[v.on for v in pair.series],
            y=[v.value for v in pair.series],
            mode="lines+markers",
            line={"color": "#0072B2"},
            name=f"{a} - {b}",
        )
    )
    fig.update_xaxes(title="Date")
    fig.update_yaxes(title=f"Trust {a} - {b} (0-100)", range=[0, 100])
    return _layout(fig, height=320)


def trust_breakdown(pair: PairTrust) -> go.Figure:
    """What makes up the pair's value now, and how much each part moved it."""
    names = [label(c.name) for c in pair.components]
    fig = go.Figure(
        [
            go.Bar(
                x=names,
                y=[c.contribution for c in pair.components],
                name="Points now",
                marker_color="#0072B2",
            ),
            go.Bar(
                x=names,
                y=[pair.component_changes.get(c.name, 0.0) for c in pair.components],
                name="Change",
                marker_color="#E69F00",
            ),
        ]
    )
    fig.update_yaxes(title="Index points")
    return _layout(fig, barmode="group", height=320)


def implementation_area(agreement: AgreementImplementation) -> go.Figure:
    """The share of commitments at each PAM level over time, as the Peace Accords Matrix shows."""
    if not agreement.series:
        return empty("No commitments")
    fig = go.Figure()
    for level in LEVELS:
        fig.add_trace(
            go.Scatter(
                x=[p.on for p in agreement.series],
                y=[p.levels.shares.get(level, 0.0) * 100 for p in agreement.series],  # type: ignore[call-overload]
                name=label(level),
                stackgroup="pam",
                mode="lines",
                line={"color": LEVEL_COLOURS[level], "width": 0.5},
            )
        )
    fig.update_xaxes(title="Date")
    fig.update_yaxes(title="Commitments (%)", range=[0, 100])
    return _layout(fig, agreement.name, height=340)


# DDR


def ddr_progress(
    lines: Sequence[DdrProgress],
    names: Mapping[str, str] | None = None,
    *,
    indicators: bool = False,
) -> go.Figure:
    """Achieved against target per line, in percent: per indicator (`indicators`), with its
    counts; per phase, party or site, the mean of its indicators' (each capped at 100%), with how
    many of them reached their target (their counts are of different units)."""
    lines = [line for line in lines if line.target or line.achieved]
    if not lines:
        return empty("No DDR targets or milestones")
    names = names or {}
    keys = [names.get(line.key, label(line.key)) for line in lines]
    pct = [(line.progress or 0) * 100 for line in lines]
    fig = go.Figure(
        go.Bar(
            y=keys,
            x=pct,
            orientation="h",
            text=[
                f"{line.achieved:,} / {line.target:,}"
                if indicators
                else f"{line.indicators_met} of {line.indicators} "
                f"indicator{'' if line.indicators == 1 else 's'} met"
                for line in lines
            ],
            textposition="auto",
            marker_color=["#009E73" if p >= 100 else "#0072B2" for p in pct],
        )
    )
    fig.add_vline(x=100, line_dash="dash", line_color="#555")
    fig.update_xaxes(title="Achieved against target (%)")
    return _layout(fig, height=80 + 38 * len(lines))


def ddr_over_time(report: DdrReport, indicators: Sequence[str]) -> go.Figure:
    colours = colour_map(indicators)
    fig = go.Figure()
    for ind in indicators:
        points = report.series.get(ind, [])
        fig.add_trace(
            go.Scatter(
                x=[p.on for p in points],
                y=[p.cumulative for p in points],
                name=label(ind),
                mode="lines",
                line={"color": colours[ind]},
            )
        )
    if not any(report.series.get(i) for i in indicators):
        return empty("No weapons or ammunition recorded")
    fig.update_xaxes(title="Date")
    fig.update_yaxes(title="Cumulative count (weapons; rounds of ammunition)", type="log")
    return _layout(fig, height=360)


def ddr_sex_age(lines: Sequence[DdrProgress]) -> go.Figure:
    lines = [line for line in lines if any(getattr(line, k) for k in SEX_AGE)]
    if not lines:
        return empty("No sex and age breakdown recorded")
    colours = dict(zip(SEX_AGE, ("#CC79A7", "#0072B2", "#E69F00", "#56B4E9"), strict=True))
    fig = go.Figure(
        [
            go.Bar(
                x=[label(line.key) for line in lines],
                y=[getattr(line, k) for line in lines],
                name=label(k),
                marker_color=colours[k],
            )
            for k in SEX_AGE
        ]
    )
    fig.update_yaxes(title="People")
    return _layout(fig, barmode="stack", height=360)


# Diplomacy


TRACK_ORDER = ("track_1", "track_1_5", "track_2", "track_3")
TRACK_NAMES = {
    "track_1": "Track I",
    "track_1_5": "Track 1.5",
    "track_2": "Track II",
    "track_3": "Track III",
}


def tracks_over_time(report: TracksReport) -> go.Figure:
    if not report.overall.total:
        return empty("No track activity in this window")
    fig = go.Figure()
    for i, track in enumerate(TRACK_ORDER):
        fig.add_trace(
            go.Bar(
                x=[p.on for p in report.series],
                y=[p.by_track.get(track, 0) for p in report.series],
                name=TRACK_NAMES[track],
                marker_color=PALETTE[i],
            )
        )
    fig.update_xaxes(title="Period starting")
    fig.update_yaxes(title="Activities")
    return _layout(fig, barmode="stack", height=340)


OUTCOME_COLOURS = {
    "agreement_reached": "#009E73",
    "held": "#0072B2",
    "postponed": "#E69F00",
    "stalled": "#CC79A7",
    "cancelled": "#D55E00",
}


def tracks_outcomes(report: TracksReport) -> go.Figure:
    if not report.by_track:
        return empty("No track activity in this window")
    lines = sorted(report.by_track, key=lambda t: TRACK_ORDER.index(t.key))
    fig = go.Figure(
        [
            go.Bar(
                x=[TRACK_NAMES.get(t.key, t.key) for t in lines],
                y=[t.by_outcome.get(outcome, 0) for t in lines],
                name=label(outcome),
                marker_color=colour,
            )
            for outcome, colour in OUTCOME_COLOURS.items()
        ]
    )
    fig.update_yaxes(title="Activities")
    return _layout(fig, barmode="stack", height=340)


def party_engagement(report: TracksReport, names: Mapping[str, str]) -> go.Figure:
    if not report.by_party:
        return empty("No party took part in this window")
    lines = sorted(report.by_party, key=lambda t: t.total)
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=[names.get(t.key, t.key) for t in lines],
            x=[
                t.by_outcome.get("held", 0) + t.by_outcome.get("agreement_reached", 0)
                for t in lines
            ],
            name="Held or agreement reached",
            orientation="h",
            marker_color="#0072B2",
        )
    )
    fig.add_trace(
        go.Bar(
            y=[names.get(t.key, t.key) for t in lines],
            x=[
                t.total - t.by_outcome.get("held", 0) - t.by_outcome.get("agreement_reached", 0)
                for t in lines
            ],
            name="Postponed, stalled or cancelled",
            orientation="h",
            marker_color="#D55E00",
        )
    )
    fig.update_xaxes(title="Activities the party took part in")
    return _layout(fig, barmode="stack", height=80 + 45 * len(lines))
