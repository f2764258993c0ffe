"""/api/v1/stream: live notices as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from backend.auth.service import Principal
from backend.config import Settings
from backend.deps import Reader, SettingsDep
from backend.errors import InvalidInput
from backend.models import metadata
from backend.notices.hub import NoticeHub
from backend.notices.service import DERIVED_TOPICS, Notice, is_topic
from backend.schemas import responses

router = APIRouter(tags=["notices"])

TOPICS = frozenset(t.name for t in metadata.sorted_tables if is_topic(t)) | DERIVED_TOPICS
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
RETRY_MS = 3_000  # how long an EventSource waits before it reconnects
BATCH_MAX = 200  # notices written at once, at most
DASHBOARD_WRITE_GAP_S = 0.1


def _topics(raw: str | None) -> frozenset[str] | None:
    if not raw:
        return None
    wanted = frozenset(t.strip() for t in raw.split(",") if t.strip())
    unknown = sorted(wanted - TOPICS)
    if unknown:
        raise InvalidInput(
            f"unknown topic {', '.join(unknown)}; known: {', '.join(sorted(TOPICS))}",
            field="topics",
        )
    return wanted or None


async def _events(
    hub: NoticeHub,
    principal: Principal,
    topics: frozenset[str] | None,
    heartbeat: float,
    summaries: bool,
    write_gap_s: float,
) -> AsyncIterator[str]:
    # Subscribed here, not in the route, so that a stream that never starts leaves nothing behind.
    sub = hub.subscribe(principal, topics, summaries=summaries)
    loop = asyncio.get_running_loop()
    written_at = 0.0
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        while True:
            try:
                item = await sub.get(timeout=heartbeat)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            # A notice after a quiet spell goes at once; in a burst, the stream writes at most
            # every `write_gap_s`, all that came meanwhile in one write: for twenty browsers at
            # 200 notices a second, a few reads a second each instead of two hundred.
            if (wait := written_at + write_gap_s - loop.time()) > 0:
                await asyncio.sleep(wait)
            items = [item, *sub.ready(BATCH_MAX - 1)]
            if text := "".join(_event(*i) for i in items if i is not None):
                yield text
            written_at = loop.time()
            if None in items:  # the server is stopping
                return
    finally:
        hub.unsubscribe(sub)


def _event(event_id: int, notice: Notice) -> str:
    data = json.dumps(notice, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event_id}\nevent: notice\ndata: {data}\n\n"


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "An endless stream of `notice` events: "
            '`data: {"topic": "incident", "id": "...", "action": "create"}`',
        },
        **responses(403),
    },
)
async def stream(
    request: Request,
    principal: Reader,
    settings: SettingsDep,
    topics: Annotated[
        str | None,
        Query(description="Comma-separated topics (tables), e.g. `incident,ddr_milestone`"),
    ] = None,
) -> StreamingResponse:
    """Notices of records created or changed, as Server-Sent Events, until the client leaves.

    Each event is `event: notice` with `data: {"topic", "id", "action"}` and an `id:`; a comment
    line comes every `stream_heartbeat_seconds`. Incidents are announced only to readers who may
    read them. A notice is a hint to fetch the record: notices missed while disconnected are
    not replayed.
    """
    # The request's database session ends when this function returns (its dependency's scope is
    # the function), so an open stream holds no connection or transaction.
    return event_stream(request, principal, _topics(topics), settings)


def event_stream(
    request: Request,
    principal: Principal,
    topics: frozenset[str] | None,
    settings: Settings,
    *,
    summaries: bool = False,
) -> StreamingResponse:
    """The notices `principal` may see, as an open Server-Sent Events response (the API's stream
    and the dashboard's, which signs in by cookie, are this one response). The dashboard's asks
    for `summaries`: incident notices then carry what its live feed shows of the incident
    (backend/notices/summary.py), so a page draws the feed from the stream alone."""
    hub: NoticeHub = request.app.state.notices.hub
    # The API's clients get each notice as soon as it comes; a dashboard page, which only draws,
    # gets them in writes at most DASHBOARD_WRITE_GAP_S apart.
    gap = DASHBOARD_WRITE_GAP_S if summaries else 0.0
    return StreamingResponse(
        _events(hub, principal, topics, settings.stream_heartbeat_seconds, summaries, gap),
        media_type="text/event-stream",
        headers=_HEADERS,
    )
