"""Overview: headline figures against the previous period, compliance per party, the alerts and
the live feed of the latest incidents."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import dash
import dash_bootstrap_components as dbc
import plotly.utils
from dash import ClientsideFunction, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from backend.db import utcnow
from backend.metrics import service as measures
from backend.vocab import Finding, IncidentCategory
from dashboard import context, data, figures, filters
from dashboard.components import kpi, panel, query_store, title, today
from dashboard.shared import visibility

PATH = "/"
NAME = "Overview"
KPIS = (
    ("ov-24h", "Incidents, last 24 h"),
    ("ov-7d", "Incidents, last 7 days"),
    ("ov-verified", "Verified share (window)"),
    ("ov-fatalities", "Fatalities (window)"),
    ("ov-ddr", "DDR progress against targets"),
    ("ov-trust", "Overall trust (0-100)"),
)


def layout(**query: str) -> html.Div:
    return html.Div(
        [
            query_store("ov", query),
            dcc.Store(id="ov-headline-drawn"),  # the digests of the chart and alerts drawn
            title("Mission overview"),
            dbc.Row(
                [dbc.Col(kpi(k, text), xs=6, md=4, xl=2) for k, text in KPIS], className="g-2 mb-3"
            ),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            panel(
                                "Compliance per party",
                                "ov-compliance",
                                "Index 0-100 at the window's end",
                            ),
                            dbc.Card(
                                dbc.CardBody(
                                    [html.H2("Alerts", className="h6"), html.Div(id="ov-alerts")]
                                ),
                                className="mb-3",
                            ),
                        ],
                        lg=7,
                    ),
                    dbc.Col(
                        dbc.Card(
                            dbc.CardBody(
                                [
                                    html.H2("Latest incidents (live)", className="h6"),
                                    # Drawn by assets/live.js, never given children here.
                                    html.Ul(id="ov-feed", className="list-group list-group-flush"),
                                    dcc.Store(id="ov-feed-ask"),
                                    dcc.Store(id="ov-feed-data"),
                                    dcc.Store(id="ov-feed-drawn"),
                                ]
                            ),
                            className="mb-3",
                        ),
                        lg=5,
                    ),
                ]
            ),
        ]
    )


def _kpi(value: str, change: tuple[str, str]) -> tuple[str, str, str]:
    text, tone = change
    return value, f"vs previous period: {text}", f"kpi-change small {tone}"


def headline(query: str) -> tuple:
    """Every headline figure of the Overview, with its change against the previous period."""
    view = filters.parse(query)
    principal, settings, day = context.principal(), context.settings(), today()
    now = utcnow()
    current, previous = view.metric_filters(day), view.previous(day)
    with context.reading() as session:
        counts = [
            data.count_between(session, principal, view, now - timedelta(hours=h), now)
            for h in (24, 48, 24 * 7, 24 * 14)
        ]
        args = {"session": session, "principal": principal, "settings": settings}
        ver = measures.verification(**args, filters=current)
        ver_before = measures.verification(**args, filters=previous)
        inc = measures.incidents(**args, filters=current)
        inc_before = measures.incidents(**args, filters=previous)
        ddr = measures.ddr(**args, filters=current)
        ddr_before = measures.ddr(**args, filters=previous)
        trust = measures.trust(**args, filters=view.metric_filters(day, measures.TrustFilters))
        compliance = measures.compliance(**args, filters=current)
        alerts = measures.alerts(**args, filters=current)
    day1, day2, week1, week2 = counts[0], counts[1] - counts[0], counts[2], counts[3] - counts[2]

    def share(report) -> float | None:
        return report.by_finding.get("verified", 0) / report.incidents if report.incidents else None

    v_now, v_then = share(ver), share(ver_before)
    d_now, d_then = ddr.overall.progress, ddr_before.overall.progress
    t_then = sum(p.previous_value for p in trust.pairs) / len(trust.pairs) if trust.pairs else None
    pct = "{:+.0%}"
    return (
        *_kpi(f"{day1:,}", figures.change(day1, day2)),
        *_kpi(f"{week1:,}", figures.change(week1, week2)),
        *_kpi(
            f"{v_now:.0%}" if v_now is not None else "—",
            figures.change(v_now, v_then, pct, relative=False),
        ),
        *_kpi(f"{inc.fatalities:,}", figures.change(inc.fatalities, inc_before.fatalities)),
        *_kpi(
            f"{d_now:.0%}" if d_now is not None else "—",
            figures.change(d_now, d_then, pct, relative=False),
        ),
        *_kpi(
            f"{trust.overall:.0f}" if trust.overall is not None else "—",
            figures.change(trust.overall, t_then, "{:+.1f}", relative=False),
        ),
        figures.compliance_bars(compliance),
        _alerts(alerts.alerts),
    )


# How long the pages of one beat share a computation of the headline figures (assets/live.js
# asks on a 3 s beat): long enough for a page whose request comes late on a loaded machine.
BEAT_SHARED_S = 5.0


def shared_headline(query: str, live: dict | None = None) -> tuple:
    """The headline figures, computed once for every session with the same view at about the
    same time (dashboard/shared.py): the heaviest read of the dashboard. After notices, every
    page asks on the same beat of the clock (assets/live.js) and names it: one computation per
    beat serves them all, however late a page's request arrives, since each page asked at least
    700 ms after its last notice and the computation began after the beat. (Shared by arrival
    time alone, pages slowed by a burst asked 0.5 s apart, the computations overlapped and took
    the server from ingestion.) Last, the digests of the chart and of the alerts."""
    beat = ((live or {}).get("notice") or {}).get("beat")
    key = ("headline", visibility(context.principal()), query, today(), beat)
    fresh = BEAT_SHARED_S if beat is not None else None
    return context.shared().get(key, lambda: _with_digest(headline(query)), fresh)


def _with_digest(values: tuple) -> tuple:
    """The chart and the alerts as plain JSON data, encoded once here rather than for each of
    the sessions that share them, and the digest of each ({"figure": ..., "alerts": ...})."""
    texts = [json.dumps(v, cls=plotly.utils.PlotlyJSONEncoder, sort_keys=True) for v in values[-2:]]
    digests = {
        name: hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        for name, text in zip(("figure", "alerts"), texts, strict=True)
    }
    return (*values[:-2], *(json.loads(text) for text in texts), digests)


def headline_update(
    query: str, live: dict | None, shown: dict | None, start: dict | None = None
) -> tuple:
    """The headline figures; the chart, and the alerts, each only if it changed since this page
    drew it: redrawing a chart costs each wall screen's browser far more than the counts (in a
    burst the alerts change at every beat and the chart seldom; sent with them, the same chart
    was drawn again in every page, and the feed waited a second behind it). A page's first ask
    takes the read its stream started (dashboard/prefetch.py), if any."""
    notice = ctx.triggered_id == "live-summary"
    early = (
        None
        if notice
        else context.prefetches().take(_page(start), "headline", query, context.principal())
    )
    *values, figure, alerts, digests = early or shared_headline(query, live if notice else None)
    return (*values, *to_draw(figure, alerts, digests, shown))


def to_draw(figure: dict, alerts: list, digests: dict, shown: dict | None) -> tuple:
    """(chart, alerts, digests) as the headline callback answers them: each of the chart and
    the alerts only if its digest differs from the one this page drew (`shown`), else
    `no_update`; the digests only if either is sent."""
    shown = shown if isinstance(shown, dict) else {}
    sent = (
        dash.no_update if digests["figure"] == shown.get("figure") else figure,
        dash.no_update if digests["alerts"] == shown.get("alerts") else alerts,
    )
    changed = any(v is not dash.no_update for v in sent)
    return (*sent, digests if changed else dash.no_update)


def _alerts(alerts: list) -> list:
    if not alerts:
        return [html.P("No alert standing.", className="text-secondary mb-0")]
    return [
        dbc.Alert(
            [html.Strong(a.title), html.Div(a.reason, className="small")],
            color="danger" if a.kind in ("incident_spike", "possible_spoiler") else "warning",
            className="py-2 mb-2",
        )
        for a in alerts[:8]
    ]


# The feed's words for the values its summaries hold (figures.label, the one place for them).
FEED_LABELS = {
    v.value: figures.label(v.value) for enum in (IncidentCategory, Finding) for v in enum
}


def feed_data(query: str, ask: dict | None) -> dict:
    """The live feed as the server reads it, for assets/live.js to draw and then keep current
    from the stream's notices (each carries the incident's summary), newest first.

    Asked on a visit or a filter change, and after a dropped stream, a notice without a summary
    or an unknown party: so twenty open Overviews ask nothing of the server while records pour
    in. `asked_at` is the page's clock when it asked: the page adds the notices it heard since
    then, which this read may have missed; anything heard before was committed before it."""
    if not ask:
        raise PreventUpdate  # the page asks once it has stamped the time (ov-feed-ask)
    view = filters.parse(query)
    with context.reading() as session:
        rows = data.latest_incidents(session, context.principal(), view)
        codes = {str(p.id): p.code for p in data.parties(session)}
    return {
        "rows": rows,
        "codes": codes,
        "view": data.feed_view(view),
        "size": data.FEED_SIZE,
        "labels": FEED_LABELS,
        "asked_at": ask.get("at"),
    }


def _page(start: dict | None) -> object:
    """The page's own id (assets/live.js puts it in the shell's `live-start` store)."""
    return (start or {}).get("page")


def feed_update(ask: dict | None, query: str, start: dict | None = None) -> dict:
    """The feed a page's stream started reading when it opened (its first ask only), else a read
    now. The early read began after the stream subscribed: the page adds every notice it heard."""
    if ask and (
        early := context.prefetches().take(_page(start), "feed", query, context.principal())
    ):
        return early
    return feed_data(query, ask)


# The reads a page's stream starts early (dashboard/prefetch.py), as the callbacks above give
# them: the headline with its digest, and the feed with nothing heard before it (`asked_at` 0).
PREFETCHED = {
    "headline": lambda query: _with_digest(headline(query)),
    "feed": lambda query: feed_data(query, {"at": 0}),
}


def register(app: dash.Dash) -> None:
    outputs = []
    for k, _ in KPIS:
        outputs += [
            Output(f"{k}-value", "children"),
            Output(f"{k}-change", "children"),
            Output(f"{k}-change", "className"),
        ]
    app.callback(
        *outputs,
        Output("ov-compliance", "figure"),
        Output("ov-alerts", "children"),
        Output("ov-headline-drawn", "data"),
        Input("ov-query", "data"),
        Input("live-summary", "data"),
        State("ov-headline-drawn", "data"),
        State("live-start", "data"),
    )(headline_update)
    # The feed: the page stamps when it asks (a visit, a filter change; live.js asks after a
    # dropped stream too), the server reads, and the page draws what it read merged with the
    # notices heard since; from then on the page draws each notice's summary by itself.
    app.clientside_callback(
        ClientsideFunction(namespace="peacewatch", function_name="askFeed"),
        Output("ov-feed-ask", "data"),
        Input("ov-query", "data"),
    )
    app.callback(
        Output("ov-feed-data", "data"),
        Input("ov-feed-ask", "data"),
        State("ov-query", "data"),
        State("live-start", "data"),
    )(feed_update)
    app.clientside_callback(
        ClientsideFunction(namespace="peacewatch", function_name="feedFromServer"),
        Output("ov-feed-drawn", "data"),
        Input("ov-feed-data", "data"),
    )
