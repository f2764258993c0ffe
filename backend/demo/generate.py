"""The demo mission's records, generated from a seed: pure, no database.

Same seed, same anchor date: the same records, ids and all. Ids and every random choice come from
one `random.Random(seed)`, drawn in a fixed order that does not depend on the anchor, so the same
seed gives the same ids on any day; times are offsets from the anchor (by default today, UTC), and
steps that would fall after it are left out (recent incidents still wait for verification).
"""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import SQLModel

from backend.agreements.models import (
    Agreement,
    AgreementParty,
    Commitment,
    CommitmentParty,
    CommitmentProgress,
)
from backend.ddr.models import PEOPLE_INDICATORS, DdrMilestone, DdrTarget
from backend.demo import scenario as S
from backend.demo.tracks import track_activities
from backend.incidents.models import Incident
from backend.ingest.kinds import new_row
from backend.parties.models import Party
from backend.verification.models import VerificationEvent
from backend.vocab import (
    AgreementKind,
    DdrIndicator,
    Finding,
    ImplementationLevel,
    Sensitivity,
    SourceType,
    VerificationMethod,
    WorkflowStatus,
)

DEFAULT_SEED = 2003
SEEDER = "demo-seed"
ANALYST = "demo-analyst"


@dataclass
class DemoData:
    """Rows per table, in an order that satisfies the foreign keys."""

    start: datetime  # the mission's first day (UTC midnight)
    anchor: datetime  # the day after its last, UTC midnight; nothing happens at or after it
    rows: dict[type[SQLModel], list[dict[str, Any]]] = field(default_factory=dict)
    party_ids: dict[str, uuid.UUID] = field(default_factory=dict)

    def add(self, table: type[SQLModel], row: dict[str, Any]) -> dict[str, Any]:
        self.rows.setdefault(table, []).append(row)
        return row

    def count(self, table: type[SQLModel]) -> int:
        return len(self.rows.get(table, []))


class Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; the rates here are small."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def generate(seed: int = DEFAULT_SEED, today: date | None = None) -> DemoData:
    today = today or datetime.now(UTC).date()
    anchor = datetime.combine(today, time(), tzinfo=UTC)
    data = DemoData(start=anchor - timedelta(days=S.MISSION_DAYS), anchor=anchor)
    rng = random.Random(seed)  # noqa: S311 - made-up records, not secrets
    ids = Ids(random.Random(f"{seed}:ids"))  # noqa: S311
    _parties(data, ids)
    activities = track_activities(data, rng, ids)
    _agreements(data, ids, activities)
    _ddr(data, rng, ids)
    _incidents(data, rng, ids)
    return data


def _at(data: DemoData, day: float) -> datetime:
    return data.start + timedelta(days=day)


def _on(data: DemoData, day: int) -> date:
    return (data.start + timedelta(days=day)).date()


def _parties(data: DemoData, ids: Ids) -> None:
    created = _at(data, -30)
    for spec in S.PARTIES:
        pid = ids()
        data.party_ids[spec.code] = pid
        data.add(
            Party,
            new_row(
                Party,
                {
                    "id": pid,
                    "name": spec.name,
                    "code": spec.code,
                    "kind": spec.kind,
                    "signatory": spec.signatory,
                    "aliases": list(spec.aliases),
                    "created_at": created,
                    "updated_at": created,
                },
            ),
        )


def _agreements(data: DemoData, ids: Ids, activities: list[dict[str, Any]]) -> None:
    by_key: dict[str, uuid.UUID] = {}
    for spec in S.AGREEMENTS:
        aid = by_key[spec.key] = ids()
        at = _at(data, spec.signed_day + 1)
        data.add(
            Agreement,
            new_row(
                Agreement,
                {
                    "id": aid,
                    "name": spec.name,
                    "kind": AgreementKind(spec.kind),
                    "signed_on": _on(data, spec.signed_day),
                    "summary": f"{S.LABEL}. {spec.summary}",
                    "created_at": at,
                    "updated_at": at,
                },
            ),
        )
        for code in ("GOV", "MUR", "DFS", "NPA"):
            data.add(AgreementParty, {"agreement_id": aid, "party_id": data.party_ids[code]})
    held = [a for a in activities if a["outcome"].value in ("held", "agreement_reached")]
    for spec in S.COMMITMENTS:
        _commitment(data, ids, spec, by_key[spec.agreement], held)


def _commitment(
    data: DemoData,
    ids: Ids,
    spec: S.CommitmentSpec,
    agreement_id: uuid.UUID,
    held: list[dict[str, Any]],
) -> None:
    cid = ids()
    created = _at(data, S.AGREEMENTS[1].signed_day + 2)
    level, changed_on = ImplementationLevel.not_initiated, None
    for day, name in spec.progress:
        level, changed_on = ImplementationLevel(name), _on(data, day)
        # Evidence: the last held activity of these parties before the change, else a JMC note.
        linked = [
            a
            for a in held
            if a["occurred_on"] <= changed_on
            and set(spec.parties) <= set(a["_codes"])
            and spec.category.value in ("confidence_building", "political")
        ]
        at = _at(data, day + 1)
        data.add(
            CommitmentProgress,
            new_row(
                CommitmentProgress,
                {
                    "id": ids(),
                    "commitment_id": cid,
                    "level": level,
                    "changed_on": changed_on,
                    "track_activity_id": linked[-1]["id"] if linked else None,
                    "evidence_note": f"{S.LABEL}: JMC implementation report, {spec.reference}",
                    "recorded_by": ANALYST,
                    "created_at": at,
                },
            ),
        )
    last = _at(data, spec.progress[-1][0] + 1) if spec.progress else created
    data.rows.setdefault(Commitment, [])
    data.rows[Commitment].append(
        new_row(
            Commitment,
            {
                "id": cid,
                "agreement_id": agreement_id,
                "reference": spec.reference,
                "title": spec.title,
                "text": f"{S.LABEL}. The parties ({', '.join(spec.parties)}) undertake to: "
                f"{spec.title[0].lower()}{spec.title[1:]}.",
                "category": spec.category,
                "due_on": _on(data, spec.due_day),
                "level": level,
                "level_changed_on": changed_on,
                "created_at": created,
                "updated_at": last,
            },
        )
    )
    for code in spec.parties:
        data.add(CommitmentParty, {"commitment_id": cid, "party_id": data.party_ids[code]})


_DDR_PLAN: tuple[tuple[DdrIndicator, float, int, int], ...] = (
    # indicator, target per combatant, first and last day of the period
    (DdrIndicator.combatants_registered, 1.0, 100, 370),
    (DdrIndicator.combatants_disarmed, 1.0, 100, 370),
    (DdrIndicator.weapons_collected, 0.6, 100, 370),
    (DdrIndicator.ammunition_collected, 150.0, 100, 370),
    (DdrIndicator.weapons_destroyed, 0.6, 160, 420),
    (DdrIndicator.combatants_demobilized, 0.95, 110, 400),
    (DdrIndicator.reintegration_enrolled, 0.8, 180, 620),
    (DdrIndicator.reintegration_completed, 0.5, 300, 720),
)
_REPORT_EVERY_DAYS = 28


def _ddr(data: DemoData, rng: random.Random, ids: Ids) -> None:
    for code, site, strength in S.DDR_SITES:
        reach, stall_day = S.DDR_REACH[code]
        for indicator, per, first, last in _DDR_PLAN:
            target = round(strength * per)
            data.add(
                DdrTarget,
                new_row(
                    DdrTarget,
                    {
                        "id": ids(),
                        "indicator": indicator,
                        "party_id": data.party_ids[code],
                        "site": site,
                        "period_start_on": _on(data, first),
                        "period_end_on": _on(data, last),
                        "target_quantity": target,
                        "notes": f"{S.LABEL}: DDR plan annex, {code} at {site}",
                        "created_by": ANALYST,
                        "created_at": _at(data, 80),
                        "updated_at": _at(data, 80),
                    },
                ),
            )
            _milestones(
                data, rng, ids, code, site, indicator, target * reach, first, last, stall_day
            )


def _milestones(
    data: DemoData,
    rng: random.Random,
    ids: Ids,
    code: str,
    site: str,
    indicator: DdrIndicator,
    goal: float,
    first: int,
    last: int,
    stall_day: int,
) -> None:
    """Reports every few weeks along an S-curve toward `goal`; a stalling group reports little."""
    done = 0
    for day in range(first + rng.randint(3, 14), last + 1, _REPORT_EVERY_DAYS):
        share = 1 / (1 + math.exp(-8 * ((day - first) / (last - first) - 0.45)))
        if day > stall_day:
            share = min(
                share, 1 / (1 + math.exp(-8 * ((stall_day - first) / (last - first) - 0.45)))
            )
        jitter = rng.uniform(0.85, 1.1)
        quantity = max(0, round(goal * share * jitter) - done)
        keep_draws = [rng.random() for _ in range(6)]  # fixed draws per report, whatever is kept
        if quantity == 0 or day >= S.MISSION_DAYS:
            continue
        done += quantity
        achieved = _at(data, day)
        breakdown: dict[str, int | None] = {"women": None, "men": None, "boys": None, "girls": None}
        if indicator in PEOPLE_INDICATORS:
            women = round(quantity * S.DDR_WOMEN[code] * (0.8 + 0.4 * keep_draws[0]))
            girls = round(quantity * 0.03 * keep_draws[1])
            boys = round(quantity * (0.05 + 0.06 * keep_draws[2]))
            men = quantity - women - girls - boys
            breakdown = {"women": women, "men": men, "boys": boys, "girls": girls}
        mid = ids()
        row = data.add(
            DdrMilestone,
            new_row(
                DdrMilestone,
                {
                    "id": mid,
                    "indicator": indicator,
                    "party_id": data.party_ids[code],
                    "site": site,
                    "achieved_on": achieved.date(),
                    "quantity": quantity,
                    **breakdown,
                    "notes": f"{S.LABEL}: {site} weekly DDR return",
                    "reported_by": "demo-ddr-" + site.split()[0].lower(),
                    "created_at": achieved + timedelta(hours=18),
                    "updated_at": achieved + timedelta(hours=18),
                },
            ),
        )
        disputed = code == S.SPOILER and keep_draws[3] < 0.2
        steps = [
            (
                1 + 3 * keep_draws[4],
                WorkflowStatus.in_review,
                Finding.unverified,
                "document_review",
            ),
            (
                6 + 10 * keep_draws[5],
                WorkflowStatus.closed,
                Finding.disputed if disputed else Finding.verified,
                "site_visit",
            ),
        ]
        _verify(data, ids, row, "ddr_milestone_id", achieved, steps, attributed=None)


def _verify(
    data: DemoData,
    ids: Ids,
    subject: dict[str, Any],
    link: str,
    base: datetime,
    steps: list[tuple[float, WorkflowStatus, Finding, str]],
    attributed: uuid.UUID | None,
    team: str = "DDR verification team (demo)",
) -> None:
    """Add the steps that have happened by the anchor; the subject's state is its latest step's."""
    for offset_days, status, finding, method in steps:
        at = base + timedelta(days=offset_days)
        if at >= data.anchor:
            break
        who = attributed if finding in (Finding.verified, Finding.disputed) else None
        data.add(
            VerificationEvent,
            new_row(
                VerificationEvent,
                {
                    "id": ids(),
                    link: subject["id"],
                    "occurred_at": at,
                    "method": VerificationMethod(method),
                    "team": team,
                    "status": status,
                    "finding": finding,
                    "attributed_party_id": who,
                    "notes": f"{S.LABEL}: {method.replace('_', ' ')}, {status.value}",
                    "recorded_by": ANALYST,
                    "created_at": at,
                },
            ),
        )
        subject.update(status=status, finding=finding, updated_at=at)
        if link == "incident_id":
            subject["attributed_party_id"] = who


def _rate(dyad: S.Dyad, month: int) -> float:
    t = month / max(S.MONTHS - 1, 1)
    return dyad.first + (dyad.last - dyad.first) * t**dyad.shape


_SOURCES = (
    (SourceType.patrol, 0.4),
    (SourceType.observer, 0.2),
    (SourceType.party_complaint, 0.2),
    (SourceType.civil_society, 0.12),
    (SourceType.media, 0.08),
)
_SENSITIVITY = (
    (Sensitivity.public, 0.3),
    (Sensitivity.restricted, 0.6),
    (Sensitivity.confidential, 0.1),
)


def _pick(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _incidents(data: DemoData, rng: random.Random, ids: Ids) -> None:
    pending: list[tuple[dict[str, Any], float]] = []
    for month in range(S.MONTHS):
        for dyad in S.DYADS:
            for _ in range(poisson(rng, _rate(dyad, month))):
                pending.append((_incident(data, rng, ids, dyad, month), dyad.verified_share))
    pending.sort(key=lambda p: (p[0]["occurred_at"], p[0]["id"]))
    data.rows[Incident] = []
    for row, share in pending:
        data.add(Incident, row)
        _incident_history(data, rng, ids, row, share)


def _incident(
    data: DemoData, rng: random.Random, ids: Ids, dyad: S.Dyad, month: int
) -> dict[str, Any]:
    place = S.PLACES[rng.choice(S.AREAS[dyad.alleged])]
    category = rng.choice(dyad.categories)
    occurred = _at(data, month * 30 + rng.uniform(0, 30)).replace(microsecond=0)
    # Nothing after the anchor (midnight today): seeded early in the day, a report "received"
    # 40 hours after its incident would lie in the future and top the live feed for a day.
    reported = min(occurred + timedelta(hours=rng.uniform(0.5, 36)), max(occurred, data.anchor))
    received = min(reported + timedelta(minutes=rng.uniform(1, 240)), max(reported, data.anchor))
    violent = category.value in ("armed_clash", "shelling", "attack_on_civilians")
    fatalities = poisson(rng, 1.6) if violent else 0
    injuries = poisson(rng, 2.5) if violent else poisson(rng, 0.2)
    names = {code: code for code in data.party_ids}
    description = S.DESCRIPTIONS[category].format(
        a=names.get(dyad.alleged or "", "unidentified armed men"),
        t=names.get(dyad.target or "", "civilians"),
        p=place.name,
    )
    return new_row(
        Incident,
        {
            "id": ids(),
            "occurred_at": occurred,
            "category": category,
            "latitude": round(place.latitude + rng.uniform(-0.05, 0.05), 4),
            "longitude": round(place.longitude + rng.uniform(-0.05, 0.05), 4),
            "location_name": place.name,
            "admin1": place.admin1,
            "admin2": place.admin2,
            "alleged_party_id": data.party_ids.get(dyad.alleged or ""),
            "target_party_id": data.party_ids.get(dyad.target or ""),
            "fatalities": fatalities,
            "injuries": injuries,
            "source_type": _pick(rng, _SOURCES),
            "description": f"{S.LABEL}. {description}",
            "sensitivity": _pick(rng, _SENSITIVITY),
            "reported_at": reported,
            "reported_by": rng.choice(S.TEAMS),
            "received_at": received,
            "updated_at": received,
        },
    )


def _incident_history(
    data: DemoData, rng: random.Random, ids: Ids, row: dict[str, Any], share: float
) -> None:
    draws = [rng.random() for _ in range(6)]  # fixed number per incident: later ones stay stable
    review = 0.3 + 4 * draws[0]
    close = review + 2 + 19 * draws[1]
    if draws[2] < 0.03:
        end = (WorkflowStatus.duplicate, Finding.unverified)
    elif draws[2] < 0.06:
        end = (WorkflowStatus.rejected, Finding.unverified)
    elif draws[2] < 0.06 + share * 0.94:
        end = (WorkflowStatus.closed, Finding.verified)
    elif draws[2] < 0.06 + (share + (1 - share) / 2) * 0.94:
        end = (WorkflowStatus.closed, Finding.refuted)
    else:
        end = (WorkflowStatus.closed, Finding.disputed)
    # Verified: attributable to the alleged party most of the time, else "could not be attributed".
    attributed = row["alleged_party_id"] if draws[3] < 0.88 else None
    steps = [
        (review, WorkflowStatus.in_review, Finding.unverified, "interview"),
        (close, *end, "site_visit" if draws[4] < 0.6 else "joint_mechanism_meeting"),
    ]
    if end[1] is Finding.disputed and draws[5] < 0.3:  # revisited at a JMC meeting
        steps.append(
            (close + 14, WorkflowStatus.closed, Finding.verified, "joint_mechanism_meeting")
        )
    team = S.VERIFIERS[int(draws[4] * len(S.VERIFIERS)) % len(S.VERIFIERS)]
    _verify(data, ids, row, "incident_id", row["received_at"], steps, attributed, team=team)


def by_table(data: DemoData) -> dict[str, list[dict[str, Any]]]:
    """Rows keyed by table name (for tests and summaries)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for table, rows in data.rows.items():
        out[table.__tablename__].extend(rows)  # type: ignore[attr-defined]
    return dict(out)
