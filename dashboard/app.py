"""The Dash app: the shell every page shares (navigation, filter bar, live status), the guard
that refuses signed-out requests, and the sign-in and sign-out routes."""

from __future__ import annotations

import importlib
import json
import re
import threading
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import flask
from dash import ClientsideFunction, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from backend.errors import RateLimited, Unauthenticated
from dashboard import context, exports, figures, filters, prefetch, shared, static
from dashboard.auth import COOKIE, SIGNIN_PATH, SIGNOUT_PATH, Sessions, safe_next, signin_page
from dashboard.auth import signin_url as _signin_url
from dashboard.components import today

HERE = Path(__file__).parent
# Stores the live stream writes to (assets/live.js maps each notice topic onto one of them).
LIVE_STORES = ("live-incident", "live-ddr", "live-tracks", "live-agreements", "live-summary")
NAV = (
    ("/", "Overview"),
    ("/ceasefire", "Ceasefire"),
    ("/verification", "Verification"),
    ("/agreements", "Agreements & trust"),
    ("/ddr", "DDR"),
    ("/diplomacy", "Diplomacy"),
)
PAGES = ("overview", "ceasefire", "verification", "agreements", "ddr", "diplomacy")
# The partial plotly.js in assets/ (dashboard/vendor/plotly/README.md); it lacks the tiled map.
PARTIAL_PLOTLY = r"plotly-peacewatch\.min\.js"
# Paths served to anyone: static files (no data in them) and the sign-in itself.
_OPEN = ("/assets/", "/_dash-component-suites/", "/_favicon.ico", SIGNIN_PATH)
# First thing in the page's head, before any script is fetched: open the live stream, naming the
# page's address and an id of its own, so the server starts the Overview's reads while the
# browser is still fetching and starting Dash (dashboard/prefetch.py); notices that come before
# assets/live.js takes the stream over are kept for it.
EARLY_STREAM_JS = """(function () {
  if (!window.EventSource) { return; }
  var bytes = new Uint32Array(4);
  (window.crypto || window.msCrypto).getRandomValues(bytes);
  var id = Array.prototype.map.call(bytes, function (n) { return n.toString(36); }).join("");
  var early = window.peacewatchEarly = { id: id, notices: [] };
  early.keep = function (event) { early.notices.push(event); };
  early.source = new EventSource("/dashboard/stream?id=" + id + "&page=" +
    encodeURIComponent(location.pathname) + "&view=" + encodeURIComponent(location.search));
  early.source.addEventListener("notice", early.keep);
  early.source.onerror = function () { early.dropped = true; };
})();"""
# Component libraries whose script the page fetches only once a callback's answer holds one of
# their components (assets/live.js), not on every page: AG Grid's main script (284 KB of a
# first load's 0.96 MB) serves only the Ceasefire, Verification and Agreements pages.
LAZY_LIBRARIES = ("dash_ag_grid",)
# dcc.Graph and dcc.Dropdown load these chunks once Dash renders the first of them; fetched from
# the start instead, they are there when the page needs them (one round trip fewer).
PRELOADED = ("dash/dcc/async-graph.js", "dash/dcc/async-dropdown.js")


def create_dash(sessions: Sessions) -> dash.Dash:
    # With a tile server, the map draws `scattermap`, which only the full plotly.js (Dash's own,
    # loaded on demand by dcc.Graph) holds; without one, the small bundle draws everything.
    tiled = sessions.settings.dashboard_map_tile_url is not None
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",  # pages are registered below, each with its callbacks, once per app
        assets_folder=str(HERE / "assets"),
        assets_ignore=PARTIAL_PLOTLY if tiled else "",
        serve_locally=True,
        compress=True,
        title="PeaceWatch",
        update_title=None,
        suppress_callback_exceptions=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    server: flask.Flask = app.server
    server.config[context.SESSIONS_KEY] = sessions
    server.config[context.COMPRESSOR_KEY] = static.install(server)
    server.config[context.SHARED_KEY] = shared.SharedReads()
    app.index_string = _index_string(app)
    _load_lazily(app, LAZY_LIBRARIES)
    server.before_request(_guard)
    server.add_url_rule(SIGNIN_PATH, "signin", _signin, methods=["GET", "POST"])
    server.add_url_rule(SIGNOUT_PATH, "signout", _signout, methods=["GET", "POST"])
    app.layout = _shell
    _register_shell_callbacks(app)
    for module in PAGES:
        page = importlib.import_module(f"dashboard.pages.{module}")
        dash.register_page(
            page.__name__,
            path=page.PATH,
            name=page.NAME,
            title=f"{page.NAME} · PeaceWatch",
            layout=page.layout,
        )
        page.register(app)
    from dashboard.pages import overview

    server.config[context.PREFETCH_KEY] = prefetch.Prefetches(server, overview.PREFETCHED)
    threading.Thread(target=figures.warm_up, name="dash-warm-up", daemon=True).start()
    return app


def _index_string(app: dash.Dash) -> str:
    """Dash's page with the early stream and the preloaded chunks in its head."""
    prefix = app.config.requests_pathname_prefix
    links = "".join(
        f'<link rel="preload" as="script" href="{prefix}_dash-component-suites/{path}">'
        for path in PRELOADED
    )
    return app.index_string.replace(
        "</head>", f"{links}<script>{EARLY_STREAM_JS}</script>\n    </head>", 1
    )


def _load_lazily(app: dash.Dash, namespaces: tuple[str, ...]) -> None:
    """Leave the main script of each library of `namespaces` out of the page, naming its address
    in `window.peacewatchLazy` instead, for assets/live.js to load when a page needs it. (Dash
    puts every library it knows in every page; the layouts that hold its components come from
    the pages router's callback, never in `_dash-layout`.)"""
    interpolate = app.interpolate_index

    def interpolate_index(**parts: str) -> str:
        lazy: dict[str, str] = {}
        for namespace in namespaces:
            tag = re.compile(
                rf'<script src="([^"]*/_dash-component-suites/{namespace}/[^"]*\.js)"></script>\n?'
            )
            if found := tag.search(parts["scripts"]):
                lazy[namespace] = found.group(1)
                parts["scripts"] = tag.sub("", parts["scripts"])
        if lazy:
            parts["scripts"] = (
                f"<script>window.peacewatchLazy = {json.dumps(lazy)};</script>\n" + parts["scripts"]
            )
        return interpolate(**parts)

    app.interpolate_index = interpolate_index  # type: ignore[method-assign]


def _guard() -> flask.Response | None:
    path = flask.request.path
    if path.startswith(_OPEN):
        return None
    principal = context.sessions().principal(flask.request.cookies.get(COOKIE))
    if principal is None:
        if path.startswith("/_dash"):  # callbacks, layout, dependencies: data, refused
            return flask.Response(
                '{"detail": "signed out; sign in at /signin"}',
                status=401,
                mimetype="application/json",
            )
        return flask.redirect(_signin_url(flask.request.full_path.rstrip("?")))
    flask.g.principal = principal
    return None


def _set_session(response: flask.Response, value: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=max_age,
        httponly=True,
        samesite="Lax",
        secure=flask.request.is_secure,
        path="/",
    )


def _signin() -> flask.Response | str:
    sessions = context.sessions()
    form = flask.request.form if flask.request.method == "POST" else flask.request.args
    next_path = safe_next(form.get("next"))
    token = form.get("token", "")
    if not token:
        return signin_page(next_path=next_path)
    try:
        _, value = sessions.sign_in(token, flask.request.remote_addr or "unknown")
    except RateLimited as exc:
        page = signin_page(next_path=next_path, error=f"Not signed in: {exc.message}.")
        response = flask.Response(page, status=429, mimetype="text/html")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Unauthenticated as exc:
        page = signin_page(next_path=next_path, error=f"Not signed in: {exc.message}.")
        return flask.Response(page, status=401, mimetype="text/html")
    # A redirect, so that the token leaves the address bar and the history.
    response = flask.redirect(next_path)
    _set_session(response, value, sessions.max_age_s)
    return response


def _signout() -> flask.Response:
    response = flask.redirect(SIGNIN_PATH)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax")
    return response


def _filter_bar() -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(
                [
                    dbc.Label("Time window", html_for="filter-days", className="small mb-0"),
                    dcc.Dropdown(
                        id="filter-days",
                        options=[
                            {"label": f"Last {d} days", "value": d} for d in filters.WINDOWS_DAYS
                        ],
                        value=filters.DEFAULT_DAYS,
                        clearable=False,
                    ),
                ],
                md=3,
            ),
            dbc.Col(
                [
                    dbc.Label("Region", html_for="filter-region", className="small mb-0"),
                    dcc.Dropdown(id="filter-region", placeholder="All regions"),
                ],
                md=4,
            ),
            dbc.Col(
                [
                    dbc.Label("Party", html_for="filter-party", className="small mb-0"),
                    dcc.Dropdown(id="filter-party", placeholder="All parties"),
                ],
                md=4,
            ),
            dbc.Col(
                dbc.DropdownMenu(
                    [],
                    id="export-menu",
                    label="Export",
                    size="sm",
                    color="secondary",
                    align_end=True,
                    class_name="w-100",
                ),
                md=1,
                className="d-flex align-items-end",
            ),
        ],
        className="g-2 mb-3 filter-bar",
    )


def _shell() -> html.Div:
    principal = getattr(flask.g, "principal", None)
    who = f"{principal.name} ({principal.role.value})" if principal else ""
    navbar = dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("PeaceWatch", href="/"),
                dbc.Nav(
                    [
                        dbc.NavItem(dbc.NavLink(name, href=path, id=f"nav-{i}", active="exact"))
                        for i, (path, name) in enumerate(NAV)
                    ],
                    className="me-auto flex-wrap",
                ),
                dbc.Badge("connecting…", id="live-status", color="secondary", className="me-3"),
                html.Span(who, className="text-light small me-2", id="signed-in-as"),
                html.Form(
                    dbc.Button("Sign out", size="sm", color="light", outline=True, type="submit"),
                    method="post",
                    action=SIGNOUT_PATH,
                ),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        className="mb-3",
    )
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            *(dcc.Store(id=s) for s in LIVE_STORES),
            dcc.Store(id="live-start"),
            navbar,
            dbc.Container([_filter_bar(), dash.page_container], fluid=True),
        ]
    )


def _register_shell_callbacks(app: dash.Dash) -> None:
    # The one open stream: assets/live.js opens it once, from this clientside callback.
    app.clientside_callback(
        ClientsideFunction(namespace="peacewatch", function_name="startLive"),
        Output("live-start", "data"),
        Input("live-start", "id"),
    )

    @app.callback(
        Output("filter-region", "options"),
        Output("filter-party", "options"),
        Output("filter-days", "value"),
        Output("filter-region", "value"),
        Output("filter-party", "value"),
        Output("url", "search"),
        Input("url", "search"),
        Input("filter-days", "value"),
        Input("filter-region", "value"),
        Input("filter-party", "value"),
        Input("live-agreements", "data"),
    )
    def _sync_filters(
        search: str | None, days: int | None, region: str | None, party: str | None, _: object
    ) -> tuple[object, ...]:
        """The filter bar and the URL hold the same filters; whichever changed wins. Options
        and values come together, so a value never arrives before the option that shows it."""
        if ctx.triggered_id in ("filter-days", "filter-region", "filter-party"):
            new = filters.with_values(search, days=days, region=region, party=party)
            if new == (search or ""):
                raise PreventUpdate
            return (*[dash.no_update] * 5, new)
        from dashboard import data

        current = filters.parse(search)
        with context.reading() as session:
            regions = data.regions(session, context.principal())
            parties = data.parties(session)
        if current.region and current.region not in regions:
            regions.append(current.region)
        return (
            [{"label": r, "value": r} for r in regions],
            [{"label": f"{p.code} · {p.name}", "value": str(p.id)} for p in parties],
            current.days,
            current.region,
            str(current.party_id) if current.party_id else None,
            dash.no_update,
        )

    @app.callback(
        Output("export-menu", "children"),
        Input("url", "pathname"),
        Input("url", "search"),
    )
    def _export_menu(path: str | None, search: str | None) -> list[dbc.DropdownMenuItem]:
        """The export button: what this page shows, with its filters, in every format."""
        items: list[dbc.DropdownMenuItem] = []
        for link in exports.links_for(path, search, today()):
            # A plain link (not Dash's router): the file downloads and the page stays.
            items.append(
                dbc.DropdownMenuItem(
                    link.label,
                    href=link.href,
                    external_link=True,
                    id=f"export-{link.kind}-{link.format.value}",
                    class_name="export-link",
                )
            )
        return items or [dbc.DropdownMenuItem("Nothing to export here", disabled=True)]

    @app.callback(
        [Output(f"nav-{i}", "href") for i in range(len(NAV))],
        Input("url", "search"),
        State("url", "pathname"),
    )
    def _nav_keeps_filters(search: str | None, _path: str | None) -> list[str]:
        """Links to the other pages carry the shared filters (not a page's own)."""
        f = filters.parse(search)
        shared = filters.to_query(
            filters.ViewFilters(days=f.days, region=f.region, party_id=f.party_id)
        )
        return [path + shared for path, _ in NAV]
