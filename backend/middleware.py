"""Pure ASGI middleware: request ids, body-size limit, NUL bytes in URLs, security headers."""

from __future__ import annotations

import itertools
import json
import secrets
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


# Request ids must be unique, not secret: a random prefix per process and a counter. (A fresh
# `secrets.token_hex` per request is a system call that gives up the GIL; under load the event loop
# then waited for the writer thread to hand it back: 10% of the server's samples at 32 clients.)
_ID_PREFIX = secrets.token_hex(4)
_id_numbers = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_numbers):08x}"


class RequestContextMiddleware:
    """Gives every request an id (kept from a sane client header) and adds security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER.encode():
                candidate = value.decode("latin-1")
                if 0 < len(candidate) <= 64 and candidate.isascii() and candidate.isprintable():
                    request_id = candidate
                break
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                present = {h[0].lower() for h in headers}
                headers.extend(h for h in _SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class NulByteMiddleware:
    """Refuses a URL carrying a NUL byte (`%00`) with 422 naming the parameter: no PeaceWatch
    value may hold one (PostgreSQL cannot store it), and a filter or a path name passing one to
    the database would fail there instead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (field := _nul_field(scope)):
            message = "must not contain NUL bytes"
            body = {
                "detail": f"invalid request: {field}: {message}",
                "errors": [{"field": field, "message": message, "type": "value_error"}],
                "request_id": scope.get("state", {}).get("request_id"),
            }
            await _send_json(send, 422, body)
            return
        await self.app(scope, receive, send)


def _nul_field(scope: Scope) -> str | None:
    """The first query parameter (or the path) that holds a NUL byte, if any."""
    if "\x00" in scope["path"]:
        return "path"
    query = scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "")
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


class _TooLarge(HTTPException):
    """An HTTPException, so that FastAPI's body reading passes it on instead of making it a 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large_message(max_bytes))


def too_large_message(max_bytes: int) -> str:
    return f"request body exceeds the limit of {max_bytes} bytes; send fewer records per request"


class BodySizeLimitMiddleware:
    """Refuses bodies over the limit with 413 before the app reads them into memory.

    `max_bytes` is the limit of every route; `per_path` raises or lowers it for exact paths
    (a batch sync or an import carries more than a single record).
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_max = max_bytes
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.per_path.get(scope["path"], self.default_max)
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
                await self._reject(scope, send, max_bytes)
                return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _TooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(scope, send, max_bytes)

    async def _reject(self, scope: Scope, send: Send, max_bytes: int) -> None:
        body: dict[str, Any] = {
            "detail": too_large_message(max_bytes),
            "errors": [],
            "request_id": scope.get("state", {}).get("request_id"),
        }
        raw = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(raw)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": raw})
