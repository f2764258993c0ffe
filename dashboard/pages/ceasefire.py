"""Ceasefire: the incident map and timeline, with filters; a click opens the incident and its
verification history."""

from __future__ import annotations

import uuid

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from backend.errors import NotFound
from backend.metrics.window import Window, bucket_starts
from backend.vocab import Finding, IncidentCategory
from dashboard import context, data, figures, filters
from dashboard.components import panel, query_store, title, today

PATH = "/ceasefire"
NAME = "Ceasefire"


def _select(id_: str, label: str, options: list[dict], value: str | None, **kw: object) -> dbc.Col:
    return dbc.Col(
        [
            dbc.Label(label, html_for=id_, className="small mb-0"),
            dcc.Dropdown(id=id_, options=options, value=value, **kw),
        ],
        md=3,
    )


def layout(**query: str) -> html.Div:
    view = filters.parse(query)
    extra = view.extra
    return html.Div(
        [
            query_store("cf", query),
            title("Ceasefire incidents", "Points sized by fatalities; click one to open it."),
            dbc.Row(
                [
                    _select(
                        "cf-category",
                        "Category",
                        [{"label": figures.label(c), "value": c.value} for c in IncidentCategory],
                        extra.get("category"),
                        placeholder="All categories",
                    ),
                    _select(
                        "cf-finding",
                        "Finding",
                        [{"label": figures.label(f), "value": f.value} for f in Finding],
                        extra.get("finding"),
                        placeholder="All findings",
                    ),
                    _select(
                        "cf-colour",
                        "Colour points by",
                        [
                            {"label": "Category", "value": "category"},
                            {"label": "Finding", "value": "finding"},
                        ],
                        extra.get("colour", "category"),
                        clearable=False,
                    ),
                    _select(
                        "cf-group",
                        "Timeline by",
                        [
                            {"label": "Category", "value": "category"},
                            {"label": "Alleged party", "value": "alleged_party_id"},
                        ],
                        extra.get("group", "category"),
                        clearable=False,
                    ),
                ],
                className="g-2 mb-3",
            ),
            dbc.Row(
                [
                    dbc.Col(panel("Map", "cf-map"), lg=8),
                    dbc.Col(
                        dbc.Card(
                            dbc.CardBody(
                                [
                                    html.H2("Incident", className="h6"),
                                    html.Div(
                                        "Click a point on the map.",
                                        id="cf-detail",
                                        className="text-secondary",
                                    ),
                                ]
                            ),
                            className="mb-3",
                        ),
                        lg=4,
                    ),
                ]
            ),
            panel("Timeline", "cf-timeline"),
        ]
    )


def figures_for(query: str) -> tuple:
    view = filters.parse(query)
    day = today()
    with context.reading() as session:
        rows = data.incident_points(session, context.principal(), view, day)
        names = {str(p.id): p.code for p in data.parties(session)}
    colour = view.extra.get("colour", "category")
    group = view.extra.get("group", "category")
    start, end = view.window(day)
    starts = bucket_starts(Window(start, end, interval=view.interval))
    return (
        figures.incident_map(
            rows,
            colour_by=colour if colour in ("category", "finding") else "category",
            party_codes=names,
            tile_url=context.settings().dashboard_map_tile_url,
        ),
        figures.incident_timeline(
            rows,
            group_by=group if group in ("category", "alleged_party_id") else "category",
            interval=view.interval,
            starts=starts,
            names={**names, "none": "No party named"},
        ),
    )


def detail(click: dict | None) -> object:
    if not click or not click.get("points"):
        raise PreventUpdate
    incident_id = click["points"][0].get("customdata")
    if not incident_id:
        raise PreventUpdate
    try:
        with context.reading() as session:
            row, history = data.incident_detail(
                session, context.principal(), uuid.UUID(str(incident_id))
            )
            names = {str(p.id): p.code for p in data.parties(session)}
    except (NotFound, ValueError):
        return html.P("That incident is not available to you.", className="text-danger")
    steps = [
        {
            "when": e.occurred_at.strftime("%Y-%m-%d %H:%M"),
            "method": figures.label(e.method.value),
            "team": e.team,
            "status": figures.label(e.status.value),
            "finding": figures.label(e.finding.value),
            "attributed": names.get(str(e.attributed_party_id), "—"),
        }
        for e in history
    ]
    return html.Div(
        [
            html.H3(
                f"{figures.label(row['category'])} · {row['location_name'] or row['admin1']}",
                className="h6",
                id="cf-detail-title",
            ),
            html.P(
                f"{row['occurred_at'][:16].replace('T', ' ')} UTC · "
                f"{names.get(row['alleged_party_id'] or '', 'no party named')} against "
                f"{names.get(row['target_party_id'] or '', '—')} · {row['fatalities']} killed, "
                f"{row['injuries']} injured · {figures.label(row['status'])}, "
                f"{figures.label(row['finding'])} · {row['sensitivity']}",
                className="small",
            ),
            html.P(row["description"], className="small"),
            html.H4("Verification history", className="h6"),
            dag.AgGrid(
                id="cf-history",
                rowData=steps,
                columnDefs=[{"field": k} for k in steps[0]] if steps else [{"field": "when"}],
                columnSize="sizeToFit",
                dashGridOptions={"domLayout": "autoHeight"},
                style={"height": None},
            ),
        ]
    )


def register(app: dash.Dash) -> None:
    app.callback(
        Output("cf-map", "figure"),
        Output("cf-timeline", "figure"),
        Input("cf-query", "data"),
        Input("live-incident", "data"),
    )(lambda query, *_: figures_for(query))
    app.callback(Output("cf-detail", "children"), Input("cf-map", "clickData"))(detail)

    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Input("cf-category", "value"),
        Input("cf-finding", "value"),
        Input("cf-colour", "value"),
        Input("cf-group", "value"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def _controls_to_url(category, finding, colour, group, search):  # type: ignore[no-untyped-def]
        new = filters.with_values(
            search,
            category=category,
            finding=finding,
            colour=None if colour == "category" else colour,
            group=None if group == "category" else group,
        )
        if new == (search or ""):
            raise PreventUpdate
        return new
