"""New alerts on the live stream: announced once, however many server processes watch, and only to
the readers whose view of the incidents raises them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from backend.agreements.models import Agreement, Commitment
from backend.auth.service import Principal
from backend.config import Settings
from backend.db import Database
from backend.incidents.models import Incident
from backend.metrics.models import AlertSeen
from backend.metrics.watch import AUDIENCES, announce_new_alerts, record_new
from backend.notices.hub import widest_sensitivity
from backend.vocab import Role
from tests.helpers import ThreadServer, incident_body
from tests.test_notices import Stream, _token

REGION = "Upper Nile"


def _fast(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "stream_heartbeat_seconds": 0.3,
            "alert_debounce_seconds": 0.05,
            "alert_check_seconds": 3600,
        }
    )


@pytest.fixture
def servers(settings: Settings, db: Database) -> Iterator[list[ThreadServer]]:
    """Two server processes' worth of app (each its own hub, listener and alert watch) on one
    database."""
    with ThreadServer(_fast(settings)) as one, ThreadServer(_fast(settings)) as two:
        yield [one, two]


def _post_spike(url: str, headers: dict[str, str], n: int, sensitivity: str) -> None:
    now = datetime.now(UTC)
    for i in range(n):
        body = incident_body(
            occurred_at=(now - timedelta(hours=1 + i)).isoformat(),
            admin1=REGION,
            sensitivity=sensitivity,
        )
        response = httpx.post(f"{url}/api/v1/incidents", json=body, headers=headers, timeout=10)
        assert response.status_code == 201, response.text


def _alerts(stream: Stream, expect: int, timeout: float = 20.0, settle: float = 1.5) -> list[dict]:
    """The alert notices that arrive until `expect` have come (or `timeout`), and in `settle`
    seconds more: a duplicate would come then."""
    got: list[dict] = []
    deadline = time.monotonic() + (timeout if expect else settle)
    while (left := deadline - time.monotonic()) > 0:
        event = next(stream.events(timeout=left), None)
        if event is None:
            break
        notice = json.loads(event["data"])
        if notice["topic"] == "alert":
            got.append(notice)
            if len(got) == expect:
                deadline = min(deadline, time.monotonic() + settle)
    return got


def _spike_id() -> str:
    return f"incident_spike:{REGION}:{datetime.now(UTC).date().isoformat()}"


def test_incidents_that_make_a_spike_announce_one_alert_on_the_stream(servers, db):
    one, two = servers
    reporter = _token(db, "patrol-1", Role.reporter)
    streams = {
        "analyst on one": Stream(one.url, _token(db, "analyst-1", Role.analyst), "?topics=alert"),
        "analyst on two": Stream(two.url, _token(db, "analyst-2", Role.analyst)),
        "viewer on two": Stream(two.url, _token(db, "viewer-1", Role.viewer), "?topics=alert"),
    }
    try:
        for stream in streams.values():
            assert stream.next_line() == "retry: 3000"
        # Half the posts to each process: both watches wake and evaluate, both find the spike.
        _post_spike(one.url, reporter, 3, "public")
        _post_spike(two.url, reporter, 4, "public")
        got = {name: _alerts(stream, expect=1) for name, stream in streams.items()}
    finally:
        for stream in streams.values():
            stream.close()
    expected = [{"topic": "alert", "id": _spike_id(), "action": "create"}]
    assert got == {name: expected for name in streams}
    # The alert it names is the one GET /api/v1/alerts reports.
    alerts = httpx.get(
        f"{one.url}/api/v1/alerts", headers=_token(db, "viewer-2", Role.viewer), timeout=10
    ).json()["alerts"]
    assert _spike_id() in [a["id"] for a in alerts]


def test_an_alert_raised_by_confidential_incidents_is_announced_to_analysts_only(servers, db):
    one, _ = servers
    analyst = Stream(one.url, _token(db, "analyst-1", Role.analyst), "?topics=alert")
    viewer = Stream(one.url, _token(db, "viewer-1", Role.viewer), "?topics=alert")
    try:
        _post_spike(one.url, _token(db, "patrol-1", Role.reporter), 6, "confidential")
        # The analysts' notice and any viewer's leave in the same commit: wait for the first.
        got_analyst, got_viewer = _alerts(analyst, expect=1), _alerts(viewer, expect=0)
    finally:
        analyst.close()
        viewer.close()
    assert [n["id"] for n in got_analyst] == [_spike_id()]
    assert got_viewer == []


def test_an_alert_is_recorded_once_and_not_announced_again(db, settings):
    _insert_spike_incidents(db)
    first = announce_new_alerts(db=db, settings=settings)
    again = announce_new_alerts(db=db, settings=settings)
    assert [n["id"] for n in first if n["sensitivity"] == "confidential"] == [_spike_id()]
    assert {n["sensitivity"] for n in first} == {"confidential", "restricted", "public"}
    assert again == []
    with db.session() as session:
        seen = session.execute(sa.select(AlertSeen.alert_id, AlertSeen.audience)).all()
    assert sorted(seen) == sorted((n["id"], n["sensitivity"]) for n in first)


def test_the_periodic_check_announces_a_commitment_that_fell_due(settings, db):
    """No write wakes the watch when a due date passes: its periodic check finds it."""
    fast = _fast(settings).model_copy(update={"alert_check_seconds": 0.3})
    with ThreadServer(fast) as server:
        stream = Stream(server.url, _token(db, "analyst-1", Role.analyst), "?topics=alert")
        try:
            assert stream.next_line() == "retry: 3000"
            commitment = _insert_due_commitment_quietly(db)
            got = _alerts(stream, expect=1)
        finally:
            stream.close()
    assert got == [{"topic": "alert", "id": f"overdue_commitment:{commitment}", "action": "create"}]


def test_of_two_checks_that_find_the_same_alert_only_the_first_records_it(db):
    """What decides who announces: the insert's conflict on the alert's key, not the pre-check."""
    row = {
        "alert_id": "overdue_commitment:x",
        "audience": "public",
        "kind": "overdue_commitment",
        "subject": "x",
        "first_seen_at": datetime.now(UTC),
    }
    with db.session() as session:
        first = record_new(session, [row])
    with db.session() as session:
        second = record_new(session, [row, {**row, "audience": "restricted"}])
    assert first == [("overdue_commitment:x", "public")]
    assert second == [("overdue_commitment:x", "restricted")]


def test_every_role_has_an_audience():
    for role in Role:
        assert widest_sensitivity(Principal("someone", role)) in AUDIENCES


def _insert_spike_incidents(db: Database) -> None:
    now = datetime.now(UTC)
    with db.session() as session:
        for i in range(6):
            session.add(
                Incident(
                    occurred_at=now - timedelta(hours=1 + i),
                    category="shelling",
                    latitude=9.5,
                    longitude=31.6,
                    admin1=REGION,
                    source_type="patrol",
                    sensitivity="public",
                    reported_by="patrol-1",
                )
            )


def _insert_due_commitment_quietly(db: Database) -> uuid.UUID:
    """A commitment due yesterday, written by SQLAlchemy Core, which announces nothing."""
    agreement, commitment = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    with db.session() as session:
        session.execute(
            sa.insert(Agreement.__table__),  # type: ignore[arg-type]
            [
                {
                    "id": agreement,
                    "name": "Ceasefire",
                    "kind": "ceasefire",
                    "signed_on": now.date() - timedelta(days=100),
                    "summary": "",
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        session.execute(
            sa.insert(Commitment.__table__),  # type: ignore[arg-type]
            [
                {
                    "id": commitment,
                    "agreement_id": agreement,
                    "title": "Withdraw heavy weapons",
                    "text": "",
                    "category": "withdrawal",
                    "due_on": now.date() - timedelta(days=1),
                    "level": "minimal",
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
    return commitment
