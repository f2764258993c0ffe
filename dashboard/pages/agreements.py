"""Agreements, compliance and trust: implementation by PAM level over time with the overdue
commitments, compliance per party over time, the trust matrix, and one pair's series and what
moved it."""

from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from backend.metrics import service as measures
from dashboard import context, data, figures, filters
from dashboard.components import panel, query_store, title, today

PATH = "/agreements"
NAME = "Agreements & trust"


def layout(**query: str) -> html.Div:
    view = filters.parse(query)
    return html.Div(
        [
            query_store("ag", query),
            title("Agreements, compliance and trust"),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Agreement", html_for="ag-agreement", className="small mb-0"),
                            dcc.Dropdown(
                                id="ag-agreement",
                                value=view.extra.get("agreement"),
                                placeholder="First agreement",
                            ),
                        ],
                        md=5,
                    ),
                    dbc.Col(
                        [
                            dbc.Label(
                                "Pair of parties", html_for="ag-pair", className="small mb-0"
                            ),
                            dcc.Dropdown(
                                id="ag-pair",
                                value=view.extra.get("pair"),
                                placeholder="Lowest-trust pair",
                            ),
                        ],
                        md=5,
                    ),
                ],
                className="g-2 mb-3",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        panel(
                            "Implementation by level (Peace Accords Matrix)",
                            "ag-implementation",
                            "Share of the agreement's commitments at each level",
                        ),
                        lg=6,
                    ),
                    dbc.Col(panel("Compliance per party over time", "ag-compliance"), lg=6),
                ]
            ),
            dbc.Card(
                dbc.CardBody(
                    [
                        html.H2("Overdue commitments", className="h6"),
                        dag.AgGrid(
                            id="ag-overdue",
                            columnDefs=[
                                {"field": "reference"},
                                {"field": "title", "flex": 3},
                                {"field": "category"},
                                {"field": "due_on", "headerName": "Due"},
                                {"field": "days_overdue", "headerName": "Days overdue"},
                                {"field": "level"},
                            ],
                            rowData=[],
                            columnSize="sizeToFit",
                            dashGridOptions={"domLayout": "autoHeight"},
                            style={"height": None},
                        ),
                    ]
                ),
                className="mb-3",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        panel("Trust between parties", "ag-trust", "Click a cell to open the pair"),
                        lg=5,
                    ),
                    dbc.Col(
                        [
                            panel("The pair over time", "ag-pair-series"),
                            panel(
                                "What moved it", "ag-pair-breakdown", "Contributions now and change"
                            ),
                        ],
                        lg=7,
                    ),
                ]
            ),
        ]
    )


def _pair_key(a: object, b: object) -> str:
    return "~".join(sorted((str(a), str(b))))


def figures_for(query: str) -> tuple:
    view = filters.parse(query)
    day = today()
    with context.reading() as session:
        args = {
            "session": session,
            "principal": context.principal(),
            "settings": context.settings(),
        }
        impl = measures.implementation(
            **args, filters=view.metric_filters(day, measures.ImplementationFilters)
        )
        compliance = measures.compliance(**args, filters=view.metric_filters(day))
        trust = measures.trust(**args, filters=view.metric_filters(day, measures.TrustFilters))
        names = {str(p.id): p.code for p in data.parties(session)}
    agreements = impl.agreements
    chosen = next(
        (a for a in agreements if str(a.agreement_id) == view.extra.get("agreement")),
        agreements[0] if agreements else None,
    )
    overdue = [
        {
            "reference": c.reference or "",
            "title": c.title,
            "category": figures.label(c.category.value),
            "due_on": c.due_on.isoformat(),
            "days_overdue": c.days_overdue,
            "level": figures.label(c.level.value),
        }
        for a in agreements
        for c in a.overdue
    ]
    pairs = {_pair_key(p.party_a_id, p.party_b_id): p for p in trust.pairs}
    pair = pairs.get(view.extra.get("pair", "")) or min(
        trust.pairs, key=lambda p: p.value, default=None
    )
    pair_options = [
        {
            "label": f"{names.get(str(p.party_a_id), '?')} - {names.get(str(p.party_b_id), '?')} "
            f"({p.value:.0f})",
            "value": key,
        }
        for key, p in sorted(pairs.items(), key=lambda kv: kv[1].value)
    ]
    return (
        [{"label": a.name, "value": str(a.agreement_id)} for a in agreements],
        pair_options,
        figures.implementation_area(chosen) if chosen else figures.empty("No agreement"),
        figures.compliance_lines(compliance),
        overdue,
        figures.trust_heatmap(trust),
        figures.trust_pair(pair, names) if pair else figures.empty("No pair"),
        figures.trust_breakdown(pair) if pair else figures.empty("No pair"),
    )


def register(app: dash.Dash) -> None:
    app.callback(
        Output("ag-agreement", "options"),
        Output("ag-pair", "options"),
        Output("ag-implementation", "figure"),
        Output("ag-compliance", "figure"),
        Output("ag-overdue", "rowData"),
        Output("ag-trust", "figure"),
        Output("ag-pair-series", "figure"),
        Output("ag-pair-breakdown", "figure"),
        Input("ag-query", "data"),
        Input("live-incident", "data"),
        Input("live-agreements", "data"),
        Input("live-tracks", "data"),
    )(lambda query, *_: figures_for(query))

    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Input("ag-agreement", "value"),
        Input("ag-pair", "value"),
        Input("ag-trust", "clickData"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def _controls_to_url(agreement, pair, click, search):  # type: ignore[no-untyped-def]
        if dash.ctx.triggered_id == "ag-trust":
            point = (click or {}).get("points", [{}])[0]
            codes = {point.get("x"), point.get("y")}
            if len(codes) != 2:
                raise PreventUpdate
            with context.reading() as session:
                ids = [str(p.id) for p in data.parties(session) if p.code in codes]
            pair = "~".join(sorted(ids))
        new = filters.with_values(search, agreement=agreement, pair=pair)
        if new == (search or ""):
            raise PreventUpdate
        return new
