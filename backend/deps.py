"""Request dependencies: the settings, a transaction-scoped session, and who is calling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from backend.audit.service import set_actor
from backend.auth.permissions import Permission
from backend.auth.service import Principal, authenticate
from backend.config import Settings
from backend.db import Database
from backend.errors import RateLimited
from backend.ratelimit import RateLimiter

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False, description="A PeaceWatch API token")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_database(request: Request) -> Database:
    return request.app.state.db


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (scope="function")."""
    db: Database = request.app.state.db
    with db.session(write=request.method not in _SAFE_METHODS) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_principal(
    request: Request,
    session: SessionDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    # The token is checked on a short read of its own, so that a writer's transaction (and, on
    # SQLite, the write lock) begins only with the request's first write.
    db: Database = request.app.state.db
    with db.session(write=False) as reader:
        principal = authenticate(session=reader, authorization=request.headers.get("authorization"))
    limiter: RateLimiter = request.app.state.rate_limiter
    if retry_after := limiter.hit(principal.name):
        raise RateLimited(
            f"too many requests: at most {limiter.per_minute} a minute per token; "
            f"retry in {retry_after} s",
            retry_after=retry_after,
        )
    set_actor(session, principal.name, principal.role.value)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def requires(permission: Permission):
    """A dependency that lets the call through only for roles holding `permission`."""

    def _check(principal: PrincipalDep) -> Principal:
        principal.require(permission)
        return principal

    return Depends(_check)


Reader = Annotated[Principal, requires(Permission.read_records)]
Reporter = Annotated[Principal, requires(Permission.report)]
Verifier = Annotated[Principal, requires(Permission.verify)]
ProgressRecorder = Annotated[Principal, requires(Permission.record_progress)]
PartyManager = Annotated[Principal, requires(Permission.manage_parties)]
AgreementManager = Annotated[Principal, requires(Permission.manage_agreements)]
TokenManager = Annotated[Principal, requires(Permission.manage_tokens)]
