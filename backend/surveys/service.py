"""Recording and listing perception surveys."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from backend.auth.service import Principal
from backend.db import utcnow
from backend.errors import InvalidInput
from backend.pagination import keyset_page, parse_date
from backend.parties.service import require_parties
from backend.records import get_or_404
from backend.schemas import IsoDate
from backend.surveys.models import PerceptionSurvey, PerceptionSurveyCreate
from backend.validation import check_past_date


class SurveyFilters(BaseModel):
    """Query parameters of `GET /perception-surveys` (unknown parameters are refused)."""

    model_config = ConfigDict(extra="forbid")

    party_id: uuid.UUID | None = Field(
        default=None, description="Surveys in which this party is either side"
    )
    admin1: str | None = Field(default=None, max_length=100)
    surveyed_from: IsoDate | None = Field(default=None, description="Inclusive")
    surveyed_to: IsoDate | None = Field(default=None, description="Inclusive")
    cursor: str | None = Field(default=None, max_length=500)
    limit: int | None = Field(default=None, ge=1)

    def where(self) -> list[sa.ColumnElement[bool]]:
        s = PerceptionSurvey
        if self.surveyed_from and self.surveyed_to and self.surveyed_from > self.surveyed_to:
            raise InvalidInput("surveyed_from is after surveyed_to", field="surveyed_from")
        clauses: list[sa.ColumnElement[bool]] = []
        if self.party_id is not None:
            clauses.append(
                sa.or_(
                    col(s.respondent_party_id) == self.party_id,
                    col(s.trusted_party_id) == self.party_id,
                )
            )
        if self.admin1 is not None:
            clauses.append(col(s.admin1) == self.admin1)
        if self.surveyed_from is not None:
            clauses.append(col(s.surveyed_on) >= self.surveyed_from)
        if self.surveyed_to is not None:
            clauses.append(col(s.surveyed_on) <= self.surveyed_to)
        return clauses


def create_survey(
    *, session: Session, principal: Principal, data: PerceptionSurveyCreate
) -> PerceptionSurvey:
    check_past_date(data.surveyed_on, field="surveyed_on", today=utcnow().date())
    require_parties(
        session,
        {
            "respondent_party_id": data.respondent_party_id,
            "trusted_party_id": data.trusted_party_id,
        },
    )
    survey = PerceptionSurvey.model_validate(data, update={"recorded_by": principal.name})
    session.add(survey)
    session.flush()
    return survey


def get_survey(*, session: Session, survey_id: uuid.UUID) -> PerceptionSurvey:
    return get_or_404(session, PerceptionSurvey, survey_id, "perception survey")


def list_surveys(*, session: Session, filters: SurveyFilters, limit: int) -> dict[str, Any]:
    """Newest fieldwork first."""
    return keyset_page(
        session,
        select(PerceptionSurvey).where(*filters.where()),
        keys=[col(PerceptionSurvey.surveyed_on), col(PerceptionSurvey.id)],
        parsers=[parse_date, uuid.UUID],
        cursor=filters.cursor,
        limit=limit,
        key_of=lambda s: (s.surveyed_on, s.id),
    )
