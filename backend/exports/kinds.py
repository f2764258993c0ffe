"""What each export holds: its columns (name, HXL hashtag, type), its query with the filters
and the reader's visibility, and how a batch of rows becomes output rows (backend.exports.reading
reads them)."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from sqlmodel import col

from backend.agreements.models import Agreement, Commitment, CommitmentParty
from backend.agreements.service import COMMITMENT_PARTIES, overdue_clause
from backend.auth.service import Principal
from backend.ddr.models import DdrMilestone, DdrTarget
from backend.diplomacy.models import TrackActivity, TrackActivityParty
from backend.diplomacy.service import TRACK_PARTIES
from backend.errors import InvalidInput
from backend.exports.filters import ExportFilters
from backend.incidents.filters import IncidentFilters
from backend.incidents.models import Incident
from backend.incidents.service import visible_to
from backend.parties.models import Party
from backend.verification.models import VerificationEvent
from backend.vocab import INDICATOR_PHASE, CommitmentCategory, IncidentCategory

# Column types, which the writers turn into typed cells (XLSX) or text (CSV, HXL).
STR, INT, FLOAT, DATETIME, DATE, BOOL = "str", "int", "float", "datetime", "date", "bool"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    tag: str  # HXL hashtag with attributes (DOMAIN.md)
    type: str = STR
    identity: bool = False  # names who reported or recorded it: only for analysts and admins


@dataclass(slots=True)
class Context:
    """One export's reader, filters and the lookups its rows share."""

    principal: Principal
    filters: ExportFilters
    today: date
    parties: dict[str, tuple[str, str]] = field(default_factory=dict)  # by id, as text

    def party(self, party_id: str | None) -> tuple[str | None, str | None, str | None]:
        if party_id is None:
            return None, None, None
        code, name = self.parties.get(party_id, (None, None))
        return party_id, code, name

    def codes(self, party_ids: Sequence[str]) -> str:
        return ";".join(sorted(self.parties.get(p, (p, ""))[0] for p in party_ids))


def _sid(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Kind:
    name: str
    title: str
    columns: tuple[Column, ...]
    statement: Callable[[Context], sa.Select[Any]]
    keys: tuple[str, str]  # labels of the select's keyset columns (unique together, indexed)
    # A batch of the statement's rows to output rows; None when the statement's columns are the
    # output's, in order (anything after them is cut off).
    rows: Callable[[sa.Connection, Sequence[sa.Row[Any]], Context], list[tuple[Any, ...]]] | None
    geo: bool = False  # has `latitude` and `longitude` columns, so GeoJSON applies
    refused: tuple[str, ...] = ()  # filters that do not apply to this kind

    def statement_for(self, ctx: Context) -> sa.Select[Any]:
        ctx.filters.refuse(self.name, self.refused)
        return self.statement(ctx)

    def columns_for(self, principal: Principal) -> tuple[Column, ...]:
        if principal.sees_everything:
            return self.columns
        return tuple(c for c in self.columns if not c.identity)

    def projector(self, principal: Principal) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
        """A row's columns that `principal` may see, in order (and nothing after them)."""
        kept = [
            i for i, c in enumerate(self.columns) if principal.sees_everything or not c.identity
        ]
        if kept == list(range(len(kept))):  # a leading run: one slice, the cheapest cut
            width = len(kept)
            return lambda row: row[:width]
        getter = operator.itemgetter(*kept)
        return lambda row: getter(row)


# Incidents, with their latest verification step


_INCIDENT_COLUMNS = (
    Column("id", "#event+code"),
    Column("occurred_at", "#date+occurred", DATETIME),
    Column("date_precision", "#date+precision"),
    Column("category", "#event+type"),
    Column("latitude", "#geo+lat", FLOAT),
    Column("longitude", "#geo+lon", FLOAT),
    Column("geo_precision", "#geo+precision"),
    Column("location_name", "#loc+name"),
    Column("admin1", "#adm1+name"),
    Column("admin2", "#adm2+name"),
    Column("alleged_party_id", "#group+id+first"),
    Column("alleged_party_code", "#group+code+first"),
    Column("alleged_party_name", "#group+name+first"),
    Column("target_party_id", "#group+id+second"),
    Column("target_party_code", "#group+code+second"),
    Column("target_party_name", "#group+name+second"),
    Column("fatalities", "#affected+killed", INT),
    Column("injuries", "#affected+injured", INT),
    Column("source_type", "#meta+source"),
    Column("description", "#description"),
    Column("sensitivity", "#meta+sensitivity"),
    Column("status", "#status"),
    Column("finding", "#status+finding"),
    Column("attributed_party_id", "#group+id+attributed"),
    Column("attributed_party_code", "#group+code+attributed"),
    Column("verified_at", "#date+verified", DATETIME),
    Column("verification_method", "#meta+verification+method"),
    Column("verification_team", "#org+name+verification"),
    Column("reported_at", "#date+reported", DATETIME),
    Column("received_at", "#date+received", DATETIME),
    Column("updated_at", "#date+updated", DATETIME),
    Column("source_dataset", "#meta+dataset"),
    Column("external_id", "#meta+id+external"),
    Column("reported_by", "#meta+reporter", identity=True),
)


def _categories(filters: ExportFilters, vocabulary: type[Any]) -> list[Any]:
    try:
        return [vocabulary(c) for c in filters.category]
    except ValueError:
        known = ", ".join(v.value for v in vocabulary)
        raise InvalidInput(f"unknown category; one of: {known}", field="category") from None


def _incident_statement(ctx: Context) -> sa.Select[Any]:
    f = ctx.filters
    start, end = f.window()
    wanted = IncidentFilters(
        occurred_from=start,
        occurred_to=end,
        party_id=f.party_id,
        category=_categories(f, IncidentCategory),
        status=f.status,
        finding=f.finding,
        admin1=f.area,
        bbox=f.bbox,
    )
    i = Incident
    # Party ids, codes and names joined here (the ids from the party, which is the incident's by
    # its foreign key, so that a party's fields come from one place: sqltext.written_parties), and
    # the latest verification step read from the incident itself (derive_state keeps it there):
    # the rows come out of the database as they are written.
    alleged, target, attributed = (sa.orm.aliased(Party, name=n) for n in ("ap", "tp", "bp"))
    return (
        sa.select(
            col(i.id),
            col(i.occurred_at),
            col(i.date_precision),
            col(i.category),
            col(i.latitude),
            col(i.longitude),
            col(i.geo_precision),
            col(i.location_name),
            col(i.admin1),
            col(i.admin2),
            alleged.id.label("alleged_party_id"),
            alleged.code.label("alleged_party_code"),
            alleged.name.label("alleged_party_name"),
            target.id.label("target_party_id"),
            target.code.label("target_party_code"),
            target.name.label("target_party_name"),
            col(i.fatalities),
            col(i.injuries),
            col(i.source_type),
            col(i.description),
            col(i.sensitivity),
            col(i.status),
            col(i.finding),
            attributed.id.label("attributed_party_id"),
            attributed.code.label("attributed_party_code"),
            col(i.verified_at),
            col(i.verification_method),
            col(i.verification_team),
            col(i.reported_at),
            col(i.received_at),
            col(i.updated_at),
            col(i.source_dataset),
            col(i.external_id),
            col(i.reported_by),
        )
        .select_from(i)
        .outerjoin(alleged, alleged.id == col(i.alleged_party_id))
        .outerjoin(target, target.id == col(i.target_party_id))
        .outerjoin(attributed, attributed.id == col(i.attributed_party_id))
        .where(visible_to(ctx.principal), *wanted.where())
    )


INCIDENTS = Kind(
    name="incidents",
    title="Incidents",
    columns=_INCIDENT_COLUMNS,
    statement=_incident_statement,
    keys=("occurred_at", "id"),
    rows=None,  # the statement's columns are the export's
    geo=True,
)


# Verification events (of incidents and of DDR milestones)


def _verification_statement(ctx: Context) -> sa.Select[Any]:
    f = ctx.filters
    v, i, m = VerificationEvent, Incident, DdrMilestone
    start, end = f.window()
    where: list[Any] = [sa.or_(col(v.incident_id).is_(None), visible_to(ctx.principal))]
    if start is not None:
        where.append(col(v.occurred_at) >= start)
    if end is not None:
        where.append(col(v.occurred_at) < end)
    if f.finding:
        where.append(col(v.finding).in_(f.finding))
    if f.status:
        where.append(col(v.status).in_(f.status))
    if f.area:
        where.append(col(i.admin1) == f.area)
    if f.category:
        where.append(col(i.category).in_(_categories(f, IncidentCategory)))
    if f.party_id is not None:
        where.append(
            sa.or_(
                col(v.attributed_party_id) == f.party_id,
                col(i.alleged_party_id) == f.party_id,
                col(i.target_party_id) == f.party_id,
                col(m.party_id) == f.party_id,
            )
        )
    return (
        sa.select(
            col(v.id),
            col(v.incident_id),
            col(v.ddr_milestone_id),
            col(v.occurred_at),
            col(v.method),
            col(v.team),
            col(v.status),
            col(v.finding),
            col(v.attributed_party_id),
            col(v.notes),
            col(i.category),
            col(i.admin1),
            col(i.latitude),
            col(i.longitude),
            col(v.created_at),
            col(v.recorded_by),
        )
        .select_from(v)
        .outerjoin(i, col(v.incident_id) == col(i.id))
        .outerjoin(m, col(v.ddr_milestone_id) == col(m.id))
        .where(*where)
    )


def _verification_rows(
    _conn: sa.Connection, batch: Sequence[sa.Row[Any]], ctx: Context
) -> list[tuple[Any, ...]]:
    return [
        (str(r[0]), "incident" if r[1] else "ddr_milestone", _sid(r[1]), _sid(r[2]), r[3], r[4],
         r[5], r[6], r[7], *ctx.party(r[8])[:2], r[9], r[10], r[11], r[12], r[13], r[14], r[15])
        for r in batch
    ]  # fmt: skip


VERIFICATIONS = Kind(
    name="verifications",
    title="Verification events",
    columns=(
        Column("id", "#meta+id"),
        Column("subject_kind", "#meta+subject"),
        Column("incident_id", "#event+code"),
        Column("ddr_milestone_id", "#meta+id+milestone"),
        Column("occurred_at", "#date+verified", DATETIME),
        Column("method", "#meta+method"),
        Column("team", "#org+name+verification"),
        Column("status", "#status"),
        Column("finding", "#status+finding"),
        Column("attributed_party_id", "#group+id+attributed"),
        Column("attributed_party_code", "#group+code+attributed"),
        Column("notes", "#description"),
        Column("incident_category", "#event+type"),
        Column("admin1", "#adm1+name"),
        Column("latitude", "#geo+lat", FLOAT),
        Column("longitude", "#geo+lon", FLOAT),
        Column("recorded_at", "#date+recorded", DATETIME),
        Column("recorded_by", "#meta+recorder", identity=True),
    ),
    statement=_verification_statement,
    keys=("occurred_at", "id"),
    rows=_verification_rows,
    geo=True,
    refused=("bbox",),
)


# DDR milestones, each beside the target it counts toward


def _milestone_statement(ctx: Context) -> sa.Select[Any]:
    f = ctx.filters
    m = DdrMilestone
    first, last = f.day_window()
    where: list[Any] = []
    if first is not None:
        where.append(col(m.achieved_on) >= first)
    if last is not None:
        where.append(col(m.achieved_on) <= last)
    if f.party_id is not None:
        where.append(col(m.party_id) == f.party_id)
    if f.finding:
        where.append(col(m.finding).in_(f.finding))
    if f.status:
        where.append(col(m.status).in_(f.status))
    return sa.select(
        col(m.id), col(m.indicator), col(m.party_id), col(m.site), col(m.achieved_on),
        col(m.quantity), col(m.women), col(m.men), col(m.boys), col(m.girls), col(m.status),
        col(m.finding), col(m.notes), col(m.created_at), col(m.reported_by),
    ).where(*where)  # fmt: skip


def _targets(conn: sa.Connection) -> list[sa.Row[Any]]:
    t = DdrTarget
    stmt = sa.select(
        col(t.id), col(t.indicator), col(t.party_id), col(t.site), col(t.period_start_on),
        col(t.period_end_on), col(t.target_quantity),
    ).order_by(col(t.period_start_on), col(t.id))  # fmt: skip
    return list(conn.execute(stmt))


def _target_of(targets: list[sa.Row[Any]], m: sa.Row[Any]) -> sa.Row[Any] | None:
    """The target a milestone counts toward: same indicator and party, its date in the period;
    one for its own site before one for no particular site."""
    fits = [
        t
        for t in targets
        if t[1] == m[1] and str(t[2]) == m[2] and t[4] <= m[4] <= t[5] and t[3] in (m[3], None)
    ]
    fits.sort(key=lambda t: t[3] is None)
    return fits[0] if fits else None


def _milestone_rows(
    conn: sa.Connection, batch: Sequence[sa.Row[Any]], ctx: Context
) -> list[tuple[Any, ...]]:
    targets = _targets(conn)
    out = []
    for r in batch:
        t = _target_of(targets, r)
        share = round(r[5] / t[6], 4) if t else None
        out.append(
            (str(r[0]), r[1], INDICATOR_PHASE[r[1]], *ctx.party(r[2]), r[3], r[4], r[5], r[6],
             r[7], r[8], r[9], r[10], r[11], _sid(t[0]) if t else None, t[6] if t else None,
             t[4] if t else None, t[5] if t else None, share, r[12], r[13], r[14])
        )  # fmt: skip
    return out


DDR_MILESTONES = Kind(
    name="ddr_milestones",
    title="DDR milestones",
    columns=(
        Column("id", "#meta+id"),
        Column("indicator", "#indicator+code"),
        Column("phase", "#indicator+phase"),
        Column("party_id", "#group+id"),
        Column("party_code", "#group+code"),
        Column("party_name", "#group+name"),
        Column("site", "#loc+name"),
        Column("achieved_on", "#date+reported", DATE),
        Column("quantity", "#reached", INT),
        Column("women", "#reached+f+adults", INT),
        Column("men", "#reached+m+adults", INT),
        Column("boys", "#reached+m+children", INT),
        Column("girls", "#reached+f+children", INT),
        Column("status", "#status"),
        Column("finding", "#status+finding"),
        Column("target_id", "#meta+id+target"),
        Column("target_quantity", "#targeted", INT),
        Column("target_period_start_on", "#date+start+target", DATE),
        Column("target_period_end_on", "#date+end+target", DATE),
        Column("share_of_target", "#reached+pct+target", FLOAT),
        Column("notes", "#description"),
        Column("created_at", "#date+recorded", DATETIME),
        Column("reported_by", "#meta+reporter", identity=True),
    ),
    statement=_milestone_statement,
    keys=("achieved_on", "id"),
    rows=_milestone_rows,
    refused=("region", "admin1", "category", "bbox"),
)


# Track activities


def _track_statement(ctx: Context) -> sa.Select[Any]:
    f = ctx.filters
    a = TrackActivity
    first, last = f.day_window()
    where: list[Any] = []
    if first is not None:
        where.append(col(a.occurred_on) >= first)
    if last is not None:
        where.append(col(a.occurred_on) <= last)
    if f.party_id is not None:
        where.append(TRACK_PARTIES.include(col(a.id), f.party_id))
    return sa.select(
        col(a.id), col(a.occurred_on), col(a.track), col(a.kind), col(a.title), col(a.venue),
        col(a.facilitator), col(a.participants), col(a.women_participants), col(a.outcome),
        col(a.summary), col(a.created_at), col(a.reported_by),
    ).where(*where)  # fmt: skip


def _links(conn: sa.Connection, table: Any, owner: Any, ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {i: [] for i in ids}
    wanted = [uuid.UUID(i) for i in ids]
    for owner_id, party_id in conn.execute(
        sa.select(owner, col(table.party_id)).where(owner.in_(wanted))
    ):
        found[str(owner_id)].append(str(party_id))
    return found


def _track_rows(
    conn: sa.Connection, batch: Sequence[sa.Row[Any]], ctx: Context
) -> list[tuple[Any, ...]]:
    link = TrackActivityParty
    parties = _links(conn, link, col(link.track_activity_id), [r[0] for r in batch])
    return [
        (str(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
         ctx.codes(parties[r[0]]), r[10], r[11], r[12])
        for r in batch
    ]  # fmt: skip


TRACK_ACTIVITIES = Kind(
    name="track_activities",
    title="Track activities",
    columns=(
        Column("id", "#meta+id"),
        Column("occurred_on", "#date", DATE),
        Column("track", "#activity+track"),
        Column("kind", "#activity+type"),
        Column("title", "#activity+name"),
        Column("venue", "#loc+name"),
        Column("facilitator", "#org+name+facilitator"),
        Column("participants", "#reached+participants", INT),
        Column("women_participants", "#reached+participants+f", INT),
        Column("outcome", "#status"),
        Column("party_codes", "#group+code+list"),
        Column("summary", "#description"),
        Column("created_at", "#date+recorded", DATETIME),
        Column("reported_by", "#meta+reporter", identity=True),
    ),
    statement=_track_statement,
    keys=("occurred_on", "id"),
    rows=_track_rows,
    refused=("region", "admin1", "category", "finding", "status", "bbox"),
)


# Commitments


def _commitment_statement(ctx: Context) -> sa.Select[Any]:
    f = ctx.filters
    c = Commitment
    first, last = f.day_window()
    where: list[Any] = []
    if first is not None:
        where.append(col(c.due_on) >= first)
    if last is not None:
        where.append(col(c.due_on) <= last)
    if f.category:
        where.append(col(c.category).in_(_categories(f, CommitmentCategory)))
    if f.party_id is not None:
        where.append(COMMITMENT_PARTIES.include(col(c.id), f.party_id))
    return (
        sa.select(
            col(c.id),
            col(c.agreement_id),
            col(Agreement.name),
            col(c.reference),
            col(c.title),
            col(c.category),
            col(c.due_on),
            col(c.level),
            col(c.level_changed_on),
            overdue_clause(ctx.today).label("overdue"),
            col(c.text),
            col(c.created_at),
        )
        .join(Agreement, col(Agreement.id) == col(c.agreement_id))
        .where(*where)
    )


_LEVEL_SCORE = {"not_initiated": 0, "minimal": 1, "intermediate": 2, "complete": 3}


def _commitment_rows(
    conn: sa.Connection, batch: Sequence[sa.Row[Any]], ctx: Context
) -> list[tuple[Any, ...]]:
    link = CommitmentParty
    parties = _links(conn, link, col(link.commitment_id), [r[0] for r in batch])
    return [
        (str(r[0]), str(r[1]), r[2], r[3], r[4], r[5], ctx.codes(parties[r[0]]), r[6], r[7],
         _LEVEL_SCORE[str(r[7])], r[8], bool(r[9]), r[10], r[11])
        for r in batch
    ]  # fmt: skip


COMMITMENTS = Kind(
    name="commitments",
    title="Commitments",
    columns=(
        Column("id", "#meta+id"),
        Column("agreement_id", "#meta+id+agreement"),
        Column("agreement_name", "#meta+agreement"),
        Column("reference", "#meta+ref"),
        Column("title", "#indicator+name"),
        Column("category", "#sector"),
        Column("party_codes", "#group+code+list"),
        Column("due_on", "#date+due", DATE),
        Column("level", "#status"),
        Column("level_score", "#indicator+num+level", INT),
        Column("level_changed_on", "#date+changed", DATE),
        Column("overdue", "#status+overdue", BOOL),
        Column("text", "#description"),
        Column("created_at", "#date+recorded", DATETIME),
    ),
    statement=_commitment_statement,
    keys=("created_at", "id"),
    rows=_commitment_rows,
    refused=("region", "admin1", "finding", "status", "bbox"),
)


KINDS: dict[str, Kind] = {
    k.name: k for k in (INCIDENTS, VERIFICATIONS, DDR_MILESTONES, TRACK_ACTIVITIES, COMMITMENTS)
}
