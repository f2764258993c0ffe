"""ACLED event exports: the current 31-column format and the older upper-case ones.

docs/imports.md documents the category table below; keep the two in step.
"""

from __future__ import annotations

from datetime import datetime

from backend.imports.mapping import (
    Actor,
    Event,
    clip,
    parse_count,
    parse_date,
    parse_float,
    text,
)
from backend.imports.reading import RowError
from backend.vocab import DatePrecision, GeoPrecision, IncidentCategory, PartyKind

DATASET = "acled"

# Our key -> header names that carry it (normalised: lower case), current name first.
COLUMNS: dict[str, tuple[str, ...]] = {
    "event_id": ("event_id_cnty",),
    "event_date": ("event_date",),
    "time_precision": ("time_precision",),
    "event_type": ("event_type",),
    "sub_event_type": ("sub_event_type",),
    "actor1": ("actor1",),
    "inter1": ("inter1",),
    "actor2": ("actor2",),
    "inter2": ("inter2",),
    "civilian_targeting": ("civilian_targeting",),
    "admin1": ("admin1",),
    "admin2": ("admin2",),
    "location": ("location",),
    "latitude": ("latitude",),
    "longitude": ("longitude",),
    # Exports converted through shapefiles cut names to ten characters.
    "geo_precision": ("geo_precision", "geo_precis"),
    "source": ("source",),
    "notes": ("notes",),
    "fatalities": ("fatalities",),
    "timestamp": ("timestamp",),
}
REQUIRED = ("event_id", "event_date", "event_type", "latitude", "longitude")

_C = IncidentCategory
# (event type, sub-event type) -> category; a sub-event type of "" is the type's default.
# Keys are lower case. The pre-2019 taxonomy had no sub-event types.
CATEGORIES: dict[tuple[str, str], IncidentCategory] = {
    ("battles", ""): _C.armed_clash,
    ("explosions/remote violence", ""): _C.shelling,
    ("violence against civilians", ""): _C.attack_on_civilians,
    ("violence against civilians", "sexual violence"): _C.sexual_violence,
    ("violence against civilians", "abduction/forced disappearance"): _C.abduction,
    ("protests", ""): _C.other,
    ("protests", "excessive force against protesters"): _C.attack_on_civilians,
    ("riots", ""): _C.other,
    ("strategic developments", ""): _C.other,
    ("strategic developments", "disrupted weapons use"): _C.weapons_in_restricted_zone,
    ("strategic developments", "non-violent transfer of territory"): _C.movement_of_forces,
    ("strategic developments", "headquarters or base established"): _C.movement_of_forces,
    # Before 2019
    ("battle-no change of territory", ""): _C.armed_clash,
    ("battle-government regains territory", ""): _C.armed_clash,
    ("battle-non-state actor overtakes territory", ""): _C.armed_clash,
    ("remote violence", ""): _C.shelling,
    ("riots/protests", ""): _C.other,
    ("strategic development", ""): _C.other,
    ("headquarters or base established", ""): _C.movement_of_forces,
    ("non-violent transfer of territory", ""): _C.movement_of_forces,
}
# Remote violence aimed at civilians is an attack on civilians first.
_CIVILIAN_TARGETED = {"explosions/remote violence", "remote violence"}

_TIME_PRECISION = {"1": DatePrecision.day, "2": DatePrecision.week, "3": DatePrecision.month}
_GEO_PRECISION = {"1": GeoPrecision.exact, "2": GeoPrecision.near, "3": GeoPrecision.region}

# inter1/inter2: a number in older exports, a label since 2023.
_INTER: dict[str, PartyKind | None] = {
    "1": PartyKind.state_force,
    "state forces": PartyKind.state_force,
    "2": PartyKind.rebel_group,
    "rebel group": PartyKind.rebel_group,
    "rebel groups": PartyKind.rebel_group,
    "3": PartyKind.militia,
    "political militia": PartyKind.militia,
    "political militias": PartyKind.militia,
    "4": PartyKind.militia,
    "identity militia": PartyKind.militia,
    "identity militias": PartyKind.militia,
    "5": None,
    "rioters": None,
    "6": None,
    "protesters": None,
    "7": None,
    "civilians": None,
    "8": PartyKind.other,
    "external/other forces": PartyKind.other,
}
_NOT_PARTIES = ("civilians", "protesters", "rioters")


def category_of(event_type: str, sub_event_type: str, civilian_targeting: str) -> IncidentCategory:
    kind, sub = event_type.lower(), sub_event_type.lower()
    if civilian_targeting and kind in _CIVILIAN_TARGETED:
        return IncidentCategory.attack_on_civilians
    found = CATEGORIES.get((kind, sub)) or CATEGORIES.get((kind, ""))
    return found or IncidentCategory.other


def _actor(name: str, inter: str) -> Actor | None:
    if not name:
        return None
    label = inter.strip().lower()
    if label in _INTER:
        kind = _INTER[label]
    elif name.lower().startswith(_NOT_PARTIES):
        kind = None
    else:
        kind = PartyKind.other
    return Actor(name, kind)


def _timestamp(value: str) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


def map_row(line: int, row: dict[str, str], now: datetime) -> Event:
    event_id = row["event_id"]
    if not event_id:
        raise RowError("event_id_cnty is empty")
    get = row.get
    event_type, sub_type = row["event_type"], get("sub_event_type", "")
    if not event_type:
        raise RowError("event_type is empty")
    precision = get("time_precision", "")
    geo = get("geo_precision", "")
    alleged = _actor(get("actor1", ""), get("inter1", ""))
    target = _actor(get("actor2", ""), get("inter2", ""))
    values = {
        "occurred_at": parse_date(row["event_date"], "event_date", now),
        "date_precision": _TIME_PRECISION.get(precision, DatePrecision.day),
        "category": category_of(event_type, sub_type, get("civilian_targeting", "")),
        "latitude": parse_float(row["latitude"], "latitude", -90, 90),
        "longitude": parse_float(row["longitude"], "longitude", -180, 180),
        "geo_precision": _GEO_PRECISION.get(geo, GeoPrecision.exact),
        "location_name": text(get("location", "")),
        "admin1": text(get("admin1", "")),
        "admin2": text(get("admin2", "")),
        "fatalities": parse_count(get("fatalities", ""), "fatalities"),
        "fatalities_low": None,
        "fatalities_high": None,
        "description": text(get("notes", "")) or "",
        "source_name": text(get("source", "")),
        "source_category": f"{event_type} / {sub_type}" if sub_type else event_type,
        "alleged_actor_name": alleged.name if alleged else None,
        "target_actor_name": target.name if target else None,
    }
    if precision and precision not in _TIME_PRECISION:
        raise RowError(f"time_precision '{precision}' is not 1, 2 or 3")
    if geo and geo not in _GEO_PRECISION:
        raise RowError(f"geo_precision '{geo}' is not 1, 2 or 3")
    return Event(
        line=line,
        external_id=event_id,
        values=clip(values),
        alleged=alleged,
        target=target,
        source_timestamp=_timestamp(get("timestamp", "")),
    )


def hint(columns: set[str]) -> str:
    if "id" in columns and "type_of_violence" in columns:
        return "; it looks like a UCDP GED file: use `import ucdp`"
    return ""
