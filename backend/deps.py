"""Request dependencies: the settings, a transaction-scoped session, and who is calling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from backend.audit.service import set_actor
from backend.auth.permissions import Permission
from backend.auth.service import Principal, TokenCache, bearer_secret, hash_token, token_holder
from backend.config import Settings
from backend.db import Database
from backend.errors import RateLimited, Unauthenticated
from backend.ratelimit import RateLimiter

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False, description="A PeaceWatch API token")


# Dependencies that do no I/O are `async def`: they run on the event loop, without a hop to the
# thread pool and back for each one.


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_database(request: Request) -> Database:
    return request.app.state.db


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    authorization = request.headers.get("authorization")
    failures: RateLimiter = request.app.state.auth_failures
    client = request.client.host if request.client else "unknown"
    if authorization and (retry_after := failures.wait(client)):
        # Refused whether or not this token is good, so that guessing learns nothing meanwhile.
        raise RateLimited(
            f"too many failed token checks from {client}; retry in {retry_after} s",
            retry_after=retry_after,
        )
    try:
        digest = hash_token(bearer_secret(authorization))
        cache: TokenCache = request.app.state.token_cache
        principal = cache.get(digest)
        if principal is None:
            principal = await run_in_threadpool(_look_up, request.app.state.db, cache, digest)
    except Unauthenticated:
        if authorization:  # a token was presented and failed: a guess, or a stale one
            failures.hit(client)
        raise
    limiter: RateLimiter = request.app.state.rate_limiter
    if retry_after := limiter.hit(principal.name):
        raise RateLimited(
            f"too many requests: at most {limiter.per_minute} a minute per token; "
            f"retry in {retry_after} s",
            retry_after=retry_after,
        )
    return principal


def _look_up(db: Database, cache: TokenCache, digest: str) -> Principal:
    # A short read of its own, so that a writer's transaction (and, on SQLite, the write lock)
    # begins only with the request's first write.
    with db.session(write=False) as reader:
        principal, expires_at = token_holder(session=reader, digest=digest)
    cache.put(digest, principal, expires_at)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_session(request: Request, principal: PrincipalDep) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (scope="function");
    its changes are audited as the caller's."""
    db: Database = request.app.state.db
    with db.session(write=request.method not in _SAFE_METHODS) as session:
        set_actor(session, principal.name, principal.role.value)
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def requires(permission: Permission):
    """A dependency that lets the call through only for roles holding `permission`."""

    async def _check(principal: PrincipalDep) -> Principal:
        principal.require(permission)
        return principal

    _check.permission = permission  # type: ignore[attr-defined]  # read by tests/test_owasp.py
    return Depends(_check)


Reader = Annotated[Principal, requires(Permission.read_records)]
Reporter = Annotated[Principal, requires(Permission.report)]
Verifier = Annotated[Principal, requires(Permission.verify)]
ProgressRecorder = Annotated[Principal, requires(Permission.record_progress)]
PartyManager = Annotated[Principal, requires(Permission.manage_parties)]
AgreementManager = Annotated[Principal, requires(Permission.manage_agreements)]
TokenManager = Annotated[Principal, requires(Permission.manage_tokens)]
