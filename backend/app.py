"""The application factory: `create_app(settings)` wires settings, database, routes and errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend import __version__
from backend.agreements.router import router as agreements_router
from backend.audit.router import router as audit_router
from backend.auth.router import router as tokens_router
from backend.auth.service import TokenCache
from backend.config import Settings
from backend.db import Database
from backend.ddr.router import router as ddr_router
from backend.diplomacy.router import router as diplomacy_router
from backend.errors import DomainError, RateLimited, Unauthenticated
from backend.exports.router import router as exports_router
from backend.imports.router import router as imports_router
from backend.imports.service import Source as ImportSource
from backend.incidents.router import router as incidents_router
from backend.ingest.idempotency import purge_keys_periodically
from backend.ingest.router import router as sync_router
from backend.ingest.writer import GroupWriter
from backend.metrics.router import router as metrics_router
from backend.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from backend.notices.router import router as notices_router
from backend.notices.runtime import Notices
from backend.parties.router import router as parties_router
from backend.ratelimit import RateLimiter
from backend.schemas import error_field
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
        if isinstance(exc, RateLimited):
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
        return _error(exc.status_code, request, str(exc.detail), headers=exc.headers)

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


def _api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX)
    for router in (
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
        exports_router,
    ):
        api.include_router(router)

    @api.api_route(
        "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )
    async def _unknown(path: str) -> None:
        # Claim the API's prefix, so a mistyped path is a JSON 404 and never the dashboard's HTML.
        raise StarletteHTTPException(404, f"no API route /api/v1/{path}; see /docs")

    return api


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(settings)
        app.state.notices = Notices.start(app.state.db)
        app.state.writer = GroupWriter(app.state.db, settings).start()
        purger = asyncio.create_task(purge_keys_periodically(app.state.db))
        try:
            yield
        finally:
            purger.cancel()
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
    # The dashboard at `/`: it answers the paths no route claims, so the API keeps precedence.
    mount_dashboard(app, settings)
    return app
