"""Early warning: the rules that fire an alert, each saying why. Pure functions.

- incident spike: a region's incidents in the last `recent_days` against its own baseline, the
  `baseline_days` before them. Under a steady rate, the recent count is Poisson with mean
  lambda = (baseline + 1) * recent_days / baseline_days (one incident added to the baseline so a
  region without history needs several incidents, not one). It fires when P(X >= observed) is below
  `p_value` and at least `min_incidents` happened.
- compliance drop: a party's compliance index fell by more than `drop` points against the same
  measure `recent_days` earlier.
- overdue commitment: past its due date and not complete.
- possible spoiler: a party's attributed verified violations in the recent period are at least
  `min_incidents` and at least twice its previous period, while the other parties' together did
  not rise.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import date

from backend.metrics.schemas import Alert, OverdueCommitment

API = "/api/v1"


def poisson_tail(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    term = math.exp(-lam)
    below = 0.0
    for i in range(k):
        if i:
            term *= lam / i
        below += term
    return max(0.0, 1.0 - below)


def incident_spikes(
    *,
    recent: Mapping[str, int],
    baseline: Mapping[str, int],
    recent_days: int,
    baseline_days: int,
    p_value: float,
    min_incidents: int,
    recent_from: date,
    recent_to: date,
) -> list[Alert]:
    alerts = []
    for region, observed in sorted(recent.items()):
        if observed < min_incidents:
            continue
        before = baseline.get(region, 0)
        lam = (before + 1) * recent_days / baseline_days
        p = poisson_tail(observed, lam)
        if p >= p_value:
            continue
        alerts.append(
            Alert(
                id=f"incident_spike:{region}:{recent_to.isoformat()}",
                kind="incident_spike",
                subject=region,
                title=f"Incidents spike in {region}",
                reason=(
                    f"{observed} incidents in the {recent_days} days to {recent_to.isoformat()} "
                    f"against {before} in the {baseline_days} days before (expected "
                    f"{lam:.1f}); Poisson P(X >= {observed}) = {p:.2g} < {p_value}"
                ),
                values={"observed": observed, "baseline": before, "expected": lam, "p": p},
                links=[
                    f"{API}/incidents?admin1={region}&occurred_from={recent_from.isoformat()}"
                    f"T00:00:00Z"
                ],
            )
        )
    return alerts


def compliance_drops(
    *, now: Mapping[uuid.UUID, float], before: Mapping[uuid.UUID, float], drop: float, on: date
) -> list[Alert]:
    alerts = []
    for party, value in sorted(now.items(), key=lambda kv: str(kv[0])):
        earlier = before.get(party)
        if earlier is None or earlier - value <= drop:
            continue
        alerts.append(
            Alert(
                id=f"compliance_drop:{party}:{on.isoformat()}",
                kind="compliance_drop",
                subject=str(party),
                title="Compliance falling",
                reason=f"compliance fell from {earlier:.1f} to {value:.1f} "
                f"({earlier - value:.1f} points, more than {drop:g})",
                values={"before": earlier, "now": value, "drop": earlier - value},
                links=[f"{API}/metrics/compliance?party_id={party}", f"{API}/parties/{party}"],
            )
        )
    return alerts


def overdue_alerts(overdue: Sequence[OverdueCommitment]) -> list[Alert]:
    return [_overdue_alert(c, str(c.id)) for c in overdue]


def _overdue_alert(c: OverdueCommitment, id_: str) -> Alert:
    return Alert(
        id=f"overdue_commitment:{id_}",
        kind="overdue_commitment",
        subject=id_,
        title=f"Commitment overdue: {c.title}",
        reason=f"due on {c.due_on.isoformat()}, {c.days_overdue} days ago, and only "
        f"'{c.level.value}'",
        values={"days_overdue": c.days_overdue, "level": c.level.score},
        links=[f"{API}/commitments/{id_}", f"{API}/commitments/{id_}/progress"],
    )


def possible_spoilers(
    *,
    recent: Mapping[uuid.UUID, int],
    previous: Mapping[uuid.UUID, int],
    min_incidents: int,
    recent_from: date,
    on: date,
) -> list[Alert]:
    alerts = []
    total_recent, total_previous = sum(recent.values()), sum(previous.values())
    for party, count in sorted(recent.items(), key=lambda kv: str(kv[0])):
        earlier = previous.get(party, 0)
        others_now, others_before = total_recent - count, total_previous - earlier
        if count < min_incidents or count < 2 * earlier or others_now > others_before:
            continue
        alerts.append(
            Alert(
                id=f"possible_spoiler:{party}:{on.isoformat()}",
                kind="possible_spoiler",
                subject=str(party),
                title="Possible spoiler",
                reason=f"{count} verified violations attributed in the recent period against "
                f"{earlier} before, while the other parties went from {others_before} to "
                f"{others_now}",
                values={
                    "recent": count,
                    "previous": earlier,
                    "others_recent": others_now,
                    "others_previous": others_before,
                },
                links=[
                    f"{API}/incidents?party_id={party}&finding=verified"
                    f"&occurred_from={recent_from.isoformat()}T00:00:00Z"
                ],
            )
        )
    return alerts
