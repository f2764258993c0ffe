"""PostgreSQL: a thread that LISTENs for committed notices and feeds them to the hub.

Every server process (every worker) has one, so a record committed through any of them reaches
the streams of all: PostgreSQL delivers the NOTIFY to every listening session.

It keeps its own psycopg connection (autocommit, outside the pool) and reconnects with growing
pauses, capped at a few seconds, when the connection drops (the database restarted, a failover,
a proxy cut it). A connection that dies silently (a network gone, no reset) is found by TCP
keepalives and by a `SELECT 1` after each quiet spell. Notices committed while it was
disconnected are lost; streams are a hint to refresh, the API stays the source of truth.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import sqlalchemy as sa

from backend.notices.service import CHANNEL, Notice

log = logging.getLogger("peacewatch.notices")

APPLICATION_NAME = "peacewatch-notices"
# libpq's TCP keepalives: a silently dead connection is dropped within about idle + count * interval.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as psycopg takes it (`postgresql+psycopg://` -> `postgresql://`)."""
    url = sa.make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def decode(payload: str) -> list[Notice]:
    data = json.loads(payload)
    items = data if isinstance(data, list) else [data]
    return [n for n in items if isinstance(n, dict) and "topic" in n and "id" in n]


class PgListener:
    def __init__(
        self,
        database_url: str,
        sink: Callable[[list[Notice]], None],
        *,
        poll_seconds: float = 1.0,
        max_backoff_seconds: float = 5.0,
        check_after_seconds: float = 15.0,
    ) -> None:
        self._conninfo = libpq_url(database_url)
        self._sink = sink
        self._poll = poll_seconds
        self._max_backoff = max_backoff_seconds
        self._check_after = check_after_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self.listening = threading.Event()  # set while LISTEN is in effect (for tests)

    def start(self) -> PgListener:
        self._thread = threading.Thread(target=self._run, name="peacewatch-notices", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.5
        connected_before = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=10,
                    application_name=APPLICATION_NAME,
                    **KEEPALIVES,
                ) as conn:
                    self._conn = conn
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    backoff = 0.5
                    if connected_before:
                        log.warning("notice listener reconnected; notices meanwhile are lost")
                    else:
                        log.info("listening for notices on PostgreSQL channel %r", CHANNEL)
                    connected_before = True
                    self._listen(conn)
            except Exception as exc:
                self.listening.clear()
                if self._stop.is_set():
                    break
                log.warning(
                    "notice listener lost its PostgreSQL connection (%s); retrying in %.1f s",
                    str(exc).strip() or type(exc).__name__,
                    backoff,
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff)
            finally:
                self._conn = None
        self.listening.clear()

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        quiet = 0.0
        while not self._stop.is_set():
            heard = False
            for notify in conn.notifies(timeout=self._poll):
                heard = True
                self._deliver(notify.payload)
            quiet = 0.0 if heard else quiet + self._poll
            if quiet >= self._check_after:  # raises if the connection died without a word
                conn.execute("SELECT 1")
                quiet = 0.0

    def _deliver(self, payload: str) -> None:
        try:
            notices = decode(payload)
        except ValueError:
            log.warning("ignored a malformed notice payload: %.200s", payload)
            return
        if notices:
            self._sink(notices)
