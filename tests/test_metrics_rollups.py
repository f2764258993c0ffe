"""The metrics rollups equal a recomputation from raw rows after any mix of writes, through every
write path (API post, PATCH, verification steps, /sync, SQLAlchemy Core inserts, SQL updates and
deletes, of incidents and of verification events), on SQLite and PostgreSQL; and `peacewatch
metrics rebuild` repairs a corrupted rollup. The rollups are the incident and violation day
rollups (migration 0005), their month tier (migration 0009) and the delays to verify
(`metrics_verify_delay`, migration 0006)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from backend.cli import app
from backend.incidents.models import Incident
from backend.metrics import rollups
from backend.metrics import window as windows
from backend.metrics.models import ViolationDayRollup
from backend.verification.models import VerificationEvent
from tests.helpers import API, incident_body

CATEGORIES = ["armed_clash", "shelling", "abduction"]
REGIONS = [None, "Bomi", "Lofa"]
SENSITIVITIES = ["public", "restricted", "confidential"]
FINDINGS = ["unverified", "verified", "disputed", "refuted"]


def _when(days: int, hour: int) -> datetime:
    day = datetime.now(UTC).date() - timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


fields = st.fixed_dictionaries(
    {
        # Days ago, reaching back over month boundaries, so that the month tier changes groups.
        "days": st.sampled_from([1, 2, 3, 4, 33, 64]),
        "hour": st.sampled_from([0, 12, 23]),
        "category": st.sampled_from(CATEGORIES),
        "admin1": st.sampled_from(REGIONS),
        "alleged": st.sampled_from([None, 0, 1]),
        "target": st.sampled_from([None, 0, 1]),
        "fatalities": st.integers(min_value=0, max_value=3),
        "sensitivity": st.sampled_from(SENSITIVITIES),
    }
)
pick = st.integers(min_value=0, max_value=50)
ops = st.one_of(
    st.tuples(st.just("post"), fields),
    st.tuples(st.just("sync"), st.lists(fields, min_size=1, max_size=3)),
    st.tuples(st.just("core_insert"), st.lists(fields, min_size=1, max_size=3)),
    st.tuples(st.just("patch"), pick, fields),
    st.tuples(st.just("verify"), pick, st.sampled_from(FINDINGS), st.sampled_from([None, 0, 1])),
    st.tuples(st.just("sql_update"), pick, fields),
    st.tuples(st.just("event_update"), pick, st.sampled_from(FINDINGS), st.integers(0, 48)),
    st.tuples(st.just("receipt"), pick, st.integers(-48, 48)),
    st.tuples(st.just("delete"), pick),
)


def _body(f: dict, parties: list[str]) -> dict:
    party = {None: None, 0: parties[0], 1: parties[1]}
    return incident_body(
        id=str(uuid.uuid4()),
        occurred_at=_when(f["days"], f["hour"]).isoformat(),
        category=f["category"],
        admin1=f["admin1"],
        alleged_party_id=party[f["alleged"]],
        target_party_id=party[f["target"]],
        fatalities=f["fatalities"],
        sensitivity=f["sensitivity"],
    )


def _columns(f: dict, parties: list[str]) -> dict:
    party = {None: None, 0: uuid.UUID(parties[0]), 1: uuid.UUID(parties[1])}
    return {
        "occurred_at": _when(f["days"], f["hour"]),
        "category": f["category"],
        "admin1": f["admin1"],
        "alleged_party_id": party[f["alleged"]],
        "target_party_id": party[f["target"]],
        "fatalities": f["fatalities"],
        "sensitivity": f["sensitivity"],
    }


def _ids(db, *, verified: bool = False) -> list[uuid.UUID]:
    """The incidents' ids; with `verified`, only those with a verification step (whose delay to
    verify a write can change), so that such writes do not mostly miss them."""
    incidents = Incident.__table__.c  # type: ignore[attr-defined]
    events = VerificationEvent.__table__.c  # type: ignore[attr-defined]
    stmt = sa.select(incidents.id)
    if verified:
        stmt = stmt.where(incidents.id.in_(sa.select(events.incident_id)))
    with db.engine.connect() as conn:
        return sorted(conn.execute(stmt).scalars(), key=str)


def _assert_rollups_match(db) -> None:
    with db.session(write=False) as session:
        assert rollups.stored(session) == rollups.recompute(session)


def _violation_months(db) -> tuple[dict[str, set], dict[str, str]]:
    """The violation rollups' rows per month (`YYYY-MM`), and each month's stamp (migration
    0014)."""
    rows: dict[str, set] = {}
    with db.session(write=False) as session:
        stored = rollups.stored(session)
        for table in ("metrics_violation_day", "metrics_violation_month"):
            for row in stored[table]:
                rows.setdefault(row[0][:7], set()).add((table, row))
        stamps = dict(
            session.execute(sa.text("SELECT month, version FROM metrics_violation_stamp")).all()
        )
    return rows, {str(m)[:7]: v for m, v in stamps.items()}


def _assert_changed_months_restamped(db, before, after) -> None:
    """Every month whose violation rows an operation changed has a new stamp, and every month
    with rows has one: what a reader keeps of the others is still right."""
    (rows, stamps), (rows_now, stamps_now) = before, after
    for month in {*rows, *rows_now}:
        if rows.get(month) != rows_now.get(month):
            assert stamps_now.get(month) != stamps.get(month), month
    assert set(rows_now) <= set(stamps_now)


def _apply(op: tuple, *, client, db, parties, reporter, analyst) -> None:
    kind = op[0]
    if kind == "post":
        response = client.post(f"{API}/incidents", json=_body(op[1], parties), headers=reporter)
        assert response.status_code == 201, response.text
        return
    if kind == "sync":
        items = [{"kind": "incident", "data": _body(f, parties)} for f in op[1]]
        response = client.post(f"{API}/sync", json={"items": items}, headers=reporter)
        assert response.status_code == 200, response.text
        return
    table = Incident.__table__  # type: ignore[attr-defined]
    if kind == "core_insert":  # the importer's and the demo's way: one executemany
        now = datetime.now(UTC)
        rows = [
            {
                **incident_body(),
                **_columns(f, parties),
                "id": uuid.uuid4(),
                "date_precision": "day",
                "geo_precision": "exact",
                "status": "received",
                "finding": "unverified",
                "reported_by": "core",
                "received_at": now,
                "updated_at": now,
            }
            for f in op[1]
        ]
        with db.session() as session:
            session.execute(sa.insert(table), rows)
        return
    ids = _ids(db, verified=kind in ("event_update", "receipt")) or _ids(db)
    if not ids:
        return
    target = ids[op[1] % len(ids)]
    if kind == "patch":
        body = _body(op[2], parties)
        body.pop("id")
        response = client.patch(f"{API}/incidents/{target}", json=body, headers=analyst)
        assert response.status_code == 200, response.text
    elif kind == "verify":
        _, _, finding, who = op
        step = {
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "method": "site_visit",
            "team": "JVT",
            "status": "closed" if finding != "unverified" else "in_review",
            "finding": finding,
        }
        if who is not None and finding in ("verified", "disputed"):
            step["attributed_party_id"] = parties[who]
        response = client.post(
            f"{API}/incidents/{target}/verifications", json=step, headers=analyst
        )
        assert response.status_code == 201, response.text
    elif kind == "sql_update":
        with db.session() as session:
            session.execute(
                sa.update(table).where(table.c.id == target).values(**_columns(op[2], parties))
            )
    elif kind == "event_update":  # a verification step corrected in SQL: finding and time
        _, _, finding, hours = op
        events = VerificationEvent.__table__  # type: ignore[attr-defined]
        with db.session() as session:
            first = session.execute(
                sa.select(events.c.id)
                .where(events.c.incident_id == target)
                .order_by(events.c.created_at, events.c.id)
                .limit(1)
            ).scalar()
            if first is not None:
                at = datetime.now(UTC) - timedelta(hours=hours, minutes=7)
                session.execute(
                    sa.update(events)
                    .where(events.c.id == first)
                    .values(finding=finding, occurred_at=at)
                )
    elif kind == "receipt":  # the receipt time moves: the delay to verify follows it
        at = datetime.now(UTC) + timedelta(hours=op[2])
        with db.session() as session:
            session.execute(sa.update(table).where(table.c.id == target).values(received_at=at))
    elif kind == "delete":
        events = VerificationEvent.__table__  # type: ignore[attr-defined]
        with db.session() as session:
            session.execute(sa.delete(events).where(events.c.incident_id == target))
            session.execute(sa.delete(table).where(table.c.id == target))


def test_rollups_equal_a_recomputation_after_random_writes(client, db, auth, make_party):
    parties = [make_party()["id"], make_party()["id"]]
    reporter, analyst = auth("reporter"), auth("analyst")

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(ops, min_size=1, max_size=8))
    def check(sequence: list[tuple]) -> None:
        for op in sequence:
            before = _violation_months(db)
            _apply(op, client=client, db=db, parties=parties, reporter=reporter, analyst=analyst)
            _assert_changed_months_restamped(db, before, _violation_months(db))
        _assert_rollups_match(db)

    check()
    with db.session(write=False) as session:
        stored = rollups.stored(session)
    assert stored["metrics_incident_day"], "some incidents were counted"
    assert len({row[0][:7] for row in stored["metrics_incident_month"]}) > 1, "months were crossed"


def test_rollups_count_moves_between_groups_once(client, db, auth, make_party):
    """An incident moved to another day and category leaves its old group (no double count)."""
    parties = [make_party()["id"], make_party()["id"]]
    reporter, analyst = auth("reporter"), auth("analyst")
    f = {
        "days": 2,
        "hour": 12,
        "category": "shelling",
        "admin1": "Bomi",
        "alleged": 0,
        "target": 1,
        "fatalities": 3,
        "sensitivity": "public",
    }
    created = client.post(f"{API}/incidents", json=_body(f, parties), headers=reporter).json()
    moved = {"category": "abduction", "occurred_at": _when(3, 1).isoformat(), "fatalities": 1}
    response = client.patch(f"{API}/incidents/{created['id']}", json=moved, headers=analyst)
    assert response.status_code == 200, response.text
    with db.session(write=False) as session:
        rows = session.execute(
            sa.text("SELECT category, incidents, fatalities FROM metrics_incident_day")
        ).all()
    assert [tuple(r) for r in rows] == [("abduction", 1, 1)]
    _assert_rollups_match(db)


@pytest.fixture
def cli_env(settings, monkeypatch):
    monkeypatch.setenv("PEACEWATCH_DATABASE_URL", settings.database_url)


def test_metrics_rebuild_repairs_a_corrupted_rollup(client, db, auth, cli_env):
    reporter = auth("reporter")
    for n in range(3):
        body = incident_body(id=str(uuid.uuid4()), occurred_at=_when(n + 1, 10).isoformat())
        assert client.post(f"{API}/incidents", json=body, headers=reporter).status_code == 201
    with db.session() as session:
        session.execute(sa.text("UPDATE metrics_incident_day SET incidents = incidents + 99"))
        session.execute(sa.text("UPDATE metrics_incident_month SET fatalities = fatalities + 7"))
        party = uuid.uuid4()
        session.execute(
            sa.insert(ViolationDayRollup.__table__),  # type: ignore[attr-defined]
            [
                {
                    "day": _when(1, 0).date(),
                    "attributed_party_id": party,
                    "target_party_id": party,
                    "category": "shelling",
                    "admin1": "",
                    "sensitivity": "public",
                    "fatalities": 0,
                    "incidents": 5,
                }
            ],
        )
    with db.session(write=False) as session:
        assert rollups.stored(session) != rollups.recompute(session)

    result = CliRunner().invoke(app, ["metrics", "rebuild"])

    assert result.exit_code == 0, result.output
    assert "rollups rebuilt" in result.output
    _assert_rollups_match(db)


def test_a_reporter_counts_its_own_hidden_reports_and_no_one_elses(client, db, auth):
    """Rollups keep sensitivity, not the reporter: a reporter's own restricted reports are added
    from raw rows, others' restricted ones are not counted."""
    mine, other = auth("reporter", "patrol-a"), auth("reporter", "patrol-b")
    for headers, sensitivity, dead in (
        (mine, "restricted", 1),
        (mine, "public", 2),
        (other, "restricted", 4),
        (other, "public", 8),
    ):
        body = incident_body(
            id=str(uuid.uuid4()),
            occurred_at=_when(2, 10).isoformat(),
            sensitivity=sensitivity,
            fatalities=dead,
        )
        assert client.post(f"{API}/incidents", json=body, headers=headers).status_code == 201
    params = {"date_from": _when(10, 0).date().isoformat()}
    seen = client.get(f"{API}/metrics/incidents", params=params, headers=mine).json()
    everything = client.get(
        f"{API}/metrics/incidents", params=params, headers=auth("analyst")
    ).json()
    assert (seen["incidents"], seen["fatalities"]) == (3, 11)
    assert (everything["incidents"], everything["fatalities"]) == (4, 15)
    assert seen["hotspots"][0]["incidents"] == 3


def test_counts_of_several_windows_read_at_once_equal_each_window_read_alone(client, db, auth):
    """The alerts read a region's recent and baseline counts in one statement
    (`queries.counts_apart`): the same counts as reading each window alone, across a month's
    end, for an analyst and for a reporter with hidden reports of its own."""
    from backend.auth.service import Principal
    from backend.metrics import queries
    from backend.metrics.window import Window
    from backend.vocab import Role

    mine = auth("reporter", "patrol-a")
    for days, region, sensitivity, headers in (
        (1, "Bomi", "public", auth("reporter")),
        (3, "Bomi", "confidential", mine),
        (3, "Lofa", "public", mine),
        (20, "Lofa", "restricted", auth("reporter")),
        (33, "Bomi", "public", auth("reporter")),
        (40, None, "public", auth("reporter")),
        (64, "Lofa", "confidential", auth("reporter")),
    ):
        body = incident_body(
            id=str(uuid.uuid4()),
            occurred_at=_when(days, 12).isoformat(),
            admin1=region,
            sensitivity=sensitivity,
        )
        assert client.post(f"{API}/incidents", json=body, headers=headers).status_code == 201
    today = _when(0, 0).date()
    spans = [(6, 0), (60, 7), (70, 0)]
    asked = [Window(today - timedelta(days=a), today - timedelta(days=b)) for a, b in spans]
    for who in (Principal("analyst-1", Role.analyst), Principal("patrol-a", Role.reporter)):
        with db.session(write=False) as session:
            together = queries.counts_apart(session, who, asked, "admin1")
            alone = [queries.counts(session, who, w, "admin1") for w in asked]
        assert [sorted(c, key=str) for c in together] == [sorted(c, key=str) for c in alone]
        assert sum(n for _, n, _ in alone[2]) == (7 if who.role is Role.analyst else 5)


def _days_only(lo, hi):
    return (windows.Term(1, False, lo, hi),)


def test_measures_read_through_the_month_tier_equal_those_read_by_day(
    client, db, auth, make_party, monkeypatch
):
    """A window of whole months and ragged ends (month tier plus day tier, migration 0009) gives
    the very answers of the same window read day by day, after inserts, moves and deletes."""
    parties = [make_party()["id"], make_party()["id"]]
    reporter, analyst = auth("reporter"), auth("analyst")
    ids = []
    for n, days in enumerate([2, 9, 20, 31, 33, 40, 47, 61, 64, 75, 88, 95, 118]):
        f = {
            "days": days,
            "hour": 12,
            "category": CATEGORIES[n % 3],
            "admin1": REGIONS[n % 3],
            "alleged": n % 2,
            "target": 1 - n % 2,
            "fatalities": n % 4,
            "sensitivity": SENSITIVITIES[n % 3],
        }
        response = client.post(f"{API}/incidents", json=_body(f, parties), headers=reporter)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    for n in range(10):
        _apply(("verify", n, "verified", n % 2), client=client, db=db, parties=parties,
               reporter=reporter, analyst=analyst)  # fmt: skip
    moved = {"occurred_at": _when(50, 6).isoformat(), "category": "abduction"}
    assert client.patch(f"{API}/incidents/{ids[1]}", json=moved, headers=analyst).status_code == 200
    _apply(("delete", 3), client=client, db=db, parties=parties, reporter=reporter, analyst=analyst)
    queries = [
        ("/metrics/incidents", {"interval": "month"}),
        ("/metrics/incidents", {"interval": "week"}),
        ("/metrics/compliance", {"interval": "month"}),
        ("/metrics/compliance", {"interval": "day"}),
        ("/metrics/verification", {}),
    ]
    date_from = _when(130, 0).date().isoformat()
    assert any(t.months for t in windows.month_terms(_when(130, 0).date(), _when(0, 0).date()))

    def answers(headers):
        out = []
        for path, params in queries:
            response = client.get(
                f"{API}{path}", params={"date_from": date_from, **params}, headers=headers
            )
            assert response.status_code == 200, response.text
            body = response.json()
            body.get("verification", body).pop("queue_oldest", None)  # ages move with the clock
            out.append(body)
        return out

    viewer = auth("viewer")
    tiered = answers(analyst), answers(viewer)
    monkeypatch.setattr(windows, "month_terms", _days_only)
    by_day = answers(analyst), answers(viewer)

    assert tiered == by_day
    assert tiered[0][0]["incidents"] == 12
    assert sum(p["violations"]["incidents"] for p in tiered[0][2]["parties"]) > 0


delays = st.lists(
    st.fixed_dictionaries(
        {
            "days": st.integers(min_value=0, max_value=130),
            # Seconds from receipt to finding: negative, under a minute, on bucket bounds, long.
            "delay_s": st.one_of(
                st.integers(min_value=-7200, max_value=90 * 86400),
                st.sampled_from([0, 59, 60, 61, 86400, 86889, 86888, 400 * 86400]),
            ),
            "sensitivity": st.sampled_from(SENSITIVITIES),
            "mine": st.booleans(),
            "queued": st.booleans(),
        }
    ),
    min_size=1,
    max_size=40,
)


def test_bucket_bounds_of_the_migration_are_the_models():
    """The triggers of 0010 bucket delays by the bounds the queries read (and the recompute)."""
    import importlib.util
    from pathlib import Path

    from backend.metrics.models import DELAY_BOUNDS_S

    path = Path(__file__).parents[1] / "migrations/versions/0010_verify_delay_histogram.py"
    spec = importlib.util.spec_from_file_location("migration_0010", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.BOUNDS == DELAY_BOUNDS_S
    assert list(DELAY_BOUNDS_S) == sorted(set(DELAY_BOUNDS_S))


def test_percentiles_through_the_histogram_equal_the_sorted_ones(
    client, db, auth, make_party, monkeypatch
):
    """The median and 90th percentile of the days to verify read through the delay histogram
    (migration 0010: the bucket of each rank, then that bucket's delays) are exactly those of
    sorting every delay of the window, on random delays, windows and readers (an analyst; a
    viewer, with their own confidential reports), and the histogram equals its recomputation; the
    queue's oldest, looked for first among the oldest queued of all, are those of sorting the
    window's queue."""
    from backend.metrics import queries, service

    party = make_party()["id"]
    analyst, viewer = auth("analyst"), auth("viewer", "eye")
    events = VerificationEvent.__table__  # type: ignore[attr-defined]
    table = Incident.__table__  # type: ignore[attr-defined]

    queued = [  # the 5 oldest queued of all hold 2 of a 45-day window's 3 oldest: the probe
        {"days": d, "delay_s": 3600 * d, "sensitivity": "public", "mine": False, "queued": True}
        for d in (100, 90, 45, 44, 40, 35, 30, 20)
    ]

    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(delays, st.integers(min_value=1, max_value=140), st.integers(min_value=0, max_value=20))
    @example(queued, 45, 0)  # falls short (2 of 3) and the window's queue is sorted
    @example(queued, 60, 0)  # finds its 3
    def check(rows: list[dict], days: int, ends_ago: int) -> None:
        with db.session() as session:
            session.execute(sa.delete(events))
            session.execute(sa.delete(table))
            for r in rows:
                received = _when(r["days"], 6)
                incident = {
                    **incident_body(),
                    **_columns({**r, "hour": 6, "category": "shelling", "admin1": "Bomi",
                                "alleged": 0, "target": None, "fatalities": 0}, [party, party]),
                    "id": uuid.uuid4(), "date_precision": "day", "geo_precision": "exact",
                    "status": "received" if r["queued"] else "closed", "finding": "verified",
                    "reported_by": "eye" if r["mine"] else "core",
                    "received_at": received, "updated_at": received,
                }  # fmt: skip
                session.execute(sa.insert(table), [incident])
                session.execute(
                    sa.insert(events),
                    [{"id": uuid.uuid4(), "incident_id": incident["id"],
                      "occurred_at": received + timedelta(seconds=r["delay_s"]),
                      "method": "site_visit", "team": "JVT", "status": "closed",
                      "finding": "verified", "notes": "", "recorded_by": "core",
                      "created_at": received}],
                )  # fmt: skip
        end = _when(ends_ago, 0).date()
        params = {"date_from": (end - timedelta(days=days - 1)).isoformat(), "date_to": str(end)}
        answers = {}
        for limit in (0, 10**9):  # through the histogram (and the queue's probe), then sorting
            monkeypatch.setattr(queries, "SORTED_DELAYS_UP_TO", limit)
            monkeypatch.setattr(queries, "SHORT_WINDOW_DAYS", limit)
            # Few shown and few probed, so that the probe both finds them and falls short.
            monkeypatch.setattr(service, "QUEUE_SHOWN", 3)
            monkeypatch.setattr(queries, "QUEUE_PROBE", 5)
            answers[limit] = []
            for headers in (analyst, viewer):
                response = client.get(f"{API}/metrics/verification", params=params, headers=headers)
                assert response.status_code == 200, response.text
                body = response.json()
                answers[limit].append(
                    (body["verified_count"], body["median_days_to_verify"],
                     body["p90_days_to_verify"], [q["id"] for q in body["queue_oldest"]])
                )  # fmt: skip
        assert answers[0] == answers[10**9]
        _assert_rollups_match(db)

    check()


@pytest.mark.parametrize(
    "weights",
    [
        {},  # the defaults: armed_clash and shelling 3, abduction 3; 0.5 a death, up to 20
        {
            "metrics_category_severity": {"armed_clash": 2.7, "shelling": 0.3},  # abduction: 1
            "metrics_fatality_weight": 0.7,
            "metrics_fatality_cap": 4,
        },
    ],
)
def test_severity_points_are_summed_as_the_formula_says(client, db, auth, make_party, weights):
    """The severity points read per day and pair (trust, `queries.pair_violations`) and per party
    and day or month (compliance, `queries.party_tiers`) are the formula's, computed here by hand
    from the incidents posted: category weight + fatality weight x capped deaths, per incident;
    for an analyst, and for a reporter whose own restricted reports are added from raw rows."""
    from backend.auth.service import Principal
    from backend.config import Settings
    from backend.metrics import queries, service
    from backend.vocab import Role

    settings = Settings(_env_file=None, **weights)  # type: ignore[call-arg]
    parties = [make_party()["id"], make_party()["id"]]
    reporter, analyst = auth("reporter", "patrol-sev"), auth("analyst")
    posted = []
    for n in range(12):
        f = {
            "days": [2, 3, 33][n % 3],
            "hour": 12,
            "category": CATEGORIES[n % 3],
            "admin1": REGIONS[n % 3],
            "alleged": n % 2,
            "target": 1 - n % 2 if n % 4 else None,
            "fatalities": [0, 1, 5, 30][n % 4],
            "sensitivity": SENSITIVITIES[n % 3],
        }
        response = client.post(f"{API}/incidents", json=_body(f, parties), headers=reporter)
        assert response.status_code == 201, response.text
        posted.append((response.json()["id"], f))
    ids = [str(i) for i in _ids(db)]
    for n in range(12):
        _apply(("verify", n, "verified", n % 2), client=client, db=db, parties=parties,
               reporter=reporter, analyst=analyst)  # fmt: skip
    attributed = {str(i): parties[n % 2] for n, i in enumerate(ids)}
    weight = settings.metrics_category_severity
    cap, per_death = settings.metrics_fatality_cap, settings.metrics_fatality_weight

    def expected(principal, by_target: bool) -> dict[tuple, list]:
        out: dict[tuple, list] = {}
        for incident_id, f in posted:
            readable = f["sensitivity"] in {s.value for s in principal.readable_sensitivities}
            if not (readable or principal.role is Role.reporter):
                continue
            target = {None: None, 0: parties[0], 1: parties[1]}[f["target"]]
            if by_target and target is None:
                continue
            day = _when(f["days"], 12).date()
            on = day.toordinal() if by_target else day.isoformat()  # as each query dates
            key = (on, uuid.UUID(attributed[incident_id]), uuid.UUID(target) if by_target else None)
            acc = out.setdefault(key, [0, 0, 0.0])
            acc[0] += 1
            acc[1] += f["fatalities"]
            acc[2] += weight.get(f["category"], 1.0) + per_death * min(f["fatalities"], cap)
        return out

    start, end = _when(40, 0), _when(-1, 0)
    lo, hi = start.date(), end.date() - timedelta(days=1)
    assert any(t.months for t in windows.month_terms(lo, hi))  # both tiers are read
    for who in (Principal("analyst-sev", Role.analyst), Principal("patrol-sev", Role.reporter)):
        with db.session(write=False) as session:
            pairs = queries.pair_violations(
                session, who, start, end, region=None, settings=settings
            )
            # The range, and each day of it (as a series asks for its spans).
            ranges = [(lo, hi), *((lo + timedelta(days=k),) * 2 for k in range((hi - lo).days + 1))]
            tiers = queries.party_tiers(session, who, ranges, region=None, settings=settings)
        assert [r[0] for r in pairs] == sorted(r[0] for r in pairs)  # in order of day
        got = {
            (d, queries.party_of(p), queries.party_of(t)): (n, dead, pts)
            for d, p, t, n, dead, pts in pairs
        }
        want = expected(who, by_target=True)
        assert got.keys() == want.keys()
        assert got, "the scenario has violations between the two"
        for key, (n, dead, pts) in got.items():
            assert n == want[key][0]
            assert dead is None  # trust reads no fatalities
            assert pts == pytest.approx(want[key][2], rel=1e-12)
        # Per party, summed back from the day and month tiers over the range and over each day.
        harm = service._tiered(*tiers)
        per_party = expected(who, by_target=False)
        for party in {p for _, p, _ in per_party}:
            mine = {on: v for (on, p, _), v in per_party.items() if p == party}
            whole = [sum(v[k] for v in mine.values()) for k in range(3)]
            total = harm[party].total(lo, hi)
            assert (total.incidents, total.fatalities) == tuple(whole[:2])
            assert total.points == pytest.approx(whole[2], rel=1e-12)
            for on, (n, dead, pts) in mine.items():
                day = harm[party].total(date.fromisoformat(on), date.fromisoformat(on))
                assert (day.incidents, day.fatalities) == (n, dead)
                assert day.points == pytest.approx(pts, rel=1e-12)
