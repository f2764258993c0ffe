"""One function per measure: query (aggregated in SQL), then compute (pure). The API, the dashboard
and the briefing all call these, so no measure is computed twice in two places."""

from __future__ import annotations

import operator
import threading
import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import compress, count
from typing import Any, TypeVar

from pydantic import Field, TypeAdapter
from sqlmodel import Session

from backend.auth.service import Principal
from backend.config import Settings
from backend.db import utcnow
from backend.metrics import alerts as rules
from backend.metrics import flows, pam, queries
from backend.metrics.schemas import (
    AgreementImplementation,
    AlertsReport,
    CommitmentCounts,
    ComplianceReport,
    Component,
    DdrReport,
    Hotspot,
    ImplementationReport,
    IncidentPoint,
    IncidentsReport,
    PairTrust,
    PartyCompliance,
    QueueItem,
    TracksReport,
    TrustReport,
    ValuePoint,
    VerificationReport,
    ViolationCounts,
)
from backend.metrics.scores import (
    DecayedHarm,
    Engagement,
    HarmDays,
    HarmIndex,
    Perception,
    TieredHarm,
    compliance_index,
    compliance_value,
    decayed_harm,
    harm_by_key_day,
    harm_columns,
    trust_pair,
    trust_series,
)
from backend.metrics.window import (
    MetricFilters,
    Window,
    bucket_ends,
    bucket_of,
    bucket_starts,
    resolve_window,
)

T = TypeVar("T")


class ImplementationFilters(MetricFilters):
    agreement_id: uuid.UUID | None = Field(default=None, description="Only this agreement")


class TrustFilters(MetricFilters):
    compare_days: int = Field(
        default=7, ge=1, le=366, description="Compare each value with the one this many days ago"
    )


def _window(filters: MetricFilters, settings: Settings) -> Window:
    return resolve_window(filters, settings, utcnow().date())


# Implementation


def implementation(
    *, session: Session, principal: Principal, settings: Settings, filters: ImplementationFilters
) -> ImplementationReport:
    window = _window(filters, settings)
    as_of = window.date_to
    points = bucket_ends(window)
    book = queries.commitments(session, filters.agreement_id)
    commitments = book.rows
    if window.party_id is not None:
        commitments = book.of_party(window.party_id)
    history = book.history
    levels = pam.levels_on(commitments, history, as_of)
    report = []
    for agreement_id, name in queries.agreements(session, filters.agreement_id):
        mine = [c for c in commitments if c.agreement_id == agreement_id]
        report.append(
            AgreementImplementation(
                agreement_id=agreement_id,
                name=name,
                overall=pam.level_shares(levels[c.id] for c in mine),
                by_category=pam.by_category(mine, levels),
                by_party=pam.by_party(mine, levels),
                series=pam.series(mine, history, points),
                overdue=pam.overdue_on(mine, levels, as_of),
            )
        )
    return ImplementationReport(
        window=window.public(all_incidents=principal.sees_everything),
        as_of=as_of,
        agreements=report,
    )


# Compliance


def _counts(state: pam.DueState) -> CommitmentCounts:
    return CommitmentCounts(
        due=state.due, levels=state.levels, overdue=state.overdue, not_yet_due=state.not_yet_due
    )


def _counts_dict(state: pam.DueState) -> dict[str, float]:
    return {
        "due": state.due,
        "overdue": state.overdue,
        **{lv.value: n for lv, n in state.levels.items()},
    }


def _tiered(
    day_rows: Sequence[queries.HarmRow], month_rows: Sequence[queries.HarmRow]
) -> dict[uuid.UUID, TieredHarm]:
    """Each party's harm of both tiers (`queries.party_tiers`), summable over any range."""

    def party(p: Any, _: Any) -> uuid.UUID:
        return queries.party_of(p)

    days = harm_by_key_day(day_rows, party, queries.day_of)
    months = harm_by_key_day(month_rows, party, queries.day_of)
    return {
        k: TieredHarm(HarmIndex(days.get(k, [])), HarmIndex(months.get(k, [])))
        for k in {*days, *months}
    }


def _compliance_at(
    state: pam.DueState, harm: TieredHarm, start: date, end: date, settings: Settings
) -> tuple[float, list[Component]]:
    return compliance_index(
        commitment_score=state.score,
        commitment_counts=_counts_dict(state),
        harm=[harm.total(start, end)],
        days=(end - start).days + 1,
        settings=settings,
    )


def _direction(trend: float | None) -> str:
    if trend is None or abs(trend) < 1:
        return "steady"
    return "rising" if trend > 0 else "falling"


def compliance_values(
    *,
    session: Session,
    principal: Principal,
    settings: Settings,
    window: Window,
    with_series: bool = True,
    with_categories: bool = True,
    loaded: pam.CommitmentBook | None = None,
    harm: dict[uuid.UUID, TieredHarm] | None = None,
) -> ComplianceReport:
    """`loaded`: the commitments (`queries.commitments`), when the caller has read them already;
    `harm`: each party's harm (`_tiered`), when the caller has read it over ranges that include
    the window (and the series' spans). Without series or categories (the alerts need only each
    index), those are left empty."""
    span = settings.metrics_series_window_days
    points = bucket_ends(window) if with_series else []
    spans = [(p - timedelta(days=span - 1), p) for p in points]
    by_party = harm
    if by_party is None:
        by_party = _tiered(
            *queries.party_tiers(
                session,
                principal,
                [(window.date_from, window.date_to), *spans],
                region=window.region,
                settings=settings,
            )
        )
    book = loaded or queries.commitments(session)
    by_category = (
        queries.violation_categories(session, principal, window) if with_categories else {}
    )
    if window.party_id is not None:
        wanted = {window.party_id}
    else:
        wanted = {p.id for p in queries.signatories(session)}
        wanted |= book.parties
        # Parties with violations in the ranges read (not merely in a month's subtracted days).
        earliest = min([window.date_from, *(lo for lo, _ in spans)])
        wanted |= {p for p, h in by_party.items() if h.total(earliest, window.date_to).incidents}
    no_harm = TieredHarm(HarmIndex([]), HarmIndex([]))
    out = []
    for party in queries.parties(session, sorted(wanted, key=str)):
        harm = by_party.get(party.id, no_harm)
        now, *at_points = book.due_states(party.id, [window.date_to, *points])
        index, components = _compliance_at(now, harm, window.date_from, window.date_to, settings)
        in_window = harm.total(window.date_from, window.date_to)
        per_category = {c: n for (p, c), n in by_category.items() if p == party.id}
        series = value_points(
            points,
            [
                compliance_value(
                    commitment_score=state.score,
                    points=harm.points(lo, p),
                    days=(p - lo).days + 1,
                    settings=settings,
                )
                for (lo, p), state in zip(spans, at_points, strict=True)
            ],
        )
        trend = series[-1].value - series[0].value if len(series) > 1 else None  # type: ignore[operator]
        out.append(
            PartyCompliance(
                party=party,
                index=index,
                components=components,
                commitments=_counts(now),
                violations=ViolationCounts(
                    incidents=in_window.incidents,
                    fatalities=in_window.fatalities,
                    severity_points=in_window.points,
                    by_category={c: n for c, n in sorted(per_category.items()) if n},
                ),
                trend=trend,
                direction=_direction(trend),
                series=series,
            )
        )
    return ComplianceReport(
        window=window.public(all_incidents=principal.sees_everything),
        series_window_days=span,
        parties=out,
    )


def compliance(
    *, session: Session, principal: Principal, settings: Settings, filters: MetricFilters
) -> ComplianceReport:
    return compliance_values(
        session=session, principal=principal, settings=settings, window=_window(filters, settings)
    )


# Trust


Pair = tuple[uuid.UUID, uuid.UUID]


def _pair(a: uuid.UUID, b: uuid.UUID) -> Pair:
    # UUIDs compare by their 128-bit value, which orders them as their text does (fixed-width
    # hex): the order of `str`, without making two strings per row.
    return (a, b) if a < b else (b, a)


def _pair_harm(rows: Sequence[tuple[Any, ...]], ids: set[uuid.UUID]) -> dict[Pair, HarmDays]:
    """The violation rows (`queries.pair_violations`) of one party against another of `ids`,
    summed per pair and day. Each pair of ids as read is made into UUIDs once, and rows are keyed
    by a number per pair meanwhile (a tuple of UUIDs hashes in Python at every row)."""
    pairs: list[Pair] = []

    def number(p: Any, t: Any) -> int | None:
        a, b = queries.party_of(p), queries.party_of(t)
        if a not in ids or b not in ids or a == b:
            return None
        pair = _pair(a, b)
        if pair not in pairs:
            pairs.append(pair)
        return pairs.index(pair)

    by_number = harm_columns(rows, number)
    return {pairs[k]: days for k, days in by_number.items()}


# What a measure derives from a list that the queries return again, the very same object, while
# the tables behind it are unchanged (`queries._kept_months`, `CommitmentBook.overdue`), kept with
# that list (held, so that its identity is not reused) for the last few questions:
# {question: (source list, what was derived)}.
_DERIVED: dict[Hashable, tuple[Any, Any]] = {}
_DERIVED_MAX = 32
_KEEPING = threading.Lock()  # requests run in threads: one changes what is kept at a time


def _held(asked: Hashable) -> tuple[Any, Any] | None:
    """(source, what was derived from it) for `asked`, if kept."""
    with _KEEPING:
        return _DERIVED.get(asked)


def _hold(asked: Hashable, source: Any, value: Any) -> None:
    with _KEEPING:
        _DERIVED.pop(asked, None)
        while len(_DERIVED) >= _DERIVED_MAX:
            _DERIVED.pop(next(iter(_DERIVED)))
        _DERIVED[asked] = (source, value)


def forget_derived() -> None:
    """Drop what was derived, as a new process starts (benchmarks)."""
    with _KEEPING:
        _DERIVED.clear()


def _derived(asked: Hashable, source: Any, make: Callable[[], T]) -> T:
    """`make()`, made again only if `source` is not the object it was made from for `asked`.
    Shared: callers must not change it."""
    held = _held(asked)
    if held is not None and held[0] is source:
        return held[1]  # type: ignore[no-any-return]
    value = make()
    _hold(asked, source, value)
    return value


@dataclass(frozen=True)
class _Decayed:
    """Each pair's days of harm (`_pair_harm`) and their decay over each span, as derived from
    `rows`."""

    rows: Sequence[queries.HarmRow]
    days: dict[Pair, HarmDays]
    spans: dict[Pair, list[DecayedHarm]]


def _decayed_pairs(
    rows: Sequence[queries.HarmRow],
    ids: set[uuid.UUID],
    spans: Sequence[tuple[date, date]],
    half_life_days: float,
) -> dict[Pair, list[DecayedHarm]]:
    """Each pair's harm (`_pair_harm`) decayed over each of `spans` (`decayed_harm`), worked out
    once per change of the rows, not once per request; and after a change, only from the first
    day whose rows differ (`_decayed_since`): a verification of a recent incident leaves ten
    years of days as they were."""
    asked = ("decayed", frozenset(ids), tuple(spans), half_life_days)
    held = _held(asked)
    if held is not None and held[0] is rows:
        return held[1].spans  # type: ignore[no-any-return]
    found = _decayed_since(held[1] if held else None, rows, ids, spans, half_life_days)
    _hold(asked, rows, found)
    return found.spans


def _decayed_since(
    before: _Decayed | None,
    rows: Sequence[queries.HarmRow],
    ids: set[uuid.UUID],
    spans: Sequence[tuple[date, date]],
    half_life_days: float,
) -> _Decayed:
    """`_Decayed` of `rows`, from what `before` derived from other rows (for the same `ids` and
    `spans`): the rows are in order of day (its ordinal), so the days before the first row that
    differs have the same rows, hence the same sums, and a span that ends before that day the
    same decay. Those are kept; the rest is worked out as from nothing, by the same functions in
    the same order, so the same floats as working everything out again."""
    if before is None:
        days = _pair_harm(rows, ids)
        return _Decayed(
            rows, days, {pair: decayed_harm(d, spans, half_life_days) for pair, d in days.items()}
        )
    since = _first_changed_day(before.rows, rows)
    if since is None:  # no row differs
        return _Decayed(rows, before.days, before.spans)
    first = bisect_left(rows, since, key=lambda row: row[0])
    tail = _pair_harm(rows[first:], ids)
    again = [k for k, (_, last) in enumerate(spans) if last.toordinal() >= since]
    out_days: dict[Pair, HarmDays] = {}
    out_spans: dict[Pair, list[DecayedHarm]] = {}
    for pair in [*before.days, *(p for p in tail if p not in before.days)]:
        kept, new = before.days.get(pair), tail.get(pair)
        if kept is None:  # a pair with no harm before the change
            out_days[pair] = tail[pair]
            out_spans[pair] = decayed_harm(tail[pair], spans, half_life_days)
            continue
        cut = bisect_left(kept.ordinals, since)
        if cut == 0 and new is None:
            continue  # all its days were from the changed ones, and are gone
        days = HarmDays(kept.ordinals[:cut], kept.points[:cut], kept.incidents[:cut])
        if new is not None:
            days = HarmDays(
                days.ordinals + new.ordinals,
                days.points + new.points,
                days.incidents + new.incidents,
            )
        out_days[pair] = days
        decayed = list(before.spans[pair])
        redone = decayed_harm(days, [spans[k] for k in again], half_life_days)
        for k, value in zip(again, redone, strict=True):
            decayed[k] = value
        out_spans[pair] = decayed
    return _Decayed(rows, out_days, out_spans)


def _first_changed_day(
    before: Sequence[queries.HarmRow], rows: Sequence[queries.HarmRow]
) -> int | None:
    """The first day (ordinal) of which `before` and `rows` (both in order of day) differ, None
    if they do not. Rows of months that were not read again are the very same objects."""
    k = next(compress(count(), map(operator.ne, before, rows)), None)  # the loop in C
    if k is not None:
        return min(before[k][0], rows[k][0])  # type: ignore[no-any-return]
    if len(before) == len(rows):
        return None
    longer = before if len(before) > len(rows) else rows
    return longer[min(len(before), len(rows))][0]  # type: ignore[no-any-return]


def trust(
    *, session: Session, principal: Principal, settings: Settings, filters: TrustFilters
) -> TrustReport:
    window = _window(filters, settings)
    span = settings.metrics_series_window_days
    points = bucket_ends(window)
    earliest = min(
        [
            window.date_from - timedelta(days=filters.compare_days),
            *(p - timedelta(days=span - 1) for p in points),
        ]
    )
    members = queries.signatories(session)
    if window.party_id is not None and window.party_id not in {p.id for p in members}:
        members = sorted(
            [*members, *queries.parties(session, [window.party_id])], key=lambda p: p.code
        )
    ids = {p.id for p in members}
    rows = queries.pair_violations(
        session,
        principal,
        Window(earliest, window.date_to).start_at,
        window.end_at,
        region=window.region,
        settings=settings,
    )
    shift = timedelta(days=filters.compare_days)
    # Every span a value is read over: the window, the same `compare_days` earlier, and the
    # trailing span of each series point; each pair's days are decayed once for all of them.
    spans = [
        (window.date_from, window.date_to),
        (window.date_from - shift, window.date_to - shift),
        *((p - timedelta(days=span - 1), p) for p in points),
    ]
    decayed = _decayed_pairs(rows, ids, spans, settings.trust_half_life_days)
    no_harm = [DecayedHarm(0.0, 0.0)] * len(spans)
    activities = queries.engagements(session, earliest, window.date_to)
    book = queries.commitments(session)
    days = sorted({window.date_to, window.date_to - shift, *points})
    # Each party's commitment score at the end of each span, by the span's index.
    scores: dict[uuid.UUID, list[float | None]] = {}
    for party in members:
        states = book.due_states(party.id, days)
        on = {d: st.score for d, st in zip(days, states, strict=True)}
        scores[party.id] = [on[end] for _, end in spans]
    surveys: dict[Pair, list[Perception]] = defaultdict(list)
    for a, b, survey in sorted(
        queries.perceptions(session, earliest, window.date_to, window.region),
        key=lambda s: s[2].day,
    ):
        surveys[_pair(a, b)].append(survey)
    talks: dict[Pair, list[Engagement]] = defaultdict(list)
    for a, b, act in activities:  # in order of day
        talks[(a, b)].append(act)

    ordered = sorted(members, key=lambda p: p.code)
    pairs = [
        _pair(a.id, b.id)
        for i, a in enumerate(ordered)
        for b in ordered[i + 1 :]
        if window.party_id is None or window.party_id in (a.id, b.id)
    ]
    found: list[PairTrust] = []
    values: list[list[float | None]] = []  # each pair's series values, in the order of `found`
    for pair in pairs:
        # The pair's evidence looked up once (a pair of UUIDs hashes in Python).
        acts, heard = talks.get(pair, []), surveys.get(pair, [])
        harm = decayed.get(pair, no_harm)
        both = list(zip(scores[pair[0]], scores[pair[1]], strict=True))

        # Over the window, and over the same window `compare_days` earlier.
        (value, components), (before, earlier) = (
            trust_pair(
                as_of=spans[at][1],
                date_from=spans[at][0],
                harm=harm[at],
                engagements=acts,
                commitment_scores=both[at],
                perceptions=heard,
                settings=settings,
            )
            for at in (0, 1)
        )
        series = trust_series(
            spans=spans[2:],
            harm=harm[2:],
            engagements=acts,
            commitment_scores=both[2:],
            perceptions=heard,
            settings=settings,
        )
        found.append(
            PairTrust(
                party_a_id=pair[0],
                party_b_id=pair[1],
                value=value,
                components=components,
                previous_value=before,
                change=value - before,
                component_changes={
                    now.name: now.contribution - then.contribution
                    for now, then in zip(components, earlier, strict=True)
                },
                series=value_points(points, series),
            )
        )
        values.append(series)
    value_of = {(t.party_a_id, t.party_b_id): t.value for t in found}
    matrix = [
        [None if a.id == b.id else value_of.get(_pair(a.id, b.id)) for b in ordered]
        for a in ordered
    ]
    overall_series = value_points(
        points, [_mean([pair[i] for pair in values]) for i in range(len(points))]
    )
    return TrustReport(
        window=window.public(all_incidents=principal.sees_everything),
        half_life_days=settings.trust_half_life_days,
        compare_days=filters.compare_days,
        parties=ordered,
        overall=_mean([t.value for t in found]),
        overall_series=overall_series,
        matrix=matrix,
        pairs=found,
    )


_VALUE_POINTS = TypeAdapter(list[ValuePoint])


def value_points(days: Sequence[date], values: Sequence[float | None]) -> list[ValuePoint]:
    """A series' points, built by pydantic's core in one call: a long series (ten years of
    trust: 15 pairs x 123 points) took 5 ms as one `ValuePoint` per point, 1.4 ms so."""
    return _VALUE_POINTS.validate_python(
        [{"on": d, "value": v} for d, v in zip(days, values, strict=True)]
    )


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


# DDR


def ddr(
    *, session: Session, principal: Principal, settings: Settings, filters: MetricFilters
) -> DdrReport:
    window = _window(filters, settings)
    goals = queries.ddr_goals(session, window)
    done = queries.ddr_achieved(session, window)
    return DdrReport(
        window=window.public(all_incidents=principal.sees_everything),
        overall=flows.ddr_overall(goals, done),
        by_indicator=flows.ddr_lines(goals, done, lambda r: r.indicator.value, one_indicator=True),
        by_phase=flows.ddr_lines(goals, done, flows.phase_of),
        by_party=flows.ddr_lines(goals, done, lambda r: str(r.party_id)),
        by_site=flows.ddr_lines(goals, done, lambda r: r.site),
        series=flows.ddr_cumulative(done, bucket_ends(window)),
    )


# Verification funnel

QUEUE_SHOWN = 20


def verification(
    *, session: Session, principal: Principal, settings: Settings, filters: MetricFilters
) -> VerificationReport:
    window = _window(filters, settings)
    where = queries.window_where(principal, window)
    by_state = queries.counts(session, principal, window, "status", "finding")
    by_status: dict[str, int] = defaultdict(int)
    by_finding: dict[str, int] = defaultdict(int)
    for status, finding, n, _ in by_state:
        by_status[str(status)] += n
        by_finding[str(finding)] += n
    now = utcnow()
    queue = [
        QueueItem(
            id=i,
            occurred_at=occurred.isoformat(),
            category=str(category),
            admin1=admin1,
            status=str(status),
            age_days=(now - received).total_seconds() / 86400,
        )
        for i, occurred, category, admin1, status, received in queries.queue_oldest(
            session, where, QUEUE_SHOWN, long_window=window.days > queries.SHORT_WINDOW_DAYS
        )
    ]
    n, seconds = queries.seconds_to_verify(session, principal, window, (50, 90))
    median = p90 = None
    if n:
        median, p90 = (s / 86400 for s in seconds)
    return VerificationReport(
        window=window.public(all_incidents=principal.sees_everything),
        incidents=sum(by_status.values()),
        by_status=dict(sorted(by_status.items())),
        by_finding=dict(sorted(by_finding.items())),
        queue_total=by_status.get("received", 0) + by_status.get("in_review", 0),
        queue_oldest=queue,
        verified_count=n,
        median_days_to_verify=median,
        p90_days_to_verify=p90,
    )


# Tracks


def tracks(
    *, session: Session, principal: Principal, settings: Settings, filters: MetricFilters
) -> TracksReport:
    window = _window(filters, settings)
    rows = queries.track_rows(session, window)
    per_party = queries.track_rows_by_party(session, window)
    by_track: dict[str, list[flows.TrackAgg]] = defaultdict(list)
    for r in rows:
        by_track[r.track].append(r)
    by_party: dict[uuid.UUID, list[flows.TrackAgg]] = defaultdict(list)
    for party, r in per_party:
        by_party[party].append(r)
    party_lines = sorted((str(k), v) for k, v in by_party.items())
    return TracksReport(
        window=window.public(all_incidents=principal.sees_everything),
        overall=flows.track_line("all", rows),
        by_track=[flows.track_line(k, v) for k, v in sorted(by_track.items())],
        by_party=[flows.track_line(k, v) for k, v in party_lines],
        series=flows.track_series(rows, bucket_starts(window), window.interval),
    )


# Incidents

HOTSPOTS = 10


def incidents(
    *, session: Session, principal: Principal, settings: Settings, filters: MetricFilters
) -> IncidentsReport:
    window = _window(filters, settings)
    per_day = queries.incidents_by_step(session, principal, window)
    per_dims = queries.counts(session, principal, window, "category", "admin1", "alleged_party_id")
    starts = bucket_starts(window)
    series = {s: IncidentPoint(on=s, incidents=0, fatalities=0) for s in starts}
    for day, n, dead in per_day:
        point = series[bucket_of(day, window.interval)]
        point.incidents += n
        point.fatalities += dead
    places = queries.hotspots(session, principal, window, HOTSPOTS)
    before = window.shifted(window.days)
    previous = {
        (a1, a2): n
        for a1, a2, n, _ in queries.counts(session, principal, before, "admin1", "admin2")
    }
    return IncidentsReport(
        window=window.public(all_incidents=principal.sees_everything),
        incidents=sum(n for _, n, _ in per_day),
        fatalities=sum(d for _, _, d in per_day),
        series=list(series.values()),
        by_category=flows.count_lines((str(c), n, d) for c, _, _, n, d in per_dims),
        by_region=flows.count_lines((r, n, d) for _, r, _, n, d in per_dims),
        by_party=flows.count_lines(
            (str(p) if p is not None else None, n, d) for _, _, p, n, d in per_dims
        ),
        hotspots=[
            Hotspot(
                admin1=a1,
                admin2=a2,
                incidents=n,
                fatalities=int(d),
                previous_incidents=previous.get((a1, a2), 0),
            )
            for a1, a2, n, d in places
        ],
    )


# Alerts


def alerts(
    *, session: Session, principal: Principal, settings: Settings, filters: MetricFilters
) -> AlertsReport:
    """The alerts standing at the window's end (`date_to`); the rest of the window is not used
    except region and party, which narrow what is checked."""
    window = _window(filters, settings)
    end = window.date_to
    recent = Window(end - timedelta(days=settings.alert_recent_days - 1), end, window.region)
    baseline = Window(
        recent.date_from - timedelta(days=settings.alert_baseline_days),
        recent.date_from - timedelta(days=1),
        window.region,
    )

    recent_n, baseline_n = (
        {r: n for r, n, _ in rows if r is not None}
        for rows in queries.counts_apart(session, principal, [recent, baseline], "admin1")
    )
    found = rules.incident_spikes(
        recent=recent_n,
        baseline=baseline_n,
        recent_days=settings.alert_recent_days,
        baseline_days=settings.alert_baseline_days,
        p_value=settings.alert_spike_p_value,
        min_incidents=settings.alert_spike_min_incidents,
        recent_from=recent.date_from,
        recent_to=end,
    )
    span = settings.metrics_series_window_days
    now_window = Window(end - timedelta(days=span - 1), end, window.region, window.party_id)
    then_window = now_window.shifted(settings.alert_recent_days)
    previous = recent.shifted(settings.alert_recent_days)
    # Each party's harm over all four ranges, read once (the compliance now and a week before,
    # the spoilers' recent and previous periods): two statements, not six.
    periods = [(w.date_from, w.date_to) for w in (now_window, then_window, recent, previous)]
    harm = _tiered(
        *queries.party_tiers(session, principal, periods, region=recent.region, settings=settings)
    )
    loaded = queries.commitments(session)
    now_values, then_values = (
        compliance_values(
            session=session,
            principal=principal,
            settings=settings,
            window=w,
            with_series=False,
            with_categories=False,
            loaded=loaded,
            harm=harm,
        )
        for w in (now_window, then_window)
    )
    found += rules.compliance_drops(
        now={p.party.id: p.index for p in now_values.parties},
        before={p.party.id: p.index for p in then_values.parties},
        drop=settings.alert_compliance_drop,
        on=end,
    )
    # Made once per change of the commitments (116 alerts were 1.7 ms of an 8 ms call).
    overdue = loaded.overdue(end, window.party_id)
    found += _derived(
        ("overdue", end, window.party_id), overdue, lambda: rules.overdue_alerts(overdue)
    )
    recent_v, previous_v = (
        {p: h.total(lo, hi).incidents for p, h in harm.items()} for lo, hi in periods[2:]
    )
    spoilers = rules.possible_spoilers(
        recent=recent_v,
        previous=previous_v,
        min_incidents=settings.alert_spoiler_min_incidents,
        recent_from=recent.date_from,
        on=end,
    )
    if window.party_id is not None:
        spoilers = [a for a in spoilers if a.subject == str(window.party_id)]
    found += spoilers
    return AlertsReport(window=window.public(all_incidents=principal.sees_everything), alerts=found)


__all__ = [
    "ImplementationFilters",
    "TrustFilters",
    "alerts",
    "compliance",
    "ddr",
    "implementation",
    "incidents",
    "tracks",
    "trust",
    "verification",
]
