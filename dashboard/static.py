"""How the dashboard's static files travel: compressed once at the best ratio, and cached by the
browser for a year when their address is fingerprinted.

Missions browse over satellite links, so the first load's bytes matter more than a little CPU
once. Scripts and stylesheets never change while the process runs: each is compressed once with
brotli at quality 11 (and gzip at 9 for a client without brotli) and kept in memory. That takes
seconds for the largest (AG Grid, plotly.js), so it happens in a background thread: until it is
done, a file goes out with Flask-Compress's quick default, and from then on at the best ratio.

Every other response (the page, callbacks) is left to Flask-Compress.
"""

from __future__ import annotations

import gzip
import hashlib
import queue
import threading

import brotli
import flask

STATIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
YEAR_S = 365 * 24 * 3600
# Below this, compressing in the request costs less than handing it to a thread.
INLINE_BYTES = 64 * 1024
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")


class StaticCompressor:
    """Best-ratio encodings of static bodies, computed once per content (keyed by its hash)."""

    def __init__(self) -> None:
        self._done: dict[bytes, dict[str, bytes]] = {}
        self._pending: set[bytes] = set()
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[bytes, bytes]] = queue.Queue()
        self._worker: threading.Thread | None = None

    def encodings(self, body: bytes) -> dict[str, bytes] | None:
        """`{"br": ..., "gzip": ...}` of `body`, or None while they are being computed."""
        key = hashlib.blake2b(body, digest_size=16).digest()
        with self._lock:
            done = self._done.get(key)
            if done is not None or key in self._pending:
                return done
            if len(body) > INLINE_BYTES:
                self._pending.add(key)
                self._queue.put((key, body))
                if self._worker is None:  # a daemon: never holds up the process's exit
                    self._worker = threading.Thread(
                        target=self._work, name="dash-compress", daemon=True
                    )
                    self._worker.start()
                return None
        return self._compress(key, body)

    def idle(self) -> bool:
        """Whether every file asked for so far has its best encodings (for tests, benchmarks)."""
        with self._lock:
            return not self._pending

    def _work(self) -> None:
        while True:
            self._compress(*self._queue.get())

    def _compress(self, key: bytes, body: bytes) -> dict[str, bytes]:
        done = {"br": brotli.compress(body, quality=11), "gzip": gzip.compress(body, 9)}
        with self._lock:
            self._done[key] = done
            self._pending.discard(key)
        return done


def _accepts(accept_encoding: str, coding: str) -> bool:
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() == coding:
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def install(server: flask.Flask) -> StaticCompressor:
    """Register the hook on `server`; call it after Flask-Compress is set up, so that this hook
    runs first (Flask runs `after_request` hooks in reverse order) and Flask-Compress leaves
    alone what it has encoded."""
    compressor = StaticCompressor()

    @server.after_request
    def _static(response: flask.Response) -> flask.Response:
        request = flask.request
        if not request.path.startswith(STATIC_PREFIXES) or response.status_code != 200:
            return response
        # Assets carry their modification time (`?m=`): a new file is a new address, so the
        # browser keeps each for a year. (Dash caches its fingerprinted suites so already.)
        if request.path.startswith("/assets/") and request.args.get("m"):
            response.cache_control.public = True
            response.cache_control.max_age = YEAR_S
            response.cache_control.immutable = True
        if "Content-Encoding" in response.headers or not (response.mimetype or "").startswith(
            COMPRESSIBLE
        ):
            return response
        accept = request.headers.get("Accept-Encoding", "")
        coding = next((c for c in ("br", "gzip") if _accepts(accept, c)), None)
        if coding is None:
            return response
        response.direct_passthrough = False
        encoded = compressor.encodings(response.get_data())
        if encoded is None:
            return response  # Flask-Compress's quick encoding, this once
        response.set_data(encoded[coding])
        response.headers["Content-Encoding"] = coding
        response.vary.add("Accept-Encoding")
        return response

    return compressor
