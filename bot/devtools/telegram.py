"""A small Telegram Bot API stand-in on loopback, reached through ``TELEGRAM_API_URL``.

It speaks the methods this bot uses (long-polling ``getUpdates``, sending and editing
messages, callback answers, documents, commands, webhooks) with Telegram's JSON shapes and
error texts, keeps each chat's messages as a person would see them, and lets a caller act as
users (type, share a contact, press a button) and inject Telegram's faults (429 with
``retry_after``, 5xx, a user who blocked the bot).

Text sent with ``parse_mode=HTML`` is always parsed the way Telegram parses it (a port of
TDLib's ``parse_html``): a malformed text is refused with ``400 Bad Request: can't parse
entities: <reason>``, and lengths are counted after parsing. By default it also refuses an
``&`` that starts no entity (``strict_entities``), which Telegram would show literally: the
bot escapes every text from outside, so such an ``&`` is a bug the tests should see;
``strict_entities=False`` is exactly Telegram's leniency.

``FakeTelegram(realistic=True, seed=...)`` turns on what a real server adds (off by default,
so tests stay fast): every call takes 60–160 ms (``latency=``; seeded), and sends and edits
are rate limited like Telegram does (``limits=``: 30/s for the bot, 1/s with a burst of 8 in a
private chat, 20 a minute in a group), answered with ``429 Too Many Requests: retry after N``.
The stand-in remembers every announced window (``windows``), every call that came back too
soon (``calls_inside_window``, refused again), the 429s it sent (``refusals``) and the counted
calls it accepted per chat (``accepted``). ``clock=`` replaces ``time.monotonic`` for the
buckets.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import re
import string
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER: dict[str, Any] = {
    "id": 1_000_000,
    "is_bot": True,
    "first_name": "Cash-in",
    "username": "allpay_cashin_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class ChatMessage:
    """A message in a chat as a person sees it now (edits applied)."""

    chat_id: int
    message_id: int
    from_bot: bool
    text: str
    buttons: list[list[dict[str, Any]]] = field(default_factory=list)  # inline keyboard
    reply_keyboard: list[list[str]] | None = None
    document: tuple[str, bytes] | None = None
    edits: int = 0
    parse_mode: str | None = None  # as sent: ``text`` keeps its tags and entities

    @property
    def plain(self) -> str:
        """The text as a person reads it: tags gone, entities decoded."""
        return parse_html(self.text) if _is_html(self.parse_mode) else self.text

    @property
    def callback_buttons(self) -> list[tuple[str, str]]:
        return [(b["text"], b.get("callback_data", "")) for row in self.buttons for b in row]


@dataclass
class Fault:
    method: str
    error_code: int
    description: str
    retry_after: int | None = None
    times: int = 1
    chat_id: int | None = None


@dataclass(frozen=True)
class Limits:
    """Telegram's flood limits as token buckets: a rate in tokens per second and a burst."""

    bot_rate: float = 30.0
    bot_burst: float = 30.0
    private_rate: float = 1.0  # a chat with a person (chat_id > 0)
    private_burst: float = 8.0
    group_rate: float = 20 / 60  # a group or channel (chat_id < 0)
    group_burst: float = 20.0


#: Calls that spend a token of their chat's bucket and of the bot's (sends and edits alike).
#: Telegram's side, kept apart from the bot's own list in ``bot.telegram.runtime.pacing`` on
#: purpose: a stand-in that imported the bot's assumption could never catch it being wrong.
COUNTED_METHODS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
    }
)


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until the next whole token (0 if there is one)."""
        return max(0.0, (1 - self.tokens) / self.rate)


class FakeTelegram:
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
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self.chats: dict[int, list[ChatMessage]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.faults: list[Fault] = []
        #: Method → how many of its next answers are malformed: Telegram's answer as it is
        #: (the message's text with it), but without a field the bot requires, so aiogram
        #: cannot decode it (``ClientDecodeError`` carries the whole answer).
        self.malformed: Counter[str] = Counter()
        self.blocked_by: set[int] = set()
        #: Methods whose calls hang until released (a stuck network, a process about to die).
        self.holds: dict[str, asyncio.Event] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}  # in the order answered
        #: Who pressed: callback query id → (the user's id, the chat of the message pressed).
        self.presses: dict[str, tuple[int, int]] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        #: The bot tokens Telegram knows; another gets 401 Unauthorized (None: any token).
        self.tokens: set[str] | None = None
        self._changed = asyncio.Condition()
        self.version = 0  # bumped on every change anyone might watch
        self.runner: web.AppRunner | None = None
        self.base_url = ""
        #: Refuse an ``&`` that starts no entity (Telegram shows it as typed).
        self.strict_entities = strict_entities
        # Realistic mode: latency and flood limits (see the module docstring).
        self.realistic = realistic
        self.latency = latency
        self.limits = limits or Limits()
        self.clock = clock
        self._rng = random.Random(seed)
        self._buckets: dict[int | None, _Bucket] = {}  # None: the bot's own
        self._windows_until: dict[int | None, float] = {}
        #: Every announced 429 window: (chat_id, or None for the bot-wide one; its end).
        self.windows: list[tuple[int | None, float]] = []
        #: Counted calls that came while a window announced to them was open: (when, method, chat).
        self.calls_inside_window: list[tuple[float, str, int | None]] = []
        self.refusals = 0  # 429s the flood limits sent
        #: Counted calls answered ``ok`` while realistic, per chat (messages sent and edited).
        self.accepted: Counter[int] = Counter()

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
            return _error(401, "Unauthorized")
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
        chat_id = _int(params.get("chat_id"))
        if counted:
            retry_after = self._flood_check(method, chat_id)
            if retry_after:
                self.refusals += 1
                return _retry_after(retry_after)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        try:
            result = await handler(params)
        except _ApiError as exc:
            return _error(exc.code, exc.description)
        finally:
            await self._notify()
        if counted and chat_id is not None:
            self.accepted[chat_id] += 1
        if self.malformed[method] > 0 and isinstance(result, dict):
            self.malformed[method] -= 1
            result = {key: value for key, value in result.items() if key != "chat"}
        return web.json_response({"ok": True, "result": result})

    def _flood_check(self, method: str, chat_id: int | None) -> int:
        """Take a token of the chat's bucket and the bot's, or say how long to wait (s)."""
        now = self.clock()
        keys: list[int | None] = [None] if chat_id is None else [chat_id, None]
        open_until = max(self._windows_until.get(k, now) for k in keys)
        if open_until > now:  # told to wait, yet here again: refused, and remembered
            self.calls_inside_window.append((now, method, chat_id))
            return _whole_seconds(open_until - now)
        buckets = [self._bucket(k, now) for k in keys]
        waits = [b.wait() for b in buckets]
        if max(waits) > 0:
            key = keys[waits.index(max(waits))]
            seconds = _whole_seconds(max(waits))
            self._windows_until[key] = now + seconds
            self.windows.append((key, now + seconds))
            return seconds
        for bucket in buckets:
            bucket.tokens -= 1
        return 0

    def _bucket(self, key: int | None, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            limits = self.limits
            if key is None:
                rate, burst = limits.bot_rate, limits.bot_burst
            elif key > 0:
                rate, burst = limits.private_rate, limits.private_burst
            else:
                rate, burst = limits.group_rate, limits.group_burst
            bucket = self._buckets[key] = _Bucket(rate, burst, burst, now)
        bucket.refill(now)
        return bucket

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
        for key in ("reply_markup", "commands", "scope", "allowed_updates", "link_preview_options"):
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
        chat_id = _int(params.get("chat_id"))
        if (
            method in {"sendMessage", "editMessageText", "sendDocument"}
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

    async def _notify(self) -> None:
        async with self._changed:
            self.version += 1
            self._changed.notify_all()

    async def wait_change(self, seen: int) -> int:
        """Wait until something changed since ``version`` was ``seen``; return the new one."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.version != seen)
            return self.version

    # ------------------------------------------------------------------ Bot API methods

    async def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _int(params.get("offset")) or 0
        timeout = float(params.get("timeout") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            try:
                async with asyncio.timeout(min(timeout, 5.0)), self._changed:
                    await self._changed.wait_for(lambda: bool(self._updates))
            except TimeoutError:
                pass
        return list(self._updates[:100])

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = dict(params)
        return True

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> str:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        return f"{scope}|{params.get('language_code', '')}"

    def menu(self, chat_id: int | None = None, language_code: str = "") -> list[str]:
        """The command names a person in ``chat_id`` sees (Telegram's scope fallback)."""
        keys = [self._commands_key({"language_code": language_code})]
        if chat_id is not None:
            scope = {"type": "chat", "chat_id": chat_id}
            keys.insert(0, self._commands_key({"scope": scope, "language_code": language_code}))
        for key in keys:
            if key in self.commands:
                return [c["command"] for c in self.commands[key]]
        return []

    async def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands[self._commands_key(params)] = params["commands"]
        return True

    async def _m_deleteMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id in self.callback_answers:
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self.callback_answers[query_id] = params
        return True

    def _parsed(self, params: dict[str, Any], key: str) -> str:
        """What a person would read of ``params[key]``: Telegram parses it first."""
        text = str(params.get(key, ""))
        if not _is_html(params.get("parse_mode")):
            return text
        try:
            return parse_html(text, strict_entities=self.strict_entities)
        except HtmlError as exc:
            raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None

    def _parsed_text(self, params: dict[str, Any]) -> str:
        plain = self._parsed(params, "text")
        if not plain.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(plain) > 4096:  # counted after parsing, in characters
            raise _ApiError(400, "Bad Request: message is too long")
        return plain

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _require_int(params, "chat_id")
        self._parsed_text(params)
        text = str(params.get("text", ""))
        message = ChatMessage(
            chat_id, next(self._message_ids), True, text, parse_mode=params.get("parse_mode")
        )
        self._apply_markup(message, params.get("reply_markup"))
        self.chats.setdefault(chat_id, []).append(message)
        return self._message_json(message)

    async def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _require_int(params, "chat_id")
        document = params.get("document")
        if not isinstance(document, tuple):
            raise _ApiError(400, "Bad Request: there is no document in the request")
        if len(self._parsed(params, "caption")) > 1024:
            raise _ApiError(400, "Bad Request: message caption is too long")
        caption = str(params.get("caption", ""))
        message = ChatMessage(
            chat_id, next(self._message_ids), True, caption, parse_mode=params.get("parse_mode")
        )
        message.document = document
        self.chats.setdefault(chat_id, []).append(message)
        result = self._message_json(message)
        result["document"] = {
            "file_id": f"doc{message.message_id}",
            "file_unique_id": f"u{message.message_id}",
            "file_name": document[0],
            "file_size": len(document[1]),
        }
        return result

    async def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(params)
        self._parsed_text(params)
        text = str(params.get("text", ""))
        markup = params.get("reply_markup")
        new_buttons = (markup or {}).get("inline_keyboard", [])
        if text == message.text and new_buttons == message.buttons:
            raise _ApiError(
                400,
                "Bad Request: message is not modified: specified new message "
                "content and reply markup are exactly the same as a current "
                "content and reply markup of the message",
            )
        message.text = text
        message.parse_mode = params.get("parse_mode")
        message.buttons = new_buttons
        message.edits += 1
        return self._message_json(message)

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(params)
        new_buttons = (params.get("reply_markup") or {}).get("inline_keyboard", [])
        if new_buttons == message.buttons:
            raise _ApiError(400, "Bad Request: message is not modified")
        message.buttons = new_buttons
        message.edits += 1
        return self._message_json(message)

    async def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        message = self._find(params)
        self.chats[message.chat_id].remove(message)
        return True

    def _find(self, params: dict[str, Any]) -> ChatMessage:
        chat_id = _require_int(params, "chat_id")
        message_id = _require_int(params, "message_id")
        for message in self.chats.get(chat_id, []):
            if message.message_id == message_id:
                if not message.from_bot:
                    raise _ApiError(400, "Bad Request: message can't be edited")
                return message
        raise _ApiError(400, "Bad Request: message to edit not found")

    @staticmethod
    def _apply_markup(message: ChatMessage, markup: dict[str, Any] | None) -> None:
        if not markup:
            return
        if "inline_keyboard" in markup:
            message.buttons = markup["inline_keyboard"]
        elif "keyboard" in markup:
            message.reply_keyboard = [
                [b["text"] if isinstance(b, dict) else b for b in row] for row in markup["keyboard"]
            ]

    @staticmethod
    def _message_json(message: ChatMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": {"id": message.chat_id, "type": "private" if message.chat_id > 0 else "group"},
            "from": BOT_USER,
            "text": message.plain,  # Telegram answers with the parsed text
        }
        if message.buttons:
            data["reply_markup"] = {"inline_keyboard": message.buttons}
        return data

    # ------------------------------------------------------------------ acting as users

    def _push(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        update["update_id"] = update_id
        self._updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())
        return update_id

    @staticmethod
    def user(
        user_id: int, first_name: str = "Cashier", language_code: str | None = "ru"
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            data["language_code"] = language_code
        return data

    def _user_message(
        self, user: dict[str, Any], chat_id: int | None = None, **content: Any
    ) -> dict[str, Any]:
        chat_id = user["id"] if chat_id is None else chat_id
        message = ChatMessage(chat_id, next(self._message_ids), False, content.get("text", ""))
        self.chats.setdefault(chat_id, []).append(message)
        chat: dict[str, Any] = (
            {"id": chat_id, "type": "private", "first_name": user["first_name"]}
            if chat_id > 0
            else {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}
        )
        return {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **content,
        }

    def send_text(
        self,
        user: dict[str, Any],
        text: str,
        *,
        reply_to: ChatMessage | None = None,
        chat_id: int | None = None,
    ) -> int:
        """``user`` types ``text`` (``reply_to``: as a reply to that message) in their chat
        with the bot, or in the group ``chat_id`` (negative)."""
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        if reply_to is not None:
            content["reply_to_message"] = self._message_json(reply_to)
        return self._push({"message": self._user_message(user, chat_id, **content)})

    def send_contact(
        self,
        user: dict[str, Any],
        phone: str,
        first_name: str = "Client",
        *,
        chat_id: int | None = None,
    ) -> int:
        """``user`` shares a contact in their chat with the bot (or in the group ``chat_id``)."""
        return self._push(
            {
                "message": self._user_message(
                    user, chat_id, contact={"phone_number": phone, "first_name": first_name}
                )
            }
        )

    def send_update(self, update: dict[str, Any]) -> int:
        """Any raw update (for replays and malformed input)."""
        return self._push(dict(update))

    def press(self, user: dict[str, Any], message: ChatMessage, data: str) -> int:
        query_id = str(next(self._callback_ids))
        self.presses[query_id] = (int(user["id"]), message.chat_id)
        return self._push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "chat_instance": str(user["id"]),
                    "data": data,
                    "message": self._message_json(message),
                }
            }
        )

    def press_button(self, user: dict[str, Any], message: ChatMessage, label: str) -> int:
        for text, data in message.callback_buttons:
            if label in text:
                return self.press(user, message, data)
        raise LookupError(f"no button {label!r} in {message.callback_buttons}")

    def last_update(self, update_id: int) -> dict[str, Any] | None:
        return next((u for u in self._updates if u["update_id"] == update_id), None)

    # ------------------------------------------------------------------ observing

    def messages(self, chat_id: int) -> list[ChatMessage]:
        return [m for m in self.chats.get(chat_id, []) if m.from_bot]

    def last(self, chat_id: int) -> ChatMessage:
        messages = self.messages(chat_id)
        if not messages:
            raise LookupError(f"the bot has said nothing in chat {chat_id}")
        return messages[-1]

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: bool(predicate()))
        except TimeoutError:
            raise AssertionError(f"condition not met within {timeout} s") from None

    async def wait_message(
        self,
        chat_id: int,
        predicate: Callable[[ChatMessage], object] = lambda m: True,
        *,
        after: int = 0,
        timeout: float = 10.0,
    ) -> ChatMessage:
        """Wait for a bot message in ``chat_id`` (id > ``after``) that satisfies ``predicate``."""
        found: list[ChatMessage] = []

        def check() -> bool:
            for message in self.messages(chat_id):
                if message.message_id > after and predicate(message):
                    found.append(message)
                    return True
            return False

        try:
            await self.wait_for(check, timeout)
        except AssertionError:
            seen = [m.text[:80] for m in self.messages(chat_id)[-5:]]
            raise AssertionError(f"no such message in chat {chat_id}; last: {seen}") from None
        return found[0]

    def mark(self) -> int:
        """The highest message id so far: pass as ``after=`` to wait for newer ones."""
        return max((m.message_id for ms in self.chats.values() for m in ms), default=0)


class _ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _error(code: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description}, status=code
    )


def _retry_after(seconds: int) -> web.Response:
    body = {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {seconds}",
        "parameters": {"retry_after": seconds},
    }
    return web.json_response(body, status=429)


def _whole_seconds(seconds: float) -> int:
    """Telegram's ``retry_after``: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(seconds - 1e-9))


def _is_html(parse_mode: object) -> bool:
    return isinstance(parse_mode, str) and parse_mode.lower() == "html"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _require_int(params: dict[str, Any], name: str) -> int:
    value = _int(params.get(name))
    if value is None:
        raise _ApiError(400, f"Bad Request: {name} is required")
    return value


# ---------------------------------------------------------------------- Telegram's HTML
# A port of TDLib's ``parse_html`` (td/telegram/MessageEntity.cpp), which the Bot API runs
# for ``parse_mode=HTML``. Like it, ``>`` outside a tag is plain text (only ``<`` opens a
# tag), and an ``&`` that starts no known entity stays a literal ``&`` (Telegram shows
# "a & b" and "&nbsp;" as typed); ``strict_entities`` refuses that ``&`` instead, since
# user data with "&lt;" in it would be shown decoded. Offsets are in UTF-8 bytes.

_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler"}
    | {"tg-emoji", "tg-time", "code", "pre", "blockquote"}
)
_SPACE = " \t\r\n\v\0"  # TDLib's is_space; "\0" also marks the end of the text
_NAME_TOKEN = frozenset(string.ascii_letters + string.digits + ".-")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_REFERENCE = re.compile(r"&(?:#x([0-9a-fA-F]*)|#([0-9]*)|([A-Za-z]*))(;?)")


class HtmlError(ValueError):
    """Why Telegram can't parse a text (the reason after "can't parse entities: ")."""


def _reference(text: str, pos: int) -> tuple[str, int] | None:
    """The character the reference at ``text[pos] == "&"`` stands for and where it ends."""
    match = _REFERENCE.match(text, pos)
    assert match is not None
    hexa, decimal, name, _ = match.groups()
    if name is not None:
        char = _NAMED.get(name)
        return None if char is None else (char, match.end())
    digits = hexa if hexa is not None else decimal
    code = int(digits, 16 if hexa is not None else 10) if digits else 0
    if code == 0 or code >= 0x10FFFF or match.end(1 if hexa is not None else 2) - pos >= 10:
        return None
    return chr(code), match.end()


def parse_html(text: str, *, strict_entities: bool = False) -> str:
    """The text a person reads, or :class:`HtmlError` with Telegram's reason."""
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else "\0"

    def offset(k: int) -> str:
        return f"at byte offset {len(text[:k].encode(errors='surrogatepass'))}"

    def skip_spaces(k: int) -> int:
        while at(k) != "\0" and at(k) in _SPACE:
            k += 1
        return k

    def skip_name(k: int, stop: str) -> int:
        while at(k) not in _SPACE and at(k) not in stop:
            k += 1
        return k

    out: list[str] = []
    stack: list[tuple[str, str, int]] = []  # tag, its argument, len(out) where it opened
    i = 0
    while i < n:
        c = text[i]
        ref = _reference(text, i) if c == "&" else None
        if ref is not None:
            out.append(ref[0])
            i = ref[1]
            continue
        if c == "&" and strict_entities:
            raise HtmlError(f"Unsupported HTML entity {offset(i)}")
        if c != "<":
            out.append(c)
            i += 1
            continue
        begin, i = i, i + 1
        if at(i) != "/":  # a start tag
            i = skip_name(i, ">")
            if at(i) == "\0":
                raise HtmlError(f"Unclosed start tag {offset(begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in _TAGS:
                raise HtmlError(f'Unsupported start tag "{tag}" {offset(begin)}')
            argument = ""
            while at(i) != ">":
                i = skip_spaces(i)
                if at(i) == ">":
                    break
                start, i = i, skip_name(i, "=>/\"'")
                attribute = text[start:i]
                if not attribute:
                    raise HtmlError(f'Empty attribute name in the tag "{tag}" {offset(begin)}')
                i = skip_spaces(i)
                if at(i) == "\0":
                    raise HtmlError(f'Unclosed start tag "{tag}" {offset(begin)}')
                if at(i) != "=":  # a bare attribute: ignored, but "expandable"
                    if (tag, attribute) == ("blockquote", "expandable"):
                        argument = "1"
                    continue
                i = skip_spaces(i + 1)
                if at(i) == "\0":
                    raise HtmlError(f'Unclosed start tag "{tag}" {offset(begin)}')
                if at(i) not in "'\"":  # a name token
                    start = i
                    while at(i) in _NAME_TOKEN:
                        i += 1
                    value = text[start:i].lower()
                    if at(i) not in _SPACE and at(i) != ">":
                        raise HtmlError(f"Unexpected end of name token {offset(start)}")
                else:  # a quoted string, its references decoded
                    quote, chars, i = at(i), [], i + 1
                    while at(i) not in (quote, "\0"):
                        ref = _reference(text, i) if at(i) == "&" else None
                        chars.append(text[i] if ref is None else ref[0])
                        i = i + 1 if ref is None else ref[1]
                    if at(i) == quote:
                        i += 1
                    value = "".join(chars)
                if at(i) == "\0":
                    raise HtmlError(f"Unclosed start tag {offset(begin)}")
                if (tag, attribute) in {("a", "href"), ("tg-emoji", "emoji-id")}:
                    argument = value
                elif attribute == "class" and tag == "code" and value.startswith("language-"):
                    argument = value[9:]
                elif attribute == "class" and tag == "span" and value.startswith("tg-"):
                    argument = value[3:]
            if tag == "span" and argument != "spoiler":
                raise HtmlError(f'Tag "span" must have class "tg-spoiler" {offset(begin)}')
            stack.append((tag, argument, len(out)))
        else:  # an end tag
            if not stack:
                raise HtmlError(f"Unexpected end tag {offset(begin)}")
            i = skip_name(i, ">")
            name = text[begin + 2 : i].lower()
            i = skip_spaces(i)
            if at(i) != ">":
                raise HtmlError(f"Unclosed end tag {offset(begin)}")
            tag, argument, opened = stack.pop()
            if name and name != tag:
                raise HtmlError(
                    f'Unmatched end tag {offset(begin)}, expected "</{tag}>", found "</{name}>"'
                )
            if tag == "tg-emoji" and len(out) > opened and not _emoji_id(argument):
                raise HtmlError("Invalid custom emoji identifier specified")
        i += 1  # past the ">"
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    result = "".join(out)
    if any("\ud800" <= ch <= "\udfff" for ch in result):
        raise HtmlError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    return result


def _emoji_id(argument: str) -> bool:
    return argument.isascii() and argument.isdigit() and 0 < int(argument) < 2**63
