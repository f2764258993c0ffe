"""The measures through the API, on SQLite and PostgreSQL: records made through the API, then the
numbers a user of the dashboard would notice."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from backend.metrics import rollups
from tests.helpers import API, error_field, incident_body, post, today


def ago(days: int, hour: int = 10) -> str:
    """`hour` o'clock UTC `days` ago, or a minute ago if that is still to come (today, early)."""
    now = datetime.now(UTC)
    day = now.date() - timedelta(days=days)
    at = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return min(at, now - timedelta(minutes=1)).isoformat()


def day_ago(days: int) -> str:
    return (today() - timedelta(days=days)).isoformat()


@pytest.fixture
def analyst(auth):
    return auth("analyst", "analyst")


@pytest.fixture
def world(client, admin, make_party):
    gov = make_party(name="Government", code="GOV", kind="state_force")
    reb = make_party(name="Rebels", code="REB")
    agreement = post(
        client,
        f"{API}/agreements",
        {
            "name": "Ceasefire",
            "kind": "ceasefire",
            "signed_on": day_ago(200),
            "party_ids": [gov["id"], reb["id"]],
        },
        admin,
    )
    return {"gov": gov["id"], "reb": reb["id"], "agreement": agreement["id"]}


def commit(client, admin, world, party, *, due_days_ago, category="ceasefire", title="c"):
    return post(
        client,
        f"{API}/commitments",
        {
            "agreement_id": world["agreement"],
            "title": title,
            "category": category,
            "due_on": day_ago(due_days_ago),
            "party_ids": [party],
        },
        admin,
    )


def progress(client, analyst, commitment, level, days_ago):
    body = {"level": level, "changed_on": day_ago(days_ago), "evidence_note": "report"}
    return post(client, f"{API}/commitments/{commitment['id']}/progress", body, analyst)


def incident(client, headers, **kw):
    return post(client, f"{API}/incidents", incident_body(**kw), headers)


def verify(client, analyst, inc, finding, party=None, days_ago=1):
    body = {
        "occurred_at": ago(days_ago, hour=18),
        "method": "site_visit",
        "status": "closed",
        "finding": finding,
        "attributed_party_id": party,
    }
    return post(client, f"{API}/incidents/{inc['id']}/verifications", body, analyst)


def get(client, path, headers, **params):
    response = client.get(f"{API}{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_implementation_shares_by_category_party_and_overdue(client, admin, analyst, world):
    gov, reb = world["gov"], world["reb"]
    a = commit(client, admin, world, gov, due_days_ago=30, title="withdraw")
    b = commit(client, admin, world, gov, due_days_ago=-30, category="ddr")
    c = commit(client, admin, world, reb, due_days_ago=10, title="release")
    commit(client, admin, world, reb, due_days_ago=-60)
    progress(client, analyst, a, "complete", 40)
    progress(client, analyst, b, "intermediate", 5)
    progress(client, analyst, c, "minimal", 20)

    body = get(client, "/metrics/implementation", admin, interval="week")
    [agr] = body["agreements"]
    assert agr["overall"]["counts"] == {
        "not_initiated": 1,
        "minimal": 1,
        "intermediate": 1,
        "complete": 1,
    }
    assert agr["overall"]["percent"] == dict.fromkeys(agr["overall"]["counts"], 25)
    assert agr["overall"]["score"] == pytest.approx(50.0)
    assert agr["by_category"]["ddr"]["counts"]["intermediate"] == 1
    assert agr["by_party"][gov]["score"] == pytest.approx(100 * 5 / 6)
    # c is due 10 days ago and only minimal; a was due but is complete.
    assert [o["id"] for o in agr["overdue"]] == [c["id"]]
    assert agr["overdue"][0]["days_overdue"] == 10
    # The same as the commitments list's own `overdue` rule.
    listed = client.get(f"{API}/commitments", params={"overdue": True}, headers=admin).json()
    assert {x["id"] for x in listed["items"]} == {o["id"] for o in agr["overdue"]}
    # The series: 30 days ago only `a` was complete.
    month_ago = get(client, "/metrics/implementation", admin, date_to=day_ago(30))
    assert month_ago["agreements"][0]["overall"]["counts"]["complete"] == 1
    assert month_ago["agreements"][0]["overall"]["counts"]["minimal"] == 0
    assert agr["series"][-1]["levels"] == agr["overall"]


def test_compliance_rewards_kept_word_and_ignores_refuted_or_unattributed(
    client, admin, analyst, world, auth
):
    gov, reb = world["gov"], world["reb"]
    kept = commit(client, admin, world, gov, due_days_ago=20)
    missed = commit(client, admin, world, reb, due_days_ago=20)
    progress(client, analyst, kept, "complete", 25)
    progress(client, analyst, missed, "minimal", 25)
    reporter = auth("reporter")
    # Verified and attributed to the rebels: lowers their compliance.
    for days in (3, 4):
        inc = incident(client, reporter, occurred_at=ago(days), alleged_party_id=reb, fatalities=1)
        verify(client, analyst, inc, "verified", reb)
    # Alleged against the government but refuted, and one verified but not attributed.
    inc = incident(client, reporter, occurred_at=ago(5), alleged_party_id=gov, fatalities=4)
    verify(client, analyst, inc, "refuted")
    inc = incident(client, reporter, occurred_at=ago(6), alleged_party_id=gov)
    verify(client, analyst, inc, "verified")

    body = get(client, "/metrics/compliance", admin, date_from=day_ago(29), date_to=day_ago(0))
    scores = {p["party"]["code"]: p for p in body["parties"]}
    assert scores["GOV"]["index"] == pytest.approx(100.0)
    assert scores["GOV"]["violations"]["incidents"] == 0
    assert scores["REB"]["violations"]["incidents"] == 2
    assert scores["REB"]["violations"]["by_category"] == {"armed_clash": 2}
    # REB: commitments 1/3; violations 2 x (3 + 0.5) = 7 points in 30 days -> 1 / 1.7.
    assert scores["REB"]["index"] == pytest.approx(50 / 3 + 50 / 1.7)
    assert scores["GOV"]["index"] > scores["REB"]["index"]
    for party in scores.values():
        assert sum(c["contribution"] for c in party["components"]) == pytest.approx(party["index"])
    assert len(scores["REB"]["series"]) == 30
    assert scores["REB"]["direction"] == "falling"
    one = get(client, "/metrics/compliance", admin, party_id=gov)
    assert [p["party"]["id"] for p in one["parties"]] == [gov]


def test_trust_between_a_pair_and_why_it_moved(client, admin, analyst, world, auth):
    gov, reb = world["gov"], world["reb"]
    make = {"track": "track_1", "kind": "formal_talks", "party_ids": [gov, reb]}
    post(
        client,
        f"{API}/track-activities",
        {**make, "title": "Talks", "occurred_on": day_ago(2), "outcome": "held"},
        analyst,
    )
    before = get(client, "/metrics/trust", admin)
    [pair] = before["pairs"]
    engagement = {c["name"]: c for c in pair["components"]}["engagement"]
    assert engagement["score"] == 1.0

    post(
        client,
        f"{API}/track-activities",
        {**make, "title": "Talks II", "occurred_on": day_ago(2), "outcome": "cancelled"},
        analyst,
    )
    inc = incident(client, auth("reporter"), occurred_at=ago(2), target_party_id=gov)
    verify(client, analyst, inc, "verified", reb)
    after = get(client, "/metrics/trust", admin)
    [pair] = after["pairs"]
    parts = {c["name"]: c for c in pair["components"]}
    assert parts["engagement"]["score"] == 0.5
    assert parts["engagement"]["contribution"] < engagement["contribution"]
    assert parts["violations"]["counts"]["incidents"] == 1
    assert sum(c["contribution"] for c in pair["components"]) == pytest.approx(pair["value"])
    # A week ago there was nothing: the change is explained component by component.
    assert pair["change"] == pytest.approx(pair["value"] - pair["previous_value"])
    assert sum(pair["component_changes"].values()) == pytest.approx(pair["change"])
    assert pair["component_changes"]["violations"] < 0
    codes = [p["code"] for p in after["parties"]]
    assert codes == ["GOV", "REB"]
    assert after["matrix"] == [[None, pair["value"]], [pair["value"], None]]
    assert after["overall"] == pytest.approx(pair["value"])
    # One pair: the overall series is its series, step by step.
    assert after["overall_series"] == pair["series"]
    assert pair["series"][-1]["on"] == after["window"]["date_to"]


def test_trust_with_no_parties_has_a_series_of_unknowns(client, admin):
    body = get(client, "/metrics/trust", admin)
    assert body["pairs"] == []
    assert body["overall"] is None
    assert len(body["overall_series"]) == 90  # the default window, day by day
    assert {p["value"] for p in body["overall_series"]} == {None}


def test_ddr_progress_against_target(client, admin, analyst, world, auth):
    gov = world["gov"]
    target = {
        "indicator": "combatants_disarmed",
        "party_id": gov,
        "site": "Camp A",
        "period_start_on": day_ago(60),
        "period_end_on": day_ago(-60),
        "target_quantity": 200,
    }
    post(client, f"{API}/ddr/targets", target, analyst)
    reporter = auth("reporter")
    one = {"indicator": "combatants_disarmed", "party_id": gov, "site": "Camp A"}
    first = post(
        client,
        f"{API}/ddr/milestones",
        {**one, "achieved_on": day_ago(10), "quantity": 60, "women": 10, "men": 50},
        reporter,
    )
    post(
        client,
        f"{API}/ddr/milestones",
        {**one, "achieved_on": day_ago(5), "quantity": 40, "women": 5, "men": 30, "boys": 5},
        reporter,
    )
    post(
        client,
        f"{API}/ddr/milestones/{first['id']}/verifications",
        {
            "occurred_at": ago(1),
            "method": "site_visit",
            "status": "closed",
            "finding": "verified",
        },
        analyst,
    )
    body = get(client, "/metrics/ddr", admin)
    overall = body["overall"]
    assert (overall["target"], overall["achieved"], overall["progress"]) == (200, 100, 0.5)
    assert overall["verified_share"] == 0.6
    assert (overall["women"], overall["men"], overall["boys"], overall["girls"]) == (15, 80, 5, 0)
    assert [x["key"] for x in body["by_phase"]] == ["disarmament"]
    assert body["by_site"][0]["key"] == "Camp A"
    assert body["series"]["combatants_disarmed"][-1]["cumulative"] == 100


def test_verification_funnel_and_tracks(client, admin, analyst, world, auth):
    reporter = auth("reporter")
    incs = [incident(client, reporter, occurred_at=ago(d)) for d in (1, 2, 3)]
    verify(client, analyst, incs[0], "verified", days_ago=0)
    body = get(client, "/metrics/verification", admin)
    assert body["incidents"] == 3
    assert body["by_status"] == {"closed": 1, "received": 2}
    assert body["by_finding"] == {"unverified": 2, "verified": 1}
    assert body["queue_total"] == 2
    assert len(body["queue_oldest"]) == 2
    assert body["verified_count"] == 1
    assert body["median_days_to_verify"] is not None

    for outcome in ("held", "held", "cancelled", "postponed"):
        post(
            client,
            f"{API}/track-activities",
            {
                "track": "track_2",
                "kind": "dialogue",
                "title": "Dialogue",
                "occurred_on": day_ago(3),
                "outcome": outcome,
                "party_ids": [world["gov"]],
            },
            analyst,
        )
    tracks = get(client, "/metrics/tracks", admin, interval="month")
    assert tracks["overall"]["total"] == 4
    assert tracks["overall"]["held_share"] == 0.5
    assert tracks["overall"]["cancelled_share"] == 0.5
    assert [t["key"] for t in tracks["by_track"]] == ["track_2"]
    assert tracks["by_party"][0]["key"] == world["gov"]
    assert sum(p["held"] for p in tracks["series"]) == 2


def test_incident_situation_respects_what_the_caller_may_read(client, admin, auth, world):
    alice, bob = auth("reporter", "alice"), auth("reporter", "bob")
    incident(client, alice, occurred_at=ago(1), admin1="Bomi", sensitivity="public", fatalities=1)
    incident(client, alice, occurred_at=ago(1), admin1="Lofa", sensitivity="restricted")
    incident(
        client, alice, occurred_at=ago(2), admin1="Lofa", sensitivity="confidential", fatalities=3
    )
    incident(client, bob, occurred_at=ago(2), admin1="Bomi", category="shelling", fatalities=0)

    everything = get(client, "/metrics/incidents", admin)
    assert everything["window"]["incidents_counted"] == "all"
    assert everything["incidents"] == 4
    assert everything["fatalities"] == 6
    assert {x["key"]: x["incidents"] for x in everything["by_region"]} == {"Bomi": 2, "Lofa": 2}
    assert everything["hotspots"][0]["admin1"] in ("Bomi", "Lofa")

    viewer = get(client, "/metrics/incidents", auth("viewer"))
    assert viewer["window"]["incidents_counted"] == "visible_to_caller"
    assert viewer["incidents"] == 3  # not the confidential one
    assert get(client, "/metrics/incidents", bob)["incidents"] == 2  # public + his own
    only_bomi = get(client, "/metrics/incidents", admin, region="Bomi")
    assert only_bomi["incidents"] == 2
    assert {x["key"] for x in only_bomi["by_category"]} == {"armed_clash", "shelling"}


def test_days_are_utc_days_on_every_database(client, admin, auth):
    reporter = auth("reporter")
    day = datetime.now(UTC).date() - timedelta(days=3)
    # 01:30 at UTC+02:00 is 23:30 UTC the day before.
    local = datetime(day.year, day.month, day.day, 1, 30).isoformat() + "+02:00"
    incident(client, reporter, occurred_at=local)
    incident(client, reporter, occurred_at=f"{day.isoformat()}T23:59:00+00:00")
    body = get(client, "/metrics/incidents", admin)
    counts = {p["on"]: p["incidents"] for p in body["series"] if p["incidents"]}
    assert counts == {(day - timedelta(days=1)).isoformat(): 1, day.isoformat(): 1}


def test_alerts_say_why_and_link_to_records(client, admin, analyst, world, auth):
    late = commit(client, admin, world, world["reb"], due_days_ago=15, title="canton forces")
    reporter = auth("reporter")
    for n in range(6):
        incident(client, reporter, occurred_at=ago(1 + n % 3), admin1="Grand Cape Mount")
    body = get(client, "/alerts", admin)
    kinds = {(a["kind"], a["subject"]): a for a in body["alerts"]}
    overdue = kinds[("overdue_commitment", late["id"])]
    assert f"{API}/commitments/{late['id']}" in overdue["links"]
    assert "15 days ago" in overdue["reason"]
    spike = kinds[("incident_spike", "Grand Cape Mount")]
    assert spike["values"]["observed"] == 6
    assert "Poisson" in spike["reason"]
    assert body["window"]["date_to"] == today().isoformat()
    # Each day and party asks afresh (the commitments are kept, their overdue ones per day).
    earlier = get(client, "/alerts", admin, date_to=(today() - timedelta(days=10)).isoformat())
    [then] = [a for a in earlier["alerts"] if a["subject"] == late["id"]]
    assert "5 days ago" in then["reason"]
    for party, listed in ((world["gov"], False), (world["reb"], True)):
        mine = get(client, "/alerts", admin, party_id=party)["alerts"]
        assert any(a["subject"] == late["id"] for a in mine) is listed


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/metrics/incidents", {"date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_from"),
        ("/metrics/compliance", {"date_from": "1900-01-01", "date_to": "2026-01-01"}, "date_from"),
        ("/metrics/trust", {"compare_days": 0}, "compare_days"),
        ("/metrics/tracks", {"interval": "fortnight"}, "interval"),
        ("/alerts", {"party_id": "not-a-uuid"}, "party_id"),
        ("/metrics/ddr", {"colour": "red"}, "colour"),
    ],
)
def test_bad_parameters_are_422_naming_them(client, admin, path, params, field):
    response = client.get(f"{API}{path}", params=params, headers=admin)
    assert error_field(response) == field


def test_every_metrics_route_is_documented_with_its_response_model(client):
    paths = client.get("/openapi.json").json()["paths"]
    routes = [p for p in paths if p.startswith(f"{API}/metrics/") or p == f"{API}/alerts"]
    assert len(routes) == 8
    for path in routes:
        ok = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["$ref"].startswith("#/components/schemas/")


# Commitments and parties are read once per change, not once per request (migration 0013): a
# process keeps them beside their source's stamp, and every way of changing them, through the API
# or by SQL behind the application's back (another process, a console), changes the stamp in the
# same transaction, so the next measure reads them again.


def _reads(client, action, table: str) -> list[tuple[str, Any]]:
    """The statements `action` makes the app send that read `table`, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        if re.search(rf"FROM {table}\b", statement):
            seen.append((statement, parameters))

    engine = client.app.state.db.engine
    sa.event.listen(engine, "before_cursor_execute", spy)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", spy)
    return seen


def _commitment_reads(client, action, table: str = "commitment") -> int:
    """How many statements `action` makes the app send that read `table`."""
    return len(_reads(client, action, table))


def _due(report: dict, party: str) -> dict:
    return next(p for p in report["parties"] if p["party"]["id"] == party)["commitments"]


def test_commitments_are_read_again_only_after_a_change(client, db, admin, analyst, world):
    gov = world["gov"]
    kept = commit(client, admin, world, gov, due_days_ago=10, title="withdraw")
    first = get(client, "/metrics/compliance", analyst)
    assert _due(first, gov)["due"] == 1

    # Unchanged: the second request reads no commitment.
    again = []
    assert (
        _commitment_reads(client, lambda: again.append(get(client, "/metrics/compliance", analyst)))
        == 0
    )
    assert again[0] == first

    # Each change through the API is seen by the next request.
    progress(client, analyst, kept, "complete", 5)
    seen = []
    read = _commitment_reads(
        client, lambda: seen.append(get(client, "/metrics/compliance", analyst))
    )
    assert read > 0
    assert _due(seen[0], gov)["levels"]["complete"] == 1
    commit(client, admin, world, gov, due_days_ago=3, title="release")
    assert _due(get(client, "/metrics/compliance", analyst), gov)["due"] == 2
    moved = client.patch(
        f"{API}/commitments/{kept['id']}", json={"due_on": "2999-01-01"}, headers=admin
    )
    assert moved.status_code == 200, moved.text
    assert _due(get(client, "/metrics/compliance", analyst), gov)["due"] == 1

    # And a change by SQL from another connection, as another process or a console makes it.
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM commitment_progress")
    after = _due(get(client, "/metrics/compliance", analyst), gov)
    assert after["levels"]["complete"] == 0


def test_parties_are_read_again_after_a_change(client, db, admin, analyst, world):
    before = get(client, "/metrics/trust", analyst)
    assert {p["code"] for p in before["parties"]} == {"GOV", "REB"}
    renamed = client.patch(f"{API}/parties/{world['reb']}", json={"name": "Front"}, headers=admin)
    assert renamed.status_code == 200, renamed.text
    after = get(client, "/metrics/trust", analyst)
    assert {p["name"] for p in after["parties"]} == {"Government", "Front"}
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE party SET signatory = false WHERE code = 'REB'")
    assert {p["code"] for p in get(client, "/metrics/trust", analyst)["parties"]} == {"GOV"}


def test_the_stamps_are_read_once_per_request(client, admin, analyst, world):
    # The alerts keep the parties four times and the commitments once: one read of the stamps.
    commit(client, admin, world, world["gov"], due_days_ago=10)
    get(client, "/alerts", analyst)
    reads = _commitment_reads(
        client, lambda: get(client, "/alerts", analyst), "metrics_source_version"
    )
    assert reads == 1


def test_a_database_without_stamps_is_read_every_time(client, db, admin, analyst, world):
    """Stamps cleared (an old backup, a hand-emptied table): nothing is kept, answers stay right."""
    commit(client, admin, world, world["gov"], due_days_ago=10)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM metrics_source_version")
    assert _commitment_reads(client, lambda: get(client, "/metrics/compliance", analyst)) > 0
    assert _commitment_reads(client, lambda: get(client, "/metrics/compliance", analyst)) > 0
    # The next change stamps the source again, and its reads are kept from then on.
    commit(client, admin, world, world["gov"], due_days_ago=5)
    assert _due(get(client, "/metrics/compliance", analyst), world["gov"])["due"] == 2
    assert _commitment_reads(client, lambda: get(client, "/metrics/compliance", analyst)) == 0


def test_track_activities_are_read_again_after_a_change(client, db, admin, analyst, world):
    gov, reb = world["gov"], world["reb"]
    talks = {"track": "track_1", "kind": "formal_talks", "party_ids": [gov, reb]}
    body = {**talks, "title": "Talks", "occurred_on": day_ago(2), "outcome": "cancelled"}
    post(client, f"{API}/track-activities", body, analyst)

    def engagement() -> float | None:
        [pair] = get(client, "/metrics/trust", admin)["pairs"]
        return {c["name"]: c for c in pair["components"]}["engagement"]["score"]

    assert engagement() == 0.0
    assert engagement() == 0.0  # kept
    with db.engine.begin() as conn:  # as another process or a console would
        conn.exec_driver_sql("UPDATE track_activity SET outcome = 'held'")
    assert engagement() == 1.0
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM track_activity_party")
    assert engagement() is None


def _violation_days_read(client, action) -> list[tuple[date, date]]:
    """The ranges of days of the violation rollup that `action` makes the app read."""
    ranges: list[tuple[date, date]] = []
    for _, parameters in _reads(client, action, "metrics_violation_day"):
        values = parameters.values() if isinstance(parameters, dict) else parameters
        days = [
            v if isinstance(v, date) else date.fromisoformat(v)
            for v in values
            if isinstance(v, date) or (isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", v))
        ]
        ranges.extend(zip(days[::2], days[1::2], strict=True))
    return ranges


def test_violations_are_summed_again_only_after_a_change(client, db, analyst, world, auth):
    """What the measures sum from the violation rollups is kept per month until the month's rows
    change (migration 0014): a verification, a later finding, SQL from another connection or a
    rebuild is seen by the next request; a month nothing changed in is not read again, and a
    report nobody verified yet, most of what arrives, changes nothing."""
    gov, reb, reporter = world["gov"], world["reb"], auth("reporter")

    def harm() -> int:
        [pair] = get(client, "/metrics/trust", analyst)["pairs"]
        return {c["name"]: c for c in pair["components"]}["violations"]["counts"]["incidents"]

    def reads(day: date) -> bool:
        """Whether the next request reads `day`'s rows again."""
        return any(lo <= day <= hi for lo, hi in _violation_days_read(client, harm))

    first = incident(client, reporter, occurred_at=ago(3), target_party_id=gov)
    verify(client, analyst, first, "verified", reb)
    day = today() - timedelta(days=3)
    assert harm() == 1
    assert not reads(day)  # kept
    # Months with no violation have no stamp: read every time (a few empty ranges).
    assert _violation_days_read(client, harm)

    incident(client, reporter, occurred_at=ago(3), target_party_id=gov)  # not verified
    assert not reads(day)

    second = incident(client, reporter, occurred_at=ago(3), target_party_id=gov)
    verify(client, analyst, second, "verified", reb)
    assert reads(day)
    assert harm() == 2
    verify(client, analyst, second, "refuted")  # a later finding takes it back
    assert harm() == 1

    with db.engine.begin() as conn:  # as another process or a console would
        conn.exec_driver_sql("DELETE FROM metrics_violation_day")
    assert harm() == 0
    with db.session() as session:  # `peacewatch metrics rebuild`
        rollups.rebuild(session)
    assert harm() == 1
    with db.engine.begin() as conn:  # stamps lost: read every time, never wrong
        conn.exec_driver_sql("DELETE FROM metrics_violation_stamp")
    assert reads(day)
    assert harm() == 1
    if db.dialect == "postgresql":
        with db.session() as session:
            rollups.rebuild(session)  # stamps every month again
        assert harm() == 1
        assert not reads(day)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE metrics_violation_day")
        assert harm() == 0


def test_trust_decays_ten_years_of_days_once_per_change(
    client, db, analyst, world, auth, monkeypatch
):
    """While no month of its violations changed, trust gets back the very rows it decayed
    before and reuses what it derived from them; a verification makes it decay them again."""
    from backend.metrics import service

    gov, reb, reporter = world["gov"], world["reb"], auth("reporter")
    with db.engine.begin() as conn:  # every month of the trust's spans stamped, none with rows
        for month in {(today() - timedelta(days=back)).replace(day=1) for back in range(400)}:
            conn.execute(
                sa.text("INSERT INTO metrics_violation_stamp (month, version) VALUES (:m, :v)"),
                {"m": month, "v": f"empty {month}"},
            )
    decayed = []
    real = service.decayed_harm
    monkeypatch.setattr(service, "decayed_harm", lambda *a: decayed.append(1) or real(*a))

    def harm() -> int:
        [pair] = get(client, "/metrics/trust", analyst)["pairs"]
        return {c["name"]: c for c in pair["components"]}["violations"]["counts"]["incidents"]

    first = incident(client, reporter, occurred_at=ago(3), target_party_id=gov)
    verify(client, analyst, first, "verified", reb)
    assert harm() == 1
    assert decayed
    decayed.clear()
    assert (harm(), harm()) == (1, 1)
    assert not decayed  # the same rows: decayed once
    second = incident(client, reporter, occurred_at=ago(40), target_party_id=gov)
    verify(client, analyst, second, "verified", reb)
    assert harm() == 2
    assert decayed


def test_overdue_alerts_are_made_once_per_change(client, admin, analyst, world, monkeypatch):
    """The overdue commitments' alerts are made once while no commitment changes, and again
    after a change."""
    from backend.metrics import service

    made = []
    real = service.rules.overdue_alerts
    monkeypatch.setattr(service.rules, "overdue_alerts", lambda c: made.append(1) or real(c))

    def overdue() -> list[str]:
        body = get(client, "/alerts", analyst)
        return [a["title"] for a in body["alerts"] if a["kind"] == "overdue_commitment"]

    late = commit(client, admin, world, world["gov"], due_days_ago=10, title="withdraw")
    assert overdue() == ["Commitment overdue: withdraw"]
    made.clear()
    assert overdue() == overdue() == ["Commitment overdue: withdraw"]
    assert not made
    progress(client, analyst, late, "complete", 1)
    assert overdue() == []
    assert made
