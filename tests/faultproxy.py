"""An HTTP proxy on loopback that damages what passes between the bot and Allpay.

Each request draws one fault from a seeded random generator, so a run is repeatable:
connection resets, stalls past the client's timeout, HTTP 500/502/503, truncated bodies,
duplicated requests (the sandbox sees the same GUID twice, the bot one answer) and latency
spikes. Faults that lose the answer are applied *after* the sandbox has processed the request
half of the time: Allpay decided, the bot does not know — the hard case.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

#: The longest a forwarded request may take (the bot gives up on Allpay long before).
FORWARD_LIMIT = 30.0
FAULTS = ("reset", "stall", "http500", "http502", "http503", "truncate", "duplicate", "spike")


@dataclass
class FaultProxy:
    upstream: str
    seed: int = 1
    rate: float = 0.35  # share of requests that get a fault
    stall: float = 1.0  # seconds a stall holds the answer (more than the client's timeout)
    spike: float = 0.4  # a latency spike (less or more than the timeout, depending on the run)
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        # Bounded: a forward whose cancellation aiohttp swallowed (Python 3.11) would otherwise
        # wait on the sandbox for ever, and the test's event loop with it, at its close.
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FORWARD_LIMIT))
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A request the bot gave up on (its timeout) is dropped here too, as a TCP proxy drops
        # the upstream side of a connection whose client left: kept, such forwards queued
        # behind each other on a busy machine, hundreds deep, and the test never caught up.
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        path = self.upstream.split("/", 3)[3]
        self.url = f"http://127.0.0.1:{port}/{path}"
        return self.url

    async def close(self) -> None:
        # The forwards first: a handler still waiting on the sandbox ends with its connection.
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, bytes]:
        assert self._session is not None
        headers = {
            k: v for k, v in request.headers.items() if k.lower() in {"content-type", "soapaction"}
        }
        async with self._session.post(self.upstream, data=body, headers=headers) as response:
            return response.status, await response.read()

    def _draw(self) -> str | None:
        if self._random.random() >= self.rate:
            return None
        return self._random.choice(FAULTS)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        fault = self._draw()
        after = self._random.random() < 0.5  # lose the answer after Allpay processed it
        self.counts[fault or "none"] += 1
        if fault in ("reset", "stall") and not after:
            return await self._lose(request, fault)
        if fault == "spike":
            await asyncio.sleep(self.spike)
        status, answer = await self._forward(request, body)
        if fault == "duplicate":
            status, answer = await self._forward(request, body)
        if fault in ("reset", "stall"):
            return await self._lose(request, fault)
        if fault in ("http500", "http502", "http503"):
            return web.Response(status=int(fault[4:]), text="<html>upstream trouble</html>")
        if fault == "truncate":
            answer = answer[: self._random.randrange(0, max(1, len(answer)))]
        return web.Response(status=status, body=answer, content_type="text/xml")

    async def _lose(self, request: web.Request, fault: str) -> web.StreamResponse:
        if fault == "stall":
            await asyncio.sleep(self.stall)
            return web.Response(status=504, text="stalled")
        transport = request.transport
        if transport is not None:
            transport.abort()  # the client sees the connection reset
        return web.Response(status=500)
