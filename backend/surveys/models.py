"""Perception surveys, after UNDP's SCORE index: how far respondents of one side trust another
party, on SCORE's 0-10 scale. The trust index reads them as its perception component."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from pydantic import model_validator
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow
from backend.schemas import FieldValueError, InputModel, NonBlank, Text


class PerceptionSurveyBase(SQLModel):
    respondent_party_id: uuid.UUID = Field(
        foreign_key="party.id",
        description="The party whose members or constituency answered (the side that trusts)",
    )
    trusted_party_id: uuid.UUID = Field(
        foreign_key="party.id", description="The party the respondents were asked about"
    )
    surveyed_on: date = Field(description="Last day of fieldwork")
    score: float = Field(ge=0, le=10, description="Mean reported trust on SCORE's 0-10 scale")
    respondents: int | None = Field(default=None, ge=1, le=10_000_000, description="Sample size")
    respondent_group: str | None = Field(
        default=None, max_length=200, description="Who answered, e.g. `Bor County returnees`"
    )
    admin1: str | None = Field(default=None, max_length=100, description="Region surveyed")
    source: str = Field(
        min_length=1, max_length=300, description="Survey and round, e.g. `SCORE 2026`"
    )
    notes: str = Field(default="", max_length=10_000, sa_type=sa.Text)


class PerceptionSurvey(PerceptionSurveyBase, table=True):
    __tablename__ = "perception_survey"
    __table_args__ = (
        sa.Index("ix_perception_survey_surveyed_on", "surveyed_on"),
        sa.Index(
            "ix_perception_survey_pair", "respondent_party_id", "trusted_party_id", "surveyed_on"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    recorded_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PerceptionSurveyCreate(PerceptionSurveyBase, InputModel):
    respondent_group: Text | None = Field(default=None, max_length=200)
    admin1: Text | None = Field(default=None, max_length=100)
    source: NonBlank = Field(min_length=1, max_length=300)
    notes: Text = Field(default="", max_length=10_000)

    @model_validator(mode="after")
    def _check(self) -> PerceptionSurveyCreate:
        if not self.source:  # only spaces, stripped after the length check
            raise FieldValueError("source must name the survey", field="source")
        if self.respondent_party_id == self.trusted_party_id:
            raise FieldValueError(
                "trusted_party_id must differ from respondent_party_id (trust in another party)",
                field="trusted_party_id",
            )
        return self


class PerceptionSurveyPublic(PerceptionSurveyBase):
    id: uuid.UUID
    recorded_by: str
    created_at: datetime
