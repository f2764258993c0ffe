"""A TCP proxy that breaks connections the ways a satellite link does, between a client and a real
server: it runs an asyncio loop in a thread of its own and forwards 127.0.0.1:`port` to
127.0.0.1:`upstream_port`, choosing one fault for each connection it accepts.

Faults (`Fault`):
- `none`: the connection passes untouched;
- `delay`: the request waits a little before it is forwarded (a slow link);
- `stall`: the request waits longer than a patient client does, then is forwarded all the same,
  so the server gets it after the client has given up and sent it again;
- `reset`: the connection is reset (TCP RST) before a byte is forwarded;
- `drop_response`: the request is forwarded; once the server's answer begins (so the server has
  committed), the connection is reset and the client gets nothing;
- `cut_response`: half of the answer's first bytes reach the client, then the connection is reset.

The choice is drawn from `random.Random(seed)`, so a run can be repeated (as far as the order in
which connections arrive allows). `stats` counts the faults applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Mapping


class Fault(enum.StrEnum):
    none = "none"
    delay = "delay"
    stall = "stall"
    reset = "reset"
    drop_response = "drop_response"
    cut_response = "cut_response"


class FaultProxy:
    """Use as a context manager; `port` is where clients connect."""

    def __init__(
        self,
        upstream_port: int,
        plan: Mapping[Fault, float],
        *,
        seed: int = 0,
        delay_s: tuple[float, float] = (0.05, 0.3),
        stall_s: float = 3.0,
    ) -> None:
        self.upstream_port = upstream_port
        self.faults, self.weights = list(plan), list(plan.values())
        self.rng = random.Random(seed)
        self.delay_s, self.stall_s = delay_s, stall_s
        self.stats: Counter[Fault] = Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def choose(self) -> Fault:
        fault = self.rng.choices(self.faults, self.weights)[0]
        self.stats[fault] += 1
        return fault

    # --- the loop's side ------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        fault = self.choose()
        try:
            first = await client_r.read(65536)
            if not first:
                return
            if fault is Fault.reset:
                _reset(client_w)
                return
            if fault is Fault.delay:
                await asyncio.sleep(self.rng.uniform(*self.delay_s))
            elif fault is Fault.stall:
                await asyncio.sleep(self.stall_s)
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            _reset(client_w)
            return
        up_w.write(first)
        forward = asyncio.ensure_future(_pump(client_r, up_w))
        try:
            await self._answer(fault, up_r, client_w)
        finally:
            forward.cancel()
            up_w.close()
            client_w.close()

    async def _answer(
        self, fault: Fault, up_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            chunk = await up_r.read(65536)
            if fault is Fault.drop_response and chunk:
                _reset(client_w)  # the server answered, so it has committed; the client never knows
                return
            if fault is Fault.cut_response and chunk:
                client_w.write(chunk[: max(1, len(chunk) // 2)])
                await client_w.drain()
                _reset(client_w)
                return
            while chunk:
                client_w.write(chunk)
                await client_w.drain()
                chunk = await up_r.read(65536)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN: the peer sees `Connection reset by peer`."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
