"""Domain errors, raised by services. `backend.app` maps them to HTTP in one place."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    retry_after: int | None = None  # whole seconds the client should wait (`Retry-After`)

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """The request is well-formed but a field's value breaks a rule (an unknown party, a date...)."""

    status_code = 422


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class Unauthenticated(DomainError):
    status_code = 401


class RateLimited(DomainError):
    """The token used up its requests for the minute; `retry_after` is whole seconds to wait."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """The server cannot take the request now (stopping; a full disk or a read-only database,
    see `backend.dbfaults`); nothing of it was stored, and the client should retry after
    `retry_after` seconds."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
