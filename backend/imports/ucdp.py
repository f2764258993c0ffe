"""UCDP Georeferenced Event Dataset (GED): 42 columns (19.1) or 49 (20.1 on), HXL row or not."""

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

DATASET = "ucdp_ged"

COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "type_of_violence": ("type_of_violence",),
    "side_a": ("side_a",),
    "side_b": ("side_b",),
    "dyad_name": ("dyad_name",),
    "source_office": ("source_office",),
    "source_headline": ("source_headline",),
    "where_prec": ("where_prec",),
    "where_coordinates": ("where_coordinates",),
    "adm_1": ("adm_1",),
    "adm_2": ("adm_2",),
    "latitude": ("latitude",),
    "longitude": ("longitude",),
    "date_prec": ("date_prec",),
    "date_start": ("date_start",),
    "low": ("low",),
    "best": ("best",),
    "high": ("high",),
}
REQUIRED = ("id", "type_of_violence", "latitude", "longitude", "date_start", "best")

# docs/imports.md documents these tables; keep the two in step.
CATEGORIES = {
    "1": (IncidentCategory.armed_clash, "state-based conflict"),
    "2": (IncidentCategory.armed_clash, "non-state conflict"),
    "3": (IncidentCategory.attack_on_civilians, "one-sided violence"),
}
# date_prec 1 exact day, 2 within 2-6 days, 3 within a month, 4 within a year, 5 longer.
_DATE_PRECISION = {
    "1": DatePrecision.day,
    "2": DatePrecision.week,
    "3": DatePrecision.month,
    "4": DatePrecision.month,
    "5": DatePrecision.month,
}
# where_prec 1 exact place, 2 within 25 km, 3 district, 4 province, 5 between places,
# 6 only the country, 7 international waters or airspace.
_GEO_PRECISION = {
    "1": GeoPrecision.exact,
    "2": GeoPrecision.near,
    **{str(n): GeoPrecision.region for n in range(3, 8)},
}


def _actor(name: str, violence: str, *, side_a: bool) -> Actor | None:
    if not name:
        return None
    if name.lower() == "civilians":
        return Actor(name, None)
    if name.startswith("Government of"):
        return Actor(name, PartyKind.state_force)
    # In state-based conflict the other side of a government is a rebel group; in non-state
    # conflict and one-sided violence UCDP does not say what kind of group acts.
    kind = PartyKind.rebel_group if violence == "1" and not side_a else PartyKind.other
    return Actor(name, kind)


def _headlines(value: str) -> str:
    # Several sources are joined by ";" in one cell.
    return "\n".join(h.strip() for h in value.split(";") if h.strip())


def map_row(line: int, row: dict[str, str], now: datetime) -> Event:
    event_id = row["id"]
    if not event_id:
        raise RowError("id is empty")
    violence = row["type_of_violence"]
    if violence not in CATEGORIES:
        raise RowError(f"type_of_violence '{violence}' is not 1, 2 or 3")
    category, label = CATEGORIES[violence]
    get = row.get
    date_prec, where_prec = get("date_prec", ""), get("where_prec", "")
    if date_prec and date_prec not in _DATE_PRECISION:
        raise RowError(f"date_prec '{date_prec}' is not 1 to 5")
    if where_prec and where_prec not in _GEO_PRECISION:
        raise RowError(f"where_prec '{where_prec}' is not 1 to 7")
    best = parse_count(row["best"], "best", empty=None)
    if best is None:
        raise RowError("best (the best estimate of deaths) is empty")
    low = parse_count(get("low", ""), "low", empty=None)
    high = parse_count(get("high", ""), "high", empty=None)
    alleged = _actor(get("side_a", ""), violence, side_a=True)
    target = _actor(get("side_b", ""), violence, side_a=False)
    description = _headlines(get("source_headline", "")) or get("dyad_name", "")
    values = {
        "occurred_at": parse_date(row["date_start"], "date_start", now),
        "date_precision": _DATE_PRECISION.get(date_prec, DatePrecision.day),
        "category": category,
        "latitude": parse_float(row["latitude"], "latitude", -90, 90),
        "longitude": parse_float(row["longitude"], "longitude", -180, 180),
        "geo_precision": _GEO_PRECISION.get(where_prec, GeoPrecision.exact),
        "location_name": text(get("where_coordinates", "")),
        "admin1": text(get("adm_1", "")),
        "admin2": text(get("adm_2", "")),
        "fatalities": best,
        "fatalities_low": low,
        "fatalities_high": high,
        "description": description,
        "source_name": text(get("source_office", "")),
        "source_category": f"type_of_violence {violence} ({label})",
        "alleged_actor_name": alleged.name if alleged else None,
        "target_actor_name": target.name if target else None,
    }
    return Event(
        line=line, external_id=event_id, values=clip(values), alleged=alleged, target=target
    )


def hint(columns: set[str]) -> str:
    if "event_id_cnty" in columns:
        return "; it looks like an ACLED file: use `import acled`"
    return ""
