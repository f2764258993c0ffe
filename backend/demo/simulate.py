"""The field simulator: field teams and analysts working through the public API, as they do.

A reporter posts incidents and DDR milestones (device-made ids), now and then flushes an outbox
through `/sync`, re-sends after a "dropped link" (a replay), queues a record twice in one outbox
(an exact duplicate, answered as a replay), reports an event another team reported already (a
duplicate report, later closed as `duplicate`) or mistypes a field (rejected). An analyst takes
reports through review to a finding. The rate counts records sent per minute; re-sends are extra.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.ddr.models import PEOPLE_INDICATORS
from backend.demo import scenario as S
from backend.demo.client import Answer, JsonClient, Unreachable
from backend.vocab import DdrIndicator

API = "/api/v1"
OUTCOMES = ("created", "replayed", "rejected", "conflict")


@dataclass
class Tally:
    counts: Counter[str] = field(
        default_factory=Counter
    )  # created, replayed, rejected, conflict, failed
    created_ids: dict[str, set[str]] = field(default_factory=dict)  # per kind
    replayed_ids: set[str] = field(default_factory=set)

    def note(self, kind: str, outcome: str, record_id: str | None) -> None:
        self.counts[outcome] += 1
        if outcome == "created" and record_id:
            self.created_ids.setdefault(kind, set()).add(record_id)
        elif outcome == "replayed" and record_id:
            self.replayed_ids.add(record_id)

    @property
    def sent(self) -> int:
        return sum(self.counts[o] for o in OUTCOMES)

    def line(self) -> str:
        c = self.counts
        return (
            f"created {c['created']}, replayed {c['replayed']}, rejected {c['rejected']}, "
            f"conflict {c['conflict']}, failed {c['failed']}"
        )


@dataclass
class Pending:
    """An incident on its way through verification."""

    id: str
    status: str
    alleged_party_id: str | None
    duplicate: bool = False


class Simulator:
    def __init__(
        self,
        *,
        url: str,
        reporter_token: str,
        analyst_token: str,
        rate_per_minute: float,
        duration_s: float | None = None,
        seed: int | None = None,
        every: int = 25,
        say: Callable[[str], None] = print,
        stop: threading.Event | None = None,
        give_up_s: float = 15,
    ) -> None:
        self.reporter = JsonClient(url, reporter_token)
        self.analyst = JsonClient(url, analyst_token)
        self.interval_s = 60 / rate_per_minute
        self.duration_s = duration_s
        self.rng = random.Random(seed)  # noqa: S311 - made-up reports, not secrets
        self.every = max(1, every)
        self.say = say
        self.stop = stop or threading.Event()
        self.give_up_s = give_up_s
        self.tally = Tally()
        self.parties: dict[str, str] = {}  # code -> id
        self.targets: list[dict[str, Any]] = []
        self.queue: deque[Pending] = deque()
        self.milestones: deque[str] = deque()
        self._last_ok = time.monotonic()
        self._next_report = self.every

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> Tally:
        self._learn()
        started = time.monotonic()
        due = started
        actions = (
            (self._incident, 0.45),
            (self._verification, 0.3),
            (self._milestone, 0.12),
            (self._outbox, 0.08),
            (self._milestone_verification, 0.05),
        )
        try:
            while not self.stop.is_set():
                if self.duration_s is not None and time.monotonic() - started >= self.duration_s:
                    break
                action = self.rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
                try:
                    sent = action()
                    self._last_ok = time.monotonic()
                except Unreachable as exc:
                    self.tally.counts["failed"] += 1
                    if time.monotonic() - self._last_ok > self.give_up_s:
                        self.say(f"server unreachable for {self.give_up_s:.0f}s ({exc}); stopping")
                        break
                    sent = 1
                self._progress()
                due += self.interval_s * max(sent, 1)
                self.stop.wait(max(0.0, due - time.monotonic()))
        finally:
            self.reporter.close()
            self.analyst.close()
        return self.tally

    def _progress(self) -> None:
        if self.tally.sent >= self._next_report:
            self.say(f"simulator: {self.tally.sent} records sent: {self.tally.line()}")
            while self._next_report <= self.tally.sent:
                self._next_report += self.every

    def _learn(self) -> None:
        """The parties, DDR targets and the incidents waiting for verification, from the API."""
        answer = self.reporter.call("GET", f"{API}/parties", params={"limit": 500})
        for party in answer.body.get("items", []) if answer.status == 200 else []:
            self.parties[party["code"]] = party["id"]
        answer = self.reporter.call("GET", f"{API}/ddr/targets", params={"limit": 500})
        self.targets = answer.body.get("items", []) if answer.status == 200 else []
        answer = self.analyst.call(
            "GET",
            f"{API}/incidents",
            params={"status": ["received", "in_review"], "limit": 200},
        )
        for item in answer.body.get("items", []) if answer.status == 200 else []:
            self.queue.append(Pending(item["id"], item["status"], item["alleged_party_id"]))

    # --- sending, with the field's habits ----------------------------------------------------

    def _send(self, client: JsonClient, path: str, body: dict[str, Any], kind: str) -> Answer:
        """POST; wait out 429s; re-send once in a while as a device does after a lost answer."""
        answer = self._post(client, path, body)
        outcome = self._outcome(answer)
        self.tally.note(kind, outcome, _id(answer))
        if outcome == "created" and self.rng.random() < 0.1:
            again = self._post(client, path, body)  # the link dropped before the answer came
            self.tally.note(kind, self._outcome(again), _id(again))
        return answer

    def _post(self, client: JsonClient, path: str, body: Any) -> Answer:
        for _ in range(5):
            answer = client.call("POST", path, body)
            if answer.status != 429:
                return answer
            self.stop.wait(float(answer.headers.get("retry-after", "1")))
        return answer

    @staticmethod
    def _outcome(answer: Answer) -> str:
        if answer.status == 201:
            return "created"
        if answer.status == 200 and answer.replayed:
            return "replayed"
        if answer.status == 409:
            return "conflict"
        return "rejected"

    # --- the actions; each returns how many records it sent ---------------------------------

    def _incident(self) -> int:
        body = self._incident_body()
        duplicate = self.rng.random() < 0.03
        if self.rng.random() < 0.03:
            body["latitude"] = 95.0  # a typo on the device: refused, and nothing is stored
        answer = self._send(self.reporter, f"{API}/incidents", body, "incident")
        if answer.status in (200, 201):
            self._queue(answer.body)
        if duplicate and answer.status == 201:
            # A second team reports the same event: a new record, which the analyst closes.
            twin = {**body, "id": str(uuid.uuid4()), "reported_at": _now().isoformat()}
            again = self._send(self.reporter, f"{API}/incidents", twin, "incident")
            if again.status == 201:
                self.queue.append(Pending(again.body["id"], "received", None, duplicate=True))
            return 2
        return 1

    def _queue(self, record: dict[str, Any]) -> None:
        self.queue.append(Pending(record["id"], record["status"], record["alleged_party_id"]))

    def _verification(self) -> int:
        if not self.queue:
            return self._incident()
        item = self.queue.popleft()
        if item.duplicate:
            status, finding, party = "duplicate", "unverified", None
        elif item.status == "received":
            status, finding, party = "in_review", "unverified", None
        else:
            status, finding = (
                "closed",
                self.rng.choices(["verified", "refuted", "disputed"], [0.65, 0.2, 0.15])[0],
            )
            party = item.alleged_party_id if finding != "refuted" else None
        body = {
            "id": str(uuid.uuid4()),
            "occurred_at": _now().isoformat(),
            "method": "site_visit" if status == "closed" else "interview",
            "team": self.rng.choice(S.VERIFIERS),
            "status": status,
            "finding": finding,
            "attributed_party_id": party,
            "notes": f"{S.LABEL}: simulated verification step",
        }
        path = f"{API}/incidents/{item.id}/verifications"
        answer = self._send(self.analyst, path, body, "verification_event")
        if answer.status == 201 and status == "in_review":
            item.status = "in_review"
            self.queue.append(item)
        return 1

    def _milestone(self) -> int:
        if not self.targets:
            return self._incident()
        body = self._milestone_body()
        answer = self._send(self.reporter, f"{API}/ddr/milestones", body, "ddr_milestone")
        if answer.status == 201:
            self.milestones.append(answer.body["id"])
        return 1

    def _milestone_verification(self) -> int:
        if not self.milestones:
            return self._verification()
        milestone_id = self.milestones.popleft()
        body = {
            "id": str(uuid.uuid4()),
            "occurred_at": _now().isoformat(),
            "method": "site_visit",
            "team": "DDR verification team (demo)",
            "status": "closed",
            "finding": "verified",
            "notes": f"{S.LABEL}: simulated head count at the site",
        }
        path = f"{API}/ddr/milestones/{milestone_id}/verifications"
        self._send(self.analyst, path, body, "verification_event")
        return 1

    def _outbox(self) -> int:
        """A device back in coverage flushes its outbox through /sync."""
        items = [
            {"kind": "incident", "data": self._incident_body()}
            for _ in range(self.rng.randint(2, 5))
        ]
        if self.targets and self.rng.random() < 0.5:
            items.append({"kind": "ddr_milestone", "data": self._milestone_body()})
        if self.rng.random() < 0.3:
            items.append(dict(items[0]))  # queued twice on the device: the twin is a replay
        sent = len(items)
        for attempt in (1, 2):
            answer = self._post(self.reporter, f"{API}/sync", {"items": items})
            if answer.status != 200:
                self.tally.counts["rejected"] += len(items)
                return sent
            for result in answer.body["results"]:
                self.tally.note(result["kind"] or "", result["status"], result["id"])
                if attempt == 1 and result["status"] == "created":
                    if result["kind"] == "incident":
                        self._queue(result["record"])
                    else:
                        self.milestones.append(result["id"])
            if attempt == 1 and self.rng.random() < 0.15:
                continue  # the answer was lost: the whole outbox goes again, and replays
            break
        return sent

    # --- plausible bodies -------------------------------------------------------------------

    def _incident_body(self) -> dict[str, Any]:
        rng = self.rng
        weights = {"MUR": 0.35, "GOV": 0.2, "KDM": 0.12, "NPA": 0.1, "DFS": 0.08}
        known = [c for c in weights if c in self.parties]
        others = [c for c in self.parties if c not in weights]
        pool: list[tuple[str | None, float]] = [(c, weights[c]) for c in known]
        pool += [(c, 0.3 / len(others)) for c in others]
        pool.append((None, 0.15))
        code = rng.choices([c for c, _ in pool], [w for _, w in pool])[0]
        place = S.PLACES[rng.choice(S.AREAS.get(code, S.AREAS[None]))]
        dyad = next((d for d in S.DYADS if d.alleged == code), S.DYADS[-1])
        category = rng.choice(dyad.categories)
        target = dyad.target if dyad.target in self.parties else None
        occurred = _now() - timedelta(minutes=rng.uniform(15, 30 * 60))
        violent = category.value in ("armed_clash", "shelling", "attack_on_civilians")
        description = S.DESCRIPTIONS[category].format(
            a=code or "unidentified armed men", t=target or "civilians", p=place.name
        )
        return {
            "id": str(uuid.uuid4()),
            "occurred_at": occurred.replace(microsecond=0).isoformat(),
            "category": category.value,
            "latitude": round(place.latitude + rng.uniform(-0.05, 0.05), 4),
            "longitude": round(place.longitude + rng.uniform(-0.05, 0.05), 4),
            "location_name": place.name,
            "admin1": place.admin1,
            "admin2": place.admin2,
            "alleged_party_id": self.parties.get(code) if code else None,
            "target_party_id": self.parties.get(target) if target else None,
            "fatalities": rng.choice((0, 0, 0, 1, 2, 3)) if violent else 0,
            "injuries": rng.choice((0, 0, 1, 2, 4)) if violent else 0,
            "source_type": rng.choice(("patrol", "patrol", "observer", "party_complaint")),
            "description": f"{S.LABEL}. {description} (simulated report)",
            "sensitivity": rng.choice(("public", "restricted", "restricted")),
            "reported_at": _now().replace(microsecond=0).isoformat(),
        }

    def _milestone_body(self) -> dict[str, Any]:
        target = self.rng.choice(self.targets)
        indicator = DdrIndicator(target["indicator"])
        quantity = max(1, round(target["target_quantity"] * self.rng.uniform(0.002, 0.01)))
        body: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "indicator": indicator.value,
            "party_id": target["party_id"],
            "site": target["site"],
            "achieved_on": _now().date().isoformat(),
            "quantity": quantity,
            "notes": f"{S.LABEL}: simulated daily return",
        }
        if indicator in PEOPLE_INDICATORS:
            women = round(quantity * 0.18)
            boys = round(quantity * 0.07)
            body.update(women=women, boys=boys, girls=0, men=quantity - women - boys)
        return body


def _now() -> datetime:
    return datetime.now(UTC)


def _id(answer: Answer) -> str | None:
    return answer.body.get("id") if isinstance(answer.body, dict) else None
