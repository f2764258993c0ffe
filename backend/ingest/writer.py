"""Group commit: single creates that arrive together are written together.

Thirty field teams posting at once would otherwise queue one by one for the database's write lock
(SQLite has one writer; the audit chain serialises PostgreSQL's), each paying a whole transaction.
Here they queue for one writer thread instead, which takes everything waiting, writes it through
the batch path of `service.write` (the same checks, set-based inserts, one audit append) and
commits once; only then is each request answered. A request that fails a batch never fails the
others: should a batch raise, its requests are written again one by one.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from backend.audit.service import set_actor
from backend.auth.service import Principal
from backend.config import Settings
from backend.db import Database
from backend.errors import Unavailable
from backend.ingest import service
from backend.ingest.kinds import KINDS, Entry

log = logging.getLogger("peacewatch.ingest")


@dataclass(frozen=True, slots=True)
class Job:
    """One single create: who sends which record; its answer comes back on `done`."""

    principal: Principal
    kind: str
    data: Any
    subject_id: Any
    key: str | None
    done: Future[Entry]

    def entry(self) -> Entry:
        """A fresh entry for each attempt (an attempt that failed may have marked the last one)."""
        return Entry(0, KINDS[self.kind], self.subject_id, key=self.key, data=self.data)


class GroupWriter:
    """The writer thread. `submit` is called from the request's side; `start`/`stop` by the app."""

    def __init__(self, db: Database, settings: Settings, max_batch: int = 256) -> None:
        self.db, self.settings, self.max_batch = db, settings, max_batch
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="peacewatch-writer", daemon=True)

    def start(self) -> GroupWriter:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)

    def submit(
        self, principal: Principal, kind: str, data: Any, subject_id: Any, key: str | None
    ) -> Future[Entry]:
        if not self._thread.is_alive():
            raise Unavailable("the server is not taking records (starting or stopping); retry")
        done: Future[Entry] = Future()
        self._jobs.put(Job(principal, kind, data, subject_id, key, done))
        return done

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            jobs = [job]
            stopping = False
            while len(jobs) < self.max_batch:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                jobs.append(more)
            try:
                self._write(jobs)
            except BaseException as exc:  # never leave a caller waiting, never let the thread die
                log.exception("the writer failed a batch")
                for job in jobs:
                    if not job.done.done():
                        job.done.set_exception(exc)
            if stopping:
                return

    def _write(self, jobs: list[Job]) -> None:
        try:
            entries = [job.entry() for job in jobs]
            with self.db.session() as session:
                # One transaction; the audit trail names each caller for its own records.
                pairs = sorted(zip(jobs, entries, strict=True), key=lambda p: p[0].principal.name)
                for principal, group in groupby(pairs, key=lambda p: p[0].principal):
                    set_actor(session, principal.name, principal.role.value)
                    service.write(
                        session=session,
                        principal=principal,
                        settings=self.settings,
                        entries=[entry for _, entry in group],
                        need_claim=False,
                    )
        except Exception as exc:
            if len(jobs) > 1:
                log.warning(
                    "a batch of %d creates failed (%s); writing them one by one", len(jobs), exc
                )
                for job in jobs:
                    self._write([job])
                return
            jobs[0].done.set_exception(exc)
            return
        for job, entry in zip(jobs, entries, strict=True):
            job.done.set_result(entry)
