"""The baseline of the single-post benchmark: FastAPI validating the same body, storing nothing.

Served by uvicorn in its own process exactly as the real server is (`python -m uvicorn
bench.bare_app:app`), so the difference between the two is PeaceWatch's own work: the token
check, the transaction, the insert, the audit entry and the idempotency bookkeeping.
"""

from __future__ import annotations

from fastapi import FastAPI

from backend.incidents.models import IncidentCreate

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


# A plain `def`, like the real route: both run in the thread pool.
@app.post("/api/v1/incidents", status_code=201)
def create_incident(data: IncidentCreate) -> IncidentCreate:
    return data
