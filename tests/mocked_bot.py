"""aiogram's ``MockedBot`` pattern (aiogram's tests/mocked_bot.py) for handler tests.

A :class:`RecordingSession` answers every Bot API call at once, as Telegram would, and keeps
the call; :class:`Updates` writes the updates a person's taps and words make. A handler test
gives them to the Dispatcher itself (``Dispatcher.feed_update``): no HTTP, no polling, the
handler has finished when ``feed_update`` returns. Telegram's checks that matter to what a
person reads are kept: HTML is parsed as Telegram parses it (the stand-in's port of TDLib's
parser), and a text that is bad HTML, empty or too long is refused with 400 as there.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import InlineKeyboardMarkup, Message, Update, User

from bot.devtools.telegram import HtmlError, parse_html

BOT_USER = User(id=123456, is_bot=True, first_name="Cash-in", username="allpay_cashin_bot")


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}


class RecordingSession(BaseSession):
    """Every call kept in :attr:`requests`, in order; answered as Telegram answers it."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        #: What Telegram answered to each message sent or edited, in order: what a person
        #: sees (the text as read, HTML parsed), with its buttons.
        self.messages: list[Message] = []
        self._message_ids = itertools.count(1)
        self._changed = asyncio.Condition()

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        """Until ``predicate()`` holds: checked at each call the bot makes (work a handler
        leaves behind — the send after a confirm, the outbox — ends in a call)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: bool(predicate()))

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.requests.append(method)
        async with self._changed:
            self._changed.notify_all()
        plain = {
            field: self._read(bot, method, field)
            for field in ("text", "caption")
            if isinstance(getattr(method, field, None), str)
        }
        if isinstance(method, (SendMessage, EditMessageText, SendDocument)):
            message = self._message(method, plain)
            self.messages.append(message)
            return message  # type: ignore[return-value]
        if isinstance(method, EditMessageReplyMarkup):
            return True  # type: ignore[return-value]
        if method.__returning__ is bool or isinstance(method, AnswerCallbackQuery):
            return True  # type: ignore[return-value]
        if method.__returning__ is User:
            return BOT_USER  # type: ignore[return-value]
        raise NotImplementedError(f"the recording session does not answer {type(method)}")

    @staticmethod
    def _read(bot: Bot, method: TelegramMethod[Any], field: str) -> str:
        """What a person reads of ``method.<field>``, or Telegram's 400."""
        text = str(getattr(method, field))
        mode = getattr(method, "parse_mode", None)
        if isinstance(mode, Default):
            mode = bot.default[mode.name]
        plain = text
        if mode == "HTML":
            try:
                plain = parse_html(text)
            except HtmlError as exc:
                raise TelegramBadRequest(
                    method, f"Bad Request: can't parse entities: {exc}"
                ) from None
        if field == "text" and not plain.strip():
            raise TelegramBadRequest(method, "Bad Request: message text is empty")
        if len(plain) > (4096 if field == "text" else 1024):
            raise TelegramBadRequest(method, f"Bad Request: message {field} is too long")
        return plain

    def _message(
        self, method: SendMessage | EditMessageText | SendDocument, plain: dict[str, str]
    ) -> Message:
        chat_id = int(method.chat_id or 0)
        message_id = getattr(method, "message_id", None) or next(self._message_ids)
        markup = (
            method.reply_markup if isinstance(method.reply_markup, InlineKeyboardMarkup) else None
        )
        data: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": BOT_USER.model_dump(),
        }
        if isinstance(method, SendDocument):
            data["document"] = {"file_id": f"doc{message_id}", "file_unique_id": f"u{message_id}"}
            data["caption"] = plain.get("caption")
        else:
            data["text"] = plain["text"]
        if markup is not None:
            data["reply_markup"] = markup.model_dump()
        return Message.model_validate(data)

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError
        yield b""  # pragma: no cover

    async def close(self) -> None:
        return None

    # ------------------------------------------------------------------ reading

    def chat(self, chat_id: int) -> list[Message]:
        """The messages sent or edited into ``chat_id``, in order (an edit is one more)."""
        return [m for m in self.messages if m.chat.id == chat_id]

    def texts(self, chat_id: int) -> list[str]:
        return [m.text or m.caption or "" for m in self.chat(chat_id)]

    def last(self, chat_id: int) -> Message:
        """The last message sent or edited into ``chat_id``."""
        sent = self.chat(chat_id)
        if not sent:
            raise LookupError(f"nothing was sent to {chat_id}")
        return sent[-1]

    def answers(self) -> list[AnswerCallbackQuery]:
        return [m for m in self.requests if isinstance(m, AnswerCallbackQuery)]


def buttons(message: Message) -> list[tuple[str, str]]:
    """The inline buttons under a message: (label, callback data)."""
    markup = message.reply_markup
    if markup is None:
        return []
    return [(b.text, b.callback_data or "") for row in markup.inline_keyboard for b in row]


def mocked_bot(token: str) -> tuple[Bot, RecordingSession]:
    from aiogram.client.default import DefaultBotProperties
    from aiogram.enums import ParseMode

    session = RecordingSession()
    bot = Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    return bot, session


class Updates:
    """The updates people make: what they type in a chat and the buttons they press."""

    def __init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(10_000)
        self._query_ids = itertools.count(1)

    @staticmethod
    def user(user_id: int, language_code: str | None = "en") -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if language_code:
            user["language_code"] = language_code
        return user

    def text(self, user: dict[str, Any], text: str, *, chat_id: int | None = None) -> Update:
        """``user`` types ``text`` in their chat with the bot, or in the group ``chat_id``."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(user["id"] if chat_id is None else chat_id),
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return Update.model_validate({"update_id": next(self._update_ids), "message": message})

    def press(self, user: dict[str, Any], message: Message, label: str) -> Update:
        """``user`` presses the button labelled ``label`` (a part of it) under ``message``."""
        data = next((d for text, d in buttons(message) if label in text), None)
        if data is None:
            raise LookupError(f"no button {label!r} in {buttons(message)}")
        query = {
            "id": str(next(self._query_ids)),
            "from": user,
            "chat_instance": str(message.chat.id),
            "data": data,
            "message": message.model_dump(by_alias=True, exclude_none=True),
        }
        return Update.model_validate({"update_id": next(self._update_ids), "callback_query": query})
