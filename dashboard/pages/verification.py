"""Verification: the funnel, the queue by age and the time to verify."""

from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, html

from backend.metrics import service as measures
from dashboard import context, data, figures, filters
from dashboard.components import panel, query_store, title, today

PATH = "/verification"
NAME = "Verification"


def layout(**query: str) -> html.Div:
    return html.Div(
        [
            query_store("vf", query),
            title("Verification", "Incidents of the window, from report to finding."),
            dbc.Row(
                [
                    dbc.Col(panel("Funnel", "vf-funnel"), lg=4),
                    dbc.Col(panel("Queue by age", "vf-queue", "Still received or in review"), lg=4),
                    dbc.Col(panel("Time to verify", "vf-time"), lg=4),
                ]
            ),
            dbc.Card(
                dbc.CardBody(
                    [
                        html.H2("Oldest in the queue", className="h6"),
                        dag.AgGrid(
                            id="vf-oldest",
                            columnDefs=[
                                {"field": "age_days", "headerName": "Waiting (days)"},
                                {"field": "category"},
                                {"field": "admin1", "headerName": "Region"},
                                {"field": "status"},
                                {"field": "occurred_at", "headerName": "Occurred (UTC)"},
                            ],
                            rowData=[],
                            columnSize="sizeToFit",
                            dashGridOptions={"domLayout": "autoHeight"},
                            style={"height": None},
                        ),
                    ]
                )
            ),
        ]
    )


def figures_for(query: str) -> tuple:
    view = filters.parse(query)
    principal, day = context.principal(), today()
    with context.reading() as session:
        report = measures.verification(
            session=session,
            principal=principal,
            settings=context.settings(),
            filters=view.metric_filters(day),
        )
        ages = data.queue_ages_days(session, principal, view, day)
    oldest = [
        {
            "age_days": round(q.age_days, 1),
            "category": figures.label(q.category),
            "admin1": q.admin1 or "",
            "status": figures.label(q.status),
            "occurred_at": q.occurred_at[:16].replace("T", " "),
        }
        for q in report.queue_oldest
    ]
    return (
        figures.verification_funnel(report),
        figures.queue_by_age(ages),
        figures.time_to_verify(report),
        oldest,
    )


def register(app: dash.Dash) -> None:
    app.callback(
        Output("vf-funnel", "figure"),
        Output("vf-queue", "figure"),
        Output("vf-time", "figure"),
        Output("vf-oldest", "rowData"),
        Input("vf-query", "data"),
        Input("live-incident", "data"),
    )(lambda query, *_: figures_for(query))
