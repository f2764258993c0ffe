"""Live notices: published on commit only, filtered per reader, streamed as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from backend.auth import service as token_service
from backend.auth.service import Principal
from backend.config import Settings
from backend.db import Database
from backend.incidents.models import Incident
from backend.incidents.service import visible_to
from backend.notices.hub import NoticeHub, may_see
from backend.notices.listener import decode
from backend.notices.runtime import Notices
from backend.notices.service import MAX_PAYLOAD_BYTES, _merged, make_notice, payloads, publish
from backend.notices.summary import FIELDS as SUMMARY_FIELDS
from backend.parties.models import Party
from backend.vocab import Role, Sensitivity
from tests.helpers import ThreadServer, incident_body

ANALYST = Principal(name="analyst-1", role=Role.analyst)
ALICE = Principal(name="alice", role=Role.reporter)
BOB = Principal(name="bob", role=Role.reporter)
VIEWER = Principal(name="viewer-1", role=Role.viewer)


def _party(session: Session, code: str | None = None) -> Party:
    code = code or uuid.uuid4().hex[:8]
    party = Party(name=f"Party {code}", code=code, kind="militia")
    session.add(party)
    session.flush()
    return party


def _incident(session: Session, *, by: str, sensitivity: Sensitivity) -> Incident:
    incident = Incident(
        occurred_at=datetime(2025, 11, 20, 8, tzinfo=UTC),
        category="shelling",
        latitude=4.85,
        longitude=31.6,
        source_type="patrol",
        sensitivity=sensitivity,
        reported_by=by,
    )
    session.add(incident)
    session.flush()
    return incident


def listen(
    db: Database,
    write: Callable[[], object],
    *,
    principals: dict[str, Principal] | None = None,
    until: Callable[[dict[str, list[dict]]], bool] | None = None,
    timeout: float = 3.0,
    settle: float = 0.3,
    summaries: bool = False,
) -> dict[str, list[dict]]:
    """Start the notices of `db` as the app does, subscribe, run `write` in a worker thread and
    collect what each subscriber gets: until `until(got)` holds (then `settle` seconds more, to
    catch extras), or `timeout`."""
    principals = principals or {"analyst": ANALYST}

    async def main() -> dict[str, list[dict]]:
        notices = Notices.start(db)
        try:
            if notices.listener is not None:
                assert await asyncio.to_thread(notices.listener.listening.wait, 10)
            subs = {k: notices.hub.subscribe(p, summaries=summaries) for k, p in principals.items()}
            got: dict[str, list[dict]] = {k: [] for k in subs}
            await asyncio.to_thread(write)
            deadline = time.monotonic() + timeout
            done_at: float | None = None
            while time.monotonic() < (done_at or deadline):
                for k, sub in subs.items():
                    while not sub.queue.empty():
                        item = sub.queue.get_nowait()
                        assert item is not None
                        got[k].append(item[1])
                if done_at is None and until is not None and until(got):
                    done_at = time.monotonic() + settle
                await asyncio.sleep(0.02)
            return got
        finally:
            notices.stop()

    return asyncio.run(main())


def _has(topic: str, record_id: str) -> Callable[[dict[str, list[dict]]], bool]:
    def check(got: dict[str, list[dict]]) -> bool:
        return any(n["topic"] == topic and n["id"] == record_id for ns in got.values() for n in ns)

    return check


def test_a_committed_create_publishes_exactly_one_notice(db):
    made: list[Party] = []

    def write() -> None:
        with db.session() as session:
            party = _party(session)
            party.aliases = ["changed in the same transaction"]
            session.flush()
            made.append(party)

    got = listen(db, write, until=lambda g: bool(g["analyst"]))
    assert got["analyst"] == [{"topic": "party", "id": str(made[0].id), "action": "create"}]


def test_an_update_publishes_an_update(db):
    with db.session() as session:
        party_id = _party(session).id

    def write() -> None:
        with db.session() as session:
            party = session.get(Party, party_id)
            party.signatory = True
            session.add(party)

    got = listen(db, write, until=lambda g: bool(g["analyst"]))
    assert got["analyst"] == [{"topic": "party", "id": str(party_id), "action": "update"}]


def test_a_rolled_back_transaction_publishes_nothing(db):
    rolled_back: list[str] = []
    committed: list[str] = []

    def aborted() -> None:
        with db.session() as session:
            rolled_back.append(str(_party(session).id))
            publish(session, [make_notice("ddr_target", uuid.uuid4())])
            raise RuntimeError("abort")

    def write() -> None:
        with pytest.raises(RuntimeError):
            aborted()
        # A savepoint that rolls back drops its notices, the rest of the transaction keeps its.
        with db.session() as session:
            committed.append(str(_party(session).id))
            nested = session.begin_nested()
            rolled_back.append(str(_party(session).id))
            nested.rollback()
            nested = session.begin_nested()
            committed.append(str(_party(session).id))
            nested.commit()
        # A session closed without committing keeps nothing for its next transaction.
        session = Session(db.engine, expire_on_commit=False)
        session.begin()
        rolled_back.append(str(_party(session).id))
        session.close()
        with session.begin():
            committed.append(str(_party(session).id))
        session.close()

    got = listen(db, write, until=lambda g: len(g["analyst"]) >= 3)
    assert sorted(n["id"] for n in got["analyst"]) == sorted(committed)
    assert not {n["id"] for n in got["analyst"]} & set(rolled_back)


def test_tokens_audit_entries_and_link_rows_make_no_notice(db):
    marker: list[str] = []

    def write() -> None:
        with db.session() as session:
            token_service.create_token(session=session, name="quiet", role=Role.viewer)
        with db.session() as session:
            marker.append(str(_party(session).id))

    got = listen(db, write, until=lambda g: bool(g["analyst"]))
    assert [n["topic"] for n in got["analyst"]] == ["party"]
    assert got["analyst"][0]["id"] == marker[0]


def test_published_notices_of_set_based_writes_arrive(db):
    ids = [str(uuid.uuid4()) for _ in range(500)]

    def write() -> None:
        with db.session() as session:
            publish(
                session,
                (
                    make_notice("incident", i, sensitivity="public", reported_by="importer")
                    for i in ids
                ),
            )

    got = listen(db, write, until=lambda g: len(g["analyst"]) >= len(ids))
    assert [n["id"] for n in got["analyst"]] == ids
    assert all(set(n) == {"topic", "id", "action"} for n in got["analyst"])


def test_incident_notices_follow_the_visibility_rule(db):
    made: dict[str, str] = {}

    def write() -> None:
        with db.session() as session:
            made["bob_confidential"] = str(
                _incident(session, by="bob", sensitivity=Sensitivity.confidential).id
            )
            made["bob_restricted"] = str(
                _incident(session, by="bob", sensitivity=Sensitivity.restricted).id
            )
        with db.session() as session:
            made["bob_public"] = str(_incident(session, by="bob", sensitivity="public").id)

    readers = {"analyst": ANALYST, "alice": ALICE, "bob": BOB, "viewer": VIEWER}
    got = listen(db, write, principals=readers, until=lambda g: len(g["alice"]) >= 1)
    seen = {k: {n["id"] for n in v} for k, v in got.items()}
    assert seen["analyst"] == set(made.values())
    assert seen["bob"] == set(made.values())  # his own
    assert seen["alice"] == {made["bob_public"]}
    assert seen["viewer"] == {made["bob_public"], made["bob_restricted"]}
    for notices in got.values():  # the internal fields never leave
        assert all(set(n) == {"topic", "id", "action"} for n in notices)


def test_the_filter_is_the_incident_visibility_rule(db):
    """`may_see` must agree with `visible_to` (the SQL rule) for every role and case."""
    with db.session() as session:
        incidents = [
            _incident(session, by=owner, sensitivity=sensitivity)
            for owner in ("alice", "bob")
            for sensitivity in Sensitivity
        ]
    principals = [Principal(name="alice", role=role) for role in Role]
    with db.session(write=False) as session:
        for principal in principals:
            by_sql = {
                str(i) for i in session.exec(select(Incident.id).where(visible_to(principal)))
            }
            by_notice = {
                str(i.id)
                for i in incidents
                if may_see(
                    principal,
                    make_notice(
                        "incident", i.id, sensitivity=i.sensitivity, reported_by=i.reported_by
                    ),
                )
            }
            assert by_notice == by_sql, principal.role
    # Without its fields an incident notice is for analysts and admins only.
    bare = {"topic": "incident", "id": "x", "action": "create"}
    assert [may_see(Principal(name="n", role=r), bare) for r in Role] == [
        r in (Role.analyst, Role.admin) for r in Role
    ]


def test_the_dashboards_notices_carry_the_feeds_row_and_nothing_private(db):
    """The dashboard's stream carries what the live feed shows of an incident, the same row the
    feed's server read gives; never its reporter or sensitivity, never to whom may not see it."""
    made: dict[str, str] = {}

    def write() -> None:
        with db.session() as session:
            secret = _incident(session, by="bob", sensitivity=Sensitivity.confidential)
            secret.description = "SECRET-SOURCE"
            made["secret"] = str(secret.id)
        with db.session() as session:
            shown = _incident(session, by="bob", sensitivity=Sensitivity.restricted)
            shown.description = "x" * 500
            shown.location_name = "Yei"
            made["shown"] = str(shown.id)

    got = listen(
        db,
        write,
        principals={"viewer": VIEWER},
        until=lambda g: len(g["viewer"]) >= 1,
        summaries=True,
    )
    assert [n["id"] for n in got["viewer"]] == [made["shown"]]
    (notice,) = got["viewer"]
    assert set(notice) == {"topic", "id", "action", "summary"}
    summary = notice["summary"]
    assert set(summary) == set(SUMMARY_FIELDS)
    assert summary["description"] == "x" * 120  # cut as the feed cuts it: the notice stays small
    assert summary["location_name"] == "Yei"
    assert len(json.dumps(notice)) < 1_000
    assert "SECRET-SOURCE" not in json.dumps(got)

    from dashboard.data import latest_incidents
    from dashboard.filters import ViewFilters

    with db.session(write=False) as session:
        read = latest_incidents(session, VIEWER, ViewFilters(), limit=50)
    assert summary in read  # what the page merges: the same shape and values as the read


def test_an_update_carries_the_changed_row_and_the_apis_stream_no_summary(db):
    with db.session() as session:
        incident_id = _incident(session, by="bob", sensitivity=Sensitivity.public).id

    findings = iter(("verified", "refuted"))

    def write() -> None:
        with db.session() as session:
            incident = session.get(Incident, incident_id)
            incident.finding = next(findings)
            session.add(incident)

    got = listen(db, write, principals={"viewer": VIEWER}, until=lambda g: bool(g["viewer"]),
                 summaries=True)  # fmt: skip
    assert [(n["action"], n["summary"]["finding"]) for n in got["viewer"]] == [
        ("update", "verified")
    ]
    plain = listen(db, write, principals={"viewer": VIEWER}, until=lambda g: bool(g["viewer"]))
    assert [set(n) for n in plain["viewer"]] == [{"topic", "id", "action"}]


def test_an_incident_made_more_secret_is_withdrawn_from_those_who_may_no_longer_see_it(db):
    """Restricted -> confidential: the viewer, who saw it, gets a `withdraw` (its id alone, so its
    page drops it) and no update; the analyst gets the update and no withdrawal; its reporter,
    who still sees it, the update; another reporter, who never saw it, nothing."""
    with db.session() as session:
        incident_id = str(_incident(session, by="bob", sensitivity=Sensitivity.restricted).id)

    def secret() -> None:
        with db.session() as session:
            incident = session.get(Incident, uuid.UUID(incident_id))
            incident.sensitivity = Sensitivity.confidential
            session.add(incident)

    readers = {"analyst": ANALYST, "viewer": VIEWER, "bob": BOB, "alice": ALICE}
    got = listen(db, secret, principals=readers, summaries=True,
                 until=lambda g: bool(g["viewer"]) and bool(g["analyst"]))  # fmt: skip
    heard = {k: [(n["id"], n["action"]) for n in v] for k, v in got.items()}
    assert heard["viewer"] == [(incident_id, "withdraw")]
    assert got["viewer"][0] == {"topic": "incident", "id": incident_id, "action": "withdraw"}
    assert heard["analyst"] == [(incident_id, "update")]
    assert heard["bob"] == [(incident_id, "update")]
    assert heard["alice"] == []

    def public() -> None:  # made less secret: no one is told to drop it
        with db.session() as session:
            incident = session.get(Incident, uuid.UUID(incident_id))
            incident.sensitivity = Sensitivity.public
            session.add(incident)

    got = listen(db, public, principals=readers, until=lambda g: bool(g["alice"]))
    assert all(n["action"] == "update" for ns in got.values() for n in ns), got
    assert {k for k, v in got.items() if v} == set(readers)


def test_a_later_write_without_the_summary_drops_the_earlier_one():
    """Merged in one transaction: a summary from before a set-based change would be stale."""
    record = {name: None for name in SUMMARY_FIELDS} | {"id": "1", "description": "old"}
    with_summary = make_notice("incident", 1, sensitivity="public", record=record)
    assert with_summary["summary"]["description"] == "old"
    merged = _merged([with_summary, make_notice("incident", 1, "update", sensitivity="public")])
    assert merged == [{"topic": "incident", "id": "1", "action": "create", "sensitivity": "public"}]


# --- pieces -------------------------------------------------------------------------------------


def test_payloads_stay_under_the_postgresql_limit_and_keep_every_notice():
    notices = [
        make_notice("incident", uuid.uuid4(), sensitivity="restricted", reported_by="x" * 90)
        for _ in range(1_000)
    ]
    batches = payloads(notices)
    assert len(batches) > 1
    assert all(len(b.encode()) <= MAX_PAYLOAD_BYTES < 8000 for b in batches)
    assert [n for b in batches for n in decode(b)] == notices


def test_a_slow_subscriber_loses_its_oldest_notices():
    async def main() -> None:
        hub = NoticeHub()
        hub.start(asyncio.get_running_loop())
        sub = hub.subscribe(ANALYST)
        hub.publish([make_notice("party", n) for n in range(sub.queue.maxsize + 10)])
        assert sub.queue.qsize() == sub.queue.maxsize
        assert sub.dropped == 10
        first = await sub.get(timeout=1)
        assert first is not None
        assert first[1]["id"] == "10"
        hub.unsubscribe(sub)

    asyncio.run(main())


def test_notices_from_another_thread_reach_the_loop():
    async def main() -> None:
        hub = NoticeHub()
        hub.start(asyncio.get_running_loop())
        sub = hub.subscribe(ANALYST, topics={"ddr_milestone"})
        thread = threading.Thread(
            target=hub.publish,
            args=([make_notice("party", 1), make_notice("ddr_milestone", 2, "update")],),
        )
        thread.start()
        assert await sub.get(timeout=1) == (
            2,
            {"topic": "ddr_milestone", "id": "2", "action": "update"},
        )
        thread.join()
        hub.stop()
        await asyncio.sleep(0)
        assert await sub.get(timeout=1) is None  # a stopped hub ends the streams

    asyncio.run(main())


@pytest.mark.postgres
def test_the_listener_reconnects_after_its_connection_drops(db):
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    from backend.notices.listener import APPLICATION_NAME

    party_ids: list[str] = []

    def write() -> None:
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            )
        time.sleep(0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the listener is back, a notice may be lost
            with db.session() as session:
                party_ids.append(str(_party(session).id))
            time.sleep(0.3)
            if len(party_ids) > 5:
                break

    got = listen(db, write, until=lambda g: bool(g["analyst"]), timeout=15)
    assert got["analyst"], "no notice after the listener's connection was dropped"


# --- the stream, served by uvicorn --------------------------------------------------------------


class Stream:
    """An open SSE response, its lines read by a thread into a queue."""

    def __init__(self, base: str, headers: dict[str, str], query: str = "") -> None:
        self.client = httpx.Client(base_url=base, timeout=httpx.Timeout(10, read=None))
        self.response = self.client.send(
            self.client.build_request("GET", f"/api/v1/stream{query}", headers=headers),
            stream=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines():
                self.lines.put(line)
        except Exception:  # closed by the test
            return

    def next_line(self, timeout: float = 2.0) -> str:
        return self.lines.get(timeout=timeout)

    def events(self, timeout: float) -> Iterator[dict]:
        """The `notice` events that arrive within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        event: dict = {}
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return
            if line == "":
                if event.get("event") == "notice":
                    yield event
                event = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                event[name] = value

    def close(self) -> None:
        self.response.close()
        self.client.close()


@pytest.fixture
def server(settings: Settings, db: Database) -> Iterator[ThreadServer]:
    fast = settings.model_copy(update={"stream_heartbeat_seconds": 0.3})
    with ThreadServer(fast) as running:
        yield running


def _token(db: Database, name: str, role: Role) -> dict[str, str]:
    with db.session() as session:
        _, secret = token_service.create_token(session=session, name=name, role=role)
    return {"Authorization": f"Bearer {secret}"}


def test_the_stream_sends_a_new_incident_within_a_second(server, db):
    analyst = _token(db, "analyst-1", Role.analyst)
    reporter = _token(db, "patrol-1", Role.reporter)
    stream = Stream(server.url, analyst)
    try:
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert stream.response.headers["cache-control"] == "no-cache"
        assert stream.response.headers["x-accel-buffering"] == "no"
        assert stream.next_line() == "retry: 3000"
        assert stream.next_line() == ": connected"
        # The stream holds no database connection while it is open.
        assert server.app.state.db.engine.pool.checkedout() == 0

        started = time.monotonic()
        response = httpx.post(
            f"{server.url}/api/v1/incidents",
            json=incident_body(occurred_at="2025-11-20T10:15:00+02:00"),
            headers=reporter,
            timeout=10,
        )
        assert response.status_code == 201, response.text
        incident_id = response.json()["id"]
        event = next(stream.events(timeout=1.0))
        assert time.monotonic() - started < 1.5
        assert json.loads(event["data"]) == {
            "topic": "incident",
            "id": incident_id,
            "action": "create",
        }
        assert int(event["id"]) > 0
    finally:
        stream.close()


def test_the_stream_sends_heartbeats(server, db):
    stream = Stream(server.url, _token(db, "viewer-1", Role.viewer))
    try:
        lines = [stream.next_line() for _ in range(4)]
        assert ": heartbeat" in lines
    finally:
        stream.close()


def test_a_reporter_does_not_hear_of_another_teams_confidential_incident(server, db):
    alice = Stream(server.url, _token(db, "alice", Role.reporter))
    analyst = Stream(server.url, _token(db, "analyst-1", Role.analyst), "?topics=incident")
    bob = _token(db, "bob", Role.reporter)
    try:
        for stream in (alice, analyst):
            assert stream.next_line() == "retry: 3000"
            assert stream.next_line() == ": connected"
        ids = []
        for sensitivity in ("confidential", "public"):
            response = httpx.post(
                f"{server.url}/api/v1/incidents",
                json=incident_body(
                    occurred_at="2025-11-20T10:15:00+02:00", sensitivity=sensitivity
                ),
                headers=bob,
                timeout=10,
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        confidential, public = ids
        heard_by_alice = [json.loads(e["data"])["id"] for e in alice.events(timeout=1.0)]
        heard_by_analyst = [json.loads(e["data"])["id"] for e in analyst.events(timeout=0.5)]
        assert heard_by_alice == [public]
        assert heard_by_analyst == [confidential, public]
    finally:
        alice.close()
        analyst.close()


def test_the_stream_needs_a_token(server):
    response = httpx.get(f"{server.url}/api/v1/stream", timeout=5)
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "errors", "request_id"}
    bad = httpx.get(
        f"{server.url}/api/v1/stream",
        headers={"Authorization": "Bearer pw_nope"},
        timeout=5,
    )
    assert bad.status_code == 401


def test_an_unknown_topic_is_refused(client, auth):
    response = client.get("/api/v1/stream?topics=incident,nope", headers=auth("viewer"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "topics"


def test_the_topics_are_the_record_tables():
    from backend.notices.router import TOPICS

    assert {
        "incident",
        "verification_event",
        "ddr_milestone",
        "ddr_target",
        "track_activity",
        "party",
        "agreement",
        "commitment",
        "commitment_progress",
        "perception_survey",
        "alert",  # not a table: new alerts (backend/metrics/watch.py)
    } == TOPICS
