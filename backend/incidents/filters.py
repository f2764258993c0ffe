"""The incident filters that the API, the dashboard and the exports share."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import col

from backend.incidents.models import Incident
from backend.schemas import UtcDatetime
from backend.vocab import Finding, IncidentCategory, WorkflowStatus


class BBox(BaseModel):
    min_lon: float = Field(ge=-180, le=180)
    min_lat: float = Field(ge=-90, le=90)
    max_lon: float = Field(ge=-180, le=180)
    max_lat: float = Field(ge=-90, le=90)


def parse_bbox(text: str) -> BBox:
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError("bbox is min_lon,min_lat,max_lon,max_lat (four numbers, WGS 84)")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError:
        raise ValueError("bbox values must be numbers") from None
    box = BBox(min_lon=min_lon, min_lat=min_lat, max_lon=max_lon, max_lat=max_lat)
    if box.min_lat > box.max_lat:
        raise ValueError("bbox min_lat is greater than max_lat")
    return box


class IncidentFilters(BaseModel):
    """Query parameters of `GET /incidents` (unknown parameters are refused, not ignored)."""

    model_config = ConfigDict(extra="forbid")

    occurred_from: UtcDatetime | None = Field(default=None, description="Inclusive, ISO 8601")
    occurred_to: UtcDatetime | None = Field(default=None, description="Exclusive, ISO 8601")
    party_id: uuid.UUID | None = Field(
        default=None, description="Alleged, targeted or attributed party"
    )
    category: list[IncidentCategory] = Field(default_factory=list)
    status: list[WorkflowStatus] = Field(default_factory=list)
    finding: list[Finding] = Field(default_factory=list)
    admin1: str | None = Field(default=None, max_length=100, description="Region (province/state)")
    bbox: str | None = Field(
        default=None,
        max_length=200,
        description="min_lon,min_lat,max_lon,max_lat; a box across the antimeridian has "
        "min_lon > max_lon",
        examples=["29.5,4.0,31.8,6.2"],
    )
    cursor: str | None = Field(default=None, max_length=500)
    limit: int | None = Field(default=None, ge=1)

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, value: str | None) -> str | None:
        if value is not None:
            parse_bbox(value)
        return value

    def where(self) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = []
        if self.occurred_from is not None:
            clauses.append(col(Incident.occurred_at) >= self.occurred_from)
        if self.occurred_to is not None:
            clauses.append(col(Incident.occurred_at) < self.occurred_to)
        if self.party_id is not None:
            clauses.append(
                sa.or_(
                    col(Incident.alleged_party_id) == self.party_id,
                    col(Incident.target_party_id) == self.party_id,
                    col(Incident.attributed_party_id) == self.party_id,
                )
            )
        if self.category:
            clauses.append(col(Incident.category).in_(self.category))
        if self.status:
            clauses.append(col(Incident.status).in_(self.status))
        if self.finding:
            clauses.append(col(Incident.finding).in_(self.finding))
        if self.admin1:
            clauses.append(col(Incident.admin1) == self.admin1)
        if self.bbox:
            box = parse_bbox(self.bbox)
            clauses.append(col(Incident.latitude).between(box.min_lat, box.max_lat))
            if box.min_lon <= box.max_lon:
                clauses.append(col(Incident.longitude).between(box.min_lon, box.max_lon))
            else:
                clauses.append(
                    sa.or_(
                        col(Incident.longitude) >= box.min_lon,
                        col(Incident.longitude) <= box.max_lon,
                    )
                )
        return clauses
