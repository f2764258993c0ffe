"""/api/v1/agreements, /api/v1/commitments and /api/v1/commitments/{id}/progress"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from backend.agreements import service
from backend.agreements.models import (
    AgreementCreate,
    AgreementPublic,
    AgreementUpdate,
    CommitmentCreate,
    CommitmentProgressCreate,
    CommitmentProgressPublic,
    CommitmentPublic,
    CommitmentUpdate,
)
from backend.agreements.service import AgreementFilters, CommitmentFilters
from backend.deps import AgreementManager, ProgressRecorder, Reader, SessionDep, SettingsDep
from backend.pagination import check_limit
from backend.schemas import Page, responses

router = APIRouter(tags=["agreements"])


@router.post(
    "/agreements", status_code=201, response_model=AgreementPublic, responses=responses(403, 409)
)
def create_agreement(data: AgreementCreate, session: SessionDep, _: AgreementManager) -> object:
    return service.create_agreement(session=session, data=data)


@router.get("/agreements", response_model=Page[AgreementPublic], responses=responses(403))
def list_agreements(
    filters: Annotated[AgreementFilters, Query()],
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
) -> object:
    return service.list_agreements(
        session=session, filters=filters, limit=check_limit(filters.limit, settings)
    )


@router.get(
    "/agreements/{agreement_id}", response_model=AgreementPublic, responses=responses(403, 404)
)
def get_agreement(agreement_id: uuid.UUID, session: SessionDep, _: Reader) -> object:
    return service.get_agreement(session=session, agreement_id=agreement_id)


@router.patch(
    "/agreements/{agreement_id}",
    response_model=AgreementPublic,
    responses=responses(403, 404, 409),
)
def update_agreement(
    agreement_id: uuid.UUID, data: AgreementUpdate, session: SessionDep, _: AgreementManager
) -> object:
    return service.update_agreement(session=session, agreement_id=agreement_id, data=data)


@router.post(
    "/commitments", status_code=201, response_model=CommitmentPublic, responses=responses(403)
)
def create_commitment(data: CommitmentCreate, session: SessionDep, _: AgreementManager) -> object:
    return service.create_commitment(session=session, data=data)


@router.get("/commitments", response_model=Page[CommitmentPublic], responses=responses(403))
def list_commitments(
    filters: Annotated[CommitmentFilters, Query()],
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
) -> object:
    return service.list_commitments(
        session=session, filters=filters, limit=check_limit(filters.limit, settings)
    )


@router.get(
    "/commitments/{commitment_id}", response_model=CommitmentPublic, responses=responses(403, 404)
)
def get_commitment(commitment_id: uuid.UUID, session: SessionDep, _: Reader) -> object:
    return service.get_commitment(session=session, commitment_id=commitment_id)


@router.patch(
    "/commitments/{commitment_id}", response_model=CommitmentPublic, responses=responses(403, 404)
)
def update_commitment(
    commitment_id: uuid.UUID, data: CommitmentUpdate, session: SessionDep, _: AgreementManager
) -> object:
    return service.update_commitment(session=session, commitment_id=commitment_id, data=data)


@router.post(
    "/commitments/{commitment_id}/progress",
    status_code=201,
    response_model=CommitmentProgressPublic,
    responses=responses(403, 404),
)
def add_progress(
    commitment_id: uuid.UUID,
    data: CommitmentProgressCreate,
    session: SessionDep,
    principal: ProgressRecorder,
) -> object:
    return service.add_progress(
        session=session, principal=principal, commitment_id=commitment_id, data=data
    )


@router.get(
    "/commitments/{commitment_id}/progress",
    response_model=Page[CommitmentProgressPublic],
    responses=responses(403, 404),
)
def list_progress(commitment_id: uuid.UUID, session: SessionDep, _: Reader) -> object:
    history = service.list_progress(session=session, commitment_id=commitment_id)
    return {"items": history, "next_cursor": None}
