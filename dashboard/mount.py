"""Serves the dashboard from the API's process: Dash's Flask server answers every path that no
API route claims (so the API keeps precedence), and the live stream for signed-in browsers."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated

from a2wsgi import WSGIMiddleware
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from backend.auth.service import Principal
from backend.config import Settings
from backend.exports.filters import ExportFilters
from backend.exports.router import export_response
from backend.notices.router import event_stream
from dashboard.app import create_dash
from dashboard.auth import COOKIE, Sessions
from dashboard.context import PREFETCH_KEY
from dashboard.exports import EXPORT_PATH
from dashboard.prefetch import Prefetches

STREAM_PATH = "/dashboard/stream"
# Dash callbacks run in this many threads of their own, beside the API's thread pool.
DASH_THREADS = 8


def mount_dashboard(app: FastAPI, settings: Settings) -> None:
    """Serve the dashboard at `/` beside the API of `app`."""
    sessions = Sessions(settings, app.state)
    app.state.dashboard_sessions = sessions

    @app.get(STREAM_PATH, include_in_schema=False, response_model=None)
    async def dashboard_stream(request: Request) -> StreamingResponse | JSONResponse:
        # The notices of /api/v1/stream, authenticated by the session cookie instead of a bearer
        # token (a browser's EventSource cannot send headers); same visibility rule per reader.
        # Incident notices carry the live feed's summary: the Overview draws its feed from them.
        principal = await run_in_threadpool(sessions.principal, request.cookies.get(COOKIE))
        if principal is None:
            return JSONResponse({"detail": "signed out; sign in at /signin"}, status_code=401)
        response = event_stream(request, principal, None, settings, summaries=True)
        # A page opening (not a stream reconnecting) names itself: its reads start once the
        # stream has subscribed (dashboard/prefetch.py).
        query = request.query_params
        if query.get("id") and "last-event-id" not in request.headers:
            prefetches: Prefetches = request.app.state.dash.server.config[PREFETCH_KEY]
            response.body_iterator = _after_first(
                response.body_iterator,
                lambda: prefetches.start(
                    query["id"], principal, query.get("page", ""), query.get("view", "")
                ),
            )
        return response

    @app.get(EXPORT_PATH + "/{kind}.{format}", include_in_schema=False, response_model=None)
    def dashboard_export(
        kind: str,
        format: str,
        filters: Annotated[ExportFilters, Query()],
        principal: Annotated[Principal, Depends(_signed_in)],
        request: Request,
    ) -> StreamingResponse | FileResponse:
        # The export button's downloads: /api/v1/exports/{kind}.{format} for a browser, which
        # holds a session cookie rather than a bearer token. Same filters, service, redaction
        # and audit entry (channel "dashboard").
        return export_response(
            request.app.state.db, principal, kind, format, filters, channel="dashboard"
        )

    taken = {getattr(route, "path", None) for route in app.routes}
    for path in ("/docs", "/redoc", "/openapi.json"):
        if path not in taken:  # switched off: a 404, never the dashboard's sign-in page
            app.add_api_route(path, _not_found, include_in_schema=False, methods=["GET"])

    dash_app = create_dash(sessions)
    app.state.dash = dash_app
    # Served as the router's fallback rather than a mount at `/`: a path no route claims goes to
    # Dash, so every route keeps precedence, even one added after this call.
    app.router.default = WSGIMiddleware(dash_app.server, workers=DASH_THREADS)  # type: ignore[assignment,arg-type]


async def _after_first(
    body: AsyncIterator[str | bytes], then: Callable[[], object]
) -> AsyncIterator[str | bytes]:
    """`body`, calling `then()` once its first chunk is out of it (the stream's first chunk comes
    once it has subscribed to the notices)."""
    try:
        first = True
        async for chunk in body:
            if first:
                first = False
                then()
            yield chunk
    finally:
        if isinstance(body, AsyncGenerator):
            await body.aclose()  # unsubscribes now, not whenever the generator is collected


async def _signed_in(request: Request) -> Principal:
    """Who the session cookie signs in, checked as for the stream; a dependency, so a signed-out
    request is refused (401) before its query is even read."""
    sessions: Sessions = request.app.state.dashboard_sessions
    principal = await run_in_threadpool(sessions.principal, request.cookies.get(COOKIE))
    if principal is None:
        raise HTTPException(401, "signed out; sign in at /signin")
    return principal


async def _not_found(request: Request) -> JSONResponse:
    return JSONResponse({"detail": f"{request.url.path} is switched off"}, status_code=404)
