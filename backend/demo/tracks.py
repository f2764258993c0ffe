"""The demo mission's diplomacy: Track I talks that MUR walks away from, and Track II and III
dialogues between GOV and DFS that keep being held (and grow)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from backend.demo import scenario as S
from backend.diplomacy.models import TrackActivity, TrackActivityParty
from backend.ingest.kinds import new_row
from backend.vocab import Track, TrackActivityKind, TrackOutcome

if TYPE_CHECKING:
    from backend.demo.generate import DemoData

Out = TrackOutcome


@dataclass(frozen=True)
class Series:
    track: Track
    kind: TrackActivityKind
    title: str
    parties: tuple[str, ...]
    first_day: int
    every_days: int
    venue: str
    facilitator: str
    participants: tuple[int, int]  # at the first and at the last one
    women_share: tuple[float, float]
    # The chance that it does not take place, by the day (0..MISSION_DAYS).
    trouble: Callable[[int], float]
    bad_outcomes: tuple[TrackOutcome, ...]


def _spoiler_trouble(day: int) -> float:
    return 0.08 if day < 240 else 0.75


SERIES: tuple[Series, ...] = (
    Series(
        Track.track_1,
        TrackActivityKind.formal_talks,
        "Implementation Monitoring Committee session",
        ("GOV", "MUR", "DFS", "NPA"),
        15,
        35,
        "Varanda City",
        "Regional mediation team (fictional)",
        (24, 30),
        (0.08, 0.15),
        _spoiler_trouble,
        (Out.stalled, Out.postponed, Out.cancelled),
    ),
    Series(
        Track.track_1,
        TrackActivityKind.shuttle_diplomacy,
        "Shuttle mission to MUR leadership",
        ("GOV", "MUR"),
        30,
        45,
        "Kessa Town",
        "Special Envoy (fictional)",
        (6, 6),
        (0.0, 0.17),
        _spoiler_trouble,
        (Out.cancelled, Out.stalled),
    ),
    Series(
        Track.track_2,
        TrackActivityKind.dialogue,
        "Grand Tiel inter-community dialogue",
        ("GOV", "DFS"),
        60,
        30,
        "Port Tiel",
        "Council of Churches and Mosques (fictional)",
        (20, 48),
        (0.2, 0.42),
        lambda day: 0.15 if day < 200 else 0.04,
        (Out.postponed,),
    ),
    Series(
        Track.track_1_5,
        TrackActivityKind.consultation,
        "Southern security consultation",
        ("GOV", "DFS", "NPA"),
        75,
        90,
        "Port Tiel",
        "Mission Civil Affairs (demo)",
        (15, 22),
        (0.13, 0.27),
        lambda day: 0.05,
        (Out.postponed,),
    ),
    Series(
        Track.track_3,
        TrackActivityKind.confidence_building_event,
        "Joint football tournament and market day",
        ("GOV", "DFS"),
        120,
        60,
        "Sinoke",
        "Sinoke youth association (fictional)",
        (80, 300),
        (0.3, 0.5),
        lambda day: 0.05,
        (Out.postponed,),
    ),
    Series(
        Track.track_3,
        TrackActivityKind.confidence_building_event,
        "Kessa County village peace committee",
        ("GOV", "MUR"),
        60,
        60,
        "Kessa Town",
        "Kessa elders' council (fictional)",
        (40, 60),
        (0.2, 0.3),
        lambda day: 0.1 if day < 250 else 0.8,
        (Out.cancelled, Out.postponed),
    ),
    Series(
        Track.track_2,
        TrackActivityKind.workshop,
        "Reintegration and livelihoods workshop",
        ("DFS", "NPA"),
        200,
        120,
        "Tiel Junction",
        "Reintegration programme (fictional)",
        (30, 40),
        (0.25, 0.35),
        lambda day: 0.05,
        (Out.postponed,),
    ),
)

CPA_CONFERENCE_DAY = 45


def track_activities(
    data: DemoData, rng: random.Random, ids: Callable[[], uuid.UUID]
) -> list[dict[str, Any]]:
    """Add the activities to `data`; return them with their party codes (`_codes`)."""
    out: list[dict[str, Any]] = []
    conference = _activity(
        data,
        ids,
        Track.track_1,
        TrackActivityKind.formal_talks,
        "Port Tiel peace conference: signing of the Comprehensive Peace Agreement",
        S.AGREEMENTS[1].signed_day,
        "Port Tiel",
        "Regional mediation team (fictional)",
        60,
        9,
        Out.agreement_reached,
        ("GOV", "MUR", "DFS", "NPA"),
    )
    out.append(conference)
    for series in SERIES:
        days = range(series.first_day, S.MISSION_DAYS, series.every_days)
        for n, day in enumerate(days, start=1):
            t = day / S.MISSION_DAYS
            draws = (rng.random(), rng.random(), rng.randint(-3, 3))
            day = min(max(day + draws[2], 0), S.MISSION_DAYS - 1)
            trouble = draws[0] < series.trouble(day)
            outcome = (
                series.bad_outcomes[int(draws[1] * len(series.bad_outcomes))]
                if trouble
                else Out.held
            )
            low, high = series.participants
            participants = round(low + (high - low) * t)
            women = round(
                participants
                * (series.women_share[0] + (series.women_share[1] - series.women_share[0]) * t)
            )
            out.append(
                _activity(
                    data,
                    ids,
                    series.track,
                    series.kind,
                    f"{series.title} No. {n}",
                    day,
                    series.venue,
                    series.facilitator,
                    None if outcome in (Out.cancelled, Out.postponed) else participants,
                    None if outcome in (Out.cancelled, Out.postponed) else women,
                    outcome,
                    series.parties,
                )
            )
    return out


def _activity(
    data: DemoData,
    ids: Callable[[], uuid.UUID],
    track: Track,
    kind: TrackActivityKind,
    title: str,
    day: int,
    venue: str,
    facilitator: str,
    participants: int | None,
    women: int | None,
    outcome: TrackOutcome,
    codes: tuple[str, ...],
) -> dict[str, Any]:
    aid = ids()
    on = data.start + timedelta(days=day)
    why = {
        Out.held: "Held as planned.",
        Out.agreement_reached: "The parties signed.",
        Out.stalled: "Talks stalled: MUR delegates walked out over the mining area.",
        Out.postponed: "Postponed: delegates could not travel.",
        Out.cancelled: "Cancelled: MUR did not send its delegation."
        if "MUR" in codes
        else "Cancelled.",
    }[outcome]
    data.add(
        TrackActivity,
        new_row(
            TrackActivity,
            {
                "id": aid,
                "track": track,
                "kind": kind,
                "title": title,
                "occurred_on": on.date(),
                "venue": venue,
                "facilitator": facilitator,
                "participants": participants,
                "women_participants": women,
                "outcome": outcome,
                "summary": f"{S.LABEL}. {why}",
                "reported_by": "demo-civil-affairs",
                "created_at": on + timedelta(hours=20),
                "updated_at": on + timedelta(hours=20),
            },
        ),
    )
    for code in codes:
        data.add(TrackActivityParty, {"track_activity_id": aid, "party_id": data.party_ids[code]})
    return {"id": aid, "occurred_on": on.date(), "outcome": outcome, "_codes": codes}
