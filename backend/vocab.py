"""Every controlled vocabulary in one place (DOMAIN.md fixes the values)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    reporter = "reporter"
    analyst = "analyst"
    viewer = "viewer"
    admin = "admin"


class PartyKind(StrEnum):
    state_force = "state_force"
    rebel_group = "rebel_group"
    militia = "militia"
    other = "other"


class IncidentCategory(StrEnum):
    armed_clash = "armed_clash"
    shelling = "shelling"
    attack_on_civilians = "attack_on_civilians"
    movement_of_forces = "movement_of_forces"
    weapons_in_restricted_zone = "weapons_in_restricted_zone"
    denial_of_access = "denial_of_access"
    blockage_of_aid = "blockage_of_aid"
    child_recruitment = "child_recruitment"
    sexual_violence = "sexual_violence"
    abduction = "abduction"
    hostile_propaganda = "hostile_propaganda"
    other = "other"


class DatePrecision(StrEnum):
    day = "day"
    week = "week"
    month = "month"


class GeoPrecision(StrEnum):
    """How close the coordinates are to the real place (after ACLED's geo_precision 1-3)."""

    exact = "exact"
    near = "near"  # within a few km, the nearest town
    region = "region"  # only the district or province is known


class SourceType(StrEnum):
    patrol = "patrol"
    observer = "observer"
    party_complaint = "party_complaint"
    civil_society = "civil_society"
    media = "media"
    sensor = "sensor"


class Sensitivity(StrEnum):
    public = "public"
    restricted = "restricted"
    confidential = "confidential"


class WorkflowStatus(StrEnum):
    received = "received"
    in_review = "in_review"
    closed = "closed"
    rejected = "rejected"
    duplicate = "duplicate"


class Finding(StrEnum):
    unverified = "unverified"
    verified = "verified"
    disputed = "disputed"
    refuted = "refuted"


class VerificationMethod(StrEnum):
    site_visit = "site_visit"
    patrol = "patrol"
    interview = "interview"
    imagery_review = "imagery_review"
    joint_mechanism_meeting = "joint_mechanism_meeting"
    document_review = "document_review"
    other = "other"


class DdrPhase(StrEnum):
    disarmament = "disarmament"
    demobilization = "demobilization"
    reinsertion = "reinsertion"
    reintegration = "reintegration"


class DdrIndicator(StrEnum):
    combatants_registered = "combatants_registered"
    combatants_disarmed = "combatants_disarmed"
    weapons_collected = "weapons_collected"
    weapons_destroyed = "weapons_destroyed"
    ammunition_collected = "ammunition_collected"  # rounds
    combatants_demobilized = "combatants_demobilized"
    reintegration_enrolled = "reintegration_enrolled"
    reintegration_completed = "reintegration_completed"


# The IDDRS phase each indicator reports on.
INDICATOR_PHASE: dict[DdrIndicator, DdrPhase] = {
    DdrIndicator.combatants_registered: DdrPhase.disarmament,
    DdrIndicator.combatants_disarmed: DdrPhase.disarmament,
    DdrIndicator.weapons_collected: DdrPhase.disarmament,
    DdrIndicator.weapons_destroyed: DdrPhase.disarmament,
    DdrIndicator.ammunition_collected: DdrPhase.disarmament,
    DdrIndicator.combatants_demobilized: DdrPhase.demobilization,
    DdrIndicator.reintegration_enrolled: DdrPhase.reintegration,
    DdrIndicator.reintegration_completed: DdrPhase.reintegration,
}


class Track(StrEnum):
    track_1 = "track_1"
    track_1_5 = "track_1_5"
    track_2 = "track_2"
    track_3 = "track_3"


class TrackActivityKind(StrEnum):
    formal_talks = "formal_talks"
    shuttle_diplomacy = "shuttle_diplomacy"
    consultation = "consultation"
    workshop = "workshop"
    dialogue = "dialogue"
    confidence_building_event = "confidence_building_event"


class TrackOutcome(StrEnum):
    held = "held"
    postponed = "postponed"
    cancelled = "cancelled"
    stalled = "stalled"
    agreement_reached = "agreement_reached"


class AgreementKind(StrEnum):
    ceasefire = "ceasefire"
    peace = "peace"
    ddr_protocol = "ddr_protocol"
    other = "other"


class CommitmentCategory(StrEnum):
    ceasefire = "ceasefire"
    withdrawal = "withdrawal"
    ddr = "ddr"
    confidence_building = "confidence_building"
    political = "political"
    humanitarian = "humanitarian"


class ImplementationLevel(StrEnum):
    """Peace Accords Matrix levels; `score` is PAM's 0-3."""

    not_initiated = "not_initiated"
    minimal = "minimal"
    intermediate = "intermediate"
    complete = "complete"

    @property
    def score(self) -> int:
        return _LEVEL_SCORES[self]


# PAM's 0-3 by level, counted once (a long series asks for it at every point).
_LEVEL_SCORES = {level: n for n, level in enumerate(ImplementationLevel)}
