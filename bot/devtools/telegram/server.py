"""The HTTP side of the Bot API stand-in: :class:`FakeTelegram` serves ``/bot<token>/<method>``
on loopback, reached through ``TELEGRAM_API_URL``, and answers with Telegram's JSON shapes.

Before a method runs (:mod:`.methods`) come what a test injects: an unknown token (401),
calls that hang until released (``hold``), Telegram's faults (:class:`.faults.Fault`: 429 with
``retry_after``, 5xx; a user who blocked the bot), and answers missing a field the bot needs
(``malformed``).

``FakeTelegram(realistic=True, seed=...)`` turns on what a real server adds (off by default,
so tests stay fast): every call takes 60–160 ms (``latency=``; seeded), and sends and edits
are rate limited like Telegram does (``limits=``: 30/s for the bot, 1/s with a burst of 8 in a
private chat, 20 a minute in a group; :mod:`.limits`), answered with ``429 Too Many Requests:
retry after N``. The stand-in remembers every announced window (``windows``), every call that
came back too soon (``calls_inside_window``, refused again), the 429s it sent (``refusals``)
and the counted calls it accepted per chat (``accepted``). ``clock=`` replaces
``time.monotonic`` for the buckets.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.devtools.telegram.faults import ApiError, Fault, as_int, error, retry_after
from bot.devtools.telegram.limits import COUNTED_METHODS, FloodGate, Limits
from bot.devtools.telegram.methods import BotApi

#: Parameters sent as JSON text in a form (aiogram's multipart requests).
JSON_FIELDS = (
    "reply_markup",
    "commands",
    "scope",
    "allowed_updates",
    "link_preview_options",
    "menu_button",
)


class FakeTelegram(BotApi):
    """The stand-in: chats (:mod:`.chats`), the Bot API's methods over them and this server.

    ``strict_entities`` (the default) also refuses an ``&`` that starts no entity, which
    Telegram would show literally: the bot escapes every text from outside, so such an ``&``
    is a bug the tests should see; ``strict_entities=False`` is exactly Telegram's leniency.
    """

    def __init__(
        self,
        *,
        realistic: bool = False,
        seed: int | None = None,
        latency: tuple[float, float] = (0.060, 0.160),
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
        strict_entities: bool = True,
    ) -> None:
        super().__init__(strict_entities=strict_entities)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.faults: list[Fault] = []
        #: Method → how many of its next answers are malformed: Telegram's answer as it is
        #: (the message's text with it), but without a field the bot requires, so aiogram
        #: cannot decode it (``ClientDecodeError`` carries the whole answer).
        self.malformed: Counter[str] = Counter()
        self.blocked_by: set[int] = set()
        #: Methods whose calls hang until released (a stuck network, a process about to die).
        self.holds: dict[str, asyncio.Event] = {}
        #: The bot tokens Telegram knows; another gets 401 Unauthorized (None: any token).
        self.tokens: set[str] | None = None
        self.runner: web.AppRunner | None = None
        self.base_url = ""
        # Realistic mode: latency and flood limits (see the module docstring).
        self.realistic = realistic
        self.latency = latency
        self._rng = random.Random(seed)
        self._flood = FloodGate(limits or Limits(), clock)
        self.refusals = 0  # 429s the flood limits sent
        #: Counted calls answered ``ok`` while realistic, per chat (messages sent and edited).
        self.accepted: Counter[int] = Counter()

    @property
    def limits(self) -> Limits:
        return self._flood.limits

    @property
    def clock(self) -> Callable[[], float]:
        return self._flood.clock

    @property
    def windows(self) -> list[tuple[int | None, float]]:
        """Every announced 429 window: (chat_id, or None for the bot-wide one; its end)."""
        return self._flood.windows

    @property
    def calls_inside_window(self) -> list[tuple[float, str, int | None]]:
        """Counted calls that came while a window announced to them was open."""
        return self._flood.calls_inside_window

    # ------------------------------------------------------------------ server

    def app(self) -> web.Application:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self.runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        await site.start()
        self.base_url = f"http://{host}:{self.runner.addresses[0][1]}"
        return self.base_url

    async def close(self) -> None:
        self.closing = True
        async with self._changed:
            self._changed.notify_all()
        if self.runner is not None:
            await self.runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        delay = self._rng.uniform(*self.latency) if self.realistic else 0.0
        if delay > 0:
            await asyncio.sleep(delay / 2)  # the request's way to Telegram
        response = await self._answer(request)
        if delay > 0:
            await asyncio.sleep(delay / 2)  # and the answer's way back
        return response

    async def _answer(self, request: web.Request) -> web.Response:
        if self.tokens is not None and request.match_info["token"] not in self.tokens:
            return error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        await self._notify()  # a long-polling getUpdates is seen at once, not when it returns
        held = self.holds.get(method)
        if held is not None:
            await held.wait()
        fault = self._take_fault(method, params)
        if fault is not None:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": fault.error_code,
                "description": fault.description,
            }
            if fault.retry_after is not None:
                body["parameters"] = {"retry_after": fault.retry_after}
            return web.json_response(body, status=fault.error_code)
        counted = self.realistic and method in COUNTED_METHODS
        chat_id = as_int(params.get("chat_id"))
        if counted:
            seconds = self._flood.check(method, chat_id)
            if seconds:
                self.refusals += 1
                return retry_after(seconds)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return error(404, "Not Found: method not found")
        try:
            result = await handler(params)
        except ApiError as exc:
            return error(exc.code, exc.description)
        finally:
            await self._notify()
        if counted and chat_id is not None:
            self.accepted[chat_id] += 1
        if self.malformed[method] > 0 and isinstance(result, dict):
            self.malformed[method] -= 1
            result = {key: value for key, value in result.items() if key != "chat"}
        return web.json_response({"ok": True, "result": result})

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.body_exists:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = (value.filename, value.file.read())
                else:
                    params[key] = value
        for key, value in list(params.items()):  # files sent as "attach://<field>"
            if isinstance(value, str) and value.startswith("attach://"):
                params[key] = params.pop(value.removeprefix("attach://"), value)
        for key in JSON_FIELDS:
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    def hold(self, method: str) -> asyncio.Event:
        """From now on calls of ``method`` hang until the returned event is set."""
        return self.holds.setdefault(method, asyncio.Event())

    def release(self, method: str) -> None:
        held = self.holds.pop(method, None)
        if held is not None:
            held.set()

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        chat_id = as_int(params.get("chat_id"))
        if (
            method in {"sendMessage", "editMessageText", "sendDocument", "sendPhoto"}
            and chat_id in self.blocked_by
        ):
            return Fault(method, 403, "Forbidden: bot was blocked by the user")
        for fault in self.faults:
            if fault.method == method and (fault.chat_id is None or fault.chat_id == chat_id):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None
