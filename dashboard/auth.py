"""Sign-in for the dashboard: an API token, given once, becomes a signed HttpOnly session cookie.

The cookie holds the token's hash (never the token) signed with the dashboard's secret and dated;
every request checks it again against the token table (through the app's `TokenCache`), so a
revoked or expired token ends its dashboard sessions too.
"""

from __future__ import annotations

import html
import os
import secrets
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer

from backend.auth.permissions import Permission
from backend.auth.service import Principal, TokenCache, hash_token, token_holder
from backend.config import Settings
from backend.db import Database
from backend.errors import RateLimited, Unauthenticated
from backend.ratelimit import RateLimiter

COOKIE = "peacewatch_session"
SIGNIN_PATH = "/signin"
SIGNOUT_PATH = "/signout"
_SALT = "peacewatch-dashboard-session"
_secret_lock = threading.Lock()


def secret_key(settings: Settings) -> str:
    """The key that signs session cookies: the setting, else the key file (made on first use)."""
    if settings.dashboard_secret_key is not None:
        return settings.dashboard_secret_key.get_secret_value()
    path = Path(settings.dashboard_secret_file)
    with _secret_lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                # O_EXCL: of several processes starting at once, one writes and the rest read.
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(48) + "\n")
        key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(
            f"{path} holds a dashboard secret shorter than 32 characters; delete it to make a "
            "new one, or set PEACEWATCH_DASHBOARD_SECRET_KEY"
        )
    return key


class Sessions:
    """Signs, reads and checks dashboard session cookies for one app."""

    def __init__(self, settings: Settings, state: Any) -> None:
        self.settings = settings
        self._state = state  # the FastAPI app's state: its `db` exists only once the app started
        self._serializer: URLSafeTimedSerializer | None = None

    @property
    def serializer(self) -> URLSafeTimedSerializer:
        if self._serializer is None:
            self._serializer = URLSafeTimedSerializer(secret_key(self.settings), salt=_SALT)
        return self._serializer

    @property
    def db(self) -> Database:
        return self._state.db

    @property
    def max_age_s(self) -> int:
        return int(self.settings.dashboard_session_hours * 3600)

    def check_token(self, secret: str) -> tuple[Principal, str]:
        """The holder of an API token and the cookie value that signs them in; Unauthenticated
        if the token is unknown, revoked, expired or may not read."""
        digest = hash_token(secret.strip())
        principal = self._holder(digest)
        return principal, self.serializer.dumps(digest)

    def sign_in(self, secret: str, client: str) -> tuple[Principal, str]:
        """`check_token` for a sign-in from address `client`, slowed as the API slows guessing:
        the same count of failed token checks per address (the app's `auth_failures`), so the
        sign-in form is no way around it. RateLimited while that address must wait, whether or
        not this token is good (so that a right guess cannot be told from a wrong one)."""
        failures: RateLimiter = self._state.auth_failures
        if retry_after := failures.wait(client):
            raise RateLimited(
                f"too many failed sign-ins from {client}; retry in {retry_after} s",
                retry_after=retry_after,
            )
        try:
            return self.check_token(secret)
        except Unauthenticated:
            failures.hit(client)
            raise

    def principal(self, cookie: str | None) -> Principal | None:
        """Who the cookie signs in, or None (absent, forged, too old, token no longer valid)."""
        if not cookie:
            return None
        try:
            digest = self.serializer.loads(cookie, max_age=self.max_age_s)
            return self._holder(str(digest))
        except (BadSignature, Unauthenticated):
            return None

    def _holder(self, digest: str) -> Principal:
        cache: TokenCache = self._state.token_cache
        principal = cache.get(digest)
        if principal is None:
            with self.db.session(write=False) as session:
                principal, expires_at = token_holder(session=session, digest=digest)
            cache.put(digest, principal, expires_at)
        if not principal.can(Permission.read_records):
            raise Unauthenticated(f"role '{principal.role.value}' may not read the dashboard")
        return principal


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never another host)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def signin_url(next_path: str) -> str:
    return f"{SIGNIN_PATH}?next={quote(next_path, safe='')}"


def signin_page(*, next_path: str, error: str | None = None) -> str:
    alert = (
        f'<div class="alert alert-danger" role="alert" id="signin-error">{html.escape(error)}</div>'
        if error
        else ""
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · PeaceWatch</title>
<link rel="stylesheet" href="/assets/01-bootstrap.min.css">
<link rel="stylesheet" href="/assets/02-peacewatch.css"></head>
<body class="bg-light"><main class="container" style="max-width:28rem;margin-top:12vh">
<h1 class="h3 mb-3">PeaceWatch</h1>
<p class="text-secondary">Sign in to the mission dashboard with your PeaceWatch token
(<code>peacewatch token create --name NAME --role viewer</code> makes one).</p>
{alert}
<form method="post" action="{SIGNIN_PATH}">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label class="form-label" for="token">Token</label>
<input class="form-control mb-3" type="password" id="token" name="token" autocomplete="off"
 required autofocus>
<button class="btn btn-primary w-100" type="submit" id="signin-submit">Sign in</button>
</form></main></body></html>"""
