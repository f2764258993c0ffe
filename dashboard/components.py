"""Small layout pieces the pages share: headline cards, graph panels, the page's query store."""

from __future__ import annotations

from datetime import date

import dash_bootstrap_components as dbc
from dash import dcc, html

from backend.db import utcnow
from dashboard import filters

GRAPH_CONFIG = {"displaylogo": False}


def today() -> date:
    return utcnow().date()


def query_store(prefix: str, query: dict) -> dcc.Store:
    """The page's filters as rendered (the page is rendered again when the URL changes)."""
    return dcc.Store(id=f"{prefix}-query", data=filters.to_query(filters.parse(query)))


def title(text: str, note: str | None = None) -> html.Div:
    return html.Div(
        [html.H1(text, className="page-title"), html.P(note, className="text-secondary small")]
        if note
        else [html.H1(text, className="page-title")]
    )


def panel(title_text: str, graph_id: str, note: str | None = None) -> dbc.Card:
    body = [html.H2(title_text, className="h6")]
    if note:
        body.append(html.P(note, className="text-secondary small mb-1"))
    body.append(dcc.Graph(id=graph_id, config=GRAPH_CONFIG))
    return dbc.Card(dbc.CardBody(body), className="mb-3")


def kpi(kpi_id: str, label: str) -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(label, className="text-secondary small"),
                html.Div("…", id=f"{kpi_id}-value", className="kpi-value"),
                html.Div("", id=f"{kpi_id}-change", className="kpi-change small"),
            ]
        ),
        className="kpi h-100",
    )
