"""What an import reports: counts, and each rejected or changed row with its line in the file."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field


class RowProblem(BaseModel):
    line: int = Field(description="Physical line of the file the row starts on (the header is 1)")
    external_id: str | None = Field(default=None, description="The event's id, when it was read")
    reason: str


class RowChange(BaseModel):
    line: int
    external_id: str
    incident_id: uuid.UUID
    changes: dict[str, list[Any]] = Field(description="field: [before, after]")


class ImportReport(BaseModel):
    source: str = Field(description="`ACLED` or `UCDP GED`")
    dataset: str = Field(description="`source_dataset` of the incidents: `acled`, `ucdp_ged`")
    encoding: str = "utf-8"
    hxl_tags: bool = Field(default=False, description="The file had an HXL hashtag row")
    rows: int = Field(
        default=0, description="Data rows read: created + updated + unchanged + rejected"
    )
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[RowProblem] = Field(
        default_factory=list, description="Rejected rows, the first 1000, in file order"
    )
    changes: list[RowChange] = Field(
        default_factory=list, description="Updated rows and what changed, the first 1000"
    )
    parties_created: list[str] = Field(default_factory=list)
    unlinked_actors: int = Field(
        default=0,
        description="Actor mentions that matched no party's name or alias (left unlinked)",
    )
    unlinked_actor_names: dict[str, int] = Field(
        default_factory=dict, description="The 50 most frequent unlinked actors"
    )
    elapsed_s: float = 0.0
