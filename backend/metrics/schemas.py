"""The shapes of the measures: what the pure functions return and the API answers."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from backend.metrics.window import WindowPublic
from backend.vocab import CommitmentCategory, ImplementationLevel


class PartyRef(BaseModel):
    # Frozen: one instance per party is kept across requests (queries.parties) and shared.
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    code: str
    name: str


class ValuePoint(BaseModel):
    on: date = Field(description="Last day of the series step")
    value: float | None


class Component(BaseModel):
    """One part of an index: `contribution` = 100 x `weight` x `score`; they sum to the index."""

    name: str
    score: float | None = Field(description="0-1, higher is better; null: no evidence")
    weight: float = Field(description="Effective weight (0 when left out for lack of evidence)")
    contribution: float = Field(description="Points this component adds to the 0-100 index")
    counts: dict[str, float] = Field(default_factory=dict, description="The inputs behind it")


# Implementation (Peace Accords Matrix)


class LevelShares(BaseModel):
    total: int = Field(description="Commitments counted")
    counts: dict[ImplementationLevel, int]
    shares: dict[ImplementationLevel, float] = Field(description="Fractions 0-1 of `total`")
    percent: dict[ImplementationLevel, int] = Field(
        description="Whole percentages as PAM publishes them (largest remainder; they sum to 100)"
    )
    score: float = Field(description="PAM's weighted score: mean level (0-3) as a percentage")


class ImplementationPoint(BaseModel):
    on: date
    levels: LevelShares


class OverdueCommitment(BaseModel):
    id: uuid.UUID
    agreement_id: uuid.UUID
    reference: str | None
    title: str
    category: CommitmentCategory
    due_on: date
    level: ImplementationLevel
    days_overdue: int
    party_ids: list[uuid.UUID]


class AgreementImplementation(BaseModel):
    agreement_id: uuid.UUID
    name: str
    overall: LevelShares
    by_category: dict[CommitmentCategory, LevelShares]
    by_party: dict[uuid.UUID, LevelShares]
    series: list[ImplementationPoint]
    overdue: list[OverdueCommitment]


class ImplementationReport(BaseModel):
    window: WindowPublic
    as_of: date = Field(description="Levels are read at the end of this day (the window's end)")
    agreements: list[AgreementImplementation]


# Compliance


class CommitmentCounts(BaseModel):
    due: int = Field(description="Commitments of the party due by the day measured")
    levels: dict[ImplementationLevel, int] = Field(description="Levels of the due commitments")
    overdue: int
    not_yet_due: int


class ViolationCounts(BaseModel):
    incidents: int = Field(description="Verified incidents attributed to the party")
    fatalities: int
    severity_points: float
    by_category: dict[str, int]


class PartyCompliance(BaseModel):
    party: PartyRef
    index: float = Field(description="0-100")
    components: list[Component]
    commitments: CommitmentCounts
    violations: ViolationCounts
    trend: float | None = Field(description="Last series value minus the first, in points")
    direction: str = Field(description="`rising`, `falling` or `steady` (within 1 point)")
    series: list[ValuePoint]


class ComplianceReport(BaseModel):
    window: WindowPublic
    series_window_days: int = Field(description="Each series point covers the trailing days")
    parties: list[PartyCompliance]


# Trust


class PairTrust(BaseModel):
    party_a_id: uuid.UUID
    party_b_id: uuid.UUID
    value: float = Field(description="0-100; the sum of the components' contributions")
    components: list[Component]
    previous_value: float = Field(description="The same measure compare_days earlier")
    change: float
    component_changes: dict[str, float] = Field(
        description="Change of each component's contribution since compare_days earlier: "
        "why the value moved"
    )
    series: list[ValuePoint]


class TrustReport(BaseModel):
    window: WindowPublic
    half_life_days: float
    compare_days: int
    parties: list[PartyRef]
    overall: float | None = Field(description="Mean of the pairs' values")
    overall_series: list[ValuePoint]
    matrix: list[list[float | None]] = Field(
        description="Row i, column j: trust between parties[i] and parties[j] (null on the "
        "diagonal)"
    )
    pairs: list[PairTrust]


# DDR


class DdrProgress(BaseModel):
    key: str = Field(description="The indicator, phase, party id or site this line is about")
    target: int = Field(
        description="Sum of the targets (of several indicators: mixed units, read `progress`)"
    )
    achieved: int = Field(description="Sum achieved (of several indicators: mixed units)")
    progress: float | None = Field(
        description="One indicator: achieved / target. Several (a phase, party, site, all): the "
        "mean of their achieved / target, each capped at 1. Null without a target"
    )
    indicators: int = Field(description="Indicators with a target in this line")
    indicators_met: int = Field(description="Of those, how many reached their target")
    verified: int
    verified_share: float | None
    women: int
    men: int
    boys: int
    girls: int


class DdrPoint(BaseModel):
    on: date = Field(description="Last day of the series step")
    achieved: int = Field(description="Achieved in the step")
    cumulative: int = Field(description="Achieved since the window began, to the end of the step")


class DdrReport(BaseModel):
    window: WindowPublic
    overall: DdrProgress
    by_indicator: list[DdrProgress]
    by_phase: list[DdrProgress]
    by_party: list[DdrProgress]
    by_site: list[DdrProgress]
    series: dict[str, list[DdrPoint]] = Field(description="Cumulative achievement per indicator")


# Verification funnel


class QueueItem(BaseModel):
    id: uuid.UUID
    occurred_at: str
    category: str
    admin1: str | None
    status: str
    age_days: float = Field(description="Days since the report was received")


class VerificationReport(BaseModel):
    window: WindowPublic
    incidents: int
    by_status: dict[str, int]
    by_finding: dict[str, int]
    queue_total: int = Field(description="Incidents still `received` or `in_review`")
    queue_oldest: list[QueueItem] = Field(description="The oldest of the queue, oldest first")
    verified_count: int = Field(description="Incidents with a finding, timed")
    median_days_to_verify: float | None
    p90_days_to_verify: float | None


# Tracks


class TrackLine(BaseModel):
    key: str
    total: int
    by_outcome: dict[str, int]
    held_share: float | None = Field(description="(held + agreement_reached) / total")
    cancelled_share: float | None = Field(description="(cancelled + postponed) / total")


class TrackPoint(BaseModel):
    on: date = Field(description="First day of the series step")
    by_track: dict[str, int]
    held: int
    cancelled_or_postponed: int


class TracksReport(BaseModel):
    window: WindowPublic
    overall: TrackLine
    by_track: list[TrackLine]
    by_party: list[TrackLine]
    series: list[TrackPoint]


# Incidents


class CountLine(BaseModel):
    key: str | None
    incidents: int
    fatalities: int


class Hotspot(BaseModel):
    admin1: str | None
    admin2: str | None
    incidents: int
    fatalities: int
    previous_incidents: int = Field(description="In the window of the same length just before")


class IncidentPoint(BaseModel):
    on: date = Field(description="First day of the series step")
    incidents: int
    fatalities: int


class IncidentsReport(BaseModel):
    window: WindowPublic
    incidents: int
    fatalities: int
    series: list[IncidentPoint]
    by_category: list[CountLine]
    by_region: list[CountLine]
    by_party: list[CountLine] = Field(description="By alleged party (null: none named)")
    hotspots: list[Hotspot]


# Alerts


class Alert(BaseModel):
    id: str = Field(description="Stable for the same condition on the same day: dedupe on it")
    kind: str = Field(
        description="`incident_spike`, `compliance_drop`, `overdue_commitment` or "
        "`possible_spoiler`"
    )
    subject: str = Field(description="The region, party id or commitment id concerned")
    title: str
    reason: str = Field(description="Why it fired, with the numbers")
    values: dict[str, float]
    links: list[str] = Field(description="API paths of the records behind it")


class AlertsReport(BaseModel):
    window: WindowPublic
    alerts: list[Alert]
