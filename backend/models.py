"""Every table, imported once so that `SQLModel.metadata` is complete (for Alembic and tests)."""

from sqlmodel import SQLModel

from backend.agreements.models import (
    Agreement,
    AgreementParty,
    Commitment,
    CommitmentParty,
    CommitmentProgress,
)
from backend.audit.models import AuditEntry
from backend.auth.models import ApiToken
from backend.ddr.models import DdrMilestone, DdrTarget
from backend.diplomacy.models import TrackActivity, TrackActivityParty
from backend.incidents.models import Incident
from backend.ingest.models import IdempotencyKey
from backend.metrics.models import (
    AlertSeen,
    IncidentDayRollup,
    VerifyDelay,
    ViolationDayRollup,
)
from backend.parties.models import Party
from backend.surveys.models import PerceptionSurvey
from backend.verification.models import VerificationEvent

metadata = SQLModel.metadata

__all__ = [
    "Agreement",
    "AgreementParty",
    "AlertSeen",
    "ApiToken",
    "AuditEntry",
    "Commitment",
    "CommitmentParty",
    "CommitmentProgress",
    "DdrMilestone",
    "DdrTarget",
    "IdempotencyKey",
    "Incident",
    "IncidentDayRollup",
    "Party",
    "PerceptionSurvey",
    "TrackActivity",
    "TrackActivityParty",
    "VerificationEvent",
    "VerifyDelay",
    "ViolationDayRollup",
    "metadata",
]
