"""A raw TCP front for the Bot API stand-in that can answer with malformed HTTP.

aiohttp turns a response it cannot parse into ``ClientResponseError``, whose text carries
the request URL — ``…/bot<token>/<method>`` — and aiogram copies that text into its
``TelegramNetworkError``. This proxy makes exactly that happen on chosen methods, so tests
can check the token never reaches a log line, a traceback or the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import aiohttp

MALFORMED = b"HTTP/1.1 200 OK\r\nContent-Length: not-a-number\r\n\r\n{}"


class MalformedProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        #: method → how many of its next calls get a malformed answer (-1: all of them)
        self.breaks: Counter[str] = Counter()
        self.broken: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> str:
        self._session = aiohttp.ClientSession()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        if self._session is not None:
            await self._session.close()

    def _take(self, method: str) -> bool:
        left = self.breaks.get(method, 0)
        if left == 0:
            return False
        if left > 0:
            self.breaks[method] = left - 1
        self.broken[method] += 1
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                verb, path, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                method = path.rsplit("/", 1)[-1].split("?")[0]
                if self._take(method):
                    writer.write(MALFORMED)
                    await writer.drain()
                    break
                assert self._session is not None
                forward = {k: v for k, v in headers.items() if k == "content-type"}
                async with self._session.request(
                    verb, self.upstream + path, data=body, headers=forward
                ) as response:
                    answer = await response.read()
                    status, kind = response.status, response.headers.get("Content-Type", "")
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\n"
                    f"Content-Length: {len(answer)}\r\n\r\n".encode("latin-1")
                    + answer
                )
                await writer.drain()
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            asyncio.LimitOverrunError,
            aiohttp.ClientError,
        ):
            pass
        finally:
            writer.close()
