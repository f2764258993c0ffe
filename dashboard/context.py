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

SESSIONS_KEY = "PEACEWATCH_SESSIONS"


def sessions() -> Sessions:
    return flask.current_app.config[SESSIONS_KEY]


def principal() -> Principal:
    return flask.g.principal


def settings() -> Settings:
    return sessions().settings


@contextmanager
def reading() -> Iterator[Session]:
    with sessions().db.session(write=False) as session:
        yield session
