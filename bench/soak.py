"""Soak (issue 8): mixed load on the real server for a set time; is it as fast and as small at the
end as after warm-up?

    python -m bench.soak --minutes 10          # the recorded run (docs/benchmarks.md, "Soak")
    python -m bench.soak --minutes 1 --window 15   # a smoke run

The real server (`peacewatch serve`) runs in a subprocess on a temporary SQLite database (or
`--database-url`) seeded with the demo mission and `--seed-incidents` older incidents. Then, at a
steady paced rate (open loop, so a slow server is seen as latency, not as less load):

- field teams post single incidents with device ids (`--posts` a second),
- devices flush outboxes of `--sync-items` incidents through `/api/v1/sync` (`--syncs` a second),
- the dashboard's reads: the incident list's first page and the measures it draws
  (`/metrics/compliance`, `trust`, `incidents`, `verification`, `/alerts`) (`--reads` a second),
- a briefing officer's CSV export of one fixed past day (`--exports` a second).

Every `--window` seconds it prints the throughput, the p95 of every request and of each kind, and
the server's resident memory (RSS, from /proc). At the end:

- memory growth = median RSS of the last window / median RSS of the second window - 1;
- p95 drift = median of the per-window p95s of the last third of the run / median of the
  per-window p95s of the windows after warm-up in the first third - 1 (the first window is
  warm-up and is left out). The baseline is thus measured in the same run, on the same machine.

Baseline, in the same run: the machine is shared, and its load moves every request's latency
more than minutes of soak do. So a bare FastAPI endpoint (bench/bare_app.py, validating the same
incident body and storing nothing) runs in its own process throughout and gets `--bare` posts a
second; each window also shows its p95, and the p95 drift is given twice: raw, and relative to
the bare endpoint's p95 in the same windows (PeaceWatch's p95 / bare p95), which cancels what the
machine did to both. The goal is judged on the relative drift; the raw one is printed beside it.

Goals: memory growth under 10%, p95 drift under 20%. The export reads a day of seeded history,
so its work does not grow as the soak adds records; the lists and measures do see the new rows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    API,
    RawConnection,
    Server,
    dumps,
    free_port,
    incident,
    percentile,
    raw_request,
    run_cli,
    server_env,
    sync_body,
)

GOAL_MEMORY_GROWTH = 0.10
GOAL_P95_DRIFT = 0.20
BARE = "bare"  # the baseline's requests, kept out of PeaceWatch's figures
UNSTEADY = 3.0  # the bare p95 moving more than this much across windows: a busy machine
METRICS = (
    f"{API}/metrics/compliance",
    f"{API}/metrics/trust",
    f"{API}/metrics/incidents",
    f"{API}/metrics/verification",
    f"{API}/alerts",
)


@dataclass
class Samples:
    """Every request's (end time, kind, milliseconds, ok) and the server's RSS over time."""

    started: float = field(default_factory=time.monotonic)
    requests: list[tuple[float, str, float, bool]] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, kind: str, began: float, ok: bool, detail: str = "") -> None:
        now = time.monotonic()
        self.requests.append((now - self.started, kind, (now - began) * 1000, ok))
        if not ok and len(self.failures) < 20:
            self.failures.append(f"{kind}: {detail[:200]}")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc status")


# --- the load -----------------------------------------------------------------------------------


async def paced(rate: float, until: float, step: Any) -> None:
    """Call `step()` `rate` times a second until `until`; a late call is not made up for."""
    if rate <= 0:
        return
    interval = 1 / rate
    due = time.monotonic()
    while due < until:
        await step()
        due += interval
        now = time.monotonic()
        if due < now - interval:
            due = now  # fell behind: carry on at the rate, no burst to catch up
        await asyncio.sleep(max(0.0, due - now))


async def request(
    conn: RawConnection, samples: Samples, kind: str, method: str, path: str, token: str, port: int,
    body: Any = None, expect: tuple[int, ...] = (200,),
) -> None:  # fmt: skip
    raw = raw_request(method, path, dumps(body) if body is not None else b"", token, port)
    began = time.monotonic()
    status, _, answer = await conn.send(raw)
    samples.add(kind, began, status in expect, f"{status} {answer[:200]!r}")


async def post_worker(
    port: int, token: str, rate: float, until: float, s: Samples, kind: str = "post"
) -> None:
    conn = await RawConnection.open(port)
    counter = itertools.count()
    expect = (201,)

    async def step() -> None:
        n = next(counter)
        await request(conn, s, kind, "POST", f"{API}/incidents", token, port, incident(n), expect)

    try:
        await paced(rate, until, step)
    finally:
        await conn.close()


async def sync_worker(
    port: int, token: str, rate: float, items: int, until: float, s: Samples
) -> None:
    conn = await RawConnection.open(port)
    counter = itertools.count(1_000_000, items)

    async def step() -> None:
        n = next(counter)
        body = sync_body([incident(n + i) for i in range(items)])
        await request(conn, s, "sync", "POST", f"{API}/sync", token, port, body)

    try:
        await paced(rate, until, step)
    finally:
        await conn.close()


async def read_worker(port: int, token: str, rate: float, until: float, s: Samples) -> None:
    conn = await RawConnection.open(port)
    paths = itertools.cycle([f"{API}/incidents?limit=50", *METRICS])

    async def step() -> None:
        path = next(paths)
        kind = "list" if "/incidents?" in path else "metrics"
        await request(conn, s, kind, "GET", path, token, port)

    try:
        await paced(rate, until, step)
    finally:
        await conn.close()


async def export_worker(
    port: int, token: str, rate: float, until: float, s: Samples, day: str
) -> None:
    """A streamed CSV (chunked), read to its end on a connection of its own."""
    path = f"{API}/exports/incidents.csv?date_from={day}&date_to={day}"
    head = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()

    async def step() -> None:
        began = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head)
            data = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        status = int(data[9:12]) if len(data) > 12 else 0
        ok = status == 200 and data.endswith(b"0\r\n\r\n")
        s.add("export", began, ok, f"{status} {len(data)} bytes")

    await paced(rate, until, step)


async def watch_memory(pid: int, until: float, s: Samples) -> None:
    while time.monotonic() < until:
        s.rss.append((time.monotonic() - s.started, rss_kib(pid)))
        await asyncio.sleep(2)


async def progress(until: float, window: float, s: Samples) -> None:
    shown = 0
    while time.monotonic() < until + 1:
        await asyncio.sleep(1)
        done = int((time.monotonic() - s.started) // window)
        while shown < done:
            row = window_row(s, shown, window)
            print(format_row(row), flush=True)
            shown += 1


# --- figures ------------------------------------------------------------------------------------


def window_row(s: Samples, index: int, window: float) -> dict[str, Any]:
    lo, hi = index * window, (index + 1) * window
    rows = [r for r in s.requests if lo <= r[0] < hi and r[1] != BARE]
    bare = sorted(ms for t, kind, ms, _ in s.requests if lo <= t < hi and kind == BARE)
    by_kind: dict[str, list[float]] = {}
    for _, kind, ms, _ok in rows:
        by_kind.setdefault(kind, []).append(ms)
    rss = [kib for t, kib in s.rss if lo <= t < hi]
    return {
        "window": index + 1,
        "requests": len(rows),
        "per_s": len(rows) / window,
        "errors": sum(not ok for *_, ok in rows),
        "p95_ms": percentile(sorted(ms for _, _, ms, _ in rows), 95),
        "p95_by_kind_ms": {k: percentile(sorted(v), 95) for k, v in sorted(by_kind.items())},
        "bare_p95_ms": percentile(bare, 95),
        "rss_mib": statistics.median(rss) / 1024 if rss else float("nan"),
    }


def format_row(row: dict[str, Any]) -> str:
    kinds = "  ".join(f"{k} {v:.0f}" for k, v in row["p95_by_kind_ms"].items())
    return (
        f"window {row['window']:>3}: {row['per_s']:6.1f} req/s  errors {row['errors']}  "
        f"p95 {row['p95_ms']:7.1f} ms ({kinds})  bare p95 {row['bare_p95_ms']:5.1f} ms  "
        f"RSS {row['rss_mib']:6.1f} MiB"
    )


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Memory growth and p95 drift, as the module's docstring defines them."""
    if len(rows) < 3:
        raise SystemExit("too short to judge: run at least three windows (--minutes, --window)")
    third = max(1, len(rows) // 3)
    early = rows[1 : max(2, third)]
    late = rows[-third:]
    base_p95 = statistics.median(r["p95_ms"] for r in early)
    end_p95 = statistics.median(r["p95_ms"] for r in late)
    base_rel = statistics.median(r["p95_ms"] / r["bare_p95_ms"] for r in early)
    end_rel = statistics.median(r["p95_ms"] / r["bare_p95_ms"] for r in late)
    base_rss, end_rss = rows[1]["rss_mib"], rows[-1]["rss_mib"]
    return {
        "baseline_windows": [r["window"] for r in early],
        "end_windows": [r["window"] for r in late],
        "p95_baseline_ms": base_p95,
        "p95_end_ms": end_p95,
        "p95_drift": end_p95 / base_p95 - 1,
        "p95_to_bare_baseline": base_rel,
        "p95_to_bare_end": end_rel,
        "p95_drift_relative": end_rel / base_rel - 1,
        "rss_baseline_mib": base_rss,
        "rss_end_mib": end_rss,
        "memory_growth": end_rss / base_rss - 1,
    }


# --- set-up -------------------------------------------------------------------------------------


def seed_history(port: int, token: str, count: int, anchor: datetime) -> None:
    """`count` incidents spread over the 30 days before `anchor`, sent through /sync."""

    async def send() -> None:
        conn = await RawConnection.open(port)
        try:
            for start in range(0, count, 500):
                items = []
                for i in range(start, min(count, start + 500)):
                    body = incident(i)
                    body["id"] = str(uuid.uuid4())
                    at = anchor - timedelta(days=3, minutes=(i * 37) % (27 * 24 * 60))
                    body["occurred_at"] = at.replace(microsecond=0).isoformat()
                    items.append(body)
                raw = raw_request("POST", f"{API}/sync", dumps(sync_body(items)), token, port)
                status, _, answer = await conn.send(raw)
                if status != 200:
                    raise RuntimeError(f"seeding: /sync answered {status}: {answer[:300]!r}")
        finally:
            await conn.close()

    asyncio.run(send())


def make_token(env: dict[str, str], cwd: Path, name: str, role: str) -> str:
    done = run_cli(env, "token", "create", "--name", name, "--role", role, cwd=cwd)
    return done.stdout.strip().splitlines()[-1]


async def load(
    args: argparse.Namespace, server: Server, bare: Server, tokens: dict[str, str]
) -> Samples:
    samples = Samples()
    until = samples.started + args.minutes * 60
    port = server.port
    day = (datetime.now(UTC) - timedelta(days=6)).date().isoformat()
    writers = max(1, round(args.posts / 2))
    tasks = [
        *(
            post_worker(port, tokens["reporter"], args.posts / writers, until, samples)
            for _ in range(writers)
        ),
        sync_worker(port, tokens["reporter"], args.syncs, args.sync_items, until, samples),
        *(read_worker(port, tokens["analyst"], args.reads / 2, until, samples) for _ in range(2)),
        export_worker(port, tokens["analyst"], args.exports, until, samples, day),
        post_worker(bare.port, "", args.bare, until, samples, BARE),
        watch_memory(server.proc.pid, until, samples),  # type: ignore[union-attr]
        progress(until, args.window, samples),
    ]
    await asyncio.gather(*tasks)
    return samples


def bare_server(env: dict[str, str], cwd: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--log-level", "warning"]
    return Server(argv, env, port, cwd, cwd / "bare.log")


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="peacewatch-soak-") as tmp:
        cwd = Path(tmp)
        url = args.database_url or f"sqlite:///{cwd / 'soak.db'}"
        env = server_env(url, PEACEWATCH_DEMO="0")
        print(
            f"database {url.split('@')[-1]}; seeding the demo mission and history ...", flush=True
        )
        run_cli(env, "db", "upgrade", cwd=cwd)
        if args.demo:
            run_cli(env, "demo", cwd=cwd)
        tokens = {
            role: make_token(env, cwd, f"soak-{role}", role) for role in ("reporter", "analyst")
        }
        server = Server.peacewatch(env, cwd, "soak").start()
        bare = bare_server(env, cwd)
        try:
            bare.start()
            began = time.monotonic()
            seed_history(server.port, tokens["reporter"], args.seed_incidents, datetime.now(UTC))
            print(
                f"seeded {args.seed_incidents:,} incidents in {time.monotonic() - began:.0f} s; "
                f"load for {args.minutes:g} min: {args.posts:g} posts/s, {args.syncs:g} syncs/s "
                f"of {args.sync_items}, {args.reads:g} reads/s, {args.exports:g} exports/s",
                flush=True,
            )
            samples = asyncio.run(load(args, server, bare, tokens))
        finally:
            server.stop()
            bare.stop()
    return report(args, samples)


def report(args: argparse.Namespace, samples: Samples) -> int:
    windows = int(args.minutes * 60 // args.window)
    rows = [window_row(samples, i, args.window) for i in range(windows)]
    result = verdict(rows)
    total = sum(r["requests"] for r in rows)
    errors = sum(r["errors"] for r in rows)
    records = sum(
        {"post": 1, "sync": args.sync_items}.get(kind, 0)
        for _, kind, _, ok in samples.requests
        if ok
    )
    print(
        f"\n{total:,} requests in {args.minutes:g} min ({total / (args.minutes * 60):.1f}/s), "
        f"{errors} errors, {records:,} records written"
    )
    print(
        f"p95 drift relative to the bare endpoint {result['p95_drift_relative']:+.1%} "
        f"(p95 / bare p95: {result['p95_to_bare_end']:.1f}x in windows {result['end_windows']} vs "
        f"{result['p95_to_bare_baseline']:.1f}x in windows {result['baseline_windows']}; "
        f"goal < {GOAL_P95_DRIFT:.0%}): "
        f"{'met' if result['p95_drift_relative'] < GOAL_P95_DRIFT else 'NOT met'}"
    )
    print(
        f"p95 drift, raw {result['p95_drift']:+.1%} ({result['p95_end_ms']:.1f} ms vs "
        f"{result['p95_baseline_ms']:.1f} ms; moved by the machine's load as much as the server's)"
    )
    bare = [r["bare_p95_ms"] for r in rows[1:]]
    if max(bare) > UNSTEADY * min(bare):
        print(
            f"warning: the machine was not steady (the bare endpoint's p95 ranged "
            f"{min(bare):.0f}-{max(bare):.0f} ms across windows): read the p95 drift with care"
        )
    print(
        f"memory growth {result['memory_growth']:+.1%} (RSS {result['rss_end_mib']:.1f} MiB in the "
        f"last window vs {result['rss_baseline_mib']:.1f} MiB in the second; "
        f"goal < {GOAL_MEMORY_GROWTH:.0%}): "
        f"{'met' if result['memory_growth'] < GOAL_MEMORY_GROWTH else 'NOT met'}"
    )
    for failure in samples.failures:
        print(f"  failed: {failure}")
    if args.json:
        Path(args.json).write_text(json.dumps({"windows": rows, **result}, indent=2))
    ok = (
        errors == 0
        and result["p95_drift_relative"] < GOAL_P95_DRIFT
        and result["memory_growth"] < GOAL_MEMORY_GROWTH
    )
    return 0 if ok else 1


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the load (10)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per figure row (60)")
    parser.add_argument("--posts", type=float, default=8.0, help="single posts a second (8)")
    parser.add_argument("--syncs", type=float, default=0.5, help="/sync batches a second (0.5)")
    parser.add_argument("--sync-items", type=int, default=25, help="incidents per batch (25)")
    parser.add_argument("--reads", type=float, default=6.0, help="list/measure reads a second (6)")
    parser.add_argument("--exports", type=float, default=0.2, help="CSV exports a second (0.2)")
    parser.add_argument("--bare", type=float, default=4.0, help="baseline posts a second (4)")
    parser.add_argument(
        "--seed-incidents", type=int, default=30_000, help="history before the load (30000)"
    )
    parser.add_argument(
        "--no-demo", dest="demo", action="store_false", help="skip the demo mission"
    )
    parser.add_argument("--database-url", help="an empty database (default: a temporary SQLite)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
