"""A TCP proxy on loopback that can stop passing the client's bytes on, from one moment on.

Armed, it keeps every byte a client sends — on new connections and on kept-alive ones —
so a request leaves the bot but never reaches the server: "journaled, not yet sent" as
seen from the server, reached from outside the bot.
"""

from __future__ import annotations

import asyncio
import contextlib


async def _cancel(tasks: set[asyncio.Task[None]]) -> None:
    for task in list(tasks):
        task.cancel()
    for task in list(tasks):
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


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
        await _cancel(self._tasks)

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


class CutProxy:
    """A TCP proxy on loopback in front of one of the bot's parts (PostgreSQL, Redis, Allpay)
    that a test cuts and mends, as a network or a server restart would:

    * ``cut("refuse")``: connections are reset and new ones refused (a server down);
    * ``cut("stall")``: connections are accepted, bytes kept and nothing answered (a
      partition); mended, what was kept goes on, as TCP would retransmit it;
    * ``lose_answer(after, then)``: on a connection that sent ``after``, the server's next
      answer holding ``then`` (it processed the request) is dropped and the connection
      reset: "the COMMIT landed, its answer was lost".
    """

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.mode: str | None = None
        self.mended = asyncio.Event()
        self.mended.set()
        self.port = 0
        self.lost_answers = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._lose: tuple[bytes, bytes] | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def url(self, url: str) -> str:
        """``url`` (its host:port the upstream's) pointed at this proxy."""
        host, port = self.upstream
        return url.replace(f"{host}:{port}", f"127.0.0.1:{self.port}", 1)

    async def cut(self, mode: str) -> None:
        assert mode in ("refuse", "stall")
        self.mode = mode
        self.mended.clear()
        if mode == "refuse":
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer in list(self._writers):
                writer.transport.abort()

    async def mend(self) -> None:
        if self.mode == "refuse":
            await self.start()
        self.mode = None
        self.mended.set()

    def lose_answer(self, after: bytes, then: bytes) -> None:
        self._lose = (after, then)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await _cancel(self._tasks)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self.mended.wait()  # a stalled part accepts and says nothing
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        state = {"seen": False, "armed": False}
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, state, outbound=True)),
            asyncio.create_task(self._pump(up_reader, writer, state, outbound=False)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
                self._tasks.discard(pump)
            for end in (writer, up_writer):
                end.transport.abort()
                self._writers.discard(end)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: dict[str, bool],
        *,
        outbound: bool,
    ) -> None:
        while data := await reader.read(65536):
            await self.mended.wait()
            lose = self._lose
            if lose is not None and outbound and lose[0] in data:
                state["seen"] = True
            elif lose is not None and not outbound and state["seen"] and lose[1] in data:
                self._lose = None
                self.lost_answers += 1
                return  # the answer is dropped, the connection reset
            writer.write(data)
            await writer.drain()
