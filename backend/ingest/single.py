"""A single create of a field record, as a router dependency: handed to the group writer."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import BaseModel

from backend.auth.service import Principal
from backend.deps import PrincipalDep
from backend.errors import DomainError
from backend.ingest.idempotency import KEY_HEADER, REPLAY_HEADER
from backend.ingest.writer import GroupWriter
from backend.schemas import ErrorBody, JsonAnswer

KeyHeader = Annotated[
    str | None,
    Header(
        alias=KEY_HEADER,
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (a UUID is best); a retry with the same key "
        "and body gets the original response, never a second record",
    ),
]


class SingleCreate:
    """Writes one record through the group writer and answers as its single POST promises:
    201 and the record; 200 and the original answer for a replay; or the refusal's error."""

    def __init__(self, writer: GroupWriter, principal: Principal, key: str | None) -> None:
        self.writer, self.principal, self.key = writer, principal, key

    async def create(
        self, kind: str, data: BaseModel, subject_id: uuid.UUID | None = None
    ) -> JsonAnswer:
        done = self.writer.submit(self.principal, kind, data, subject_id, self.key)
        entry = await asyncio.wrap_future(done)
        if entry.status == "created":
            return JsonAnswer(entry.body, status_code=201)
        if entry.status == "replayed":
            return JsonAnswer(entry.body, status_code=200, headers={REPLAY_HEADER: "true"})
        if entry.error is not None:
            raise entry.error
        raise DomainError(f"the record was not stored ({entry.status})")  # pragma: no cover


async def single_create(
    request: Request, principal: PrincipalDep, idempotency_key: KeyHeader = None
) -> SingleCreate:
    return SingleCreate(request.app.state.writer, principal, idempotency_key)


SingleCreateDep = Annotated[SingleCreate, Depends(single_create)]


def replay_responses(public: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entries a single create adds: its replay, and 503 while the server stops."""
    return {
        503: {"model": ErrorBody, "description": "Not taking records now (stopping); retry"},
        200: {
            "model": public,
            "description": f"A replay: the original response to the same {KEY_HEADER} or id",
            "headers": {REPLAY_HEADER: {"schema": {"type": "string"}}},
        },
    }
