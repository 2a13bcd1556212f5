"""A small Telegram Bot API stand-in on loopback, reached through ``TELEGRAM_API_URL``.

It speaks the methods this bot uses (long-polling ``getUpdates``, sending and editing
messages, callback answers, documents, commands, webhooks) with Telegram's JSON shapes and
error texts, keeps each chat's messages as a person would see them, and lets a caller act as
users (type, share a contact, press a button) and inject Telegram's faults (429 with
``retry_after``, 5xx, a user who blocked the bot).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
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


class FakeTelegram:
    def __init__(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self.chats: dict[int, list[ChatMessage]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.faults: list[Fault] = []
        self.blocked_by: set[int] = set()
        #: Methods whose calls hang until released (a stuck network, a process about to die).
        self.holds: dict[str, asyncio.Event] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        self._changed = asyncio.Condition()
        self.version = 0  # bumped on every change anyone might watch
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    # ------------------------------------------------------------------ server

    def app(self) -> web.Application:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self.runner = web.AppRunner(self.app(), access_log=None)
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
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        try:
            result = await handler(params)
        except _ApiError as exc:
            return _error(exc.code, exc.description)
        finally:
            await self._notify()
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

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _require_int(params, "chat_id")
        text = str(params.get("text", ""))
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        message = ChatMessage(chat_id, next(self._message_ids), True, text)
        self._apply_markup(message, params.get("reply_markup"))
        self.chats.setdefault(chat_id, []).append(message)
        return self._message_json(message)

    async def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _require_int(params, "chat_id")
        document = params.get("document")
        if not isinstance(document, tuple):
            raise _ApiError(400, "Bad Request: there is no document in the request")
        message = ChatMessage(
            chat_id, next(self._message_ids), True, str(params.get("caption", ""))
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
        text = str(params.get("text", ""))
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
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
            "text": message.text,
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

    def _user_message(self, user: dict[str, Any], **content: Any) -> dict[str, Any]:
        message = ChatMessage(user["id"], next(self._message_ids), False, content.get("text", ""))
        self.chats.setdefault(user["id"], []).append(message)
        return {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
            "from": user,
            **content,
        }

    def send_text(self, user: dict[str, Any], text: str) -> int:
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._push({"message": self._user_message(user, **content)})

    def send_contact(self, user: dict[str, Any], phone: str, first_name: str = "Client") -> int:
        return self._push(
            {
                "message": self._user_message(
                    user, contact={"phone_number": phone, "first_name": first_name}
                )
            }
        )

    def send_update(self, update: dict[str, Any]) -> int:
        """Any raw update (for replays and malformed input)."""
        return self._push(dict(update))

    def press(self, user: dict[str, Any], message: ChatMessage, data: str) -> int:
        query_id = str(next(self._callback_ids))
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
