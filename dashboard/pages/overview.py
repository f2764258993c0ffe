"""Overview: headline figures against the previous period, compliance per party, the alerts and
the live feed of the latest incidents."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import timedelta

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from backend.db import utcnow
from backend.metrics import service as measures
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
                                    dbc.ListGroup(id="ov-feed", flush=True),
                                    dcc.Store(id="ov-feed-shown"),
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


def shared_headline(query: str, *_: object) -> tuple:
    """The headline figures, computed once for every session with the same view at about the
    same time (dashboard/shared.py): the heaviest read of the dashboard."""
    key = ("headline", visibility(context.principal()), query, today())
    return context.shared().get(key, lambda: headline(query))


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


def _feed_item(r: dict, codes: dict[str, str]) -> dbc.ListGroupItem:
    return dbc.ListGroupItem(
        [
            html.Div(
                [
                    html.Strong(figures.label(r["category"])),
                    html.Span(f" · {r['location_name'] or r['admin1'] or 'unknown place'}"),
                    dbc.Badge(
                        figures.label(r["finding"]),
                        color="light",
                        text_color="dark",
                        className="ms-2",
                    ),
                ]
            ),
            html.Div(
                f"{r['occurred_at'][:16].replace('T', ' ')} UTC · "
                f"{codes.get(r['alleged_party_id'] or '', 'no party named')} · "
                f"{r['fatalities']} killed · {r['description'][:120]}",
                className="small text-secondary",
            ),
        ],
        className="feed-item",
        id={"type": "feed-item", "id": r["id"]},
    )


def shown_key(row: dict) -> list[str]:
    """What the page keeps of a feed item: its id and a digest of what the item shows."""
    digest = hashlib.blake2b(json.dumps(row, sort_keys=True).encode(), digest_size=8)
    return [row["id"], digest.hexdigest()]


# (items to add on top, items to drop at the bottom, indexes of items to replace), or None:
# redraw the whole feed.
FeedChange = tuple[int, int, list[int]] | None


def feed_changes(shown: Sequence[Sequence[str]], latest: Sequence[Sequence[str]]) -> FeedChange:
    """How the feed on the page (`shown`, `shown_key`s, newest first) becomes `latest`: new items
    on top, the oldest dropped, changed ones replaced; or None when only redrawing it all will do
    (an item went away or moved: a filter, a deletion)."""
    if not shown:
        return None
    old_ids = [s[0] for s in shown]
    known = set(old_ids)
    added = next((n for n, item in enumerate(latest) if item[0] in known), len(latest))
    kept = [item[0] for item in latest[added:]]
    if kept != old_ids[: len(kept)]:
        return None
    changed = [
        added + n
        for n, (new, old) in enumerate(zip(latest[added:], shown[: len(kept)], strict=True))
        if new[1] != old[1]
    ]
    return added, len(shown) + added - len(latest), changed


def feed(query: str, shown: list | None, live: bool) -> tuple[object, list]:
    """The live feed: drawn whole on a visit or a filter change; on a notice, a partial update
    (`Patch`) that adds the new items on top and drops the oldest, so the page receives and
    redraws only what changed. It compares with what the page shows rather than trusting the
    notice, since Dash coalesces a burst of notices into one call."""
    view = filters.parse(query)
    with context.reading() as session:
        rows = data.latest_incidents(session, context.principal(), view)
        codes = {str(p.id): p.code for p in data.parties(session)}
    keys = [shown_key(r) for r in rows]
    change = feed_changes(shown or [], keys) if live else None
    if change is None:
        if not rows:
            return [dbc.ListGroupItem("No incident reported yet.")], keys
        return [_feed_item(r, codes) for r in rows], keys
    added, dropped, changed = change
    if not (added or dropped or changed):
        raise PreventUpdate
    patch = dash.Patch()
    for r in reversed(rows[:added]):
        patch.prepend(_feed_item(r, codes))
    for _ in range(dropped):
        del patch[len(rows)]
    for index in changed:
        patch[index] = _feed_item(rows[index], codes)
    return patch, keys


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
        Input("ov-query", "data"),
        Input("live-summary", "data"),
    )(shared_headline)
    app.callback(
        Output("ov-feed", "children"),
        Output("ov-feed-shown", "data"),
        Input("ov-query", "data"),
        Input("live-incident", "data"),
        State("ov-feed-shown", "data"),
    )(lambda query, _, shown: feed(query, shown, live=ctx.triggered_id == "live-incident"))
