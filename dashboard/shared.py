"""One computation of a heavy read for every session that asks for the same view at about the
same time: twenty wall screens on the Overview need the headline figures once, not twenty times.

A session is answered with a computation that began at most `fresh_s` before its request (or is
still running and began within that). The live script asks for the headline figures at least
SUMMARY_DELAY_MS (700 ms, assets/live.js) after the last notice it received, and that notice was
published after its record was committed; so with `fresh_s` below that delay, the answer to the
request that follows a burst began reading after the burst's last record was stored.
A caller that knows better may name its own freshness: the Overview's headline keys its reads by
the beat its pages ask on, and shares one per beat (dashboard/pages/overview.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from backend.auth.service import Principal

FRESH_S = 0.5
_MAX_KEYS = 256


class _Entry:
    def __init__(self, started: float) -> None:
        self.started = started
        self.done = threading.Event()
        self.value: Any = None
        self.failed = False


class SharedReads:
    def __init__(self, fresh_s: float = FRESH_S) -> None:
        self.fresh_s = fresh_s
        self._entries: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any], fresh_s: float | None = None) -> Any:
        """`compute()`'s value, shared with the other callers of `key` whose computation began
        at most `fresh_s` (default: the instance's) before."""
        now = time.monotonic()
        fresh = self.fresh_s if fresh_s is None else fresh_s
        with self._lock:
            entry = self._entries.get(key)
            mine = entry is None or entry.started < now - fresh or entry.failed
            if mine:
                if len(self._entries) >= _MAX_KEYS:
                    self._forget(now)
                entry = self._entries[key] = _Entry(now)
        assert entry is not None
        if not mine:
            entry.done.wait()
            if not entry.failed:
                return entry.value
            return compute()  # the one it waited for failed: try on its own
        try:
            entry.value = compute()
        except BaseException:
            entry.failed = True
            raise
        finally:
            entry.done.set()
        return entry.value

    def _forget(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if e.started < now - self.fresh_s]:
            del self._entries[key]


def visibility(principal: Principal) -> Hashable:
    """Who reads the same records: everyone who sees everything; otherwise one reader alone
    (a reporter also reads what they reported themselves)."""
    if principal.sees_everything:
        return "everything"
    return (principal.name, principal.role.value)
