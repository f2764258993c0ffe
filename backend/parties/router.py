"""/api/v1/parties"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from backend.deps import PartyManager, Reader, SessionDep, SettingsDep
from backend.pagination import check_limit
from backend.parties import service
from backend.parties.models import PartyCreate, PartyPublic, PartyUpdate
from backend.schemas import Page, responses
from backend.vocab import PartyKind

router = APIRouter(prefix="/parties", tags=["parties"])


@router.post("", status_code=201, response_model=PartyPublic, responses=responses(403, 409))
def create_party(data: PartyCreate, session: SessionDep, _: PartyManager) -> object:
    return service.create_party(session=session, data=data)


@router.get("", response_model=Page[PartyPublic], responses=responses(403))
def list_parties(
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
    kind: PartyKind | None = None,
    signatory: bool | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name or code")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> object:
    return service.list_parties(
        session=session,
        kind=kind,
        signatory=signatory,
        q=q,
        cursor=cursor,
        limit=check_limit(limit, settings),
    )


@router.get("/{party_id}", response_model=PartyPublic, responses=responses(403, 404))
def get_party(party_id: uuid.UUID, session: SessionDep, _: Reader) -> object:
    return service.get_party(session=session, party_id=party_id)


@router.patch("/{party_id}", response_model=PartyPublic, responses=responses(403, 404, 409))
def update_party(
    party_id: uuid.UUID, data: PartyUpdate, session: SessionDep, _: PartyManager
) -> object:
    return service.update_party(session=session, party_id=party_id, data=data)
