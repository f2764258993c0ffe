"""Shapes every API shares: strict input, list pages, error bodies, cleaned text."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

import pydantic_core
from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import SchemaSerializer
from pydantic_core import core_schema as cs
from sqlmodel import SQLModel


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


def _clean(value: str) -> str:
    return _no_nul(value).strip()


# Free text from the field: no NUL bytes (PostgreSQL cannot store them), no stray surrounding space.
Text = Annotated[str, AfterValidator(_clean)]


def _filled(value: str) -> str:
    value = _clean(value)
    if not value:
        raise ValueError("must not be blank (only spaces)")
    return value


# Text that must say something (a name, a title): spaces alone are refused, not stored as "".
# The schema says so too (a character that is not space), so a client can check before sending.
NonBlank = Annotated[str, AfterValidator(_filled), Field(json_schema_extra={"pattern": r"\S"})]


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_text(value: Any) -> Any:
    """Dates and times come as ISO 8601 text, as the schema says; pydantic would also read a
    number (`0`, `"1700000000"`) as a Unix time, and a mistyped field would pass as 1970."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("expected an ISO 8601 date or time, e.g. 2026-11-20 or 2026-11-20T10:15:00Z")


def json_bool(value: Any) -> Any:
    """`true` or `false` (a query's `true`/`false` text too), never a number or `"yes"`."""
    if isinstance(value, bool) or value in ("true", "false"):
        return value
    raise ValueError("expected true or false")


# A day from a client, written YYYY-MM-DD.
IsoDate = Annotated[date, BeforeValidator(iso_text)]
# A time from a client: it must carry its UTC offset; we keep and answer it in UTC.
UtcDatetime = Annotated[AwareDatetime, BeforeValidator(iso_text), AfterValidator(_to_utc)]


class FieldValueError(ValueError):
    """A rule across fields, broken: raised in a model validator, it names the field to blame, so
    the error body says `women_participants`, not `body`."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def error_field(
    loc: tuple[Any, ...] | list[Any],
    err: Mapping[str, Any] | None = None,
    strip: tuple[str, ...] = (),
    empty: str = "body",
) -> str:
    """The field a validation error names: its location, or the field a cross-field rule blames
    (see FieldValueError); `strip` drops a leading `body`/`query`... part."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in strip:
        parts = parts[1:]
    blamed = (err or {}).get("ctx", {}).get("error")
    if isinstance(blamed, FieldValueError):
        parts.append(blamed.field)
    return ".".join(parts) or empty


class InputModel(SQLModel):
    """What a client sends. Unknown or read-only fields (`status`, `finding`...) are refused, and
    dates, times and flags are taken only in the form the schema gives them."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    @field_validator("*", mode="before")
    @classmethod
    def _as_documented(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or info.field_name is None:
            return value
        check = _check_of(cls, info.field_name)
        return value if check is None else check(value)


@cache
def _check_of(model: type[BaseModel], field: str) -> Callable[[Any], Any] | None:
    """What `_as_documented` checks of a model's field: worked out once per field, as it runs
    for every field of every record a batch sends."""
    kind = _scalar_kind(model.model_fields[field].annotation)
    if kind is bool:
        return json_bool
    if kind in (date, datetime):
        return iso_text
    return None


def _scalar_kind(annotation: Any) -> Any:
    """`bool` for `bool`, `bool | None` or `Annotated[bool, ...]` (and so on); else the type."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, UnionType):
        kinds = [a for a in get_args(annotation) if a is not type(None)]
        return _scalar_kind(kinds[0]) if len(kinds) == 1 else None
    return annotation


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `latitude`")
    message: str
    type: str


class ErrorBody(BaseModel):
    detail: str
    errors: list[FieldError] = Field(default_factory=list)
    request_id: str | None = None


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, malformed, expired or revoked token",
    403: "The token's role may not do this",
    404: "No such record, or not visible to this token",
    409: "Conflicts with an existing record",
    413: "Request body too large",
    422: "Invalid input; `errors` names each field and the reason",
    429: "Too many requests for this token; wait `Retry-After` seconds",
    500: "Server error; quote `request_id` when reporting it",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error codes a route can give (401, 413, 422, 429, 500 always
    apply)."""
    every = {401, 413, 422, 429, 500, *codes}
    return {c: {"model": ErrorBody, "description": _DESCRIPTIONS[c]} for c in sorted(every)}


class JsonAnswer(JSONResponse):
    """A JSON answer encoded by pydantic-core, in Rust: the same compact UTF-8 JSON as
    Starlette's `JSONResponse`, five times faster for a large one (a sync batch answers 500
    records). For answers of plain JSON values (no NaN: records are validated finite)."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)


@cache
def dict_serializer(model: type[BaseModel]) -> SchemaSerializer | None:
    """The model's own serialiser for a dict of its fields' values, with no instance made: what
    `model.model_validate(values).model_dump(mode="json")` gives when `values` are of the field
    types already (a record's column values), at a third of the cost. None for a model that
    computes or transforms (computed fields, validators): validate it."""
    schema = model.__pydantic_core_schema__
    if schema["type"] != "model" or schema["schema"]["type"] != "model-fields":
        return None  # definitions, or wrapped by a model validator
    fields = schema["schema"]
    if fields.get("computed_fields") or _transforms(fields["fields"]):
        return None
    return SchemaSerializer(
        cs.typed_dict_schema(
            {
                name: cs.typed_dict_field(
                    field["schema"],
                    serialization_alias=field.get("serialization_alias"),
                    serialization_exclude=field.get("serialization_exclude"),
                )
                for name, field in fields["fields"].items()
            },
            config=schema.get("config"),
        )
    )


def _transforms(schema: Any) -> bool:
    """Whether a core schema holds a function (a validator or a custom serialiser)."""
    if isinstance(schema, dict):
        kind = schema.get("type")
        if (isinstance(kind, str) and kind.startswith("function-")) or "serialization" in schema:
            return True
        return any(_transforms(v) for v in schema.values())
    if isinstance(schema, list | tuple):
        return any(_transforms(v) for v in schema)
    return False
