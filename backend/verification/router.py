"""/api/v1/incidents/{id}/verifications and /api/v1/ddr/milestones/{id}/verifications"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from backend.deps import Reader, SessionDep, Verifier
from backend.ingest.single import SingleCreateDep, replay_responses
from backend.schemas import Page, responses
from backend.verification import service
from backend.verification.models import VerificationCreate, VerificationPublic

router = APIRouter(tags=["verification"])


@router.post(
    "/incidents/{incident_id}/verifications",
    status_code=201,
    response_model=VerificationPublic,
    responses={**responses(403, 404, 409), **replay_responses(VerificationPublic)},
)
async def add_incident_verification(
    incident_id: uuid.UUID, data: VerificationCreate, _: Verifier, single: SingleCreateDep
) -> Response:
    return await single.create("incident_verification", data, subject_id=incident_id)


@router.get(
    "/incidents/{incident_id}/verifications",
    response_model=Page[VerificationPublic],
    responses=responses(403, 404),
)
def list_incident_verifications(
    incident_id: uuid.UUID, session: SessionDep, principal: Reader
) -> object:
    events = service.list_incident_verifications(
        session=session, principal=principal, incident_id=incident_id
    )
    return {"items": events, "next_cursor": None}


@router.post(
    "/ddr/milestones/{milestone_id}/verifications",
    status_code=201,
    response_model=VerificationPublic,
    responses={**responses(403, 404, 409), **replay_responses(VerificationPublic)},
)
async def add_milestone_verification(
    milestone_id: uuid.UUID, data: VerificationCreate, _: Verifier, single: SingleCreateDep
) -> Response:
    return await single.create("ddr_milestone_verification", data, subject_id=milestone_id)


@router.get(
    "/ddr/milestones/{milestone_id}/verifications",
    response_model=Page[VerificationPublic],
    responses=responses(403, 404),
)
def list_milestone_verifications(milestone_id: uuid.UUID, session: SessionDep, _: Reader) -> object:
    events = service.list_milestone_verifications(session=session, milestone_id=milestone_id)
    return {"items": events, "next_cursor": None}
