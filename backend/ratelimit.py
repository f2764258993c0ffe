"""Requests per token per minute: an in-process token bucket.

Each key (a token's name) has a bucket of `per_minute` requests that refills continuously at
`per_minute / 60` per second, so a client may burst up to its minute's budget and then goes on at
the steady rate. O(1) per call; a key idle long enough for its bucket to be full again is
forgotten (it would start full anyway), so memory follows the tokens active in the last minute.

The budget is per process: with `--workers N` each worker keeps its own buckets, so a token may
make up to N times the limit in total. Good enough against a runaway client; a shared limit would
need a shared store.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

WINDOW_SECONDS = 60.0
_EPSILON = 1e-9  # float dust: 0.25 + 15 * 0.05 is a whole request


class RateLimiter:
    """`hit(key)` takes one request from the key's bucket; 0 means allowed, otherwise the whole
    seconds to wait before a request would be allowed."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.per_minute = max(0, per_minute)
        self._rate = self.per_minute / WINDOW_SECONDS  # tokens per second
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        # key -> (tokens left, time of the last update); least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def hit(self, key: str) -> int:
        if not self.enabled:
            return 0
        capacity = float(self.per_minute)
        with self._lock:
            now = self._clock()
            self._forget_idle(now)
            tokens, last = self._buckets.pop(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * self._rate)
            if tokens >= 1.0 - _EPSILON:
                self._buckets[key] = (max(0.0, tokens - 1.0), now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self._rate - _EPSILON))

    def wait(self, key: str) -> int:
        """Like `hit`, but takes nothing: 0 if a request would be allowed now, else the whole
        seconds until one would."""
        if not self.enabled:
            return 0
        with self._lock:
            held = self._buckets.get(key)
            if held is None:
                return 0
            tokens, last = held
            tokens = min(float(self.per_minute), tokens + (self._clock() - last) * self._rate)
            if tokens >= 1.0 - _EPSILON:
                return 0
            return max(1, math.ceil((1.0 - tokens) / self._rate - _EPSILON))

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled completely (amortised O(1): oldest first)."""
        full_after = WINDOW_SECONDS  # an empty bucket is full again after one window
        buckets = self._buckets
        while buckets:
            key, (_, last) = next(iter(buckets.items()))
            if now - last < full_after and len(buckets) < self._max_keys:
                break
            del buckets[key]
