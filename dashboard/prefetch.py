"""The Overview's reads, started when its page opens the live stream rather than when Dash asks.

A first visit spends a second or more fetching and starting scripts before Dash asks for the
Overview's headline figures and live feed, then waits for the server to read them (most of a
second at 1M incidents). The page opens its stream first of all, from the HTML's head
(`dashboard/app.py`), naming its path, its filters and an id of its own; once the stream has
subscribed, this module starts both reads in the background, and the page's first callbacks take
them by that id instead of reading again.

Why it is correct: a read begins after the page's stream subscribed, so a record committed after
the read began reaches the page as a notice, and one committed before is in the read. (A read
that began before the subscription could miss a record forever: committed too late for the read,
announced too early for the stream.)

A prefetch is taken once, by the page that opened the stream, for the same filters; anything
else (a filter changed, a reconnected stream, a busy server) reads as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import flask

from backend.auth.service import Principal
from dashboard import filters

# The pages whose reads are started early: the Overview only (the one on the wall screens).
PAGES = ("/",)
# A page's reads are dropped this long after they started if it never took them (closed, or a
# robot), and its id is remembered as long.
KEEP_S = 60.0
# Started only while fewer than this many wait or run: twenty pages opening at once must not
# queue twenty computations of the headline; those beyond read through Dash, shared as before.
MOST_PENDING = 4
_MAX_PAGES = 256


class _Page:
    def __init__(self, principal: Principal, query: str) -> None:
        self.started = time.monotonic()
        self.principal = principal
        self.query = query
        self.reads: dict[str, Future] = {}


class Prefetches:
    def __init__(self, server: flask.Flask, reads: dict[str, Callable[[str], Any]]) -> None:
        """`reads`: name -> function of the page's query string, run in `server`'s app context
        with the page's reader as `flask.g.principal` (as a callback runs)."""
        self._server = server
        self._reads = reads
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dash-prefetch")
        self._pages: dict[str, _Page] = {}
        self._pending = 0
        self._lock = threading.Lock()
        self.taken = 0  # reads a page took (for tests and benchmarks)

    def start(self, page_id: str, principal: Principal, path: str, search: str) -> bool:
        """Start the reads of the page `page_id` (`path`, `search` as in its address); call once
        its stream has subscribed. False if nothing was started."""
        if path not in PAGES or not page_id or len(page_id) > 64:
            return False
        query = filters.to_query(filters.parse(search))
        now = time.monotonic()
        with self._lock:
            self._forget(now)
            # Once per page: a stream that reconnects (the browser does it by itself) reads
            # through Dash as before.
            if page_id in self._pages or len(self._pages) >= _MAX_PAGES:
                return False
            if self._pending + len(self._reads) > MOST_PENDING:
                return False
            page = self._pages[page_id] = _Page(principal, query)
            self._pending += len(self._reads)
            for name, read in self._reads.items():
                page.reads[name] = self._pool.submit(self._run, read, principal, query)
        return True

    def take(self, page_id: object, name: str, query: str, principal: Principal) -> Any | None:
        """The read `name` started for `page_id`, if it was for `query` and the same reader
        (waiting for it if it is still running), else None. Each is given once. (A page's id
        is not a secret to rely on: a read is only ever given to the reader it was made for.)"""
        if not isinstance(page_id, str):
            return None
        with self._lock:
            page = self._pages.get(page_id)
            if page is None or page.principal != principal:
                return None
            future = page.reads.pop(name, None)
        if future is None or page.query != query:
            return None
        try:
            value = future.result()
        except Exception:  # the callback reads again, and reports its own error
            return None
        self.taken += 1
        return value

    def _run(self, read: Callable[[str], Any], principal: Principal, query: str) -> Any:
        try:
            with self._server.app_context():
                flask.g.principal = principal
                return read(query)
        finally:
            with self._lock:
                self._pending -= 1

    def _forget(self, now: float) -> None:
        for page_id in [k for k, p in self._pages.items() if p.started < now - KEEP_S]:
            for future in self._pages.pop(page_id).reads.values():
                if future.cancel():  # never ran, so never counted itself out
                    self._pending -= 1
