"""Starting and stopping live notices with the app (its lifespan) or a test."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from backend.db import Database
from backend.notices.hub import NoticeHub
from backend.notices.listener import PgListener
from backend.notices.service import add_local_sink, remove_local_sink


@dataclass
class Notices:
    """The hub of this process and what feeds it: the PostgreSQL listener, or SQLite's commits."""

    hub: NoticeHub
    database_url: str
    listener: PgListener | None = None

    @classmethod
    def start(cls, db: Database, loop: asyncio.AbstractEventLoop | None = None) -> Notices:
        """Call on the event loop that serves the streams (or pass it)."""
        hub = NoticeHub()
        hub.start(loop or asyncio.get_running_loop())
        url = str(db.engine.url)
        notices = cls(hub=hub, database_url=url)
        if db.dialect == "postgresql":
            notices.listener = PgListener(
                db.engine.url.render_as_string(hide_password=False), hub.publish
            ).start()
        else:
            add_local_sink(url, hub.publish)
        return notices

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop(timeout=0)  # a daemon thread: it ends within a poll by itself
        else:
            remove_local_sink(self.database_url, self.hub.publish)
        self.hub.stop()
