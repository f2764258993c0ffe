"""Rollups of the `incident` table, kept by database triggers in the writing transaction.

Migration 0005 creates these tables and the triggers on `incident` (INSERT, UPDATE, DELETE) that
keep them equal to a GROUP BY of the raw rows, whatever path writes (ORM, SQLAlchemy Core batch
inserts, raw SQL). Migration 0006 adds `metrics_verify_delay` (one row per incident with a
finding, kept by triggers on `verification_event` and `incident`) and the queue's partial index.
Migration 0009 adds the month tier (`metrics_incident_month`, `metrics_violation_month`): the same
keys with the month's first day in place of the day, kept by their own triggers, so that a long
window reads whole months there and only its ragged ends by day. `peacewatch metrics rebuild`
(backend/metrics/rollups.py) recomputes them all.

Every dimension of the day rollups is NOT NULL so that `ON CONFLICT (...) DO UPDATE` finds the
group: an empty region is stored as `''`, no party as the nil UUID (`NO_PARTY`). The query layer
maps them back.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime
from backend.incidents.models import Incident

NO_PARTY = uuid.UUID(int=0)
NO_PLACE = ""


class IncidentDayRollup(SQLModel, table=True):
    """Incidents and fatalities per UTC day and every dimension a measure filters or groups by."""

    __tablename__ = "metrics_incident_day"
    __table_args__ = {"sqlite_with_rowid": False}  # the key is the table: one B-tree

    day: date = Field(primary_key=True)
    admin1: str = Field(primary_key=True, max_length=100)
    admin2: str = Field(primary_key=True, max_length=100)
    category: str = Field(primary_key=True, max_length=32)
    alleged_party_id: uuid.UUID = Field(primary_key=True)
    target_party_id: uuid.UUID = Field(primary_key=True)
    attributed_party_id: uuid.UUID = Field(primary_key=True)
    status: str = Field(primary_key=True, max_length=32)
    finding: str = Field(primary_key=True, max_length=32)
    sensitivity: str = Field(primary_key=True, max_length=32)
    incidents: int = Field(default=0, sa_type=sa.BigInteger)
    fatalities: int = Field(default=0, sa_type=sa.BigInteger)


class ViolationDayRollup(SQLModel, table=True):
    """Verified incidents attributed to a party, per day, party, target, category, region and
    fatality count (kept as a dimension so that any cap on fatalities can be applied exactly)."""

    __tablename__ = "metrics_violation_day"
    __table_args__ = {"sqlite_with_rowid": False}  # the key is the table: one B-tree

    day: date = Field(primary_key=True)
    attributed_party_id: uuid.UUID = Field(primary_key=True)
    target_party_id: uuid.UUID = Field(primary_key=True)
    category: str = Field(primary_key=True, max_length=32)
    admin1: str = Field(primary_key=True, max_length=100)
    sensitivity: str = Field(primary_key=True, max_length=32)
    fatalities: int = Field(primary_key=True)
    incidents: int = Field(default=0, sa_type=sa.BigInteger)


class IncidentMonthRollup(SQLModel, table=True):
    """`IncidentDayRollup` summed per UTC calendar month (`month`: its first day)."""

    __tablename__ = "metrics_incident_month"
    __table_args__ = {"sqlite_with_rowid": False}

    month: date = Field(primary_key=True)
    admin1: str = Field(primary_key=True, max_length=100)
    admin2: str = Field(primary_key=True, max_length=100)
    category: str = Field(primary_key=True, max_length=32)
    alleged_party_id: uuid.UUID = Field(primary_key=True)
    target_party_id: uuid.UUID = Field(primary_key=True)
    attributed_party_id: uuid.UUID = Field(primary_key=True)
    status: str = Field(primary_key=True, max_length=32)
    finding: str = Field(primary_key=True, max_length=32)
    sensitivity: str = Field(primary_key=True, max_length=32)
    incidents: int = Field(default=0, sa_type=sa.BigInteger)
    fatalities: int = Field(default=0, sa_type=sa.BigInteger)


class ViolationMonthRollup(SQLModel, table=True):
    """`ViolationDayRollup` summed per UTC calendar month (`month`: its first day)."""

    __tablename__ = "metrics_violation_month"
    __table_args__ = {"sqlite_with_rowid": False}

    month: date = Field(primary_key=True)
    attributed_party_id: uuid.UUID = Field(primary_key=True)
    target_party_id: uuid.UUID = Field(primary_key=True)
    category: str = Field(primary_key=True, max_length=32)
    admin1: str = Field(primary_key=True, max_length=100)
    sensitivity: str = Field(primary_key=True, max_length=32)
    fatalities: int = Field(primary_key=True)
    incidents: int = Field(default=0, sa_type=sa.BigInteger)


INCIDENT_DIMENSIONS = (
    "admin1",
    "admin2",
    "category",
    "alleged_party_id",
    "target_party_id",
    "attributed_party_id",
    "status",
    "finding",
    "sensitivity",
)
VIOLATION_DIMENSIONS = (
    "attributed_party_id",
    "target_party_id",
    "category",
    "admin1",
    "sensitivity",
)


class VerifyDelay(SQLModel, table=True):
    """One row per incident with a finding: the time of its first finding (verified, disputed or
    refuted) and the seconds from the incident's receipt to it, with the incident columns a window
    filters by. Kept by triggers on `verification_event` and `incident` (migration 0006)."""

    __tablename__ = "metrics_verify_delay"
    # Each index ends with the visibility rule's columns (0012), checked on the index entry.
    __table_args__ = (
        sa.Index(
            "ix_metrics_verify_delay_occurred_at",
            "occurred_at",
            "delay_s",
            "sensitivity",
            "reported_by",
        ),
        # A percentile's last step reads the delays of one histogram bucket in order (0010).
        sa.Index(
            "ix_metrics_verify_delay_delay_s",
            "delay_s",
            "occurred_at",
            "sensitivity",
            "reported_by",
        ),
    )

    incident_id: uuid.UUID = Field(primary_key=True)
    first_found_at: datetime = Field(sa_type=UTCDateTime)
    delay_s: float
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    admin1: str | None = Field(default=None, max_length=100)
    alleged_party_id: uuid.UUID | None = None
    target_party_id: uuid.UUID | None = None
    attributed_party_id: uuid.UUID | None = None
    sensitivity: str = Field(max_length=32)
    reported_by: str = Field(max_length=100)


# Delay buckets of `metrics_verify_delay_month` (migration 0010): bucket `b` holds the delays
# `d` with DELAY_BOUNDS_S[b - 1] <= d < DELAY_BOUNDS_S[b] (bucket 0: under a minute, negative
# ones included; the last: 20 years and more). Whole seconds, a factor 2^(1/4) apart (about 19%),
# so that a bucket is one comparison on the very `delay_s` the finer read compares. The migration
# keeps its own copy (a schema does not follow later code); a test checks they agree.
DELAY_BOUNDS_S: tuple[int, ...] = tuple(round(60 * 2 ** (k / 4)) for k in range(95))


class VerifyDelayMonth(SQLModel, table=True):
    """`metrics_verify_delay` counted per UTC month of occurrence, sensitivity and delay bucket
    (`DELAY_BOUNDS_S`): where a percentile's rank falls, without sorting a long window's delays.
    Kept by triggers on `metrics_verify_delay` (migration 0010)."""

    __tablename__ = "metrics_verify_delay_month"
    __table_args__ = {"sqlite_with_rowid": False}

    month: date = Field(primary_key=True)
    sensitivity: str = Field(primary_key=True, max_length=32)
    bucket: int = Field(primary_key=True)
    incidents: int = Field(default=0, sa_type=sa.BigInteger)


# The verification queue (received or in review) by occurrence: the funnel's oldest-in-queue list
# reads only the queued incidents of its window (migration 0006), and checks who may read each on
# the index entry (sensitivity and reporter, migration 0012).
QUEUE_WHERE = "status IN ('received', 'in_review')"
_incident = Incident.__table__.c  # type: ignore[attr-defined]
QUEUE_INDEX = sa.Index(
    "ix_incident_queue",
    _incident.occurred_at,
    _incident.received_at,
    _incident.id,
    _incident.sensitivity,
    _incident.reported_by,
    sqlite_where=sa.text(QUEUE_WHERE),
    postgresql_where=sa.text(QUEUE_WHERE),
)
# The same queue by receipt (migration 0010): the oldest queued incidents of all, whose share in a
# long window is read without sorting the window's whole queue.
QUEUE_RECEIVED_INDEX = sa.Index(
    "ix_incident_queue_received",
    _incident.received_at,
    _incident.id,
    sqlite_where=sa.text(QUEUE_WHERE),
    postgresql_where=sa.text(QUEUE_WHERE),
)


class SourceVersion(SQLModel, table=True):
    """A stamp per group of small, slowly changing tables that the measures read whole on every
    request: `commitments` (commitment, commitment_party, commitment_progress), `parties` and
    `tracks` (track_activity, track_activity_party).
    Triggers on those tables give it a new random value in every transaction that writes them
    (migration 0013), so a process keeps what it read beside the stamp it read it at and reads
    again only when the stamp differs (`queries.commitments`, `queries.parties`,
    `queries.engagements`). Random, not a
    counter: a database restored from a backup cannot come back to a stamp a process has seen
    with other rows."""

    __tablename__ = "metrics_source_version"

    source: str = Field(primary_key=True, max_length=32)
    version: str = Field(max_length=36)


class ViolationStamp(SQLModel, table=True):
    """A stamp per calendar month of the violation rollups (`month`: its first day), made new by
    triggers in every transaction that changes a row of `metrics_violation_day` of a day of the
    month or of `metrics_violation_month` of the month (migration 0014). A process keeps what it
    summed of each month beside the month's stamp and reads again only the months whose stamp
    moved (`queries._kept_months`). A month with no stamp is read every time. Random, as
    `SourceVersion`'s."""

    __tablename__ = "metrics_violation_stamp"

    month: date = Field(primary_key=True)
    version: str = Field(max_length=36)


class AlertSeen(SQLModel, table=True):
    """Each alert once announced, per audience: the INSERT that adds a row is the one process (of
    however many serve the database) that announces the alert on the live stream.

    `audience` is the widest sensitivity of incidents the alert was computed over (`confidential`
    for analysts and admins, `restricted` for viewers, `public` for reporters), so that no reader
    learns of an alert that only incidents they may not read would raise.
    """

    __tablename__ = "metrics_alert_seen"

    alert_id: str = Field(primary_key=True, max_length=300)
    audience: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=200)
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
