"""Diplomacy tracks: Track I / 1.5 / II / III activity over time, outcomes, party engagement."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, html

from backend.metrics import service as measures
from dashboard import context, data, figures, filters
from dashboard.components import panel, query_store, title, today

PATH = "/diplomacy"
NAME = "Diplomacy"


def layout(**query: str) -> html.Div:
    return html.Div(
        [
            query_store("dip", query),
            title("Diplomacy tracks"),
            panel("Activity by track", "dip-activity"),
            dbc.Row(
                [
                    dbc.Col(panel("Outcomes by track", "dip-outcomes"), lg=6),
                    dbc.Col(panel("Which parties engage", "dip-parties"), lg=6),
                ]
            ),
        ]
    )


def figures_for(query: str) -> tuple:
    view = filters.parse(query)
    with context.reading() as session:
        report = measures.tracks(
            session=session,
            principal=context.principal(),
            settings=context.settings(),
            filters=view.metric_filters(today()),
        )
        names = {str(p.id): p.code for p in data.parties(session)}
    return (
        figures.tracks_over_time(report),
        figures.tracks_outcomes(report),
        figures.party_engagement(report, names),
    )


def register(app: dash.Dash) -> None:
    app.callback(
        Output("dip-activity", "figure"),
        Output("dip-outcomes", "figure"),
        Output("dip-parties", "figure"),
        Input("dip-query", "data"),
        Input("live-tracks", "data"),
    )(lambda query, *_: figures_for(query))
