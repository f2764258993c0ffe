"""/api/v1/perception-surveys: analysts and admins record them; every reader lists them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from backend.deps import Reader, SessionDep, SettingsDep, Verifier
from backend.pagination import check_limit
from backend.schemas import Page, responses
from backend.surveys import service
from backend.surveys.models import PerceptionSurveyCreate, PerceptionSurveyPublic
from backend.surveys.service import SurveyFilters

router = APIRouter(prefix="/perception-surveys", tags=["surveys"])


@router.post("", status_code=201, response_model=PerceptionSurveyPublic, responses=responses(403))
def create_survey(data: PerceptionSurveyCreate, session: SessionDep, principal: Verifier) -> object:
    """Record a survey's result: how far `respondent_party_id`'s side trusts `trusted_party_id`,
    on SCORE's 0-10 scale. It enters the trust index's perception component for that pair."""
    return service.create_survey(session=session, principal=principal, data=data)


@router.get("", response_model=Page[PerceptionSurveyPublic], responses=responses(403))
def list_surveys(
    filters: Annotated[SurveyFilters, Query()],
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
) -> object:
    return service.list_surveys(
        session=session, filters=filters, limit=check_limit(filters.limit, settings)
    )


@router.get("/{survey_id}", response_model=PerceptionSurveyPublic, responses=responses(403, 404))
def get_survey(survey_id: uuid.UUID, session: SessionDep, _: Reader) -> object:
    return service.get_survey(session=session, survey_id=survey_id)
