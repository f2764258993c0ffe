"""/api/v1/metrics/... and /api/v1/alerts: the measures, for every role that reads records.

Reporters and viewers get the same measures, counted over the incidents they may read (the rule
of `GET /api/v1/incidents`); analysts and admins count every incident. Each answer says which in
`window.incidents_counted`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.deps import Reader, SessionDep, SettingsDep
from backend.metrics import service
from backend.metrics.schemas import (
    AlertsReport,
    ComplianceReport,
    DdrReport,
    ImplementationReport,
    IncidentsReport,
    TracksReport,
    TrustReport,
    VerificationReport,
)
from backend.metrics.service import ImplementationFilters, TrustFilters
from backend.metrics.window import MetricFilters
from backend.schemas import responses

router = APIRouter(tags=["metrics"])
Filters = Annotated[MetricFilters, Query()]


@router.get(
    "/metrics/implementation", response_model=ImplementationReport, responses=responses(403)
)
def implementation(
    filters: Annotated[ImplementationFilters, Query()],
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
) -> object:
    """Peace Accords Matrix implementation of each agreement: the share of commitments at each
    level at `date_to`, overall, by category and by party, the series, and the overdue ones."""
    return service.implementation(
        session=session, principal=principal, settings=settings, filters=filters
    )


@router.get("/metrics/compliance", response_model=ComplianceReport, responses=responses(403))
def compliance(
    filters: Filters, session: SessionDep, settings: SettingsDep, principal: Reader
) -> object:
    """Compliance index (0-100) per party: commitments kept by their due dates and verified
    violations attributed to it, with the components, counts, trend and series."""
    return service.compliance(
        session=session, principal=principal, settings=settings, filters=filters
    )


@router.get("/metrics/trust", response_model=TrustReport, responses=responses(403))
def trust(
    filters: Annotated[TrustFilters, Query()],
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
) -> object:
    """Trust index (0-100) per pair of parties and overall, as a matrix and a series; every value
    broken down into its components and their change since `compare_days` ago."""
    return service.trust(session=session, principal=principal, settings=settings, filters=filters)


@router.get("/metrics/ddr", response_model=DdrReport, responses=responses(403))
def ddr(filters: Filters, session: SessionDep, settings: SettingsDep, principal: Reader) -> object:
    """DDR achieved against target per indicator, phase, party and site, with the sex and age
    breakdown, the verified share and the cumulative series."""
    return service.ddr(session=session, principal=principal, settings=settings, filters=filters)


@router.get("/metrics/verification", response_model=VerificationReport, responses=responses(403))
def verification(
    filters: Filters, session: SessionDep, settings: SettingsDep, principal: Reader
) -> object:
    """The verification funnel of the window's incidents: counts by workflow state and finding,
    the queue and its oldest items, median and 90th-percentile days to a finding."""
    return service.verification(
        session=session, principal=principal, settings=settings, filters=filters
    )


@router.get("/metrics/tracks", response_model=TracksReport, responses=responses(403))
def tracks(
    filters: Filters, session: SessionDep, settings: SettingsDep, principal: Reader
) -> object:
    """Track activities per track, outcome and party over time; the share held and lapsed."""
    return service.tracks(session=session, principal=principal, settings=settings, filters=filters)


@router.get("/metrics/incidents", response_model=IncidentsReport, responses=responses(403))
def incidents(
    filters: Filters, session: SessionDep, settings: SettingsDep, principal: Reader
) -> object:
    """Incidents and fatalities per day, category, region and party, and the hotspots."""
    return service.incidents(
        session=session, principal=principal, settings=settings, filters=filters
    )


@router.get("/alerts", response_model=AlertsReport, responses=responses(403))
def alerts(
    filters: Filters, session: SessionDep, settings: SettingsDep, principal: Reader
) -> object:
    """Early warning at `date_to`: incident spikes, compliance drops, overdue commitments and
    possible spoilers, each with why it fired and links to the records behind it."""
    return service.alerts(session=session, principal=principal, settings=settings, filters=filters)
