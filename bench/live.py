"""Live benchmark (issue 6): post → notice latency on `/api/v1/stream`, and the Overview's weight.

    python -m bench.live                 # 1 client at 1 event/s, then 20 clients at 200 events/s
    python -m bench.live --quick         # the same, shorter (about a minute in all)

The real server (`peacewatch serve`) runs in a subprocess on a temporary SQLite database seeded
with `peacewatch demo`. N clients hold `/api/v1/stream` open (Bearer token) while incidents are
posted at a steady rate over keep-alive connections; each notice is matched to its post by the
incident's id. Latency is the time from the POST's response to the notice reaching each client
(negative when the notice arrives first). The server's CPU is read from /proc.

Baseline, in the same run and with the same load generator: a bare asyncio server (this file,
`--echo-server`) that answers the same POST by writing one SSE line to every open stream and
storing nothing; and the POST's own round trip on the real server.

Then the Overview's first load, signed in with a session cookie: the HTML of `/`, its scripts and
stylesheets, `_dash-layout`, `_dash-dependencies` and the lazily loaded component chunks the
pages use (plotly.js among them), in bytes of body as sent to a browser's `Accept-Encoding`; and a
repeat load's bytes: nothing for what is cached for a day or more, else the body of a
revalidation with the first response's ETag / Last-Modified (0 for a 304).

This measures the stream as any client sees it, not a redraw in a browser: the browser tests
(tests/test_dashboard_browser.py) print the POST → text-on-the-Overview time of one event.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import http.client
import json
import os
import re
import shlex
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
)

GOAL_ONE_P95_MS = 150.0
GOAL_LOAD_P95_MS = 1000.0
GOAL_FIRST_LOAD_BYTES = 1_000_000
GOAL_REPEAT_LOAD_BYTES = 50_000


def say(message: str = "") -> None:
    print(message, flush=True)


# --- the baseline: a bare asyncio SSE echo ------------------------------------------------------


# A page with nothing but a native EventSource that puts each notice on top of a list: the floor
# of "POST → change in the page" for bench/live_browser.py.
BARE_PAGE = """<!doctype html><title>echo</title><ul id="feed"></ul><script>
var feed = document.getElementById("feed"), source = new EventSource("/stream");
source.addEventListener("notice", function (e) {
  var li = document.createElement("li"); li.id = JSON.parse(e.data).id; li.className = "item";
  li.textContent = li.id; feed.prepend(li);
  while (feed.children.length > 12) { feed.lastChild.remove(); }
});
</script>"""


async def echo_server(port: int) -> None:
    """POST anything → `data: {"id": <body's id>}` to every open GET stream, then 201; and
    `GET /`: a bare page that shows each notice."""
    streams: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0]
                lower = head.lower()
                length = 0
                if (at := lower.find(b"content-length:")) >= 0:
                    length = int(lower[at + 15 : lower.index(b"\r\n", at)])
                body = await reader.readexactly(length) if length else b""
                if line.startswith(b"GET /stream"):
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                        b"cache-control: no-cache\r\n\r\n: connected\n\n"
                    )
                    streams.add(writer)
                    await reader.read()  # until the client leaves
                    return
                if line.startswith(b"GET / "):  # the browser benchmark's bare page
                    page = BARE_PAGE.encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n"
                        b"content-length: " + str(len(page)).encode() + b"\r\n\r\n" + page
                    )
                    await writer.drain()
                    continue
                if line.startswith(b"POST"):
                    event_id = json.loads(body)["id"]
                    event = f'event: notice\ndata: {{"id":"{event_id}"}}\n\n'.encode()
                    for s in list(streams):
                        s.write(event)
                    status, out = b"201 Created", b'{"ok":true}'
                else:
                    status, out = b"200 OK", b'{"status":"ok"}'
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
                    b"content-length: " + str(len(out)).encode() + b"\r\n\r\n" + out
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            streams.discard(writer)
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


# --- load and measure ---------------------------------------------------------------------------


@dataclass
class Client:
    seen: dict[str, float] = field(default_factory=dict)
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    task: asyncio.Task | None = None


async def open_stream(port: int, path: str, token: str | None) -> Client:
    client = Client()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    head = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: text/event-stream"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    status = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in status.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"stream refused: {status[:200]!r}")
    client.reader, client.writer = reader, writer

    async def read() -> None:
        pattern = re.compile(rb'"id":"([0-9a-f-]{36})"')
        while True:
            line = await reader.readline()
            if not line:
                return
            if b"data:" in line and (m := pattern.search(line)):
                client.seen.setdefault(m.group(1).decode(), time.perf_counter())

    client.task = asyncio.create_task(read())
    return client


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    label: str
    clients: int
    rate: float
    posted: int
    latencies: list[float]  # ms, POST response → notice, every (client, event) pair received
    from_sent: list[float]  # ms, POST sent → notice
    per_client_p95: list[float]
    lost: int
    round_trip: list[float]  # ms, POST sent → response
    cpu_pct: float
    achieved_rate: float

    def p(self, q: float, values: list[float] | None = None) -> float:
        return percentile(sorted(self.latencies if values is None else values), q)


async def measure(
    label: str,
    port: int,
    pid: int,
    stream_path: str,
    post_path: str,
    token: str | None,
    clients: int,
    rate: float,
    seconds: float,
    posters: int = 8,
) -> Result:
    streams = [await open_stream(port, stream_path, token) for _ in range(clients)]
    await asyncio.sleep(0.3)
    conns = [await RawConnection.open(port) for _ in range(posters)]
    free: asyncio.Queue[RawConnection] = asyncio.Queue()
    for c in conns:
        free.put_nowait(c)
    answered: dict[str, tuple[float, float]] = {}  # id -> (sent, response)
    failures: list[int] = []
    n = int(rate * seconds)

    async def post_one(i: int) -> None:
        conn = await free.get()
        body = incident(i)
        body["id"] = str(uuid.uuid4())
        request = raw_request("POST", post_path, dumps(body), token, port)
        sent = time.perf_counter()
        try:
            status, _, _ = await conn.send(request)
        except (asyncio.IncompleteReadError, ConnectionError):
            # Closed by the server after its keep-alive timeout (slow rates): open another.
            await conn.close()
            conn = await RawConnection.open(port)
            conns.append(conn)
            sent = time.perf_counter()
            status, _, _ = await conn.send(request)
        answered[body["id"]] = (sent, time.perf_counter())
        free.put_nowait(conn)
        if status != 201:
            failures.append(status)

    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    tasks = []
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post_one(i)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    # Wait for the stragglers (up to 3 s after the last response).
    deadline = time.perf_counter() + 3
    while time.perf_counter() < deadline:
        if all(len(s.seen) >= len(answered) for s in streams):
            break
        await asyncio.sleep(0.05)
    latencies, from_sent, per_client, lost = [], [], [], 0
    for s in streams:
        mine = [1000 * (s.seen[i] - done) for i, (_, done) in answered.items() if i in s.seen]
        from_sent += [1000 * (s.seen[i] - sent) for i, (sent, _) in answered.items() if i in s.seen]
        lost += len(answered) - len(mine)
        latencies += mine
        per_client.append(percentile(sorted(mine), 95))
        if s.task:
            s.task.cancel()
        if s.writer:
            s.writer.close()
    for c in conns:
        await c.close()
    if failures:
        say(f"  ! {len(failures)} posts failed, statuses {sorted(set(failures))}")
    return Result(
        label=label,
        clients=clients,
        rate=rate,
        posted=len(answered),
        latencies=latencies,
        from_sent=from_sent,
        per_client_p95=per_client,
        lost=lost,
        round_trip=[1000 * (b - a) for a, b in answered.values()],
        cpu_pct=100 * cpu / elapsed,
        achieved_rate=n / elapsed,
    )


def line_of(r: Result) -> str:
    spread = (
        f"{min(r.per_client_p95):6.1f}-{max(r.per_client_p95):6.1f}"
        if r.per_client_p95
        else "  n/a"
    )
    return (
        f"| {r.label} | {r.clients} | {r.achieved_rate:.0f}/s | {r.posted} | {r.lost} | "
        f"{r.p(50):.1f} | {r.p(95):.1f} | {r.p(99):.1f} | {spread} | "
        f"{r.p(50, r.round_trip):.1f} / {r.p(95, r.round_trip):.1f} | "
        f"{r.p(50, r.from_sent):.1f} / {r.p(95, r.from_sent):.1f} | {r.cpu_pct:.0f}% |"
    )


# --- the Overview's weight ----------------------------------------------------------------------


# What Chromium sends; Flask-Compress answers files (streamed) with br/zstd/deflate, never gzip.
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"


def _get(
    port: int,
    path: str,
    cookie: str | None,
    validators: dict[str, str] | None = None,
    encodings: str = BROWSER_ENCODINGS,
) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Accept-Encoding": encodings}
    if cookie:
        headers["Cookie"] = cookie
    if validators:  # a browser's revalidation of what it holds
        if "etag" in validators:
            headers["If-None-Match"] = validators["etag"]
        if "last-modified" in validators:
            headers["If-Modified-Since"] = validators["last-modified"]
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    out = response.status, body, {k.lower(): v for k, v in response.getheaders()}
    conn.close()
    return out


def sign_in(port: int, token: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        "/signin",
        body=f"token={token}&next=/",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = conn.getresponse()
    response.read()
    cookie = response.getheader("set-cookie") or ""
    conn.close()
    if response.status != 302 or not cookie:
        raise RuntimeError(f"sign-in failed: {response.status}")
    return cookie.split(";", 1)[0]


def _cached_long(headers: dict[str, str]) -> bool:
    m = re.search(r"max-age=(\d+)", headers.get("cache-control", ""))
    return bool(m and int(m.group(1)) >= 86400)


def page_weight(port: int, token: str) -> dict[str, Any]:
    cookie = sign_in(port, token)
    status, page, _ = _get(port, "/", cookie, encodings="gzip")  # to read the script tags
    if status != 200:
        raise RuntimeError(f"GET / answered {status}")
    text = gzip.decompress(page).decode() if page[:2] == b"\x1f\x8b" else page.decode()
    _, html, headers = _get(port, "/", cookie)
    paths = re.findall(r'<script[^>]+src="([^"]+)"', text)
    paths += re.findall(r'<link[^>]+href="([^"]+\.css[^"]*)"', text)
    paths += ["/_dash-layout", "/_dash-dependencies"]
    # Chunks Dash loads later, on demand, for the components the pages use; and Dash's full
    # plotly.js unless the page brings its own (dashboard/vendor/plotly/README.md).
    paths += [f"/_dash-component-suites/dash/dcc/async-{name}.js" for name in ("graph", "dropdown")]
    if not any("/assets/plotly" in p for p in paths):
        paths.append("/_dash-component-suites/plotly/package_data/plotly.min.js")
    # (path, bytes, encoding, cached for a day or more, bytes of a repeat load's revalidation)
    again = _get(port, "/", cookie, headers)
    rows = [("/", len(html), headers.get("content-encoding", ""), False, len(again[1]))]
    for path in dict.fromkeys(paths):
        st, body, h = _get(port, path, cookie)
        if st != 200:
            continue
        cached = _cached_long(h)
        repeat = 0 if cached else len(_get(port, path, cookie, h)[1])
        rows.append((path, len(body), h.get("content-encoding", ""), cached, repeat))
    total = sum(r[1] for r in rows)
    repeat = sum(r[4] for r in rows)
    return {"rows": rows, "total": total, "repeat": repeat}


# --- the run ------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    command = "python -m bench.live " + shlex.join(sys.argv[1:])
    say(
        f"PeaceWatch live benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores"
    )
    say(f"  command: {command}")
    with tempfile.TemporaryDirectory(prefix="peacewatch-live-") as tmp_name:
        tmp = Path(tmp_name)
        url = f"sqlite:///{tmp / 'live.db'}"
        env = server_env(url, PEACEWATCH_DASHBOARD_SECRET_KEY="b" * 40)
        say("  database: SQLite, migrated and seeded with `peacewatch demo` ...")
        run_cli(env, "db", "upgrade", cwd=tmp)
        run_cli(env, "demo", cwd=tmp)
        token = run_cli(env, "token", "create", "--name", "bench", "--role", "admin", cwd=tmp)
        secret = token.stdout.strip().splitlines()[-1]

        echo_port = free_port()
        echo = Server(
            [sys.executable, "-m", "bench.live", "--echo-server", str(echo_port)],
            env,
            echo_port,
            tmp,
            tmp / "echo.log",
        )
        real = Server.peacewatch(env, tmp)
        results: list[Result] = []
        try:
            echo.start()
            real.start()
            assert echo.proc
            assert real.proc
            # Warm up: the first posts pay for imports and caches.
            await measure("warm-up", real.port, real.proc.pid, f"{API}/stream",
                          f"{API}/incidents", secret, 1, 20, 1)  # fmt: skip
            for clients, rate in args.scenarios:
                say(f"  {clients} client(s), {rate:g} events/s for {args.seconds:g} s ...")
                base = await measure(
                    "baseline: bare asyncio SSE echo", echo.port, echo.proc.pid, "/stream",
                    "/publish", None, clients, rate, args.seconds,
                )  # fmt: skip
                real_r = await measure(
                    "PeaceWatch /api/v1/stream", real.port, real.proc.pid, f"{API}/stream",
                    f"{API}/incidents", secret, clients, rate, args.seconds,
                )  # fmt: skip
                results += [base, real_r]
            weight = cold = page_weight(real.port, secret)
            # The server compresses each file at the best ratio once, in the background
            # (dashboard/static.py): load again until the bytes stop going down.
            for _ in range(30):
                time.sleep(2)
                again = page_weight(real.port, secret)
                if again["total"] >= weight["total"]:
                    break
                weight = again
        finally:
            real.stop()
            echo.stop()

    say("")
    say(
        "| run | clients | posts/s | events | lost | p50 ms | p95 ms | p99 ms | "
        "p95 per client ms | POST round trip p50 / p95 ms | POST sent → notice p50 / p95 ms | "
        "server CPU |"
    )
    say("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        say(line_of(r))
    say("")
    say(f"Overview first load (signed in, Accept-Encoding: {BROWSER_ENCODINGS}):")
    say("")
    say("| resource | bytes sent | encoding | cached ≥ 1 day | repeat load bytes |")
    say("|---|---:|---|---|---:|")
    for path, size, enc, cached, again in weight["rows"]:
        shown = re.sub(r"\.v[0-9_a-z]+m\d+\.", ".", path)
        say(f"| `{shown}` | {size:,} | {enc or 'none'} | {'yes' if cached else 'no'} | {again:,} |")
    say(f"| **total** | **{weight['total']:,}** | | | **{weight['repeat']:,}** |")
    say("")
    say(
        f"The first visit after the server starts, while that compression runs: {cold['total']:,} B."
    )
    say("")
    reals = [r for r in results if r.label.startswith("PeaceWatch")]
    one = next((r for r in reals if r.clients == 1), None)
    many = next((r for r in reals if r.clients > 1), None)
    goals = []
    if one:
        goals.append((f"1 client p95 < {GOAL_ONE_P95_MS:.0f} ms", f"{one.p(95):.1f} ms",
                      one.p(95) < GOAL_ONE_P95_MS))  # fmt: skip
    if many:
        ok = many.p(95) < GOAL_LOAD_P95_MS and many.lost == 0
        goals.append((f"{many.clients} clients, {many.rate:g}/s: p95 < 1 s, none lost",
                      f"{many.p(95):.1f} ms, {many.lost} lost", ok))  # fmt: skip
    goals.append(("first load < 1 MB", f"{weight['total']:,} B",
                  weight["total"] < GOAL_FIRST_LOAD_BYTES))  # fmt: skip
    goals.append(("repeat load < 50 KB", f"{weight['repeat']:,} B",
                  weight["repeat"] < GOAL_REPEAT_LOAD_BYTES))  # fmt: skip
    for goal, figure, ok in goals:
        say(f"  goal {goal:<44} {figure:>20}   {'met' if ok else 'MISSED'}")
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.live", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs (about a minute)")
    parser.add_argument("--seconds", type=float, help="seconds of posting per run (30, quick 5)")
    parser.add_argument("--clients", type=int, default=20, help="clients of the loaded run (20)")
    parser.add_argument("--rate", type=float, default=200, help="events/s of the loaded run (200)")
    parser.add_argument("--echo-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (5.0 if args.quick else 30.0)
    one_rate = 10.0 if args.quick else 1.0  # enough events for a p95 in a short run
    args.scenarios = [(1, one_rate), (args.clients, args.rate)]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.echo_server:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(echo_server(args.echo_server))
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
