"""Keyset (cursor) pagination: stable under inserts, fast at any depth."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from backend.config import Settings
from backend.errors import InvalidInput

T = TypeVar("T")


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, parsers: Sequence[Callable[[Any], Any]]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(parsers):
            raise ValueError
        return [parse(v) for parse, v in zip(parsers, values, strict=True)]
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "invalid cursor; pass the next_cursor of a previous page unchanged", field="cursor"
        ) from exc


def check_limit(limit: int | None, settings: Settings) -> int:
    if limit is None:
        return settings.page_size_default
    if limit > settings.page_size_max:
        raise InvalidInput(f"limit may be at most {settings.page_size_max}", field="limit")
    return limit


def keyset_page(
    session: Session,
    stmt: sa.Select[Any],
    *,
    keys: Sequence[sa.ColumnElement[Any]],
    parsers: Sequence[Callable[[Any], Any]],
    cursor: str | None,
    limit: int,
    key_of: Callable[[Any], Sequence[Any]],
) -> dict[str, Any]:
    """Newest first by `keys` (the last must be unique): a page as the API returns it."""
    if cursor:
        after = decode_cursor(cursor, parsers)
        # Bind each value with its column's type so UTC timestamps and UUIDs compare as stored.
        bound = (sa.literal(v, k.type) for k, v in zip(keys, after, strict=True))
        stmt = stmt.where(sa.tuple_(*keys) < sa.tuple_(*bound))
    stmt = stmt.order_by(*(k.desc() for k in keys)).limit(limit + 1)
    rows = list(session.exec(stmt).all())  # type: ignore[call-overload]
    items = rows[:limit]
    next_cursor = encode_cursor(key_of(items[-1])) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


def parse_datetime(value: str) -> datetime:
    return datetime.fromisoformat(value)


def parse_date(value: str) -> date:
    return date.fromisoformat(value)
