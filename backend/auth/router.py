"""/api/v1/tokens: admins make, list and revoke API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request

from backend.auth import service
from backend.auth.models import TokenCreate, TokenCreated, TokenPublic
from backend.deps import SessionDep, TokenManager
from backend.schemas import Page, responses

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=201, response_model=TokenCreated, responses=responses(403, 409))
def create_token(data: TokenCreate, session: SessionDep, _: TokenManager) -> object:
    token, secret = service.create_token(
        session=session, name=data.name, role=data.role, expires_at=data.expires_at
    )
    return TokenCreated(**TokenPublic.model_validate(token).model_dump(), token=secret)


@router.get("", response_model=Page[TokenPublic], responses=responses(403))
def list_tokens(session: SessionDep, _: TokenManager) -> object:
    return {"items": service.list_tokens(session=session), "next_cursor": None}


@router.delete("/{name}", response_model=TokenPublic, responses=responses(403, 404))
def revoke_token(name: str, request: Request, session: SessionDep, _: TokenManager) -> object:
    token = service.revoke_token(session=session, name=name)
    session.commit()  # then forget: a request in between must not cache it again as valid
    request.app.state.token_cache.forget(name)
    return token
