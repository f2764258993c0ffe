"""DDR progress, track activity and incident counts from aggregated rows. Pure functions."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from backend.metrics.schemas import CountLine, DdrPoint, DdrProgress, TrackLine, TrackPoint
from backend.metrics.window import Interval, bucket_of
from backend.vocab import INDICATOR_PHASE, DdrIndicator, Finding, TrackOutcome


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


# DDR


@dataclass(frozen=True, slots=True)
class DdrAchieved:
    """Milestones of one indicator, party, site, day and finding (summed by the database)."""

    indicator: DdrIndicator
    party_id: uuid.UUID
    site: str | None
    day: date
    finding: Finding
    quantity: int
    women: int = 0
    men: int = 0
    boys: int = 0
    girls: int = 0


@dataclass(frozen=True, slots=True)
class DdrGoal:
    indicator: DdrIndicator
    party_id: uuid.UUID
    site: str | None
    target_quantity: int


def _indicator_shares(goals: Sequence[DdrGoal], done: Sequence[DdrAchieved]) -> list[float]:
    """Each indicator's achieved / target among `goals` and `done`, for the indicators with a
    target, in the indicators' order."""
    targets: dict[DdrIndicator, int] = defaultdict(int)
    achieved: dict[DdrIndicator, int] = defaultdict(int)
    for g in goals:
        targets[g.indicator] += g.target_quantity
    for a in done:
        achieved[a.indicator] += a.quantity
    return [achieved[i] / t for i, t in sorted(targets.items()) if t]


def _ddr_line(
    key: str, goals: Sequence[DdrGoal], done: Sequence[DdrAchieved], *, one_indicator: bool
) -> DdrProgress:
    """One line of DDR progress. For one indicator, progress is achieved / target (above 1 when
    the target is passed). For several (a phase, party, site or all), whose counts are of
    different units (rounds of ammunition beside weapons beside people), it is the mean of their
    progress, each capped at 1: rounds cannot swamp people, and a target passed does not make up
    for one missed (docs/methodology.md, "DDR progress")."""
    target = sum(g.target_quantity for g in goals)
    achieved = sum(a.quantity for a in done)
    verified = sum(a.quantity for a in done if a.finding is Finding.verified)
    shares = _indicator_shares(goals, done)
    if one_indicator:
        progress = ratio(achieved, target)
    else:
        progress = ratio(sum(min(s, 1.0) for s in shares), len(shares))
    return DdrProgress(
        key=key,
        target=target,
        achieved=achieved,
        progress=progress,
        indicators=len(shares),
        indicators_met=sum(s >= 1 for s in shares),
        verified=verified,
        verified_share=ratio(verified, achieved),
        women=sum(a.women for a in done),
        men=sum(a.men for a in done),
        boys=sum(a.boys for a in done),
        girls=sum(a.girls for a in done),
    )


def ddr_lines(
    goals: Sequence[DdrGoal],
    done: Sequence[DdrAchieved],
    key: Callable[[DdrGoal | DdrAchieved], str | None],
    *,
    one_indicator: bool = False,
) -> list[DdrProgress]:
    """Target against achieved per value of `key`: the indicator (`one_indicator`), or its phase,
    party or site (several indicators each)."""
    targets: dict[str, list[DdrGoal]] = defaultdict(list)
    achieved: dict[str, list[DdrAchieved]] = defaultdict(list)
    for g in goals:
        targets[key(g) or ""].append(g)
    for a in done:
        achieved[key(a) or ""].append(a)
    return [
        _ddr_line(k, targets.get(k, []), achieved.get(k, []), one_indicator=one_indicator)
        for k in sorted({*targets, *achieved})
    ]


def ddr_overall(goals: Sequence[DdrGoal], done: Sequence[DdrAchieved]) -> DdrProgress:
    return _ddr_line("all", goals, done, one_indicator=False)


def phase_of(row: DdrGoal | DdrAchieved) -> str:
    return INDICATOR_PHASE[row.indicator].value


def ddr_cumulative(done: Sequence[DdrAchieved], ends: Sequence[date]) -> dict[str, list[DdrPoint]]:
    """Per indicator, at the last day of each step of the series (`ends`, ascending: every day,
    week or month of the window): achieved in the step and the running total since the window
    began. One point per step, not per day: ten years by month are 120 points, not 3,650."""
    per: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for a in done:
        per[a.indicator.value][a.day] += a.quantity
    out: dict[str, list[DdrPoint]] = {}
    for indicator, by_day in sorted(per.items()):
        days = sorted(by_day.items())
        total, i, points = 0, 0, []
        for end in ends:
            step = 0
            while i < len(days) and days[i][0] <= end:
                step += days[i][1]
                i += 1
            total += step
            points.append(DdrPoint(on=end, achieved=step, cumulative=total))
        out[indicator] = points
    return out


# Tracks


@dataclass(frozen=True, slots=True)
class TrackAgg:
    """Track activities of one day, track and outcome, with one of their parties (or None)."""

    day: date
    track: str
    outcome: TrackOutcome
    activities: int


_HELD = (TrackOutcome.held, TrackOutcome.agreement_reached)
_LAPSED = (TrackOutcome.cancelled, TrackOutcome.postponed)


def track_line(key: str, rows: Iterable[TrackAgg]) -> TrackLine:
    by_outcome = dict.fromkeys((o.value for o in TrackOutcome), 0)
    for r in rows:
        by_outcome[r.outcome.value] += r.activities
    total = sum(by_outcome.values())
    held = sum(by_outcome[o.value] for o in _HELD)
    lapsed = sum(by_outcome[o.value] for o in _LAPSED)
    return TrackLine(
        key=key,
        total=total,
        by_outcome=by_outcome,
        held_share=ratio(held, total),
        cancelled_share=ratio(lapsed, total),
    )


def track_series(
    rows: Iterable[TrackAgg], starts: Sequence[date], interval: Interval
) -> list[TrackPoint]:
    points = {s: TrackPoint(on=s, by_track={}, held=0, cancelled_or_postponed=0) for s in starts}
    for r in rows:
        point = points.get(bucket_of(r.day, interval))
        if point is None:
            continue
        point.by_track[r.track] = point.by_track.get(r.track, 0) + r.activities
        point.held += r.activities if r.outcome in _HELD else 0
        point.cancelled_or_postponed += r.activities if r.outcome in _LAPSED else 0
    return list(points.values())


# Incidents


def count_lines(
    rows: Iterable[tuple[str | None, int, int]], limit: int | None = None
) -> list[CountLine]:
    """(key, incidents, fatalities) summed per key, most incidents first."""
    sums: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for key, n, dead in rows:
        sums[key][0] += n
        sums[key][1] += dead
    ordered = sorted(sums.items(), key=lambda kv: (-kv[1][0], kv[0] or ""))
    lines = [CountLine(key=k, incidents=v[0], fatalities=v[1]) for k, v in ordered]
    return lines[:limit] if limit else lines


def nearest_rank(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) of an ascending list, by nearest rank; None if empty."""
    if not sorted_values:
        return None
    n = len(sorted_values)
    rank = max(1, min(n, -(-q * n // 100)))  # ceil(q/100 * n)
    return sorted_values[int(rank) - 1]


def rank_of(n: int, q: float) -> int:
    """The 0-based offset of the q-th percentile in an ascending list of n (nearest rank)."""
    return int(max(1, min(n, -(-q * n // 100)))) - 1
