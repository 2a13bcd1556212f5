"""The chats as people see them, and the people in them: :class:`ChatMessage` (a message with
its edits applied) and :class:`Chats`, the stand-in's first layer — each chat's messages, the
updates waiting for ``getUpdates``, acting as users (type, share a contact, press a button) and
waiting for what the bot says."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.devtools.telegram.html import is_html, parse_html

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
    photo: tuple[str, bytes] | None = None  # (file name, the bytes sent)
    edits: int = 0
    parse_mode: str | None = None  # as sent: ``text`` keeps its tags and entities

    @property
    def plain(self) -> str:
        """The text as a person reads it: tags gone, entities decoded."""
        return parse_html(self.text) if is_html(self.parse_mode) else self.text

    @property
    def callback_buttons(self) -> list[tuple[str, str]]:
        return [(b["text"], b.get("callback_data", "")) for row in self.buttons for b in row]


class Chats:
    """Each chat's messages and the updates people made, not yet fetched by the bot."""

    def __init__(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self.chats: dict[int, list[ChatMessage]] = {}
        #: Who pressed: callback query id → (the user's id, the chat of the message pressed).
        self.presses: dict[str, tuple[int, int]] = {}
        self._changed = asyncio.Condition()
        #: Set by ``close``: a long poll waiting for updates returns at once (the server's
        #: shutdown would otherwise wait out its ``shutdown_timeout`` for it).
        self.closing = False
        self.version = 0  # bumped on every change anyone might watch

    async def _notify(self) -> None:
        async with self._changed:
            self.version += 1
            self._changed.notify_all()

    async def wait_change(self, seen: int) -> int:
        """Wait until something changed since ``version`` was ``seen``; return the new one."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.version != seen)
            return self.version

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
