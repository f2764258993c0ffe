"""Implementation the way the Peace Accords Matrix (Kroc Institute) reports it. Pure functions.

A commitment's level on a day is the level of its latest progress row reached by that day, in the
order (changed_on, created_at): the rule `backend.agreements.service` uses for the current level.
"""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from backend.metrics.schemas import ImplementationPoint, LevelShares, OverdueCommitment
from backend.vocab import CommitmentCategory, ImplementationLevel

T = TypeVar("T")

LEVELS = tuple(ImplementationLevel)
# PAM's 0-3 per level, looked up once (`ImplementationLevel.score` searches the enum each time,
# and a long series asks for it at every point).
LEVEL_SCORE = {lv: lv.score for lv in LEVELS}


@dataclass(frozen=True, slots=True)
class CommitmentRow:
    id: uuid.UUID
    agreement_id: uuid.UUID
    category: CommitmentCategory
    due_on: date | None
    party_ids: tuple[uuid.UUID, ...] = ()
    title: str = ""
    reference: str | None = None


@dataclass(frozen=True, slots=True, order=True)
class ProgressRow:
    changed_on: date
    created_at: datetime
    commitment_id: uuid.UUID = field(compare=False)
    level: ImplementationLevel = field(compare=False)


def level_at(history: Sequence[ProgressRow], on: date) -> ImplementationLevel:
    """The level reached by the end of `on`; `history` sorted by (changed_on, created_at)."""
    level = ImplementationLevel.not_initiated
    for row in history:
        if row.changed_on > on:
            break
        level = row.level
    return level


def histories(rows: Iterable[ProgressRow]) -> dict[uuid.UUID, list[ProgressRow]]:
    found: dict[uuid.UUID, list[ProgressRow]] = {}
    for row in sorted(rows):
        found.setdefault(row.commitment_id, []).append(row)
    return found


def whole_percentages(counts: Mapping[ImplementationLevel, int]) -> dict[ImplementationLevel, int]:
    """Shares as whole percentages that sum to 100 (largest remainder, ties to the lower level)."""
    total = sum(counts.values())
    if total == 0:
        return dict.fromkeys(LEVELS, 0)
    exact = {lv: 100 * counts.get(lv, 0) / total for lv in LEVELS}
    floors = {lv: int(v) for lv, v in exact.items()}
    short = 100 - sum(floors.values())
    by_remainder = sorted(LEVELS, key=lambda lv: (-(exact[lv] - floors[lv]), lv.score))
    for lv in by_remainder[:short]:
        floors[lv] += 1
    return floors


def level_shares(levels: Iterable[ImplementationLevel]) -> LevelShares:
    """PAM's distribution of commitments over the four levels, and its weighted score."""
    return level_shares_of(Counter(levels))


def level_shares_of(tally: Mapping[ImplementationLevel, int]) -> LevelShares:
    """`level_shares` of commitments already counted per level (a series keeps the tally)."""
    counts = {lv: tally.get(lv, 0) for lv in LEVELS}
    total = sum(counts.values())
    shares = {lv: (n / total if total else 0.0) for lv, n in counts.items()}
    score = 100 * sum(lv.score * n for lv, n in counts.items()) / (3 * total) if total else 0.0
    return LevelShares(
        total=total,
        counts=counts,
        shares=shares,
        percent=whole_percentages(counts),
        score=score,
    )


def levels_on(
    commitments: Sequence[CommitmentRow], history: Mapping[uuid.UUID, list[ProgressRow]], on: date
) -> dict[uuid.UUID, ImplementationLevel]:
    return {c.id: level_at(history.get(c.id, []), on) for c in commitments}


def overdue_on(
    commitments: Sequence[CommitmentRow], levels: Mapping[uuid.UUID, ImplementationLevel], on: date
) -> list[OverdueCommitment]:
    """Past the due date and not complete on `on` (at today: `agreements.service.overdue_clause`)."""
    late = [
        c
        for c in commitments
        if c.due_on is not None
        and c.due_on < on
        and levels[c.id] is not ImplementationLevel.complete
    ]
    late.sort(key=lambda c: (c.due_on, str(c.id)))
    return [
        OverdueCommitment(
            id=c.id,
            agreement_id=c.agreement_id,
            reference=c.reference,
            title=c.title,
            category=c.category,
            due_on=c.due_on,  # type: ignore[arg-type]
            level=levels[c.id],
            days_overdue=(on - c.due_on).days,  # type: ignore[operator]
            party_ids=list(c.party_ids),
        )
        for c in late
    ]


def by_category(
    commitments: Sequence[CommitmentRow], levels: Mapping[uuid.UUID, ImplementationLevel]
) -> dict[CommitmentCategory, LevelShares]:
    groups: dict[CommitmentCategory, list[ImplementationLevel]] = {}
    for c in commitments:
        groups.setdefault(c.category, []).append(levels[c.id])
    return {cat: level_shares(lv) for cat, lv in sorted(groups.items())}


def by_party(
    commitments: Sequence[CommitmentRow], levels: Mapping[uuid.UUID, ImplementationLevel]
) -> dict[uuid.UUID, LevelShares]:
    """A commitment promised by several parties counts once for each of them."""
    groups: dict[uuid.UUID, list[ImplementationLevel]] = {}
    for c in commitments:
        for party in c.party_ids:
            groups.setdefault(party, []).append(levels[c.id])
    return {p: level_shares(lv) for p, lv in sorted(groups.items(), key=lambda kv: str(kv[0]))}


def series(
    commitments: Sequence[CommitmentRow],
    history: Mapping[uuid.UUID, list[ProgressRow]],
    points: Sequence[date],
) -> list[ImplementationPoint]:
    """The distribution at each of `points` (ascending), replaying progress rows once in order."""
    ids = {c.id for c in commitments}
    rows = sorted(r for c_id, rs in history.items() if c_id in ids for r in rs)
    current = dict.fromkeys(ids, ImplementationLevel.not_initiated)
    tally = Counter(current.values())
    out: list[ImplementationPoint] = []
    i = 0
    for point in points:
        while i < len(rows) and rows[i].changed_on <= point:
            row = rows[i]
            tally[current[row.commitment_id]] -= 1
            current[row.commitment_id] = row.level
            tally[row.level] += 1
            i += 1
        out.append(ImplementationPoint(on=point, levels=level_shares_of(tally)))
    return out


def commitment_score(levels: Iterable[ImplementationLevel]) -> float | None:
    """Mean level as a fraction of complete (0-1); None when there is nothing to score."""
    scores = [lv.score for lv in levels]
    return sum(scores) / (3 * len(scores)) if scores else None


@dataclass(slots=True)
class DueState:
    """A party's commitments due by a day: their score (None if none is due) and counts."""

    score: float | None
    due: int
    levels: dict[ImplementationLevel, int]
    overdue: int
    not_yet_due: int


@dataclass(frozen=True, slots=True)
class DueInputs:
    """What `due_states` replays for a set of commitments: the due days of those with one, in
    order, and their progress in the rows' order (changed_on, created_at) as (day, the
    commitment's place among the due days, level). Places, not ids: a UUID hashes in Python."""

    due_days: tuple[date, ...]
    changes: tuple[tuple[date, int, ImplementationLevel], ...]


def due_inputs(
    commitments: Sequence[CommitmentRow], history: Mapping[uuid.UUID, list[ProgressRow]]
) -> DueInputs:
    dated = sorted((c for c in commitments if c.due_on is not None), key=lambda c: c.due_on)  # type: ignore[arg-type, return-value]
    place = {c.id: k for k, c in enumerate(dated)}
    # Compared as tuples rather than through the dataclass's generated comparison.
    rows = sorted(
        (r for c_id, rs in history.items() if c_id in place for r in rs),
        key=lambda r: (r.changed_on, r.created_at),
    )
    return DueInputs(
        tuple(c.due_on for c in dated),  # type: ignore[misc]
        tuple((r.changed_on, place[r.commitment_id], r.level) for r in rows),
    )


def due_states(given: DueInputs, points: Sequence[date]) -> list[DueState]:
    """At each of `points` (ascending): the commitments of `given` (`due_inputs`;
    `CommitmentBook.due_inputs` keeps each party's) due by then (`due_on <= point`) with their
    levels that day; overdue ones are due before the day and not complete. Progress is replayed
    once, in order, rather than read again for every point."""
    due_days, changes = given.due_days, given.changes
    # By place in due order: the first `due_count` are the ones due so far.
    current = [ImplementationLevel.not_initiated] * len(due_days)
    complete = ImplementationLevel.complete
    # The tally of the commitments due so far and the sum of their 0-3 scores (whole numbers,
    # so the same as summing the tally), kept as days pass (not recounted at every point).
    tally = dict.fromkeys(LEVELS, 0)
    score_sum = 0
    out: list[DueState] = []
    i = due_count = 0
    for point in points:
        while i < len(changes) and changes[i][0] <= point:
            _, k, level = changes[i]
            if k < due_count:
                was = current[k]
                tally[was] -= 1
                tally[level] += 1
                score_sum += LEVEL_SCORE[level] - LEVEL_SCORE[was]
            current[k] = level
            i += 1
        while due_count < len(due_days) and due_days[due_count] <= point:
            tally[current[due_count]] += 1
            score_sum += LEVEL_SCORE[current[due_count]]
            due_count += 1
        # Overdue: due before the day and not complete; those due on the day itself are last.
        due_today_open = 0
        k = due_count - 1
        while k >= 0 and due_days[k] == point:
            due_today_open += current[k] is not complete
            k -= 1
        overdue = due_count - tally[complete] - due_today_open
        score = score_sum / (3 * due_count) if due_count else None
        out.append(DueState(score, due_count, dict(tally), overdue, len(due_days) - due_count))
    return out


@dataclass(frozen=True)
class CommitmentBook:
    """Commitments with their parties and progress rows, and what the measures derive from them,
    each derived once: `queries.commitments` keeps a book while no commitment changes, so every
    request reads the same one (it must not be changed)."""

    rows: tuple[CommitmentRow, ...]
    progress: tuple[ProgressRow, ...]
    # Answers of `overdue` and `due_states`, by what was asked.
    _answers: dict[Hashable, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @functools.cached_property
    def history(self) -> dict[uuid.UUID, list[ProgressRow]]:
        return histories(self.progress)

    @functools.cached_property
    def _by_party(self) -> dict[uuid.UUID, tuple[CommitmentRow, ...]]:
        found: dict[uuid.UUID, list[CommitmentRow]] = {}
        for c in self.rows:
            for party in c.party_ids:
                found.setdefault(party, []).append(c)
        return {p: tuple(cs) for p, cs in found.items()}

    @functools.cached_property
    def _due_inputs(self) -> dict[uuid.UUID, DueInputs]:
        return {p: due_inputs(cs, self.history) for p, cs in self._by_party.items()}

    @property
    def parties(self) -> set[uuid.UUID]:
        """Every party with a commitment."""
        return set(self._by_party)

    def of_party(self, party: uuid.UUID) -> tuple[CommitmentRow, ...]:
        """The party's commitments, in the book's order."""
        return self._by_party.get(party, ())

    def due_inputs(self, party: uuid.UUID) -> DueInputs:
        """What `due_states` replays for the party's commitments."""
        return self._due_inputs.get(party) or DueInputs((), ())

    def due_states(self, party: uuid.UUID, points: Sequence[date]) -> list[DueState]:
        """`due_states` of the party's commitments at `points`, worked out once per party and
        points (every request of a day asks the same). Shared: not to be changed."""
        points = tuple(points)
        return self._answer(
            ("due", party, points), lambda: due_states(self.due_inputs(party), points)
        )

    def overdue(self, on: date, party: uuid.UUID | None = None) -> list[OverdueCommitment]:
        """`overdue_on` of every commitment (the party's only, if given) on `on`, worked out once
        per day and party (the alerts ask on every request). Shared: not to be changed."""

        def make() -> list[OverdueCommitment]:
            mine = self.rows if party is None else self.of_party(party)
            return overdue_on(mine, levels_on(mine, self.history, on), on)

        return self._answer(("overdue", on, party), make)

    def _answer(self, asked: Hashable, make: Callable[[], T]) -> T:
        found = self._answers.get(asked)
        if found is None:
            found = make()
            if len(self._answers) >= 256:  # any day may be asked for: keep a few
                self._answers.clear()
            self._answers[asked] = found
        return found  # type: ignore[no-any-return]

    def where(self, keep: Callable[[CommitmentRow], bool]) -> CommitmentBook:
        """The commitments `keep` accepts, with their progress rows: a new book."""
        rows = tuple(c for c in self.rows if keep(c))
        ids = {c.id for c in rows}
        return CommitmentBook(rows, tuple(r for r in self.progress if r.commitment_id in ids))
