"""A TCP proxy on loopback that can stop passing the client's bytes on, from one moment on.

Armed, it keeps every byte a client sends — on new connections and on kept-alive ones —
so a request leaves the bot but never reaches the server: "journaled, not yet sent" as
seen from the server, reached from outside the bot.
"""

from __future__ import annotations

import asyncio
import contextlib


class HoldingProxy:
    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.armed = asyncio.Event()
        self.held = 0  # bytes kept back since armed
        self.holding = asyncio.Event()  # set once a byte was kept back
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, outbound=True)),
            asyncio.create_task(self._pump(up_reader, writer, outbound=False)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
                self._tasks.discard(pump)
            writer.close()
            up_writer.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, outbound: bool
    ) -> None:
        while data := await reader.read(65536):
            if outbound and self.armed.is_set():
                self.held += len(data)
                self.holding.set()
                continue
            writer.write(data)
            await writer.drain()
