"""The measures' pure functions, on hand-made inputs whose answers are computed by hand
(docs/methodology.md shows the same sums)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.config import Settings
from backend.errors import InvalidInput
from backend.metrics import alerts, flows, pam
from backend.metrics.scores import (
    DayHarm,
    Engagement,
    HarmDays,
    Perception,
    compliance_index,
    decayed_harm,
    harm_by_key_day,
    harm_columns,
    trust_pair,
    trust_series,
)
from backend.metrics.window import (
    Interval,
    MetricFilters,
    Window,
    bucket_ends,
    bucket_of,
    bucket_starts,
    month_end,
    month_terms,
    resolve_window,
)
from backend.vocab import CommitmentCategory, ImplementationLevel, TrackOutcome

L = ImplementationLevel
SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]
AGREEMENT = uuid.uuid4()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def commitment(**kw) -> pam.CommitmentRow:
    values = {
        "id": uuid.uuid4(),
        "agreement_id": AGREEMENT,
        "category": CommitmentCategory.ceasefire,
        "due_on": None,
    }
    values.update(kw)
    return pam.CommitmentRow(**values)


def progress(c: pam.CommitmentRow, level: L, on: date, minute: int = 0) -> pam.ProgressRow:
    return pam.ProgressRow(
        commitment_id=c.id, level=level, changed_on=on, created_at=T0 + timedelta(minutes=minute)
    )


# Implementation (PAM)


def test_colombia_november_2021_distribution_gives_back_pams_published_percentages():
    # 578 stipulations; 30% complete, 18% intermediate, 37% minimal, 15% not initiated (Kroc
    # Institute, five-year report). Counts that give those shares: 173, 104, 214, 87.
    counts = {L.complete: 173, L.intermediate: 104, L.minimal: 214, L.not_initiated: 87}
    assert sum(counts.values()) == 578
    levels = [lv for lv, n in counts.items() for _ in range(n)]
    shares = pam.level_shares(levels)
    assert shares.total == 578
    assert shares.percent == {
        L.complete: 30,
        L.intermediate: 18,
        L.minimal: 37,
        L.not_initiated: 15,
    }
    assert {lv: round(100 * s) for lv, s in shares.shares.items()} == shares.percent
    # Weighted score: (3*173 + 2*104 + 1*214) / (3*578) = 941 / 1734.
    assert shares.score == pytest.approx(100 * 941 / 1734)
    assert round(shares.score, 1) == 54.3


def test_the_same_distribution_through_commitments_and_progress_rows():
    day = date(2021, 11, 24)
    rows, history = [], []
    for level, n in ((L.complete, 173), (L.intermediate, 104), (L.minimal, 214)):
        for _ in range(n):
            c = commitment()
            rows.append(c)
            history.append(progress(c, L.minimal, day - timedelta(days=400)))
            history.append(progress(c, level, day - timedelta(days=10), minute=1))
    rows += [commitment() for _ in range(87)]
    levels = pam.levels_on(rows, pam.histories(history), day)
    assert pam.level_shares(levels.values()).percent == {
        L.not_initiated: 15,
        L.minimal: 37,
        L.intermediate: 18,
        L.complete: 30,
    }
    # A year earlier everything begun was still minimal: 491 of 578 = 85%.
    earlier = pam.levels_on(rows, pam.histories(history), day - timedelta(days=365))
    assert pam.level_shares(earlier.values()).percent[L.minimal] == 85


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=4, max_size=4))
def test_whole_percentages_always_sum_to_100(ns):
    counts = dict(zip(pam.LEVELS, ns, strict=True))
    percent = pam.whole_percentages(counts)
    total = sum(ns)
    assert sum(percent.values()) == (100 if total else 0)
    for lv in pam.LEVELS:  # each within one point of its exact share
        if total:
            assert abs(percent[lv] - 100 * counts[lv] / total) < 1


def test_level_at_follows_the_service_rule_latest_by_changed_on_then_recorded():
    c = commitment()
    history = sorted(
        [
            progress(c, L.intermediate, date(2026, 1, 10), minute=2),
            progress(c, L.minimal, date(2026, 1, 5), minute=1),
            progress(c, L.complete, date(2026, 1, 5), minute=3),  # back-dated, recorded last
        ]
    )
    assert pam.level_at(history, date(2026, 1, 4)) is L.not_initiated
    assert pam.level_at(history, date(2026, 1, 7)) is L.complete
    assert pam.level_at(history, date(2026, 1, 12)) is L.intermediate


def test_series_replay_equals_reading_each_day():
    a, b = commitment(), commitment()
    history = [
        progress(a, L.minimal, date(2026, 1, 2)),
        progress(b, L.complete, date(2026, 1, 3)),
        progress(a, L.intermediate, date(2026, 1, 3), minute=1),
    ]
    days = [date(2026, 1, d) for d in range(1, 6)]
    points = pam.series([a, b], pam.histories(history), days)
    for point in points:
        levels = pam.levels_on([a, b], pam.histories(history), point.on)
        assert point.levels == pam.level_shares(levels.values())
    assert [p.levels.score for p in points] == pytest.approx(
        [0, 100 / 6, 500 / 6, 500 / 6, 500 / 6]
    )


def test_overdue_is_past_due_and_not_complete():
    on = date(2026, 3, 1)
    late = commitment(due_on=date(2026, 2, 1), title="withdraw heavy weapons")
    done = commitment(due_on=date(2026, 2, 1))
    today = commitment(due_on=on)
    levels = {late.id: L.minimal, done.id: L.complete, today.id: L.not_initiated}
    overdue = pam.overdue_on([late, done, today], levels, on)
    assert [(o.id, o.days_overdue, o.level) for o in overdue] == [(late.id, 28, L.minimal)]


# Compliance


def test_compliance_of_a_party_that_keeps_its_word_and_one_that_does_not():
    keeper, components = compliance_index(
        commitment_score=1.0, commitment_counts={}, harm=[], days=30, settings=SETTINGS
    )
    assert keeper == 100
    # Misses: every due commitment only minimal (1/3); two verified armed clashes with 3 dead:
    # severity 2 x 3 + 0.5 x 3 = 7.5 points in 30 days; violations score 1 / (1 + 7.5/10) = 4/7.
    harm = [DayHarm(date(2026, 1, 1), incidents=2, fatalities=3, points=7.5)]
    misser, components = compliance_index(
        commitment_score=1 / 3, commitment_counts={}, harm=harm, days=30, settings=SETTINGS
    )
    assert misser == pytest.approx(50 / 3 + 50 * 4 / 7)  # 45.24
    assert sum(c.contribution for c in components) == pytest.approx(misser)
    assert misser < keeper


def test_without_due_commitments_compliance_rests_on_violations_alone():
    index, components = compliance_index(
        commitment_score=None,
        commitment_counts={},
        harm=[DayHarm(date(2026, 1, 1), 1, 0, 10.0)],
        days=30,
        settings=SETTINGS,
    )
    assert index == pytest.approx(50.0)  # 10 points a month: the violations score halves
    assert [(c.name, c.weight) for c in components] == [("commitments", 0), ("violations", 1)]


# Trust


def test_trust_worked_example():
    as_of = date(2026, 3, 31)
    month_ago = as_of - timedelta(days=30)  # one half-life
    value, components = trust_pair(
        as_of=as_of,
        date_from=as_of - timedelta(days=89),
        harm=[DayHarm(month_ago, 1, 0, 3.0)],  # one armed clash a half-life ago: 1.5 points
        engagements=[
            Engagement(as_of, "track_1", TrackOutcome.held),  # weight 1
            Engagement(month_ago, "track_2", TrackOutcome.cancelled),  # 0.5 x 0.5 = 0.25
        ],
        commitment_scores=[1.0, 0.5],
        settings=SETTINGS,
    )
    by_name = {c.name: c for c in components}
    assert by_name["violations"].score == pytest.approx(1 / 1.3)
    assert by_name["commitments"].score == pytest.approx(0.75)
    assert by_name["engagement"].score == pytest.approx(0.8)
    assert by_name["perception"].score is None
    assert by_name["perception"].weight == 0
    # No survey: weights 0.4, 0.3, 0.2 scaled by 1/0.9.
    expected = 100 * (0.4 * (1 / 1.3) + 0.3 * 0.75 + 0.2 * 0.8) / 0.9
    assert value == pytest.approx(expected)
    assert round(value, 1) == 77.0
    assert sum(c.contribution for c in components) == pytest.approx(value)


def test_a_cancelled_track_one_meeting_lowers_the_engagement_contribution():
    as_of = date(2026, 3, 31)
    common = {
        "as_of": as_of,
        "date_from": as_of - timedelta(days=89),
        "harm": [],
        "commitment_scores": [None, None],
        "settings": SETTINGS,
    }
    held = [Engagement(as_of - timedelta(days=3), "track_1", TrackOutcome.held)]
    cancelled = [*held, Engagement(as_of - timedelta(days=3), "track_1", TrackOutcome.cancelled)]
    _, before = trust_pair(engagements=held, **common)
    _, after = trust_pair(engagements=cancelled, **common)
    engagement = lambda cs: next(c for c in cs if c.name == "engagement")  # noqa: E731
    assert engagement(before).score == 1.0
    assert engagement(after).score == 0.5
    assert engagement(after).contribution < engagement(before).contribution


@given(
    points=st.floats(min_value=0, max_value=1e4),
    age=st.integers(min_value=0, max_value=89),
    scores=st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=2, max_size=2),
    outcomes=st.lists(st.sampled_from(list(TrackOutcome)), max_size=5),
    surveys=st.lists(st.floats(min_value=0, max_value=10), max_size=3),
)
def test_every_trust_value_is_the_sum_of_its_breakdown(points, age, scores, outcomes, surveys):
    as_of = date(2026, 3, 31)
    day = as_of - timedelta(days=age)
    value, components = trust_pair(
        as_of=as_of,
        date_from=as_of - timedelta(days=89),
        harm=[DayHarm(day, 1, 0, points)],
        engagements=[Engagement(day, "track_1_5", o) for o in outcomes],
        commitment_scores=scores,
        perceptions=[Perception(day, s) for s in surveys],
        settings=SETTINGS,
    )
    assert 0 <= value <= 100 + 1e-9
    assert math.isclose(sum(c.contribution for c in components), value, abs_tol=1e-9)
    assert math.isclose(sum(c.weight for c in components), 1.0)


# Flows


def test_ddr_progress_and_verified_share():
    party = uuid.uuid4()
    from backend.vocab import DdrIndicator, Finding

    goals = [flows.DdrGoal(DdrIndicator.weapons_collected, party, "Site A", 200)]
    done = [
        flows.DdrAchieved(
            DdrIndicator.weapons_collected, party, "Site A", date(2026, 1, 1), Finding.verified, 60
        ),
        flows.DdrAchieved(
            DdrIndicator.weapons_collected,
            party,
            "Site A",
            date(2026, 1, 3),
            Finding.unverified,
            40,
        ),
    ]
    line = flows.ddr_overall(goals, done)
    assert (line.target, line.achieved, line.progress, line.verified_share) == (200, 100, 0.5, 0.6)
    series = flows.ddr_cumulative(done, [date(2026, 1, d) for d in (1, 2, 3)])
    assert [p.cumulative for p in series["weapons_collected"]] == [60, 60, 100]
    # By steps (a week, say): what each step achieved, and the total at its last day.
    weekly = flows.ddr_cumulative(done, [date(2026, 1, 2), date(2026, 1, 9)])
    points = weekly["weapons_collected"]
    assert [(p.on.day, p.achieved, p.cumulative) for p in points] == [(2, 60, 60), (9, 40, 100)]
    assert [line.key for line in flows.ddr_lines(goals, done, flows.phase_of)] == ["disarmament"]


def test_ddr_progress_of_a_phase_is_not_swamped_by_rounds_of_ammunition():
    """The worked example of docs/methodology.md, "DDR progress": a disarmament phase with
    40,000 of 50,000 rounds collected, 120 of 100 combatants disarmed and 30 of 300 weapons."""
    from backend.vocab import DdrIndicator as I
    from backend.vocab import Finding

    gov, reb, day = uuid.uuid4(), uuid.uuid4(), date(2026, 1, 1)
    rows = [
        (I.ammunition_collected, gov, "Camp A", 50_000, 40_000),
        (I.combatants_disarmed, gov, "Camp A", 60, 70),
        (I.combatants_disarmed, reb, "Camp B", 40, 50),
        (I.weapons_collected, reb, "Camp B", 300, 30),
    ]
    goals = [flows.DdrGoal(i, p, site, target) for i, p, site, target, _ in rows]
    done = [flows.DdrAchieved(i, p, site, day, Finding.unverified, n) for i, p, site, _, n in rows]
    [phase] = flows.ddr_lines(goals, done, flows.phase_of)
    # Summed, the rounds would make it 40,150 / 50,400 = 80%: the weapons would not show.
    assert (phase.target, phase.achieved) == (50_400, 40_150)
    # Rounds 80%, combatants 120% counted as 100%, weapons 10%: (0.8 + 1 + 0.1) / 3.
    assert phase.progress == pytest.approx(0.6333, abs=1e-4)
    assert (phase.indicators, phase.indicators_met) == (3, 1)
    assert flows.ddr_overall(goals, done).progress == phase.progress
    # Each indicator's own line is its plain share, above 100% when passed.
    lines = {
        x.key: x.progress
        for x in flows.ddr_lines(goals, done, lambda r: r.indicator.value, one_indicator=True)
    }
    assert lines == {
        "ammunition_collected": 0.8,
        "combatants_disarmed": 1.2,
        "weapons_collected": 0.1,
    }
    # A party's line: its own indicators only (Rebels: combatants 125% and weapons 10%).
    by_party = {x.key: x for x in flows.ddr_lines(goals, done, lambda r: str(r.party_id))}
    assert by_party[str(reb)].progress == pytest.approx((1 + 0.1) / 2)
    assert by_party[str(gov)].progress == pytest.approx((0.8 + 1) / 2)
    # Milestones with no target anywhere in the line: no progress to speak of.
    assert flows.ddr_overall([], done).progress is None


def test_percentile_offsets_by_nearest_rank():
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert flows.nearest_rank(values, 50) == 5.0
    assert flows.nearest_rank(values, 90) == 9.0
    assert values[flows.rank_of(len(values), 90)] == 9.0
    assert flows.nearest_rank([], 50) is None


# Alerts


def test_poisson_tail_by_hand():
    # P(X >= 3 | 1) = 1 - e^-1 (1 + 1 + 1/2)
    assert alerts.poisson_tail(3, 1.0) == pytest.approx(1 - 2.5 / math.e)
    assert alerts.poisson_tail(0, 5.0) == 1.0


def test_a_region_spikes_against_its_own_baseline_only():
    common = {
        "recent_days": 7,
        "baseline_days": 28,
        "p_value": 0.01,
        "min_incidents": 5,
        "recent_from": date(2026, 3, 25),
        "recent_to": date(2026, 3, 31),
    }
    fired = alerts.incident_spikes(
        recent={"Bomi": 6, "Lofa": 6, "Nimba": 2}, baseline={"Lofa": 24}, **common
    )
    # Bomi: expected (0 + 1) x 7/28 = 0.25, P(X >= 6) ~ 2e-7. Lofa: expected 25/4 = 6.25: usual.
    assert [a.subject for a in fired] == ["Bomi"]
    assert fired[0].values["expected"] == 0.25
    assert "admin1=Bomi" in fired[0].links[0]


def test_a_spoiler_rises_while_the_others_comply():
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    common = {"min_incidents": 3, "recent_from": date(2026, 3, 25), "on": date(2026, 3, 31)}
    fired = alerts.possible_spoilers(recent={a: 6, b: 1}, previous={a: 2, b: 3, c: 1}, **common)
    assert [x.subject for x in fired] == [str(a)]
    # When everyone rises it is a general escalation, not one spoiler.
    assert alerts.possible_spoilers(recent={a: 6, b: 5}, previous={a: 2, b: 1}, **common) == []


def test_a_compliance_drop_fires_beyond_the_threshold():
    p, q = uuid.uuid4(), uuid.uuid4()
    fired = alerts.compliance_drops(
        now={p: 60.0, q: 80.0}, before={p: 80.0, q: 90.0}, drop=15, on=date(2026, 3, 31)
    )
    assert [x.subject for x in fired] == [str(p)]


# Windows


def test_a_window_from_after_its_to_names_date_from():
    filters = MetricFilters(date_from=date(2026, 2, 1), date_to=date(2026, 1, 1))
    with pytest.raises(InvalidInput) as caught:
        resolve_window(filters, SETTINGS, date(2026, 3, 1))
    assert caught.value.field == "date_from"


def test_default_window_and_week_buckets():
    window = resolve_window(MetricFilters(), SETTINGS, date(2026, 3, 31))
    assert (window.date_from, window.date_to, window.days) == (
        date(2026, 1, 1),
        date(2026, 3, 31),
        90,
    )
    weekly = Window(date(2026, 3, 4), date(2026, 3, 18), interval=Interval.week)  # Wed to Wed
    assert bucket_ends(weekly) == [date(2026, 3, 8), date(2026, 3, 15), date(2026, 3, 18)]


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
    st.integers(0, 800),
    st.sampled_from(list(Interval)),
)
def test_bucket_starts_are_the_steps_of_every_day_of_the_window(first, days, interval):
    """Stepped from bucket to bucket, the same steps as reading each day's bucket in turn."""
    window = Window(first, first + timedelta(days=days), interval=interval)
    every_day = [bucket_of(window.date_from + timedelta(days=n), interval) for n in range(days + 1)]
    assert bucket_starts(window) == sorted(set(every_day))


@given(
    st.lists(st.one_of(st.none(), st.integers(0, 40)), min_size=0, max_size=12),
    st.lists(
        st.tuples(
            st.integers(0, 11), st.integers(0, 40), st.sampled_from(list(ImplementationLevel))
        ),
        max_size=30,
    ),
    st.lists(st.integers(0, 45), min_size=1, max_size=12, unique=True),
)
def test_due_states_equal_a_recount_at_every_point(due_days, changes, point_days):
    """The states kept as days pass equal those counted afresh at each point (the rule itself),
    and a kept book's (`CommitmentBook`, per party) equal them."""
    base = date(2026, 1, 1)
    agreement = uuid.uuid4()
    a, b = uuid.uuid4(), uuid.uuid4()
    commitments = [
        pam.CommitmentRow(
            id=uuid.uuid4(),
            agreement_id=agreement,
            category=CommitmentCategory.ceasefire,
            due_on=None if d is None else base + timedelta(days=d),
            party_ids=((a,), (b,), (a, b))[n % 3],
        )
        for n, d in enumerate(due_days)
    ]
    rows = [
        pam.ProgressRow(
            changed_on=base + timedelta(days=day),
            created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n),
            commitment_id=commitments[i % len(commitments)].id,
            level=level,
        )
        for n, (i, day, level) in enumerate(changes)
        if commitments
    ]
    history = pam.histories(rows)
    points = [base + timedelta(days=d) for d in sorted(point_days)]
    for point, state in zip(
        points, pam.due_states(pam.due_inputs(commitments, history), points), strict=True
    ):
        due = [c for c in commitments if c.due_on is not None and c.due_on <= point]
        levels = [pam.level_at(history.get(c.id, []), point) for c in due]
        assert state.due == len(due)
        assert state.levels == {lv: levels.count(lv) for lv in ImplementationLevel}
        assert state.overdue == sum(
            c.due_on < point and lv is not ImplementationLevel.complete
            for c, lv in zip(due, levels, strict=True)
        )
        assert state.score == pam.commitment_score(levels)
    book = pam.CommitmentBook(tuple(commitments), tuple(rows))
    assert book.history == history
    for party in (a, b):
        mine = [c for c in commitments if party in c.party_ids]
        assert book.of_party(party) == tuple(mine)
        kept = book.due_states(party, points)
        assert kept == pam.due_states(pam.due_inputs(mine, history), points)
        assert book.due_states(party, points) is kept  # worked out once per party and points


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31)),
    st.integers(min_value=0, max_value=4000),
)
def test_month_terms_count_each_day_of_the_range_once_reading_few_days(start, length):
    """A range read as whole months plus days (or a month less its outside days) counts every day
    of the range once and no other day, and reads at most a month's worth of day rows."""
    end = start + timedelta(days=length)
    counted: dict[date, int] = {}
    day_rows = 0
    for term in month_terms(start, end):
        last = month_end(term.hi) if term.months else term.hi
        day_rows += 0 if term.months else (term.hi - term.lo).days + 1
        day = term.lo
        while day <= last:
            counted[day] = counted.get(day, 0) + term.sign
            day += timedelta(days=1)
    expected = {start + timedelta(days=n): 1 for n in range(length + 1)}
    assert {d: n for d, n in counted.items() if n} == expected
    assert day_rows <= 31


day_rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),  # party
        st.sampled_from(["A", "B", None]),  # target
        st.integers(min_value=0, max_value=400),  # days before 2026-06-30
        st.sampled_from(["armed_clash", "hostile_propaganda", "shelling", "unknown"]),
        st.integers(min_value=1, max_value=5),
        st.integers(min_value=0, max_value=30),
    ),
    max_size=40,
)


@given(day_rows, st.lists(st.tuples(st.integers(0, 420), st.integers(0, 420)), max_size=6))
def test_a_series_decays_each_span_as_the_formula_says(rows, spans):
    """The trust index's one pass (rows summed per pair and day, then every span decayed at once)
    gives each span's decayed severity points `sum(points x 0.5^(age / half-life))` and its
    incidents, and the per-pair day sums are those of the pair's rows."""
    end = date(2026, 6, 30)
    weights = SETTINGS.metrics_category_severity

    def points(c: str, n: int, dead: int) -> float:
        return n * weights.get(c, 1.0) + SETTINGS.metrics_fatality_weight * n * min(dead, 20)

    # As `queries.pair_violations` reads them: summed per day, party and target, in day order.
    summed: dict[tuple[str, str, str], list[float]] = {}
    for p, t, d, c, n, dead in rows:
        if t is None:
            continue
        acc = summed.setdefault(((end - timedelta(days=d)).isoformat(), p, t), [0, 0, 0.0])
        acc[0] += n
        acc[1] += n * dead
        acc[2] += points(c, n, dead)
    plain = [(d, p, t, n, f, s) for (d, p, t), (n, f, s) in sorted(summed.items())]
    by_pair = harm_by_key_day(
        plain,
        lambda p, t: None if p == t else "".join(sorted((p, t))),
        date.fromisoformat,
    )
    for pair, days in by_pair.items():
        expected_days: dict[date, list[float]] = {}
        for p, t, d, c, n, dead in rows:
            if t is not None and p != t and "".join(sorted((p, t))) == pair:
                acc = expected_days.setdefault(end - timedelta(days=d), [0, 0, 0.0])
                acc[0] += n
                acc[1] += n * dead
                acc[2] += points(c, n, dead)
        assert [(h.day, h.incidents, h.fatalities) for h in days] == [
            (day, n, f) for day, (n, f, _) in sorted(expected_days.items())
        ]
        assert [h.points for h in days] == pytest.approx(
            [pts for _, (_, _, pts) in sorted(expected_days.items())]
        )
        windows = [
            (end - timedelta(days=max(a, b)), end - timedelta(days=min(a, b))) for a, b in spans
        ]
        half_life = SETTINGS.trust_half_life_days
        for (lo, hi), got in zip(windows, decayed_harm(days, windows, half_life), strict=True):
            inside = [h for h in days if lo <= h.day <= hi]
            expected = sum(h.points * 0.5 ** ((hi - h.day).days / half_life) for h in inside)
            assert got.points == pytest.approx(expected, rel=1e-12, abs=1e-12)
            assert got.incidents == sum(h.incidents for h in inside)
    # Trust reads the same rows dated by ordinal, without fatalities, into columns: the same
    # days and the same floats, to the last bit.
    as_trust_reads = [
        (date.fromisoformat(d).toordinal(), p, t, n, None, s) for d, p, t, n, _, s in plain
    ]
    columns = harm_columns(as_trust_reads, lambda p, t: None if p == t else "".join(sorted((p, t))))
    assert columns.keys() == by_pair.keys()
    for pair, days in by_pair.items():
        assert columns[pair] == HarmDays.of(days)
        assert decayed_harm(columns[pair], windows, half_life) == decayed_harm(
            days, windows, half_life
        )


@given(
    st.lists(st.tuples(st.integers(0, 60), st.floats(0, 50)), max_size=20),
    st.lists(
        st.tuples(
            st.integers(0, 60),
            st.sampled_from(["I", "1.5", "II", "III"]),
            st.sampled_from(TrackOutcome),
        ),
        max_size=12,
    ),
    st.lists(st.tuples(st.integers(0, 60), st.floats(0, 10)), max_size=6),
    st.lists(
        st.tuples(
            st.integers(0, 60),
            st.integers(0, 30),
            st.one_of(st.none(), st.floats(0, 1)),
            st.one_of(st.none(), st.floats(0, 1)),
        ),
        min_size=1,
        max_size=10,
    ),
    # The four weights (violations, commitments, engagement, perception), zeros included.
    st.one_of(st.none(), st.tuples(*[st.sampled_from([0.0, 0.1, 0.25, 0.4, 1.0, 3.0])] * 4)),
)
def test_a_trust_series_is_trust_pair_at_every_point(harm_days, talks, surveys, points, weights):
    """The series' values are `trust_pair`'s, to the last bit, span by span, whatever the
    weights."""
    settings = SETTINGS
    if weights is not None:
        names = ("violations", "commitments", "engagement", "perception")
        settings = SETTINGS.model_copy(
            update={f"trust_weight_{n}": w for n, w in zip(names, weights, strict=True)}
        )
    base = date(2026, 1, 1)
    harm = sorted(
        (DayHarm(base + timedelta(days=d), 1, 0, p) for d, p in dict(harm_days).items()),
        key=lambda h: h.day,
    )
    engagements = sorted(
        (Engagement(base + timedelta(days=d), track, outcome) for d, track, outcome in talks),
        key=lambda e: e.day,
    )
    perceptions = sorted(
        (Perception(base + timedelta(days=d), score) for d, score in surveys),
        key=lambda p: p.day,
    )
    spans = [
        (base + timedelta(days=end - length), base + timedelta(days=end))
        for end, length, _, _ in points
    ]
    scores = [(a, b) for _, _, a, b in points]
    decayed = decayed_harm(harm, spans, settings.trust_half_life_days)
    series = trust_series(
        spans=spans,
        harm=decayed,
        engagements=engagements,
        commitment_scores=scores,
        perceptions=perceptions,
        settings=settings,
    )
    assert series == [
        trust_pair(
            as_of=end,
            date_from=start,
            harm=harm,
            engagements=engagements,
            commitment_scores=list(pair),
            perceptions=perceptions,
            settings=settings,
        )[0]
        for (start, end), pair in zip(spans, scores, strict=True)
    ]


_PARTIES = [uuid.UUID(int=k + 1) for k in range(4)]  # the last is no signatory
_violation_rows = st.dictionaries(
    st.tuples(st.integers(0, 120), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.integers(1, 3), st.sampled_from([0.5, 1.0, 3.0, 4.5, 7.25])),
    max_size=40,
)


def _trust_rows(found: dict, base: int) -> list[tuple]:
    """Rows as `queries.pair_violations` returns them: in order of day (its ordinal), one per day,
    party and target, ids as text."""
    return [
        (base + d, str(_PARTIES[p]), str(_PARTIES[t]), n, None, pts)
        for (d, p, t), (n, pts) in sorted(found.items())
    ]


@given(
    _violation_rows,
    _violation_rows,
    st.integers(0, 121),
    st.lists(st.tuples(st.integers(0, 130), st.integers(0, 60)), min_size=1, max_size=8),
)
def test_trust_decays_again_only_what_a_change_reaches_with_the_same_floats(
    before, after, changed_from, spans
):
    """After a change of its rows from some day on (a month read again), trust keeps each pair's
    earlier days and the spans that end before the change, and works out the rest: the very
    same values as working everything out from the new rows."""
    from backend.metrics import service

    base = date(2026, 1, 1).toordinal()
    old = _trust_rows(before, base)
    # The same row objects before the changed day, as `_kept_months` returns the months it kept.
    new = [r for r in old if r[0] < base + changed_from] + [
        r for r in _trust_rows(after, base) if r[0] >= base + changed_from
    ]
    ids = set(_PARTIES[:3])
    asked = [
        (date.fromordinal(base + end - length), date.fromordinal(base + end))
        for end, length in spans
    ]
    half_life = SETTINGS.trust_half_life_days

    def from_nothing(rows):
        days = service._pair_harm(rows, ids)
        return {pair: decayed_harm(d, asked, half_life) for pair, d in days.items()}

    assert service._decayed_pairs(old, ids, asked, half_life) == from_nothing(old)
    assert service._decayed_pairs(new, ids, asked, half_life) == from_nothing(new)
    # Equal rows in a new list (a caller with hidden reports of its own gets one every time).
    assert service._decayed_pairs(list(new), ids, asked, half_life) == from_nothing(new)
