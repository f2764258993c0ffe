"""The group writer: concurrent single creates written together, none lost, none blocking others."""

from __future__ import annotations

import uuid
from concurrent.futures import Future

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEntry
from backend.auth.service import Principal
from backend.errors import Unavailable
from backend.incidents.models import Incident, IncidentCreate
from backend.ingest.writer import GroupWriter, Job
from backend.vocab import Role
from tests.helpers import count, incident_body

PATROL = Principal("patrol-7", Role.reporter)


def _incident() -> IncidentCreate:
    return IncidentCreate.model_validate(incident_body(id=str(uuid.uuid4())))


def test_a_batch_of_creates_is_written_together_and_each_gets_its_answer(db, settings):
    writer = GroupWriter(db, settings)  # its thread not started: the jobs wait in the queue
    datas = [_incident() for _ in range(5)]
    futures: list[Future] = []
    for data in datas:
        futures.append(Future())
        writer._jobs.put(Job(PATROL, "incident", data, None, None, futures[-1]))
    writer._jobs.put(None)
    writer._run()  # here: takes all five as one batch, then stops

    entries = [f.result(timeout=5) for f in futures]
    assert [e.status for e in entries] == ["created"] * 5
    assert [e.body["id"] for e in entries] == [str(d.id) for d in datas]
    assert count(db, Incident) == 5
    with db.engine.connect() as conn:  # one transaction: one run of audit entries, one actor
        actors = conn.execute(sa.select(AuditEntry.actor).distinct()).scalars().all()
    assert actors == ["patrol-7"]


def test_a_job_that_breaks_its_batch_fails_alone(db, settings):
    writer = GroupWriter(db, settings).start()
    try:
        good = [writer.submit(PATROL, "incident", _incident(), None, None) for _ in range(3)]
        bad = writer.submit(PATROL, "no-such-kind", _incident(), None, None)
        more = writer.submit(PATROL, "incident", _incident(), None, None)
        assert all(f.result(timeout=10).status == "created" for f in [*good, more])
        with pytest.raises(KeyError):
            bad.result(timeout=10)
    finally:
        writer.stop()
    assert count(db, Incident) == 4


def test_a_stopped_writer_refuses_at_once_rather_than_leaving_the_caller_waiting(db, settings):
    writer = GroupWriter(db, settings).start()
    writer.stop()
    with pytest.raises(Unavailable):
        writer.submit(PATROL, "incident", _incident(), None, None)
