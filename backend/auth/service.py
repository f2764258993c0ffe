"""Tokens: made, listed, revoked, and checked on every request."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from backend.auth.models import ApiToken
from backend.auth.permissions import Permission, allowed
from backend.db import utcnow
from backend.errors import Conflict, Forbidden, NotFound, Unauthenticated
from backend.vocab import Role, Sensitivity

TOKEN_PREFIX = "pw_"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name and role."""

    name: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return allowed(self.role, permission)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden(
                f"role '{self.role.value}' may not {permission.value.replace('_', ' ')}"
            )

    def require_edit(self, *, owner: str, locked: bool, what: str) -> None:
        """Analysts and admins correct any field report; a team corrects its own until it is
        `locked` (under verification)."""
        if self.sees_everything:
            return
        if owner != self.name:
            raise Forbidden(f"only analysts and admins may correct another team's {what}")
        if locked:
            raise Forbidden(f"the {what} is under verification; ask an analyst to correct it")

    @property
    def sees_everything(self) -> bool:
        return self.role in (Role.analyst, Role.admin)

    @property
    def readable_sensitivities(self) -> tuple[Sensitivity, ...]:
        """What this role reads of other people's reports."""
        if self.sees_everything:
            return tuple(Sensitivity)
        if self.role is Role.viewer:
            return (Sensitivity.public, Sensitivity.restricted)
        return (Sensitivity.public,)


def hash_token(secret: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    *, session: Session, name: str, role: Role, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    if session.exec(select(ApiToken).where(ApiToken.name == name)).first() is not None:
        raise Conflict(f"a token named '{name}' exists already; choose another name", field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, role=role, token_hash=hash_token(secret), expires_at=expires_at)
    session.add(token)
    session.flush()
    return token, secret


def list_tokens(*, session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.created_at))))


def revoke_token(*, session: Session, name: str) -> ApiToken:
    token = session.exec(select(ApiToken).where(ApiToken.name == name)).first()
    if token is None:
        raise NotFound(f"no token named '{name}'")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
    return token


def has_tokens(*, session: Session) -> bool:
    return session.exec(select(ApiToken.id).limit(1)).first() is not None


def bearer_secret(authorization: str | None) -> str:
    """The token in an `Authorization: Bearer <token>` header, or why there is none."""
    if not authorization:
        raise Unauthenticated("missing Authorization header; send 'Authorization: Bearer <token>'")
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Unauthenticated("malformed Authorization header; expected 'Bearer <token>'")
    return secret


def token_holder(*, session: Session, digest: str) -> tuple[Principal, datetime | None]:
    """Who holds the token with this hash, and until when; refused if unknown or revoked."""
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if token is None:
        raise Unauthenticated("unknown token")
    if token.revoked_at is not None:
        raise Unauthenticated("token revoked")
    _check_expiry(token.expires_at)
    return Principal(name=token.name, role=token.role), token.expires_at


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= utcnow():
        raise Unauthenticated("token expired")


class TokenCache:
    """Tokens checked in the last `ttl_s` seconds, so that a burst of requests from a team does
    not read the token table for each one. A token revoked through this process's API is
    forgotten at once; one revoked elsewhere (the CLI, another worker) works at most `ttl_s`
    longer. Expiry is checked on every request. `ttl_s` 0 turns the cache off."""

    def __init__(
        self, ttl_s: float, clock: Callable[[], float] = time.monotonic, max_size: int = 10_000
    ) -> None:
        self.ttl_s, self._clock, self._max = ttl_s, clock, max_size
        self._held: dict[str, tuple[float, Principal, datetime | None]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Principal | None:
        if self.ttl_s <= 0:
            return None
        with self._lock:
            held = self._held.get(digest)
        if held is None or self._clock() - held[0] > self.ttl_s:
            return None
        _check_expiry(held[2])
        return held[1]

    def put(self, digest: str, principal: Principal, expires_at: datetime | None) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._held) >= self._max:
                self._held.clear()
            self._held[digest] = (self._clock(), principal, expires_at)

    def forget(self, name: str) -> None:
        with self._lock:
            for digest in [d for d, held in self._held.items() if held[1].name == name]:
                del self._held[digest]
