"""Early warning on the live stream: each new alert announced once, however many processes serve.

Alerts are computed from the data (`service.alerts`), never stored as records. `AlertWatch`, started
with the app, evaluates the alerts standing today a moment after any write that can change them
(woken by the notices of incidents, verification steps, commitments and their progress, and
debounced: a burst of writes is one evaluation) and every `alert_check_seconds` anyway, since due
dates pass and days turn without any write. Evaluation runs in a worker thread, off every request.

Once per alert: `metrics_alert_seen` keeps each alert id (kind, subject, day) already found, per
audience. An evaluation inserts what it found with `ON CONFLICT DO NOTHING ... RETURNING`; only the
rows it added are new, and their notices are published in that same transaction. On PostgreSQL
two processes that find the same alert race on the key: the second waits for the first to commit
and then inserts nothing, so the alert is announced once, by `pg_notify`, to every process.

Audiences: reporters and viewers must not learn of an alert that only incidents they may not read
would raise. So alerts are computed over three views of the incidents, each announced with the
widest sensitivity it counts (`confidential` for analysts and admins, `restricted` for viewers,
`public` for reporters, without their own reports), and the hub gives each reader only the
announcements of their role's view (`backend.notices.hub.may_see`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from backend.auth.service import Principal
from backend.config import Settings
from backend.db import Database, utcnow
from backend.metrics import service
from backend.metrics.models import AlertSeen
from backend.metrics.window import MetricFilters
from backend.notices.hub import NoticeHub, widest_sensitivity
from backend.notices.service import ALERT_TOPIC, Notice, make_notice, publish
from backend.vocab import Role

log = logging.getLogger("peacewatch.alerts")

# No token can carry this name (token names start with a letter or digit), so the reporter's view
# counts no "own reports": exactly the incidents every reporter may read.
_NAME = "(peacewatch alerts)"
AUDIENCES: dict[str, Principal] = {
    widest_sensitivity(p): p
    for p in (
        Principal(_NAME, Role.analyst),
        Principal(_NAME, Role.viewer),
        Principal(_NAME, Role.reporter),
    )
}
# Writes after which the alerts may have changed.
WAKING_TOPICS = frozenset({"incident", "verification_event", "commitment", "commitment_progress"})
_WATCHER = Principal(_NAME, Role.admin)
_ROWS_PER_INSERT = 500


def announce_new_alerts(*, db: Database, settings: Settings) -> list[Notice]:
    """One check: the alerts standing today, computed in a read-only transaction (on SQLite a
    write transaction would hold the write lock meanwhile); then, only if some were never seen, a
    short write transaction records them and publishes their notices (sent on commit)."""
    with db.session(write=False) as session:
        found = _unseen(session, standing_alerts(session=session, settings=settings))
    if not found:
        return []  # the usual case: no write transaction at all
    with db.session() as session:
        new = record_new(session, found)
        notices = [
            make_notice(ALERT_TOPIC, alert_id, "create", sensitivity=audience)
            for alert_id, audience in sorted(new)
        ]
        publish(session, notices)
    return notices


def standing_alerts(*, session: Session, settings: Settings) -> list[dict[str, Any]]:
    """The alerts standing today in each audience's view, as rows of `metrics_alert_seen`."""
    now = utcnow()
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for audience, principal in AUDIENCES.items():
        report = service.alerts(
            session=session, principal=principal, settings=settings, filters=MetricFilters()
        )
        for alert in report.alerts:
            found[(alert.id, audience)] = {
                "alert_id": alert.id,
                "audience": audience,
                "kind": alert.kind,
                "subject": alert.subject[:200],
                "first_seen_at": now,
            }
    return list(found.values())


def _unseen(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows not recorded yet (another process may still record them first: see the insert)."""
    if not rows:
        return []
    seen = AlertSeen.__table__.c  # type: ignore[attr-defined]
    stmt = sa.select(seen.alert_id, seen.audience).where(
        seen.alert_id.in_({r["alert_id"] for r in rows})
    )
    known = {(a, b) for a, b in session.execute(stmt)}
    return [r for r in rows if (r["alert_id"], r["audience"]) not in known]


def record_new(session: Session, rows: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Insert the rows not there yet; return the keys of those this call added. Of two
    transactions that insert the same key, PostgreSQL makes the second wait for the first and
    then add nothing; SQLite runs one writer at a time."""
    table: sa.Table = AlertSeen.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    added: list[tuple[str, str]] = []
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        stmt = (
            insert(table)
            .values(list(rows[start : start + _ROWS_PER_INSERT]))
            .on_conflict_do_nothing(index_elements=["alert_id", "audience"])
            .returning(table.c.alert_id, table.c.audience)
        )
        added += [(r.alert_id, r.audience) for r in session.execute(stmt)]
    return added


class AlertWatch:
    """The app's background task that announces new alerts (see the module's docstring)."""

    def __init__(self, db: Database, settings: Settings, hub: NoticeHub) -> None:
        self.db = db
        self.settings = settings
        self.hub = hub
        self._task: asyncio.Task[None] | None = None
        self._check: asyncio.Future[list[Notice]] | None = None

    def start(self) -> AlertWatch:
        """Call on the event loop of the hub."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alert-watch")
        return self

    async def stop(self) -> None:
        """Stop watching; an evaluation under way finishes first (its transaction must end
        before the database is disposed of)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
        if self._check is not None and not self._check.done():
            await asyncio.wait({self._check}, timeout=30)

    def check(self) -> list[Notice]:
        """One check (blocking): the notices it published."""
        return announce_new_alerts(db=self.db, settings=self.settings)

    async def _run(self) -> None:
        sub = self.hub.subscribe(_WATCHER, WAKING_TOPICS)
        try:
            while True:
                try:
                    item = await sub.get(timeout=self.settings.alert_check_seconds)
                except TimeoutError:
                    pass  # the periodic check
                else:
                    if item is None:
                        return  # the hub stopped
                    await asyncio.sleep(self.settings.alert_debounce_seconds)
                    while not sub.queue.empty():  # the rest of the burst: one evaluation
                        if sub.queue.get_nowait() is None:
                            return
                await self._evaluate()
        finally:
            self.hub.unsubscribe(sub)

    async def _evaluate(self) -> None:
        self._check = asyncio.ensure_future(asyncio.to_thread(self.check))
        try:
            # Shielded: cancelling the watch leaves the check to finish; `stop` waits for it.
            notices = await asyncio.shield(self._check)
        except Exception:  # a failed evaluation must not end the watch: the next one may work
            log.exception("could not evaluate alerts")
            return
        if notices:
            log.info("announced %d new alert(s)", len(notices))
