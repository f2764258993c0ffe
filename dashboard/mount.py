"""Serves the dashboard from the API's process: Dash's Flask server answers every path that no
API route claims (so the API keeps precedence), and the live stream for signed-in browsers."""

from __future__ import annotations

from a2wsgi import WSGIMiddleware
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from backend.config import Settings
from backend.notices.router import _HEADERS, _events
from dashboard.app import create_dash
from dashboard.auth import COOKIE, Sessions

STREAM_PATH = "/dashboard/stream"
# Dash callbacks run in this many threads of their own, beside the API's thread pool.
DASH_THREADS = 8


def mount_dashboard(app: FastAPI, settings: Settings) -> None:
    """Serve the dashboard at `/` beside the API of `app`."""
    sessions = Sessions(settings, app.state)

    @app.get(STREAM_PATH, include_in_schema=False, response_model=None)
    async def dashboard_stream(request: Request) -> StreamingResponse | JSONResponse:
        # The notices of /api/v1/stream, authenticated by the session cookie instead of a bearer
        # token (a browser's EventSource cannot send headers); same visibility rule per reader.
        principal = await run_in_threadpool(sessions.principal, request.cookies.get(COOKIE))
        if principal is None:
            return JSONResponse({"detail": "signed out; sign in at /signin"}, status_code=401)
        hub = request.app.state.notices.hub
        return StreamingResponse(
            _events(hub, principal, None, settings.stream_heartbeat_seconds),
            media_type="text/event-stream",
            headers=_HEADERS,
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


async def _not_found(request: Request) -> JSONResponse:
    return JSONResponse({"detail": f"{request.url.path} is switched off"}, status_code=404)
