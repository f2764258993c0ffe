"""Write the demo mission into a database: set-based inserts in one transaction, each row also
appended to the audit trail (as the batch sync does), so the chain records everything."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from backend.audit import service as audit
from backend.auth.models import ApiToken
from backend.bulk import insert_rows
from backend.db import Database
from backend.demo import scenario as S
from backend.demo.generate import DEFAULT_SEED, SEEDER, DemoData, generate
from backend.errors import Conflict
from backend.parties.models import Party

# What counts as "a database with records" (tokens do not: a new server makes one at once).
RECORD_TABLES = (
    "party",
    "incident",
    "verification_event",
    "ddr_target",
    "ddr_milestone",
    "track_activity",
    "agreement",
    "commitment",
)


class NotEmpty(Conflict):
    """The database has records already, and --force was not given."""


def record_counts(session: Session) -> dict[str, int]:
    tables = SQLModel.metadata.tables
    return {
        name: session.connection()
        .execute(sa.select(sa.func.count()).select_from(tables[name]))
        .scalar_one()
        for name in RECORD_TABLES
    }


def is_new(session: Session) -> bool:
    """No records and no tokens: a database nobody has used yet."""
    if any(record_counts(session).values()):
        return False
    return session.exec(select(ApiToken.id).limit(1)).first() is None


def seed(
    db: Database, *, seed: int = DEFAULT_SEED, today: date | None = None, force: bool = False
) -> dict[str, int]:
    """Generate the mission and write it; returns rows written per table."""
    data = generate(seed, today)
    with db.session() as session:
        check_empty(session, force=force)
        return write(session, data)


def check_empty(session: Session, *, force: bool) -> None:
    counts = {k: v for k, v in record_counts(session).items() if v}
    if counts and not force:
        found = ", ".join(f"{v} {k}" for k, v in counts.items())
        raise NotEmpty(
            f"the database has records already ({found}); the demo seeds only an empty database. "
            "Use --force to add it anyway, or start from an empty database"
        )
    codes = [p.code for p in S.PARTIES]
    taken = session.exec(select(Party.code).where(col(Party.code).in_(codes))).all()
    if taken:
        raise Conflict(
            f"parties with the demo's codes exist already ({', '.join(sorted(taken))}): a demo "
            "mission is there; start from an empty database for another one",
            field="code",
        )


def write(session: Session, data: DemoData) -> dict[str, int]:
    audit.set_actor(session, SEEDER, "system")
    conn = session.connection()
    order = {t.name: i for i, t in enumerate(SQLModel.metadata.sorted_tables)}
    tables = sorted(data.rows, key=lambda t: order[t.__tablename__])  # type: ignore[attr-defined]
    entries: list[tuple[str, str, str, dict[str, Any]]] = []
    written: Counter[str] = Counter()
    for table in tables:
        rows = data.rows[table]
        name = table.__tablename__  # type: ignore[attr-defined]
        keys = [c.key for c in sa.inspect(table).primary_key]
        for start in range(0, len(rows), 1000):
            insert_rows(conn, table.__table__, rows[start : start + 1000])  # type: ignore[attr-defined]
        entries += [("create", name, ",".join(str(r[k]) for k in keys), r) for r in rows]
        written[name] += len(rows)
    audit.append(session, entries)
    return dict(written)
