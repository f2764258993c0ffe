"""The in-process hub: fans notices out to the open streams of this server process.

Each subscriber has a bounded asyncio queue: a client that reads too slowly loses its oldest
notices instead of growing the server's memory. Notices arrive from worker threads (a request's
commit on SQLite, the PostgreSQL listener) and are handed to the event loop thread-safely.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.auth.service import Principal
from backend.notices.service import ALERT_TOPIC, FORMER_SENSITIVITY, WITHDRAW, Notice, public_view

log = logging.getLogger("peacewatch.notices")

QUEUE_SIZE = 1_000
# Topics whose notices are only for readers who may see the record (the incident visibility rule).
PRIVATE_TOPICS = frozenset({"incident"})


def may_see(principal: Principal, notice: Mapping[str, Any]) -> bool:
    """Whether the notice is for this reader: for incidents, the visibility rule of
    `backend.incidents.service.visible_to` (own reports, and what the role reads), built on the
    same Principal properties. An incident notice that lacks its fields is for analysts only.
    A withdrawal is for those who could see the incident before it was made more secret and
    may not now."""
    if notice.get("action") == WITHDRAW:
        before = {**notice, "action": "update", "sensitivity": notice.get(FORMER_SENSITIVITY)}
        return _may_see(principal, before) and not _may_see(
            principal, {**notice, "action": "update"}
        )
    return _may_see(principal, notice)


def _may_see(principal: Principal, notice: Mapping[str, Any]) -> bool:
    if notice.get("topic") == ALERT_TOPIC:
        # An alert is computed once per view of the incidents (backend/metrics/watch.py): each
        # reader gets the announcements of the view of their role, and only those.
        return notice.get("sensitivity") == widest_sensitivity(principal)
    if notice.get("topic") not in PRIVATE_TOPICS or principal.sees_everything:
        return True
    reported_by, sensitivity = notice.get("reported_by"), notice.get("sensitivity")
    if reported_by is not None and reported_by == principal.name:
        return True
    return sensitivity is not None and sensitivity in principal.readable_sensitivities


def widest_sensitivity(principal: Principal) -> str:
    """The most sensitive level of other people's incidents that this reader's role reads."""
    return principal.readable_sensitivities[-1].value


@dataclass(eq=False)
class Subscription:
    principal: Principal
    topics: frozenset[str] | None = None
    summaries: bool = False  # whether incident notices carry the feed's summary (the dashboard)
    queue: asyncio.Queue[tuple[int, Notice] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    dropped: int = 0

    def wants(self, notice: Mapping[str, Any]) -> bool:
        if self.topics is not None and notice.get("topic") not in self.topics:
            return False
        return may_see(self.principal, notice)

    def offer(self, item: tuple[int, Notice] | None) -> None:
        if self.queue.full():
            self.queue.get_nowait()  # drop the oldest
            self.dropped += 1
        self.queue.put_nowait(item)

    def ready(self, most: int) -> list[tuple[int, Notice] | None]:
        """Up to `most` items already queued, without waiting (None among them: the hub stops)."""
        items: list[tuple[int, Notice] | None] = []
        while len(items) < most and not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items

    async def get(self, timeout: float | None = None) -> tuple[int, Notice] | None:
        """The next `(event id, public notice)`; None when the hub stops. TimeoutError if none
        came within `timeout` seconds."""
        return await asyncio.wait_for(self.queue.get(), timeout)


class NoticeHub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[Subscription] = set()
        self._ids = itertools.count(1)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def stop(self) -> None:
        """Ends every stream (each gets None) and ignores later notices."""
        loop, self._loop = self._loop, None
        if loop is None or loop.is_closed():
            return
        subscribers = list(self._subscribers)

        def _end() -> None:
            for sub in subscribers:
                sub.offer(None)

        self._call(loop, _end)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribe(
        self,
        principal: Principal,
        topics: Collection[str] | None = None,
        *,
        summaries: bool = False,
    ) -> Subscription:
        """Call on the event loop; pair with `unsubscribe`. With `summaries`, incident notices
        carry what the dashboard's live feed shows of the incident."""
        sub = Subscription(principal, frozenset(topics) if topics else None, summaries)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def publish(self, notices: list[Notice]) -> None:
        """Hand notices to every interested subscriber; safe from any thread."""
        loop = self._loop
        if loop is None or not notices:
            return
        self._call(loop, self._dispatch, notices)

    @staticmethod
    def _call(loop: asyncio.AbstractEventLoop, fn: Any, *args: Any) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(*args)
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop closed meanwhile
            log.debug("event loop closed; notices dropped")

    def _dispatch(self, notices: list[Notice]) -> None:
        for notice in notices:
            views: dict[bool, Notice] = {}  # made once per notice, shared by the subscribers
            event_id = next(self._ids)
            for sub in list(self._subscribers):
                if sub.wants(notice):
                    view = views.get(sub.summaries)
                    if view is None:
                        view = views[sub.summaries] = public_view(notice, summary=sub.summaries)
                    sub.offer((event_id, view))
