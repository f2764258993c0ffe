"""The application factory: `create_app(settings)` wires settings, database, routes and errors."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import NoMatchFound, compile_path

from backend import __version__
from backend.agreements.router import router as agreements_router
from backend.audit.router import router as audit_router
from backend.auth.router import router as tokens_router
from backend.auth.service import TokenCache
from backend.config import Settings
from backend.db import Database
from backend.dbfaults import retry_after, storage_fault
from backend.ddr.router import router as ddr_router
from backend.diplomacy.router import router as diplomacy_router
from backend.errors import DomainError, Unauthenticated, Unavailable
from backend.exports.router import router as exports_router
from backend.imports.router import router as imports_router
from backend.imports.service import Source as ImportSource
from backend.incidents.router import router as incidents_router
from backend.ingest.idempotency import purge_keys_periodically
from backend.ingest.router import router as sync_router
from backend.ingest.writer import GroupWriter
from backend.metrics.router import router as metrics_router
from backend.metrics.watch import AlertWatch
from backend.middleware import (
    BodySizeLimitMiddleware,
    NulByteMiddleware,
    RequestContextMiddleware,
)
from backend.migrate import check_at_startup
from backend.notices.router import router as notices_router
from backend.notices.runtime import Notices
from backend.parties.router import router as parties_router
from backend.ratelimit import RateLimiter
from backend.schemas import error_field
from backend.surveys.router import router as surveys_router
from backend.verification.router import router as verification_router
from dashboard import mount_dashboard

log = logging.getLogger("peacewatch")

API_PREFIX = "/api/v1"


def _error(
    status: int,
    request: Request,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    body = {"detail": detail, "errors": errors or [], "request_id": request_id}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_of(loc: tuple[Any, ...] | list[Any], err: Mapping[str, Any] | None = None) -> str:
    return error_field(loc, err, strip=("body", "query", "path", "header"))


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        errors, detail = [], exc.message
        if exc.field:
            errors = [{"field": exc.field, "message": exc.message, "type": type(exc).__name__}]
            detail = f"{exc.field}: {exc.message}"
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        if exc.retry_after is not None:  # 429 and 503: when to come back
            headers = {"Retry-After": str(exc.retry_after)}
        return _error(exc.status_code, request, detail, errors, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            field = _field_of(err.get("loc", ()), err)
            message = err.get("msg", "invalid value")
            if err.get("type") == "json_invalid":
                field, message = (
                    "body",
                    f"malformed JSON: {err.get('ctx', {}).get('error', message)}",
                )
            errors.append({"field": field, "message": message, "type": err.get("type", "invalid")})
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return _error(422, request, f"invalid request: {summary}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's 400 for a body that is not UTF-8: the same answer as for malformed JSON.
            message = f"malformed JSON: the body is not UTF-8 text ({exc.__cause__.reason})"
            errors = [{"field": "body", "message": message, "type": "json_invalid"}]
            return _error(422, request, f"invalid request: body: {message}", errors)
        return _error(exc.status_code, request, str(exc.detail), headers=exc.headers)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # A full disk or a read-only database is the operator's to fix, not a bug: 503, retry.
        fault = storage_fault(exc)
        if fault is None:
            return await _crash(request, exc)
        log.error("%s %s: %s (%s)", request.method, request.url.path, fault, exc.orig)
        return await _domain(request, Unavailable(fault, retry_after=retry_after(fault)))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        log.exception(
            "unhandled error on %s %s (request_id=%s)", request.method, request.url.path, request_id
        )
        response = _error(
            500, request, "internal server error; quote the request_id when reporting it"
        )
        if request_id:
            response.headers["x-request-id"] = request_id
        return response


_EVERY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _route_methods(routers: tuple[APIRouter, ...]) -> Callable[[str], list[str]]:
    """`methods_of(path)`: the methods the API's routes take on a path (none: an unknown path)."""
    table = [
        (compile_path(API_PREFIX + route.path)[0], route.methods)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    ]

    def methods_of(path: str) -> list[str]:
        methods = {m for regex, route_methods in table if regex.match(path) for m in route_methods}
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods, key=_EVERY_METHOD.index)

    return methods_of


def _api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX)
    routers = (
        parties_router,
        incidents_router,
        sync_router,
        verification_router,
        ddr_router,
        diplomacy_router,
        agreements_router,
        tokens_router,
        audit_router,
        notices_router,
        imports_router,
        metrics_router,
        surveys_router,
        exports_router,
    )
    for router in routers:
        api.include_router(router)
    methods_of = _route_methods(routers)

    @api.api_route("/{path:path}", methods=list(_EVERY_METHOD), include_in_schema=False)
    async def _unknown(path: str, request: Request) -> None:
        # Claim the API's prefix, so a mistyped path is a JSON 404 and never the dashboard's HTML;
        # a known path asked with a method it does not take is a 405 listing the ones it does.
        if allowed := methods_of(request.scope["path"]):
            raise StarletteHTTPException(
                405,
                f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        raise StarletteHTTPException(404, f"no API route /api/v1/{path}; see /docs")

    return api


@functools.cache  # once per process, so apps made and dropped later (tests) stay collectable
def _prepare_routes(app: FastAPI) -> None:
    """FastAPI prepares its routes (a pydantic validator per model, half a second for ours, seconds
    on a loaded host) on the first request, on the event loop, where it stalls every request and
    stream meanwhile (it stalled fuzz requests past 10 s in CI). Prepare them at startup instead:
    looking up a name that no route has walks every route."""
    with suppress(NoMatchFound):
        app.url_path_for("peacewatch: prepare every route")


def _freeze_startup_objects() -> None:
    """What the first startup loaded lives as long as the process: keep it out of the garbage
    collector's full passes, each of which scanned some 200,000 objects (50-100 ms, the p95 of
    every measure)."""
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(settings)
        check_at_startup(app.state.db)  # every worker refuses to serve on a schema not its own
        app.state.notices = Notices.start(app.state.db)
        app.state.writer = GroupWriter(app.state.db, settings).start()
        purger = asyncio.create_task(purge_keys_periodically(app.state.db))
        watch = (
            AlertWatch(app.state.db, settings, app.state.notices.hub).start()
            if settings.alert_watch_enabled
            else None
        )
        _prepare_routes(app)
        _freeze_startup_objects()
        try:
            yield
        finally:
            purger.cancel()
            if watch is not None:
                await watch.stop()
            app.state.writer.stop()
            app.state.notices.stop()
            app.state.db.dispose()

    app = FastAPI(
        title="PeaceWatch",
        version=__version__,
        description="Ceasefire, DDR and diplomacy monitoring for peacekeeping missions. "
        "Every route but `/healthz` needs `Authorization: Bearer <token>`.",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.auth_failures = RateLimiter(settings.auth_failures_per_minute)
    app.state.token_cache = TokenCache(settings.token_cache_seconds)
    _install_error_handlers(app)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        per_path={
            f"{API_PREFIX}/sync": settings.sync_max_body_bytes,
            **{f"{API_PREFIX}/imports/{s.value}": settings.import_max_bytes for s in ImportSource},
        },
    )
    app.add_middleware(NulByteMiddleware)
    app.add_middleware(RequestContextMiddleware)

    @app.get("/healthz", tags=["service"], responses={503: {"description": "Database unreachable"}})
    def healthz(request: Request) -> JSONResponse:
        db: Database = request.app.state.db
        try:
            db.ping()
        except Exception:
            log.exception("health check: database unreachable")
            body = {"status": "error", "database": "unreachable", "version": __version__}
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "ok", "database": db.dialect, "version": __version__})

    app.include_router(_api_router())

    @app.api_route("/api/{path:path}", methods=list(_EVERY_METHOD), include_in_schema=False)
    async def _other_version(path: str) -> None:
        # One API version is served; any other under /api is a JSON 404, not the dashboard.
        raise StarletteHTTPException(404, f"no API at /api/{path}; this server serves {API_PREFIX}")

    # The dashboard at `/`: it answers the paths no route claims, so the API keeps precedence.
    mount_dashboard(app, settings)
    return app
