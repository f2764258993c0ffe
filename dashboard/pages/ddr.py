"""DDR: progress against targets by indicator, phase, party and site; weapons and ammunition over
time; the sex and age breakdown (IDDRS)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, html

from backend.metrics import service as measures
from dashboard import context, data, figures, filters
from dashboard.components import panel, query_store, title, today

PATH = "/ddr"
NAME = "DDR"
ARMS = ("weapons_collected", "weapons_destroyed", "ammunition_collected")


def layout(**query: str) -> html.Div:
    return html.Div(
        [
            query_store("ddr", query),
            title("Disarmament, demobilization and reintegration"),
            dbc.Row(
                [
                    dbc.Col(panel("Progress by indicator", "ddr-indicator"), lg=6),
                    dbc.Col(panel("Progress by phase", "ddr-phase"), lg=6),
                    dbc.Col(panel("Progress by party", "ddr-party"), lg=6),
                    dbc.Col(panel("Progress by site", "ddr-site"), lg=6),
                    dbc.Col(panel("Weapons and ammunition over time", "ddr-arms"), lg=6),
                    dbc.Col(panel("Sex and age", "ddr-sexage", "People, by indicator"), lg=6),
                ]
            ),
        ]
    )


def figures_for(query: str) -> tuple:
    view = filters.parse(query)
    with context.reading() as session:
        report = measures.ddr(
            session=session,
            principal=context.principal(),
            settings=context.settings(),
            filters=view.metric_filters(today()),
        )
        names = {str(p.id): p.code for p in data.parties(session)}
    people = [line for line in report.by_indicator if line.key not in ARMS]
    return (
        figures.ddr_progress(report.by_indicator, indicators=True),
        figures.ddr_progress(report.by_phase),
        figures.ddr_progress(report.by_party, names),
        figures.ddr_progress(report.by_site),
        figures.ddr_over_time(report, ARMS),
        figures.ddr_sex_age(people),
    )


def register(app: dash.Dash) -> None:
    app.callback(
        Output("ddr-indicator", "figure"),
        Output("ddr-phase", "figure"),
        Output("ddr-party", "figure"),
        Output("ddr-site", "figure"),
        Output("ddr-arms", "figure"),
        Output("ddr-sexage", "figure"),
        Input("ddr-query", "data"),
        Input("live-ddr", "data"),
    )(lambda query, *_: figures_for(query))
