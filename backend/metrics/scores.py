"""Compliance and trust indices: pure functions, each value with the components behind it.

Both indices are weighted means of component scores in 0-1, times 100. A component without evidence
(no commitment due, no track activity, no survey) is left out and the others' weights are scaled
to sum to 1, so `sum(component.contribution) == index` always holds.
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from backend.config import Settings
from backend.metrics import window as windows
from backend.metrics.schemas import Component
from backend.vocab import TrackOutcome

# How far each outcome of a track activity counts as engagement that took place.
OUTCOME_VALUE: dict[TrackOutcome, float] = {
    TrackOutcome.held: 1.0,
    TrackOutcome.agreement_reached: 1.0,
    TrackOutcome.stalled: 0.5,
    TrackOutcome.postponed: 0.0,
    TrackOutcome.cancelled: 0.0,
}


@dataclass(frozen=True, slots=True)
class Engagement:
    day: date
    track: str
    outcome: TrackOutcome


@dataclass(frozen=True, slots=True)
class Perception:
    day: date
    score: float  # SCORE's 0-10


class DayHarm(NamedTuple):
    """Verified violations of one day, summed: how many, how many dead, their severity points.
    A named tuple: ten years of trust evidence make thousands, and a frozen dataclass costs
    three times as much to make."""

    day: date
    incidents: int
    fatalities: int
    points: float


class HarmIndex:
    """Days of harm with running totals: any window's sum, or its days, without a scan."""

    def __init__(self, harm: Sequence[DayHarm]) -> None:
        self.harm = sorted(harm, key=lambda h: h.day)
        self.days = [h.day for h in self.harm]
        self.sums: list[tuple[int, int, float]] = [(0, 0, 0.0)]
        for h in self.harm:
            n, dead, points = self.sums[-1]
            self.sums.append((n + h.incidents, dead + h.fatalities, points + h.points))
        self.point_sums = [points for _, _, points in self.sums]

    def _span(self, start: date, end: date) -> tuple[int, int]:
        return bisect_left(self.days, start), bisect_right(self.days, end)

    def between(self, start: date, end: date) -> list[DayHarm]:
        lo, hi = self._span(start, end)
        return self.harm[lo:hi]

    def total(self, start: date, end: date) -> DayHarm:
        """The harm of `start`..`end` summed into one (dated `end`)."""
        lo, hi = self._span(start, end)
        (n0, d0, p0), (n1, d1, p1) = self.sums[lo], self.sums[hi]
        return DayHarm(end, n1 - n0, d1 - d0, p1 - p0)

    def points(self, start: date, end: date) -> float:
        """`total(start, end).points` alone (a series point needs no counts)."""
        sums = self.point_sums
        return sums[bisect_right(self.days, end)] - sums[bisect_left(self.days, start)]


class TieredHarm:
    """The harm of any range of days from two tiers: days (`days`, a HarmIndex of daily sums)
    and whole months (`months`, a HarmIndex of monthly sums dated by the month's first day).

    A range is summed as `window.month_terms` splits it (whole months, days, and days subtracted
    from a month the range mostly covers); the rows read (queries.party_tiers) are those
    terms', so a ten-year window needs some 120 months and a few days, not 3,650 days."""

    def __init__(self, days: HarmIndex, months: HarmIndex) -> None:
        self.days, self.months = days, months

    def total(self, start: date, end: date) -> DayHarm:
        """The harm of `start`..`end` summed into one (dated `end`)."""
        n = dead = 0
        points = 0.0
        for term in windows.month_terms(start, end):
            part = (self.months if term.months else self.days).total(term.lo, term.hi)
            n += term.sign * part.incidents
            dead += term.sign * part.fatalities
            points += term.sign * part.points
        # A month less its days can leave a float residue (1e-15) where there is no harm.
        return DayHarm(end, n, dead, round(points, 9))

    def points(self, start: date, end: date) -> float:
        """`total(start, end).points` alone, the same float (a series point needs no counts)."""
        points = 0.0
        for term in windows.month_terms(start, end):
            points += term.sign * (self.months if term.months else self.days).points(
                term.lo, term.hi
            )
        return round(points, 9)


def _summed(
    rows: Iterable[Sequence[Any]], key_of: Callable[[Any, Any], Hashable | None]
) -> dict[Any, tuple[list[Any], list[Any], list[Any], list[Any]]]:
    """Violation rows already summed per day, party and target (day, party, target, incidents,
    fatalities or None, severity points), in order of day, summed per `key_of(party, target)`
    (None: left out) and day: per key, columns of its days ascending (the day as read,
    incidents, fatalities, points). `key_of` is called once per distinct pair (ten years of trust
    evidence are some 6,500 rows)."""
    keys: dict[tuple[Any, Any], Hashable | None] = {}
    sums: dict[Any, tuple[list[Any], list[Any], list[Any], list[Any]]] = {}
    missing = object()
    for d, p, t, n, dead, points in rows:
        key = keys.get((p, t), missing)
        if key is missing:
            key = keys[(p, t)] = key_of(p, t)
        if key is None:
            continue
        cols = sums.get(key)
        if cols is None:
            cols = sums[key] = ([], [], [], [])
        days, ns, deads, pts = cols
        if days and days[-1] == d:  # the same day against the other side of the pair
            ns[-1] += n
            if dead is not None:
                deads[-1] += dead
            pts[-1] += points
        else:
            days.append(d)
            ns.append(n)
            deads.append(dead)
            pts.append(points)
    return sums


def harm_by_key_day(
    rows: Iterable[Sequence[Any]],
    key_of: Callable[[Any, Any], Hashable | None],
    day_of: Callable[[Any], date],
) -> dict[Any, list[DayHarm]]:
    """Violation rows (day, party, target, incidents, fatalities, severity points:
    `queries.party_tiers`), in order of day, summed per `key_of(party, target)` (None: left out)
    and day: each key's days ascending. `day_of` is called once per distinct day."""
    dates: dict[Any, date] = {}

    def day(d: Any) -> date:
        found = dates.get(d)
        if found is None:
            found = dates[d] = day_of(d)
        return found

    return {
        key: [
            DayHarm(day(d), int(n), int(dead), float(pts))
            for d, n, dead, pts in zip(*cols, strict=True)
        ]
        for key, cols in _summed(rows, key_of).items()
    }


@dataclass(frozen=True, slots=True)
class HarmDays:
    """Days of harm as columns, in ascending order of day: each day's ordinal, severity points
    and incidents; what `decayed_harm` reads. A long series makes them straight from the query's
    rows (`harm_columns`): ten years of a pair's days, with no DayHarm per row."""

    ordinals: list[int]
    points: list[float]
    incidents: list[int]

    @classmethod
    def of(cls, harm: Sequence[DayHarm]) -> HarmDays:
        """`harm`: ascending days."""
        return cls(
            [h.day.toordinal() for h in harm], [h.points for h in harm], [h.incidents for h in harm]
        )


def harm_columns(
    rows: Iterable[Sequence[Any]], key_of: Callable[[Any, Any], Hashable | None]
) -> dict[Any, HarmDays]:
    """`harm_by_key_day` as columns (HarmDays), for rows dated by the day's ordinal and
    without fatalities, as `queries.pair_violations` reads them for trust: the same sums in the
    same order, so the same floats."""
    return {
        key: HarmDays(days, [float(p) for p in pts], [int(n) for n in ns])
        for key, (days, ns, _, pts) in _summed(rows, key_of).items()
    }


@dataclass(frozen=True, slots=True)
class DecayedHarm:
    """Harm over a span of days, each day's severity points weighed by its decay at the span's
    end (`points`); `incidents` counted without decay."""

    points: float
    incidents: float


def decayed_harm(
    harm: Sequence[DayHarm] | HarmDays, spans: Sequence[tuple[date, date]], half_life_days: float
) -> list[DecayedHarm]:
    """For each span (first day, last day): the harm of its days (`harm`: ascending days), each
    weighed `decay(last day - day)`. The one place the trust index decays violations: a series of
    many points reads the days once (sorted) and each span by bisection."""
    columns = harm if isinstance(harm, HarmDays) else HarmDays.of(harm)
    ordinals, points, incidents = columns.ordinals, columns.points, columns.incidents
    if not ordinals or not spans:
        return [DecayedHarm(0.0, 0.0) for _ in spans]
    last_days = [end.toordinal() for _, end in spans]
    # The weight of each age, from `decay`: one list lookup per day and span.
    weight = _decay_table(half_life_days, max(max(last_days) - ordinals[0], 0).bit_length())
    out = []
    for (start, _), last in zip(spans, last_days, strict=True):
        lo, hi = bisect_left(ordinals, start.toordinal()), bisect_right(ordinals, last)
        # Left to right from 0, as trust_pair summed them: the same floats.
        total = 0.0
        for k in range(lo, hi):
            total += weight[last - ordinals[k]] * points[k]
        out.append(DecayedHarm(total, float(sum(incidents[lo:hi]))))
    return out


@functools.lru_cache(maxsize=16384)
def decay(age_days: int, half_life_days: float) -> float:
    """The weight of evidence `age_days` old. Cached: a long trust series asks for the same
    ages over and over (ten years: some 35,000 calls for 3,650 distinct ages)."""
    return 0.5 ** (max(age_days, 0) / half_life_days)


@functools.lru_cache(maxsize=8)
def _decay_table(half_life_days: float, bits: int) -> tuple[float, ...]:
    """`decay` of every age below 2^bits days (a size rounded up, so that it is cached)."""
    return tuple(decay(age, half_life_days) for age in range(1 << bits))


def halving(points: float, half_point: float) -> float:
    """1 at no points, 1/2 at `half_point`, towards 0 beyond: a score from a count of harm."""
    return 1.0 / (1.0 + points / half_point)


def combine(
    parts: Sequence[tuple[str, float | None, float, Callable[[], dict[str, float]]]],
) -> tuple[float, list[Component]]:
    """(name, score or None, nominal weight, counts) -> (index 0-100, components). A series,
    which needs values only, sums them by `weighted`: the same floats, with no components."""
    present = _present([(score, weight) for _, score, weight, _ in parts])
    total = 0.0
    components: list[Component] = []
    for name, score, weight, counts in parts:
        effective = weight / present if (score is not None and present > 0) else 0.0
        contribution = 100.0 * effective * (score or 0.0)
        total += contribution
        components.append(
            Component(
                name=name,
                score=score,
                weight=effective,
                contribution=contribution,
                counts=counts(),
            )
        )
    return total, components


def weighted(parts: Iterable[tuple[float | None, float]]) -> float:
    """The index of (score or None, nominal weight) parts: `combine`'s total, summed the same
    way (the same float), without components."""
    parts = tuple(parts)
    present = _present(parts)
    total = 0.0
    for score, weight in parts:
        if score is not None and present > 0:  # `combine` adds 0.0 for the others: no change
            total += 100.0 * (weight / present) * score
    return total


def _present(parts: Iterable[tuple[float | None, float]]) -> float:
    """The nominal weight of the parts with a score: what their effective weights divide by."""
    present = 0.0
    for score, weight in parts:
        if score is not None:
            present += weight
    return present


def _violation_score(per_30_days: float, settings: Settings) -> float:
    return halving(per_30_days, settings.compliance_violation_half_point)


def compliance_value(
    *, commitment_score: float | None, points: float, days: int, settings: Settings
) -> float:
    """`compliance_index`'s value alone, the same float, from the window's severity `points`:
    what each point of a series needs."""
    return weighted(
        (
            (commitment_score, settings.compliance_weight_commitments),
            (
                _violation_score(points * 30.0 / days, settings),
                settings.compliance_weight_violations,
            ),
        )
    )


def compliance_index(
    *,
    commitment_score: float | None,
    commitment_counts: Mapping[str, float],
    harm: Iterable[DayHarm],
    days: int,
    settings: Settings,
) -> tuple[float, list[Component]]:
    """A party's compliance over a window of `days` days: (index 0-100, components); a series
    point's value alone is `compliance_value`.

    `harm`: the verified violations attributed to the party in the window. Their severity points
    are scaled to 30 days, so a window's length does not change what counts as "a lot".
    """
    rows = list(harm)
    points = sum(h.points for h in rows)
    per_30_days = points * 30.0 / days
    violation_score = _violation_score(per_30_days, settings)
    return combine(
        [
            (
                "commitments",
                commitment_score,
                settings.compliance_weight_commitments,
                lambda: dict(commitment_counts),
            ),
            (
                "violations",
                violation_score,
                settings.compliance_weight_violations,
                lambda: {
                    "incidents": float(sum(h.incidents for h in rows)),
                    "fatalities": float(sum(h.fatalities for h in rows)),
                    "severity_points": points,
                    "severity_points_per_30_days": per_30_days,
                },
            ),
        ],
    )


def trust_pair(
    *,
    as_of: date,
    date_from: date,
    harm: Iterable[DayHarm] | DecayedHarm,
    engagements: Iterable[Engagement],
    commitment_scores: Sequence[float | None],
    perceptions: Iterable[Perception] = (),
    settings: Settings,
) -> tuple[float, list[Component]]:
    """Trust between two parties on `as_of`, from the evidence dated `date_from`..`as_of`.

    `harm`: verified violations attributed to one of the two against the other, per day, or
    already decayed over `date_from`..`as_of` (`decayed_harm`, which a series computes at once).
    `commitment_scores`: each party's commitment score (None: nothing of theirs due).
    Dated evidence counts less the older it is: half as much every `trust_half_life_days`.
    """
    half_life = settings.trust_half_life_days
    if not isinstance(harm, DecayedHarm):
        days = sorted(harm, key=lambda h: h.day)
        harm = decayed_harm(days, [(date_from, as_of)], half_life)[0]
    points, incidents = harm.points, harm.incidents
    violation_score = halving(points, settings.trust_violation_half_point)
    first, last = date_from.toordinal(), as_of.toordinal()
    engagement_score, held, lapsed = _engagement(engagements, first, last, settings)
    commitments = _mean_known(commitment_scores)
    perception, surveys = _perception(perceptions, first, last, half_life)
    return combine(
        [
            (
                "violations",
                violation_score,
                settings.trust_weight_violations,
                lambda: {"incidents": incidents, "decayed_severity_points": points},
            ),
            (
                "commitments",
                commitments,
                settings.trust_weight_commitments,
                lambda: {
                    f"party_{side}_score": score
                    for side, score in zip("ab", commitment_scores, strict=True)
                    if score is not None
                },
            ),
            (
                "engagement",
                engagement_score,
                settings.trust_weight_engagement,
                lambda: {"held": float(held), "cancelled_or_postponed": float(lapsed)},
            ),
            (
                "perception",
                perception,
                settings.trust_weight_perception,
                lambda: {"surveys": surveys},
            ),
        ],
    )


def trust_series(
    *,
    spans: Sequence[tuple[date, date]],
    harm: Sequence[DecayedHarm],
    engagements: Sequence[Engagement],
    commitment_scores: Sequence[tuple[float | None, ...]],
    perceptions: Sequence[Perception] = (),
    settings: Settings,
) -> list[float]:
    """`trust_pair`'s value over each of `spans` (first day, last day), the same floats, without
    components: `harm[i]` decayed over span i (`decayed_harm`), `commitment_scores[i]` each
    party's score at its end; `engagements` and `perceptions` in order of day. A series of
    hundreds of points asks for nothing per point that a span without talks or surveys lacks."""
    half_life, half_point = settings.trust_half_life_days, settings.trust_violation_half_point
    w_violations, w_commitments, w_engagement, w_perception = _trust_weights(settings)
    talk_days = [e.day for e in engagements]
    survey_days = [p.day for p in perceptions]
    means: dict[tuple[float | None, ...], float | None] = {}  # the scores change seldom
    out = []
    for (start, end), decayed, scores in zip(spans, harm, commitment_scores, strict=True):
        engagement = perception = None
        if engagements:
            acts = engagements[bisect_left(talk_days, start) : bisect_right(talk_days, end)]
            if acts:
                engagement = _engagement(acts, start.toordinal(), end.toordinal(), settings)[0]
        if perceptions:
            heard = perceptions[bisect_left(survey_days, start) : bisect_right(survey_days, end)]
            if heard:
                first, last = start.toordinal(), end.toordinal()
                perception = _perception(heard, first, last, half_life)[0]
        if scores not in means:
            means[scores] = _mean_known(scores)
        commitments = means[scores]
        # `weighted` over the four parts, written out (a call per point was a third of a long
        # series' time): the same sums in the same order, so the same floats. Violations always
        # have a score.
        violations = 1.0 / (1.0 + decayed.points / half_point)  # `halving`
        present = w_violations
        if commitments is not None:
            present += w_commitments
        if engagement is not None:
            present += w_engagement
        if perception is not None:
            present += w_perception
        if present > 0:
            value = 100.0 * (w_violations / present) * violations
            if commitments is not None:
                value += 100.0 * (w_commitments / present) * commitments
            if engagement is not None:
                value += 100.0 * (w_engagement / present) * engagement
            if perception is not None:
                value += 100.0 * (w_perception / present) * perception
        else:
            value = 0.0
        out.append(value)
    return out


def _engagement(
    engagements: Iterable[Engagement], first: int, last: int, settings: Settings
) -> tuple[float | None, int, int]:
    """Track activities of days `first`..`last` (ordinals): (score, held, cancelled or
    postponed); each weighs its track's weight, decayed by its age at `last`."""
    half_life = settings.trust_half_life_days
    track_weights = settings.trust_track_weights
    weight_sum = value_sum = 0.0
    held = lapsed = 0
    for act in engagements:
        day = act.day.toordinal()
        if not first <= day <= last:
            continue
        outcome = OUTCOME_VALUE[act.outcome]
        w = decay(last - day, half_life) * track_weights.get(act.track, 0.5)
        weight_sum += w
        value_sum += w * outcome
        held += outcome == 1.0
        lapsed += outcome == 0.0
    return (value_sum / weight_sum if weight_sum > 0 else None), held, lapsed


def _perception(
    perceptions: Iterable[Perception], first: int, last: int, half_life: float
) -> tuple[float | None, int]:
    """Surveys of days `first`..`last` (ordinals): (score 0-1, surveys), each decayed by age."""
    weight_sum = value_sum = 0.0
    surveys = 0
    for survey in perceptions:
        day = survey.day.toordinal()
        if not first <= day <= last:
            continue
        w = decay(last - day, half_life)
        surveys += 1
        weight_sum += w
        value_sum += w * survey.score / 10.0
    return (value_sum / weight_sum if weight_sum > 0 else None), surveys


def _mean_known(scores: Sequence[float | None]) -> float | None:
    known = [s for s in scores if s is not None]
    return sum(known) / len(known) if known else None


def _trust_weights(settings: Settings) -> tuple[float, float, float, float]:
    """The nominal weights of violations, commitments, engagement and perception."""
    return (
        settings.trust_weight_violations,
        settings.trust_weight_commitments,
        settings.trust_weight_engagement,
        settings.trust_weight_perception,
    )
