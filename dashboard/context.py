"""What a page callback reads: who is signed in, the settings, and a read-only database session.

The guard in `dashboard.app` has checked the session cookie before any callback runs, so a
callback never sees a signed-out request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import flask
from sqlmodel import Session

from backend.auth.service import Principal
from backend.config import Settings
from dashboard.auth import Sessions
from dashboard.prefetch import Prefetches
from dashboard.shared import SharedReads

SESSIONS_KEY = "PEACEWATCH_SESSIONS"
COMPRESSOR_KEY = "PEACEWATCH_STATIC_COMPRESSOR"
SHARED_KEY = "PEACEWATCH_SHARED_READS"
PREFETCH_KEY = "PEACEWATCH_PREFETCHES"


def sessions() -> Sessions:
    return flask.current_app.config[SESSIONS_KEY]


def principal() -> Principal:
    return flask.g.principal


def shared() -> SharedReads:
    return flask.current_app.config[SHARED_KEY]


def prefetches() -> Prefetches:
    return flask.current_app.config[PREFETCH_KEY]


def settings() -> Settings:
    return sessions().settings


@contextmanager
def reading() -> Iterator[Session]:
    with sessions().db.session(write=False) as session:
        yield session
