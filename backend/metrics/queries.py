"""The SQL behind the measures: aggregated in the database, returned as plain rows.

Incident counts are read from the rollup tables (backend/metrics/models.py), kept by triggers in
the writing transaction (migrations 0005 and 0009), so no measure scans raw incident rows for an
analyst. A sum over a window reads its whole months from the month tier and only the rest from the
day tier (`window.month_terms`), so ten years are some 120 month groups, not 3,650 day groups.
Every incident query applies the visibility rule of `visible_to`: the rollups keep sensitivity, and
a caller who does not see everything gets, besides the rollup rows of the sensitivities its role
reads, its own other reports from raw rows (`_own_hidden`). The time to verify is read from the
`metrics_verify_delay` rollup (migration 0006); the verification queue from raw rows by the partial
index `ix_incident_queue` (see docs/methodology.md).
"""

from __future__ import annotations

import functools
import threading
import uuid
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.agreements.models import Agreement, Commitment, CommitmentParty, CommitmentProgress
from backend.auth.service import Principal
from backend.config import Settings
from backend.ddr.models import DdrMilestone, DdrTarget
from backend.diplomacy.models import TrackActivity, TrackActivityParty
from backend.incidents.models import Incident
from backend.incidents.service import visible_to
from backend.metrics import flows, rollups
from backend.metrics import window as windows
from backend.metrics.flows import DdrAchieved, DdrGoal, TrackAgg
from backend.metrics.models import (
    DELAY_BOUNDS_S,
    NO_PARTY,
    NO_PLACE,
    QUEUE_WHERE,
    IncidentDayRollup,
    IncidentMonthRollup,
    SourceVersion,
    VerifyDelay,
    VerifyDelayMonth,
    ViolationDayRollup,
    ViolationMonthRollup,
    ViolationStamp,
)
from backend.metrics.pam import CommitmentBook, CommitmentRow, ProgressRow
from backend.metrics.schemas import PartyRef
from backend.metrics.scores import Engagement, Perception
from backend.metrics.sql import (
    by_value,
    capped,
    day_ordinal,
    month_of,
    selective,
    unindexed,
    utc_day,
    utc_month,
)
from backend.metrics.window import Interval, Term, Window
from backend.parties.models import Party
from backend.surveys.models import PerceptionSurvey
from backend.vocab import Finding, TrackOutcome, WorkflowStatus

T = TypeVar("T")
INCIDENT = Incident.__table__.c  # type: ignore[attr-defined]
R = IncidentDayRollup.__table__.c  # type: ignore[attr-defined]
V = ViolationDayRollup.__table__.c  # type: ignore[attr-defined]
RM = IncidentMonthRollup.__table__.c  # type: ignore[attr-defined]
VM = ViolationMonthRollup.__table__.c  # type: ignore[attr-defined]
D = VerifyDelay.__table__.c  # type: ignore[attr-defined]
DM = VerifyDelayMonth.__table__.c  # type: ignore[attr-defined]


def _read(session: Session, stmt: Any) -> sa.CursorResult[Any]:
    """`stmt`'s rows as plain Core rows, on the session's connection and transaction: not
    through the ORM's result processing, which costs about a microsecond a row (ten years of
    trust evidence are thousands of rows) and which column-only queries do not need."""
    return session.connection().execute(stmt)


def _built(make: Callable[..., T]) -> Callable[..., T]:
    """`make`, a function that builds a statement from hashable arguments (principals,
    windows, dims, the tiers' terms or spans, settings keys: all it is built from, so that a
    change in any is a new statement), called once per arguments: building a statement of a few
    unions costs more than the database's work on it (a 28-day count per region: 1.3 ms of
    Python to 0.9 ms of PostgreSQL), and a statement used again keeps its cache key, which
    SQLAlchemy computes at every execution of a new one (the same count, built and run: 3.0 ms;
    run again: 0.9). Statements are immutable, so threads share them."""
    return functools.lru_cache(maxsize=1024)(make)  # type: ignore[return-value]


@functools.lru_cache(maxsize=8192)
def _day(text: str) -> date:
    return date.fromisoformat(text)


def incident_where(
    principal: Principal,
    start_at: datetime,
    end_at: datetime,
    *,
    region: str | None = None,
    party_id: uuid.UUID | None = None,
) -> list[sa.ColumnElement[bool]]:
    clauses = [
        visible_to(principal),
        INCIDENT.occurred_at >= start_at,
        INCIDENT.occurred_at < end_at,
    ]
    if region is not None:
        clauses.append(INCIDENT.admin1 == region)
    if party_id is not None:
        clauses.append(
            sa.or_(
                INCIDENT.alleged_party_id == party_id,
                INCIDENT.target_party_id == party_id,
                INCIDENT.attributed_party_id == party_id,
            )
        )
    return clauses


def window_where(principal: Principal, window: Window) -> list[sa.ColumnElement[bool]]:
    return incident_where(
        principal,
        window.start_at,
        window.end_at,
        region=window.region,
        party_id=window.party_id,
    )


# Parties


def parties(session: Session, ids: Sequence[uuid.UUID] | None = None) -> list[PartyRef]:
    """The parties (those of `ids` only, if given), by code."""
    wanted = None if ids is None else set(ids)
    return [p for p, _ in _all_parties(session) if wanted is None or p.id in wanted]


def signatories(session: Session) -> list[PartyRef]:
    """The parties that signed, by code."""
    return [p for p, signed in _all_parties(session) if signed]


def _all_parties(session: Session) -> list[tuple[PartyRef, bool]]:
    """Every party with whether it signed, by code; kept while the parties do not change."""

    def load() -> list[tuple[PartyRef, bool]]:
        stmt = sa.select(
            col(Party.id), col(Party.code), col(Party.name), col(Party.signatory)
        ).order_by(col(Party.code))
        return [(PartyRef(id=i, code=c, name=n), bool(s)) for i, c, n, s in _read(session, stmt)]

    return _kept(session, "parties", load)


# Tables the measures read whole on every request, kept per process with the stamp of their
# source they were read at (`SourceVersion`, migration 0013): {(database, source): (stamp, rows)}.
_KEPT: dict[tuple[str, str], tuple[str, Any]] = {}
_KEPT_MAX = 64  # databases a process may have opened (tests open many): oldest dropped first
_KEEPING = threading.Lock()  # requests run in threads: one changes the dict at a time
SV = SourceVersion.__table__.c  # type: ignore[attr-defined]
_SOURCE_STAMPS = sa.select(SV.source, SV.version)


def _kept(session: Session, source: str, load: Callable[[], T]) -> T:
    """What `load()` read from `source`'s tables, read again only if their stamp changed since
    (or if it has none: a database whose stamps were cleared is read every time). The stamps are
    read in the caller's transaction, before the rows, so rows are never older than their stamp.
    Callers must not change what they get: it is shared."""
    stamp = _stamps(session).get(source)
    if stamp is None:
        return load()
    slot = (session.get_bind().engine.url.render_as_string(hide_password=True), source)
    kept = _KEPT.get(slot)
    if kept is not None and kept[0] == stamp:
        return kept[1]  # type: ignore[no-any-return]
    value = load()
    with _KEEPING:
        _KEPT.pop(slot, None)
        while len(_KEPT) >= _KEPT_MAX:
            _KEPT.pop(next(iter(_KEPT)))
        _KEPT[slot] = (stamp, value)
    return value


def _stamps(session: Session) -> dict[str, str]:
    """Every source's stamp, read once per transaction (a measure may keep several sources, and
    the alerts ask for the parties four times): {source: stamp}."""
    held = session.info.get("metrics_source_stamps")
    if held is not None and held[0] is session.get_transaction():
        return held[1]  # type: ignore[no-any-return]
    stamps = {source: version for source, version in _read(session, _SOURCE_STAMPS)}
    session.info["metrics_source_stamps"] = (session.get_transaction(), stamps)
    return stamps


@dataclass
class _Months:
    """What is kept of the violation rollups for one question: each month's rows beside the
    month's stamp (`ViolationStamp`, migration 0014), and the rows last put together, with the
    spans and stamps they were put together for."""

    blocks: dict[date, tuple[str, list[Any]]] = field(default_factory=dict)
    joined: tuple[tuple[Span, ...], tuple[str | None, ...], list[Any]] | None = None


# {(database, question): what is kept}, the question least recently asked dropped first.
_MONTHS: dict[tuple[str, Hashable], _Months] = {}
_MONTHS_MAX = 64
VS = ViolationStamp.__table__.c  # type: ignore[attr-defined]


@_built
def _month_stamps(first: date, last: date) -> sa.Select[Any]:
    return sa.select(VS.month, VS.version).where(VS.month.between(first, last))


def forget_violations() -> None:
    """Drop what is kept of the violation rollups, as a new process starts (benchmarks)."""
    with _KEEPING:
        _MONTHS.clear()


def _next_month(month: date) -> date:
    return windows.month_end(month) + timedelta(days=1)


def _months_of(lo: date, hi: date) -> list[date]:
    """The first day of each month from `lo`'s to `hi`'s."""
    out, m = [], windows.month_start(lo)
    while m <= hi:
        out.append(m)
        m = _next_month(m)
    return out


def _kept_months(
    session: Session,
    asked: Hashable,
    spans: Sequence[Span],
    read: Callable[[Sequence[Span]], list[Any]],
    *,
    first_day: Callable[[date], Any],
    last_day: Callable[[date], date],
) -> list[Any]:
    """What `read(spans)` returns: rows in order of period (their first column, as `first_day`
    makes a day's), for `spans` (sorted, disjoint first and last periods: days, or months' first
    days on the month tier), from the months kept for the question `asked` whose stamp has not
    moved, and one `read` of the other months, whole (first day to `last_day(month)`). A month
    with no stamp is read every time. The stamps are read before the rows, so rows are never
    older than their stamp. Asked again for the same spans with no stamp moved (and none
    missing), it returns the very list it returned before, so that what a caller derives from
    it can be kept by the list's identity (`service._decayed_pairs`). Rows are shared: callers
    must not change them."""
    months = sorted({m for lo, hi in spans for m in _months_of(lo, hi)})
    if not months:
        return []
    stamps: dict[date, str] = dict(
        _read(session, _month_stamps(months[0], months[-1])).all()  # type: ignore[arg-type]
    )
    slot = (session.get_bind().engine.url.render_as_string(hide_password=True), asked)
    now = (tuple(spans), tuple(stamps.get(m) for m in months))
    with _KEEPING:
        kept = _MONTHS.pop(slot, None) or _Months()
        _MONTHS[slot] = kept  # the most recently asked last
        while len(_MONTHS) > _MONTHS_MAX:
            _MONTHS.pop(next(iter(_MONTHS)))
        if kept.joined is not None and kept.joined[:2] == now and None not in now[1]:
            return kept.joined[2]
        blocks: dict[date, list[Any]] = {}
        for m in months:
            held = kept.blocks.get(m)
            if held is not None and held[0] == stamps.get(m):
                blocks[m] = held[1]
    need = [m for m in months if m not in blocks]
    if need:
        runs: list[Span] = []  # runs of consecutive months, read as one range each
        for m in need:
            if runs and _next_month(runs[-1][1]) == m:
                runs[-1] = (runs[-1][0], m)
            else:
                runs.append((m, m))
        fresh = read([(lo, last_day(hi)) for lo, hi in runs])
        periods = [row[0] for row in fresh]
        for m in need:
            lo = bisect_left(periods, first_day(m))
            blocks[m] = fresh[lo : bisect_left(periods, first_day(_next_month(m)), lo)]
        with _KEEPING:
            for m in need:
                if m in stamps:
                    kept.blocks[m] = (stamps[m], blocks[m])
    out: list[Any] = []
    for lo, hi in spans:
        a, b = first_day(lo), first_day(hi)
        for m in _months_of(lo, hi):
            block = blocks[m]
            if block and (block[0][0] < a or block[-1][0] > b):
                out.extend(row for row in block if a <= row[0] <= b)
            else:
                out.extend(block)
    with _KEEPING:
        kept.joined = (*now, out)
    return out


# Agreements and commitments


def agreements(session: Session, agreement_id: uuid.UUID | None) -> list[tuple[uuid.UUID, str]]:
    stmt = sa.select(col(Agreement.id), col(Agreement.name)).order_by(
        col(Agreement.signed_on), col(Agreement.name)
    )
    if agreement_id is not None:
        stmt = stmt.where(col(Agreement.id) == agreement_id)
    return [(i, n) for i, n in _read(session, stmt)]


def commitments(session: Session, agreement_id: uuid.UUID | None = None) -> CommitmentBook:
    """Every commitment (of one agreement, if given) with its parties and progress rows; the
    whole book is kept while no commitment, link or progress row changes (`_kept`), with what
    the measures derive from it."""
    book = _kept(session, "commitments", lambda: _read_commitments(session))
    if agreement_id is None:
        return book
    return book.where(lambda c: c.agreement_id == agreement_id)


def _read_commitments(session: Session) -> CommitmentBook:
    """On SQLite ids are read as text and made into UUIDs once each (`_uuid`): a commitment's id
    appears on its row, its links and its progress (PostgreSQL's driver makes UUIDs itself)."""
    stmt = sa.select(
        _as_text(col(Commitment.id)),
        _as_text(col(Commitment.agreement_id)),
        col(Commitment.category),
        col(Commitment.due_on),
        col(Commitment.title),
        col(Commitment.reference),
    ).order_by(col(Commitment.created_at), col(Commitment.id))
    links = sa.select(
        _as_text(col(CommitmentParty.commitment_id)), _as_text(col(CommitmentParty.party_id))
    )
    progress = sa.select(
        _as_text(col(CommitmentProgress.commitment_id)),
        col(CommitmentProgress.level),
        col(CommitmentProgress.changed_on),
        col(CommitmentProgress.created_at),
    )
    party_ids: dict[uuid.UUID, list[uuid.UUID]] = {}
    for c_id, p_id in _read(session, links.order_by(col(CommitmentParty.party_id))):
        party_ids.setdefault(_uuid(c_id), []).append(_uuid(p_id))
    rows = [
        CommitmentRow(
            id=_uuid(i),
            agreement_id=_uuid(a),
            category=cat,
            due_on=due,
            party_ids=tuple(party_ids.get(_uuid(i), ())),
            title=title,
            reference=ref,
        )
        for i, a, cat, due, title, ref in _read(session, stmt)
    ]
    history = [
        ProgressRow(commitment_id=_uuid(c), level=lv, changed_on=on, created_at=at)
        for c, lv, on, at in _read(session, progress)
    ]
    return CommitmentBook(tuple(rows), tuple(history))


# Incidents


def _readable(principal: Principal) -> list[str]:
    return [s.value for s in principal.readable_sensitivities]


def _own_hidden(principal: Principal) -> list[sa.ColumnElement[bool]] | None:
    """The caller's own reports that its role could not read from others: the only incidents a
    caller sees that the rollups (kept per sensitivity, not per reporter) cannot tell apart. They
    are few, and read from raw rows by `ix_incident_reported_by`. None if the caller sees all."""
    if principal.sees_everything:
        return None
    return [
        selective(INCIDENT.reported_by == principal.name),
        INCIDENT.sensitivity.not_in(list(principal.readable_sensitivities)),
    ]


def _own_where(
    start_at: datetime, end_at: datetime, region: str | None, party_id: uuid.UUID | None
) -> list[sa.ColumnElement[bool]]:
    """The window's clauses for the caller's own reports, read by `ix_incident_reported_by`:
    SQLite's planner, with no histogram, would otherwise walk the window's whole date range."""
    at = unindexed(INCIDENT.occurred_at)
    clauses = [at >= start_at, at < end_at]
    if region is not None:
        clauses.append(INCIDENT.admin1 == region)
    if party_id is not None:
        clauses.append(
            sa.or_(
                INCIDENT.alleged_party_id == party_id,
                INCIDENT.target_party_id == party_id,
                INCIDENT.attributed_party_id == party_id,
            )
        )
    return clauses


def _region_is(column: Any, region: str) -> sa.ColumnElement[bool]:
    """`admin1 = region` on a rollup, where `''` stands for no region (which `= ''` never is)."""
    return column == region if region != NO_PLACE else sa.false()


def _first_day(start_at: datetime) -> date:
    return start_at.astimezone(UTC).date()


def _last_day(end_at: datetime) -> date:
    """The last day before `end_at`, which is a midnight (UTC): windows are whole days."""
    return (end_at.astimezone(UTC) - timedelta(microseconds=1)).date()


Span = tuple[date, date]


def _merged(spans: Sequence[Span]) -> list[Span]:
    """Overlapping or adjacent day spans joined, in order."""
    out: list[Span] = []
    for lo, hi in sorted(set(spans)):
        if out and lo <= out[-1][1] + timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def severity_points(table: sa.Table, settings: Settings) -> sa.ColumnElement[float]:
    """The severity points of `table`'s rows (a violation rollup's groups of `incidents` verified
    incidents of one category with `fatalities` dead each, or raw incident rows, one incident
    each), summed in SQL: sum(incidents x the category's weight, 1 if it has none) + the fatality
    weight x sum(incidents x fatalities capped at the fatality cap), from the settings. The one
    place severity is computed (docs/methodology.md, "Severity")."""
    return _severity(table, *severity_key(settings))


def severity_key(settings: Settings) -> tuple[tuple[tuple[str, float], ...], float, int]:
    """The settings severity is computed from: (category weights, fatality weight, cap)."""
    weights = tuple(sorted(settings.metrics_category_severity.items()))
    return weights, float(settings.metrics_fatality_weight), settings.metrics_fatality_cap


@functools.lru_cache(maxsize=64)
def _severity(
    table: sa.Table, weights: tuple[tuple[str, float], ...], per_death: float, cap: int
) -> sa.ColumnElement[float]:
    """`severity_points`, built once per table and settings (an expression is immutable, and
    building this one was a third of a 90-day compliance's query time)."""
    c = table.c
    incidents = c.incidents if "incidents" in c else sa.literal(1)
    weight = (
        sa.case(
            {name: sa.literal(float(w), sa.Float()) for name, w in weights},
            value=c.category,
            else_=sa.literal(1.0, sa.Float()),
        )
        if weights
        else sa.literal(1.0, sa.Float())
    )
    dead = sa.func.sum(incidents * capped(c.fatalities, cap))
    return sa.func.sum(incidents * weight) + per_death * dead


HarmRow = tuple[Any, Any, Any, int, int | None, float]


def pair_violations(
    session: Session,
    principal: Principal,
    start_at: datetime,
    end_at: datetime,
    *,
    region: str | None,
    settings: Settings,
) -> list[HarmRow]:
    """Verified incidents attributed to one party against another, per day, attributing party
    and target: (day as `date.toordinal()`, party, target, incidents, None, severity points), in
    order of day (see `_harm_rows`). Trust needs each pair's harm per day: ten years of it are
    half as many rows as per category, each summed in the database rather than in Python; it
    reads no fatalities (None), and the day comes as a number, not as text to parse."""
    span = (_first_day(start_at), _last_day(end_at))
    return _harm_rows(
        session, principal, [span], months=False, by_target=True, region=region, settings=settings
    )


def party_tiers(
    session: Session,
    principal: Principal,
    ranges: Sequence[Span],
    *,
    region: str | None,
    settings: Settings,
) -> tuple[list[HarmRow], list[HarmRow]]:
    """What sums of each party's violations over each of `ranges` (first and last day) need:
    (rows per day, rows per month, dated by the month's first day), each `_harm_rows` per party
    (target None), each tier read for the days and months of `windows.month_terms` only (see
    scores.TieredHarm, which sums them back)."""
    terms = [t for lo, hi in ranges for t in windows.month_terms(lo, hi)]
    days = _merged([(t.lo, t.hi) for t in terms if not t.months])
    months = _merged([(t.lo, windows.month_end(t.hi)) for t in terms if t.months])
    month_spans = [(lo, windows.month_start(hi)) for lo, hi in months]

    def read(spans: list[Span], months: bool) -> list[HarmRow]:
        if not spans:
            return []
        return _harm_rows(
            session,
            principal,
            spans,
            months=months,
            by_target=False,
            region=region,
            settings=settings,
        )

    return read(days, False), read(month_spans, True)


def _harm_rows(
    session: Session,
    principal: Principal,
    spans: Sequence[Span],
    *,
    months: bool,
    by_target: bool,
    region: str | None,
    settings: Settings,
) -> list[HarmRow]:
    """Verified incidents attributed to a party, from the day tier (`months` False: `spans` of
    days) or the month tier (spans of months' first days), per day or month and party (and
    target, only incidents with one, if `by_target`; else target None): (period as `YYYY-MM-DD`,
    party, target, incidents, fatalities, severity points), in order of period; with `by_target`
    (trust) the day as its ordinal and fatalities None (`pair_violations`). The severity is
    summed in SQL (`severity_points`), so categories are not returned. Parties as the database
    returns them (`party_of` makes them UUIDs). The caller's own hidden reports are added from
    raw rows (see `_own_hidden`)."""
    readable = None if principal.sees_everything else tuple(_readable(principal))
    severity = severity_key(settings)

    def summed(spans: Sequence[Span]) -> list[Any]:
        stmt = _harm_statement(tuple(spans), months, by_target, region, readable, severity)
        # Plain tuples, not SQLAlchemy's rows: kept for long, compared (`service._decayed_since`)
        # and unpacked row by row, all several times faster so (13,000 rows compared: 1.4 ms
        # against 20); and the collector stops tracking a tuple of plain values.
        return [tuple(row) for row in _read(session, stmt)]

    if not (months or by_target):
        # A party's days (`party_tiers`) are the ends of its ranges that do not fill a month:
        # read as asked, since keeping them would mean reading whole months of days, the month
        # tier's work again (ten years of compliance: 20 ms cold became 60).
        rows = summed(spans)
    else:
        # The month tier, or trust's days (one long span, read whole): each month's sums kept
        # until its stamp moves (migration 0014), per question: the tier, the grouping, the
        # region, what the caller may read and the severity weights (settings are per request).
        asked = (months, by_target, region, readable, severity)
        rows = _kept_months(
            session,
            asked,
            spans,
            summed,
            first_day=(lambda d: d.toordinal()) if by_target else date.isoformat,
            last_day=(lambda m: m) if months else windows.month_end,
        )
    own = _own_hidden(principal)
    if own is None:
        return rows  # type: ignore[return-value]
    raw_period = utc_month(INCIDENT.occurred_at) if months else utc_day(INCIDENT.occurred_at)
    raw_keys = (raw_period, INCIDENT.attributed_party_id, INCIDENT.target_party_id)
    at = unindexed(INCIDENT.occurred_at)
    last = windows.month_end if months else (lambda d: d)
    within = [
        sa.and_(at >= Window(lo, last(hi)).start_at, at < Window(lo, last(hi)).end_at)
        for lo, hi in spans
    ]
    mine = (
        sa.select(
            raw_period,
            _as_text(INCIDENT.attributed_party_id),
            _as_text(INCIDENT.target_party_id) if by_target else sa.null(),
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(INCIDENT.fatalities), 0),
            severity_points(Incident.__table__, settings),  # type: ignore[attr-defined]
        )
        .where(
            sa.or_(*within),
            *own,
            INCIDENT.finding == Finding.verified.value,
            INCIDENT.attributed_party_id.is_not(None),
        )
        .group_by(*raw_keys[: 3 if by_target else 2])
    )
    if by_target:
        mine = mine.where(INCIDENT.target_party_id.is_not(None))
    if region is not None:
        mine = mine.where(INCIDENT.admin1 == region)
    found = {(d, str(p), str(t)): [d, p, t, int(n), f, float(s)] for d, p, t, n, f, s in rows}
    for d, p, t, n, f, s in _read(session, mine):
        if by_target:  # as the rows above: the day's ordinal, no fatalities
            d, f = day_of(d).toordinal(), None
        acc = found.setdefault((d, str(p), str(t)), [d, p, t, 0, None if f is None else 0, 0.0])
        acc[3] += int(n)
        if f is not None:
            acc[4] += int(f)
        acc[5] += float(s)
    return sorted((tuple(v) for v in found.values()), key=lambda r: r[0])  # type: ignore[misc]


@_built
def _harm_statement(
    spans: tuple[Span, ...],
    months: bool,
    by_target: bool,
    region: str | None,
    readable: tuple[str, ...] | None,
    severity: tuple[tuple[tuple[str, float], ...], float, int],
) -> sa.Select[Any]:
    """`_harm_rows`' statement over the tier's `spans`, for the sensitivities `readable` (None:
    all) and the severity settings `severity` (`severity_key`)."""
    table, period = (VM, VM.month) if months else (V, V.day)
    target = _as_text(table.target_party_id) if by_target else sa.null()
    # Pairs (trust): the day as its ordinal, and no fatalities.
    label = day_ordinal(period) if by_target else sa.cast(period, sa.String)
    dead = sa.cast(sa.func.sum(table.incidents * table.fatalities), sa.BigInteger)
    keys: tuple[Any, ...] = (period, table.attributed_party_id, table.target_party_id)
    grouped, order = keys[: 3 if by_target else 2], period
    if len(spans) > 1:
        # Grouped by a column of the primary key, SQLite would walk the whole table in its
        # order, testing every span on each row (ten years of series spans: 150 ms); grouped
        # by the period as selected, it searches each range by the key (3 ms) and sorts.
        grouped, order = (*grouped[1:], label), label
    stmt = (
        sa.select(
            label,
            # Ids as text on SQLite, made into UUIDs once per party (`party_of`).
            _as_text(table.attributed_party_id),
            target,
            # As integers: PostgreSQL sums bigints into numeric, a Decimal per value.
            sa.cast(sa.func.sum(table.incidents), sa.BigInteger),
            sa.null() if by_target else dead,
            _severity(period.table, *severity),
        )
        .where(sa.or_(*(period.between(lo, hi) for lo, hi in spans)))
        # One range in the order of the primary key: SQLite groups as it reads, unsorted.
        .group_by(*grouped)
        .order_by(order)
    )
    if by_target:
        stmt = stmt.where(table.target_party_id != _NO_PARTY)
    if region is not None:
        stmt = stmt.where(_region_is(table.admin1, region))
    if readable is not None:
        stmt = stmt.where(table.sensitivity.in_(readable))
    return stmt


def violation_categories(
    session: Session, principal: Principal, window: Window
) -> dict[tuple[uuid.UUID, str], int]:
    """{(party, category): verified incidents attributed to the party} over the window (its
    region; not its party), summed in SQL over the window's `windows.month_terms` (whole months
    from the month tier, the other days added or subtracted from the day tier) and the caller's
    own hidden reports from raw rows."""
    terms = windows.month_terms(window.date_from, window.date_to)
    stmt = _violation_categories_statement(principal, window, tuple(terms))
    return {(_uuid(p), str(c)): int(n) for p, c, n in _read(session, stmt) if n}


@_built
def _violation_categories_statement(
    principal: Principal, window: Window, terms: tuple[Term, ...]
) -> sa.Select[Any]:
    parts: list[sa.Select[Any]] = []
    for term in terms:
        table, period = (VM, VM.month) if term.months else (V, V.day)
        part = sa.select(
            table.attributed_party_id.label("p"),
            sa.cast(table.category, sa.String).label("c"),
            (term.sign * table.incidents).label("n"),
        ).where(period.between(term.lo, term.hi))
        if window.region is not None:
            part = part.where(_region_is(table.admin1, window.region))
        if not principal.sees_everything:
            part = part.where(table.sensitivity.in_(_readable(principal)))
        parts.append(part)
    own = _own_hidden(principal)
    if own is not None:
        parts.append(
            sa.select(
                INCIDENT.attributed_party_id.label("p"),
                sa.cast(INCIDENT.category, sa.String).label("c"),
                sa.literal(1).label("n"),
            ).where(
                *_own_where(window.start_at, window.end_at, window.region, None),
                *own,
                INCIDENT.finding == Finding.verified.value,
                INCIDENT.attributed_party_id.is_not(None),
            )
        )
    src = (sa.union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
    return sa.select(_as_text(src.c.p), src.c.c, sa.func.sum(src.c.n)).group_by(src.c.p, src.c.c)


@functools.lru_cache(maxsize=16384)
def _uuid_of(text: str) -> uuid.UUID:
    return uuid.UUID(text)


def _uuid(value: Any) -> uuid.UUID:
    """An id (of a party, a commitment) as read from either database (SQLite: its hex text),
    each made once."""
    return value if isinstance(value, uuid.UUID) else _uuid_of(str(value))


def _as_text(column: Any) -> sa.ColumnElement[str]:
    """How to read an id column of many rows: as text, made into a UUID once per distinct id
    (`_uuid`), where SQLAlchemy (SQLite: from its hex) or the driver (PostgreSQL) would make a
    UUID at every row (ten years of trust evidence on PostgreSQL: 13,000 UUIDs, 20 ms)."""
    return sa.cast(column, sa.String)


def party_of(value: Any) -> uuid.UUID:
    """A party id of a plain row (`_harm_rows`) as a UUID, each made once."""
    return _uuid(value)


def day_of(text: str) -> date:
    """A day of a plain row (`_harm_rows`, `YYYY-MM-DD`) as a date, each made once."""
    return _day(text)


def _text(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


# Incident counts, from the `metrics_incident_day` rollup

_NO_PARTY = sa.literal(NO_PARTY, sa.Uuid())
_PLACES = ("admin1", "admin2")
_PARTIES = ("alleged_party_id", "target_party_id", "attributed_party_id")


def _rolled(table: Any, dim: str) -> sa.ColumnElement[Any]:
    """A dimension of a rollup tier as the raw column reads (empty places and no party: NULL);
    `day` and `month` (its first day) as text `YYYY-MM-DD`."""
    if dim == "month":
        return sa.cast(table.month, sa.String) if "month" in table else month_of(table.day)
    if dim == "day":
        return sa.cast(table.day, sa.String)
    if dim in _PLACES:
        return sa.func.nullif(table[dim], NO_PLACE, type_=sa.String())
    if dim in _PARTIES:
        return sa.func.nullif(table[dim], _NO_PARTY, type_=sa.Uuid())
    return table[dim]


def _raw(dim: str) -> sa.ColumnElement[Any]:
    if dim == "day":
        return utc_day(INCIDENT.occurred_at)
    if dim == "month":
        return utc_month(INCIDENT.occurred_at)
    return INCIDENT[dim]


def _terms(window: Window, by_day: bool) -> tuple[Term, ...]:
    """The tier reads of `window`: days only when grouped by day, else `window.month_terms`."""
    if by_day:
        return (Term(1, False, window.date_from, window.date_to),)
    return tuple(windows.month_terms(window.date_from, window.date_to))


def _counted(
    principal: Principal, window: Window, dims: Sequence[str], terms: Sequence[Term]
) -> sa.Subquery:
    """(dims..., n, f) rows whose sums per `dims` are the incidents and fatalities of `window`
    the caller may read: the rollup tiers (a term subtracted from a whole month counts negative),
    plus the caller's own hidden reports (raw) if any."""
    own = _own_hidden(principal)
    parts: list[sa.Select[Any]] = []
    for term in terms:
        table, period = (RM, RM.month) if term.months else (R, R.day)
        rolled = sa.select(
            *(_rolled(table, d).label(d) for d in dims),
            (term.sign * table.incidents).label("n"),
            (term.sign * table.fatalities).label("f"),
        ).where(period >= term.lo, period <= term.hi)
        if window.region is not None:
            rolled = rolled.where(_region_is(table.admin1, window.region))
        if window.party_id is not None:
            p = window.party_id
            rolled = rolled.where(
                sa.or_(
                    table.alleged_party_id == p,
                    table.target_party_id == p,
                    table.attributed_party_id == p,
                )
            )
        if own is not None:
            rolled = rolled.where(table.sensitivity.in_(_readable(principal)))
        parts.append(rolled)
    if own is not None:
        parts.append(
            sa.select(
                *(_raw(d).label(d) for d in dims),
                sa.literal(1, sa.BigInteger()).label("n"),
                sa.cast(INCIDENT.fatalities, sa.BigInteger()).label("f"),
            ).where(
                *_own_where(window.start_at, window.end_at, window.region, window.party_id), *own
            )
        )
    return (sa.union_all(*parts) if len(parts) > 1 else parts[0]).subquery()


def counts(
    session: Session, principal: Principal, window: Window, *dims: str
) -> list[tuple[Any, ...]]:
    """(*dims, incidents, fatalities) per group of `dims` (incident columns, `day`, or `month`:
    its first day), groups with incidents only."""
    return counts_apart(session, principal, [window], *dims)[0]


def counts_apart(
    session: Session, principal: Principal, windows_: Sequence[Window], *dims: str
) -> list[list[tuple[Any, ...]]]:
    """`counts` of each of `windows_`, read in one statement (one round trip, not one each)."""
    terms = tuple(_terms(w, "day" in dims) for w in windows_)
    stmt = _counts_statement(principal, tuple(windows_), dims, terms)
    if len(windows_) == 1:
        return [[_row(dims, row) for row in _read(session, stmt)]]
    out: list[list[tuple[Any, ...]]] = [[] for _ in windows_]
    for row in _read(session, stmt):
        out[row[0]].append(_row(dims, row[1:]))
    return out


@_built
def _counts_statement(
    principal: Principal,
    windows_: tuple[Window, ...],
    dims: tuple[str, ...],
    terms: tuple[tuple[Term, ...], ...],
) -> sa.Select[Any]:
    """`counts_apart`'s statement: with several windows, each row first says which (its index)."""
    if len(windows_) == 1:
        src = _counted(principal, windows_[0], dims, terms[0])
        label: list[Any] = []
    else:
        parts = [
            sa.select(sa.literal(i).label("w"), *_counted(principal, w, dims, t).c)
            for i, (w, t) in enumerate(zip(windows_, terms, strict=True))
        ]
        src = sa.union_all(*parts).subquery()
        label = [src.c.w]
    keys = [*label, *(src.c[d] for d in dims)]
    n = sa.func.sum(src.c.n)
    stmt = sa.select(*keys, n, sa.func.coalesce(sa.func.sum(src.c.f), 0))
    return stmt.group_by(*keys).having(n != 0) if keys else stmt


def _row(dims: Sequence[str], row: Any) -> tuple[Any, ...]:
    values = [
        _day(v) if d in ("day", "month") else _text(v) for d, v in zip(dims, row, strict=False)
    ]
    return (*values, int(row[-2] or 0), int(row[-1] or 0))


def incidents_by_step(
    session: Session, principal: Principal, window: Window
) -> list[tuple[date, int, int]]:
    """(first day, incidents, fatalities) per step of the window's series: per month from the
    month tier when the series is monthly, else per day."""
    step = "month" if window.interval is Interval.month else "day"
    return sorted(counts(session, principal, window, step))


def hotspots(
    session: Session, principal: Principal, window: Window, limit: int
) -> list[tuple[Any, ...]]:
    """(admin1, admin2, incidents, fatalities) of the places with most incidents."""
    stmt = _hotspots_statement(principal, window, limit, _terms(window, False))
    return [(a1, a2, int(k), int(f)) for a1, a2, k, f in _read(session, stmt)]


@_built
def _hotspots_statement(
    principal: Principal, window: Window, limit: int, terms: tuple[Term, ...]
) -> sa.Select[Any]:
    src = _counted(principal, window, _PLACES, terms)
    n = sa.func.sum(src.c.n).label("n")
    return (
        sa.select(src.c.admin1, src.c.admin2, n, sa.func.coalesce(sa.func.sum(src.c.f), 0))
        .group_by(src.c.admin1, src.c.admin2)
        .having(sa.func.sum(src.c.n) != 0)
        .order_by(n.desc(), src.c.admin1, src.c.admin2)
        .limit(limit)
    )


# Verification funnel


# How many of the oldest queued incidents of all `queue_oldest` looks at first.
QUEUE_PROBE = 500


def queue_oldest(
    session: Session, where: list[Any], limit: int, *, long_window: bool = True
) -> list[tuple[Any, ...]]:
    """The oldest incidents of `where` in the queue (received or in review), by receipt.

    The status condition is literal SQL, the very predicate of the partial index
    `ix_incident_queue` (migration 0006): a planner uses a partial index only when the query's
    condition implies the index's, which bound parameters do not show. On PostgreSQL the oldest
    ids are picked first from the index alone (an index-only scan of occurred_at, received_at,
    id), then only those rows are read; SQLite reads the rows as it goes (its row lookups are cheap
    and it does not plan the two steps better). A `long_window` first tries the oldest queued
    incidents of all (`QUEUE_PROBE`, by `ix_incident_queue_received`, migration 0010)."""
    columns = (
        INCIDENT.id,
        INCIDENT.occurred_at,
        INCIDENT.category,
        INCIDENT.admin1,
        INCIDENT.status,
        INCIDENT.received_at,
    )
    queued = [*where, sa.text(f"incident.{QUEUE_WHERE}")]
    order = (INCIDENT.received_at, INCIDENT.id)
    incident = Incident.__table__  # type: ignore[attr-defined]
    # A long window: first the oldest queued incidents of all (by `ix_incident_queue_received`,
    # migration 0010): if `limit` of them are in the window, they are its oldest (any older one of
    # the window would be among them), and its queue is not sorted (ten years: 600,000).
    oldest_all = (
        sa.select(INCIDENT.id)
        .where(sa.text(f"incident.{QUEUE_WHERE}"))
        .order_by(*order)
        .limit(QUEUE_PROBE)
        .subquery()
    )
    probe = (
        sa.select(*columns)
        .join_from(incident, oldest_all, oldest_all.c.id == INCIDENT.id)
        .where(*where)
        .order_by(*order)
        .limit(limit)
    )
    if long_window:  # a short window's queue is small: sorted at once
        rows = [tuple(row) for row in _read(session, probe)]
        if len(rows) == limit:
            return rows
    # The window's whole queue, sorted: by `ix_incident_queue`, not by walking the receipt index
    # from the oldest receipt of all (which a planner may pick for an ORDER BY ... LIMIT).
    order = (by_value(INCIDENT.received_at), INCIDENT.id)
    if session.get_bind().dialect.name == "sqlite":
        stmt = sa.select(*columns).where(*queued).order_by(*order).limit(limit)
    else:
        oldest = sa.select(INCIDENT.id).where(*queued).order_by(*order).limit(limit).subquery()
        stmt = (
            sa.select(*columns)
            .join_from(incident, oldest, oldest.c.id == INCIDENT.id)
            .order_by(*order)
        )
    return [tuple(row) for row in _read(session, stmt)]


def _delay_where(principal: Principal, window: Window) -> list[sa.ColumnElement[bool]]:
    """`window_where` on the `metrics_verify_delay` rollup, which keeps the incident columns the
    window and the visibility rule read (occurred_at, admin1, parties, sensitivity, reporter)."""
    clauses: list[sa.ColumnElement[bool]] = [
        D.occurred_at >= window.start_at,
        D.occurred_at < window.end_at,
    ]
    if not principal.sees_everything:
        clauses.append(
            sa.or_(D.reported_by == principal.name, D.sensitivity.in_(_readable(principal)))
        )
    if window.region is not None:
        clauses.append(D.admin1 == window.region)
    if window.party_id is not None:
        p = window.party_id
        clauses.append(
            sa.or_(D.alleged_party_id == p, D.target_party_id == p, D.attributed_party_id == p)
        )
    return clauses


# Up to this many delays in a window, percentiles are read by sorting them all (a dashboard's 90
# days: about 10,000 at a million incidents, some 8 ms); beyond, through the histogram (a year,
# 40,000 delays: 10-11 ms against 28-40 ms sorted). Windows of up to SHORT_WINDOW_DAYS are
# sorted without counting first (the count costs 2-3 ms).
SORTED_DELAYS_UP_TO = 10_000
SHORT_WINDOW_DAYS = 120


def seconds_to_verify(
    session: Session, principal: Principal, window: Window, percents: Sequence[int]
) -> tuple[int, list[float]]:
    """How many incidents of the window have a finding, and the exact `percents` percentiles
    (nearest rank, `flows.rank_of`) of their seconds from receipt to first finding.

    Without a region or party filter, the count comes from the histogram of delays per month and
    bucket (`metrics_verify_delay_month`, migration 0010); a long window then reads each
    percentile from its bucket alone (`_ranked_in_bucket`). Otherwise, and for windows of up to
    `SORTED_DELAYS_UP_TO` delays, from `metrics_verify_delay` (one row per incident with a finding,
    migration 0006) in one sorted pass. Both give the same value: the delay at the rank."""
    if window.region is None and window.party_id is None and window.days > SHORT_WINDOW_DAYS:
        histogram = _delay_histogram(session, principal, window)
        n = sum(histogram.values())
        if not n:
            return 0, []
        if n > SORTED_DELAYS_UP_TO:
            return n, [
                _ranked_in_bucket(session, principal, window, histogram, flows.rank_of(n, q) + 1)
                for q in percents
            ]
        return _sorted_ranks(session, principal, window, percents, n)
    return _sorted_ranks(session, principal, window, percents, None)


def _delay_histogram(session: Session, principal: Principal, window: Window) -> dict[int, int]:
    """{bucket: delays of the window} the caller may read: the window's whole months from
    `metrics_verify_delay_month`, its other days (added or subtracted, `window.month_terms`)
    and the caller's own hidden reports from `metrics_verify_delay` rows, bucketed in SQL."""
    bucket = sa.literal_column(rollups.delay_bucket("metrics_verify_delay.delay_s"), sa.Integer)
    own = _own_hidden(principal)
    parts: list[sa.Select[Any]] = []
    for term in windows.month_terms(window.date_from, window.date_to):
        if term.months:
            part = sa.select(DM.bucket.label("b"), (term.sign * DM.incidents).label("n")).where(
                DM.month >= term.lo, DM.month <= term.hi
            )
            if own is not None:
                part = part.where(DM.sensitivity.in_(_readable(principal)))
        else:
            days = Window(term.lo, term.hi)
            part = sa.select(bucket.label("b"), sa.literal(term.sign).label("n")).where(
                D.occurred_at >= days.start_at, D.occurred_at < days.end_at
            )
            if own is not None:
                part = part.where(D.sensitivity.in_(_readable(principal)))
        parts.append(part)
    if own is not None:
        mine = sa.select(INCIDENT.id).where(selective(INCIDENT.reported_by == principal.name))
        parts.append(
            sa.select(bucket.label("b"), sa.literal(1).label("n")).where(
                D.incident_id.in_(mine),
                D.sensitivity.not_in(_readable(principal)),
                D.occurred_at >= window.start_at,
                D.occurred_at < window.end_at,
            )
        )
    src = (sa.union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
    stmt = sa.select(src.c.b, sa.func.sum(src.c.n)).group_by(src.c.b)
    return {int(b): int(n) for b, n in _read(session, stmt) if n}


def _ranked_in_bucket(
    session: Session,
    principal: Principal,
    window: Window,
    histogram: dict[int, int],
    rank: int,
) -> float:
    """The delay at 1-based `rank` of the window: the bucket that holds the rank (from the
    histogram), then that bucket's delays in order by the index `(delay_s, occurred_at)`, skipping
    those of lower rank. Only one bucket's delays are read (a factor 2^(1/4) of delay wide)."""
    below = 0
    for b in sorted(histogram):
        if below + histogram[b] >= rank:
            break
        below += histogram[b]
    bounds = DELAY_BOUNDS_S
    within = [
        # `+occurred_at` on SQLite: the delay index, not the window's, drives the read.
        unindexed(D.occurred_at) >= window.start_at,
        unindexed(D.occurred_at) < window.end_at,
    ]
    if b > 0:
        within.append(D.delay_s >= bounds[b - 1])
    if b < len(bounds):
        within.append(D.delay_s < bounds[b])
    if not principal.sees_everything:
        within.append(
            sa.or_(D.reported_by == principal.name, D.sensitivity.in_(_readable(principal)))
        )
    stmt = sa.select(D.delay_s).where(*within).order_by(D.delay_s).offset(rank - below - 1)
    return float(_read(session, stmt.limit(1)).scalar_one())


def _sorted_ranks(
    session: Session,
    principal: Principal,
    window: Window,
    percents: Sequence[int],
    n: int | None,
) -> tuple[int, list[float]]:
    """The percentiles by one sorted pass over the window's delays
    (`row_number() OVER (ORDER BY delay_s)`), from which only the rows at the wanted ranks leave
    the database. SQLite counts first (from the index alone, cheaper there than a window count;
    unless `n` is known); PostgreSQL counts in the same pass, so that it reads the rows once."""
    where = _delay_where(principal, window)
    rank = sa.func.row_number().over(order_by=D.delay_s)
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        if n is None:
            n = int(_read(session, sa.select(sa.func.count()).where(*where)).scalar_one())
        if not n:
            return 0, []
        ranked = sa.select(D.delay_s.label("s"), rank.label("rank")).where(*where).subquery()
        wanted: list[Any] = [flows.rank_of(n, q) + 1 for q in percents]
        stmt = sa.select(ranked.c.rank, ranked.c.s).where(ranked.c.rank.in_(sorted(set(wanted))))
    else:
        count = sa.func.count().over().label("n")
        ranked = sa.select(D.delay_s.label("s"), rank.label("rank"), count).where(*where).subquery()
        # flows.rank_of, 1-based: ceil(q * n / 100) in integers (1 <= it <= n for 0 < q <= 100).
        wanted = [(q * ranked.c.n + 99) // 100 for q in percents]
        stmt = sa.select(ranked.c.rank, ranked.c.s, ranked.c.n).where(
            sa.or_(*(ranked.c.rank == w for w in wanted))
        )
    rows = _read(session, stmt).all()
    if not rows:
        return 0, []
    if not sqlite:
        n = int(rows[0][2])
    found = {int(row[0]): float(row[1]) for row in rows}
    return n, [found[flows.rank_of(n, q) + 1] for q in percents]


# DDR


def ddr_goals(session: Session, window: Window) -> list[DdrGoal]:
    """Targets whose period overlaps the window."""
    stmt = sa.select(
        col(DdrTarget.indicator),
        col(DdrTarget.party_id),
        col(DdrTarget.site),
        col(DdrTarget.target_quantity),
    ).where(
        col(DdrTarget.period_start_on) <= window.date_to,
        col(DdrTarget.period_end_on) >= window.date_from,
    )
    if window.party_id is not None:
        stmt = stmt.where(col(DdrTarget.party_id) == window.party_id)
    return [DdrGoal(i, p, s, q) for i, p, s, q in _read(session, stmt)]


def ddr_achieved(session: Session, window: Window) -> list[DdrAchieved]:
    """Milestones achieved in the window, less those rejected, duplicated or refuted."""
    m = DdrMilestone
    total = sa.func.coalesce
    stmt = (
        sa.select(
            col(m.indicator),
            col(m.party_id),
            col(m.site),
            col(m.achieved_on),
            col(m.finding),
            sa.func.sum(col(m.quantity)),
            total(sa.func.sum(col(m.women)), 0),
            total(sa.func.sum(col(m.men)), 0),
            total(sa.func.sum(col(m.boys)), 0),
            total(sa.func.sum(col(m.girls)), 0),
        )
        .where(
            col(m.achieved_on) >= window.date_from,
            col(m.achieved_on) <= window.date_to,
            col(m.status).not_in([WorkflowStatus.rejected, WorkflowStatus.duplicate]),
            col(m.finding) != Finding.refuted,
        )
        .group_by(
            col(m.indicator), col(m.party_id), col(m.site), col(m.achieved_on), col(m.finding)
        )
    )
    if window.party_id is not None:
        stmt = stmt.where(col(m.party_id) == window.party_id)
    return [
        DdrAchieved(i, p, s, d, f, int(q), int(w), int(mn), int(b), int(g))
        for i, p, s, d, f, q, w, mn, b, g in _read(session, stmt)
    ]


# Tracks


@dataclass(frozen=True, slots=True)
class Activities:
    """Every track activity in order of day, as one read of the two tables gives them: each with
    its parties in order of id (`items`, `days`), and once per pair of its parties (`pairs`,
    `pair_days`; a party before the other in order of id, as trust keys its pairs)."""

    items: list[tuple[Engagement, tuple[uuid.UUID, ...]]]
    days: list[date]
    pairs: list[tuple[uuid.UUID, uuid.UUID, Engagement]]
    pair_days: list[date]

    def between(self, lo: date, hi: date) -> list[tuple[Engagement, tuple[uuid.UUID, ...]]]:
        return self.items[bisect_left(self.days, lo) : bisect_right(self.days, hi)]


def activities(session: Session) -> Activities:
    """Every track activity with its parties; kept while none changes (`_kept`): tracks and
    trust read them whole (ten years: 1,000 activities, 2,000 links), and they change far less
    often than they are read."""
    return _kept(session, "tracks", lambda: _read_activities(session))


def _read_activities(session: Session) -> Activities:
    t, link = TrackActivity, TrackActivityParty
    stmt = (
        # Day, track and outcome as text, each distinct value made into its type once
        # (`_engagement`), each party's id made into a UUID once (`_uuid`).
        sa.select(
            _as_text(col(t.id)),
            sa.cast(col(t.occurred_on), sa.String),
            sa.cast(col(t.track), sa.String),
            sa.cast(col(t.outcome), sa.String),
            _as_text(col(link.party_id)),
        )
        .outerjoin(link, col(link.track_activity_id) == col(t.id))
        .order_by(col(t.occurred_on), col(t.id))
    )
    items: list[tuple[Engagement, tuple[uuid.UUID, ...]]] = []
    parties: list[uuid.UUID] = []
    last: Any = None
    for a_id, day, track, outcome, party in _read(session, stmt):
        if a_id != last:
            if items:
                items[-1] = (items[-1][0], tuple(sorted(parties)))
            items.append((_engagement(day, track, outcome), ()))
            parties, last = [], a_id
        if party is not None:
            parties.append(_uuid(party))
    if items:
        items[-1] = (items[-1][0], tuple(sorted(parties)))
    pairs = [
        (a, b, act)
        for act, involved in items
        for i, a in enumerate(involved)
        for b in involved[i + 1 :]
    ]
    return Activities(
        items=items,
        days=[act.day for act, _ in items],
        pairs=pairs,
        pair_days=[act.day for _, _, act in pairs],
    )


def track_rows(session: Session, window: Window) -> list[TrackAgg]:
    """The window's activities counted per day, track and outcome (those of its party only, if
    it has one)."""
    counted: Counter[tuple[date, str, TrackOutcome]] = Counter()
    for act, involved in activities(session).between(window.date_from, window.date_to):
        if window.party_id is None or window.party_id in involved:
            counted[(act.day, act.track, act.outcome)] += 1
    return [TrackAgg(d, track, outcome, n) for (d, track, outcome), n in counted.items()]


def track_rows_by_party(session: Session, window: Window) -> list[tuple[uuid.UUID, TrackAgg]]:
    """The window's activities counted per party in them, day, track and outcome (its party's
    only, if it has one)."""
    counted: Counter[tuple[uuid.UUID, date, str, TrackOutcome]] = Counter()
    for act, involved in activities(session).between(window.date_from, window.date_to):
        for party in involved:
            if window.party_id is None or party == window.party_id:
                counted[(party, act.day, act.track, act.outcome)] += 1
    return [(p, TrackAgg(d, track, outcome, n)) for (p, d, track, outcome), n in counted.items()]


def engagements(
    session: Session, date_from: date, date_to: date
) -> list[tuple[uuid.UUID, uuid.UUID, Engagement]]:
    """Each activity of the period once per pair of parties in it: (party, other party, the
    activity), the pair in the order of their ids (`a < b`), in order of day."""
    every = activities(session)
    return every.pairs[
        bisect_left(every.pair_days, date_from) : bisect_right(every.pair_days, date_to)
    ]


@functools.lru_cache(maxsize=4096)
def _engagement(day: str, track: str, outcome: str) -> Engagement:
    return Engagement(_day(day), track, TrackOutcome(outcome))


def perceptions(
    session: Session, date_from: date, date_to: date, region: str | None = None
) -> list[tuple[uuid.UUID, uuid.UUID, Perception]]:
    """Each survey of the period (of `region` only, if given): (respondent, trusted, result)."""
    s = PerceptionSurvey
    stmt = sa.select(
        col(s.respondent_party_id), col(s.trusted_party_id), col(s.surveyed_on), col(s.score)
    ).where(col(s.surveyed_on) >= date_from, col(s.surveyed_on) <= date_to)
    if region is not None:
        stmt = stmt.where(col(s.admin1) == region)
    return [(a, b, Perception(day, score)) for a, b, day, score in _read(session, stmt)]
