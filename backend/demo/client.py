"""A small keep-alive JSON client on the standard library (the runtime ships no HTTP client)."""

from __future__ import annotations

import contextlib
import http.client
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def replayed(self) -> bool:
        return self.headers.get("idempotent-replayed", "").lower() == "true"


class Unreachable(Exception):
    """The server did not answer (refused, reset, timed out)."""


def normalise_url(url: str) -> str:
    """`http://0.0.0.0:8000` is where a server listens, not where a client goes."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # noqa: S104 - only compared
        host = "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


class JsonClient:
    def __init__(self, base_url: str, token: str | None, timeout_s: float = 30) -> None:
        parts = urlsplit(normalise_url(base_url))
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path
        self.timeout_s = timeout_s
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self.conn = cls(self.host, self.port, timeout=self.timeout_s)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        url = self.prefix + path + (f"?{urlencode(params, doseq=True)}" if params else "")
        payload = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        # A kept-alive connection the server closed meanwhile fails once: reconnect and resend.
        for attempt in (1, 2):
            try:
                conn = self._connection()
                conn.request(method, url, body=payload, headers={**self.headers, **(headers or {})})
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt == 2:
                    raise Unreachable(str(exc) or type(exc).__name__) from None
                continue
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
            try:
                data = json.loads(raw) if raw else None
            except ValueError:
                data = raw.decode(errors="replace")
            return Answer(response.status, answer_headers, data)
        raise AssertionError("unreachable")  # pragma: no cover


def wait_until_up(base_url: str, timeout_s: float) -> bool:
    """Poll GET /healthz until it answers 200 (True) or the time is up (False)."""
    client = JsonClient(base_url, None, timeout_s=5)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with contextlib.suppress(Unreachable):
                if client.call("GET", "/healthz").status == 200:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.25)
    finally:
        client.close()
