"""Actors named by a dataset, matched to our parties by name or alias (and made when asked)."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections import Counter

from sqlmodel import Session, select

from backend.imports.mapping import Actor
from backend.parties.models import Party


def actor_key(name: str) -> str:
    """How actor names are compared: case and runs of spaces do not matter."""
    return " ".join(name.casefold().split())


def _code_base(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", ascii_name)
    if len(words) > 1:
        base = "".join(w[0] for w in words if w.lower() not in {"of", "the", "and"})
    else:
        base = words[0] if words else ""
    return base.upper()[:14] or "ACTOR"


class PartyDirectory:
    """The parties by actor key, loaded once per import; creates parties when `create` is set."""

    def __init__(self, *, create: bool) -> None:
        self.create = create
        self._by_key: dict[str, uuid.UUID] | None = None
        self._codes: set[str] = set()
        self._keys: dict[str, str] = {}  # actor name as written -> actor_key, met so far
        self.created: list[str] = []
        self.unlinked: Counter[str] = Counter()

    def _load(self, session: Session) -> dict[str, uuid.UUID]:
        if self._by_key is None:
            self._by_key = {}
            for party in session.exec(select(Party)):
                for name in (party.name, *party.aliases):
                    self._by_key.setdefault(actor_key(name), party.id)
                self._codes.add(party.code.lower())
        return self._by_key

    def resolve(self, session: Session, actor: Actor | None) -> uuid.UUID | None:
        """The party an actor stands for; None for no actor, a non-party or an unknown one."""
        if actor is None:
            return None
        by_key = self._load(session)
        key = self._keys.get(actor.name)
        if key is None:
            key = self._keys[actor.name] = actor_key(actor.name)
        found = by_key.get(key)
        if found is not None or actor.kind is None:
            return found
        if not self.create:
            self.unlinked[actor.name] += 1
            return None
        party = self._make(session, actor)
        by_key[key] = party.id
        return party.id

    def _make(self, session: Session, actor: Actor) -> Party:
        base = _code_base(actor.name)
        code, n = base, 2
        while code.lower() in self._codes:
            code, n = f"{base}-{n}", n + 1
        self._codes.add(code.lower())
        name = actor.name if len(actor.name) <= 200 else actor.name[:199] + "…"
        aliases = [actor.name] if name != actor.name else []
        assert actor.kind is not None
        party = Party(name=name, code=code, kind=actor.kind, signatory=False, aliases=aliases)
        session.add(party)
        session.flush()  # audited by the flush hook, like every ORM change
        self.created.append(name)
        return party
