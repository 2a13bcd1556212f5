"""The Bot API methods the bot calls, as Telegram answers them: :class:`BotApi` runs each
``_m_<method>`` over the chats (sending and editing with Telegram's checks and error texts,
photos and documents, callback answers, commands, each private chat's menu button, webhooks,
``getUpdates`` long-polling). Text and captions sent with ``parse_mode=HTML`` are parsed the
way Telegram parses them (:mod:`.html`) and refused with ``400 Bad Request: can't parse
entities: <reason>`` when malformed; lengths are counted after parsing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bot.devtools.telegram.chats import BOT_USER, ChatMessage, Chats
from bot.devtools.telegram.faults import ApiError, as_int, require_int
from bot.devtools.telegram.html import HtmlError, is_html, parse_html

#: What a chat's menu button is until the bot sets one (Telegram's ``MenuButtonDefault``).
DEFAULT_MENU_BUTTON: dict[str, Any] = {"type": "default"}
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or a JPEG, or None: Telegram processes nothing else."""
    if data.startswith(_PNG) and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(_JPEG):
        at = 2
        while at + 9 < len(data) and data[at] == 0xFF:
            marker, length = data[at + 1], int.from_bytes(data[at + 2 : at + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height = int.from_bytes(data[at + 5 : at + 7], "big")
                return int.from_bytes(data[at + 7 : at + 9], "big"), height
            at += 2 + length
    return None


class BotApi(Chats):
    """The methods over the chats; the HTTP server (:mod:`.server`) dispatches to them."""

    def __init__(self, *, strict_entities: bool) -> None:
        super().__init__()
        self.callback_answers: dict[str, dict[str, Any]] = {}  # in the order answered
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        #: Each private chat's own menu button (``setChatMenuButton`` with ``chat_id``); a
        #: chat set back to the default is absent. The bot's own, for every other chat.
        self.menu_buttons: dict[int, dict[str, Any]] = {}
        self.default_menu_button: dict[str, Any] = dict(DEFAULT_MENU_BUTTON)
        #: Refuse an ``&`` that starts no entity (Telegram shows it as typed).
        self.strict_entities = strict_entities
        self._photos: dict[str, tuple[str, bytes]] = {}  # file_id → (file name, bytes)

    async def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = as_int(params.get("offset")) or 0
        timeout = float(params.get("timeout") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            try:
                async with asyncio.timeout(min(timeout, 5.0)), self._changed:
                    await self._changed.wait_for(lambda: bool(self._updates) or self.closing)
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

    def menu_button(self, chat_id: int) -> dict[str, Any]:
        """The menu button a person sees in their chat with the bot: the chat's own, else
        the bot's (``{"type": "default"}``: the command list)."""
        return self.menu_buttons.get(chat_id, self.default_menu_button)

    @staticmethod
    def _checked_menu_button(params: dict[str, Any]) -> dict[str, Any]:
        """The button as Telegram checks it, before the chat: a type it knows, a web_app's
        text, and a Web App address Telegram opens (https only)."""
        button = params.get("menu_button", DEFAULT_MENU_BUTTON)
        if not isinstance(button, dict):
            raise ApiError(400, "Bad Request: can't parse menu button JSON object")
        kind = button.get("type")
        if kind in ("default", "commands"):
            return {"type": kind}
        if kind != "web_app":
            raise ApiError(
                400, "Bad Request: can't parse menu button: MenuButton has unsupported type"
            )
        text = button.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: menu button text is empty")
        web_app = button.get("web_app")
        url = web_app.get("url") if isinstance(web_app, dict) else None
        if not isinstance(url, str) or not url.startswith("https://") or len(url) <= 8:
            raise ApiError(
                400,
                f"Bad Request: menu button Web App URL '{url or ''}' is invalid: "
                "Only HTTPS links are allowed",
            )
        return {"type": "web_app", "text": text, "web_app": {"url": url}}

    async def _m_setChatMenuButton(self, params: dict[str, Any]) -> bool:
        """A private chat's menu button (``chat_id``: a person's id, positive — a group has
        none), or the bot's own without ``chat_id``; ``{"type": "default"}`` takes a chat's
        own away."""
        button = self._checked_menu_button(params)
        if params.get("chat_id") in (None, ""):
            self.default_menu_button = button
            return True
        chat_id = as_int(params.get("chat_id"))
        if chat_id is None or chat_id <= 0:
            raise ApiError(400, "Bad Request: Invalid chat_id specified")
        if button["type"] == "default":
            self.menu_buttons.pop(chat_id, None)
        else:
            self.menu_buttons[chat_id] = button
        return True

    async def _m_getChatMenuButton(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("chat_id") in (None, ""):
            return dict(self.default_menu_button)
        chat_id = as_int(params.get("chat_id"))
        if chat_id is None or chat_id <= 0:
            raise ApiError(400, "Bad Request: Invalid chat_id specified")
        return dict(self.menu_button(chat_id))

    async def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id in self.callback_answers:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self.callback_answers[query_id] = params
        return True

    def _parsed(self, params: dict[str, Any], key: str) -> str:
        """What a person would read of ``params[key]``: Telegram parses it first."""
        text = str(params.get(key, ""))
        if not is_html(params.get("parse_mode")):
            return text
        try:
            return parse_html(text, strict_entities=self.strict_entities)
        except HtmlError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None

    def _parsed_text(self, params: dict[str, Any]) -> str:
        plain = self._parsed(params, "text")
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(plain) > 4096:  # counted after parsing, in characters
            raise ApiError(400, "Bad Request: message is too long")
        return plain

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = require_int(params, "chat_id")
        self._parsed_text(params)
        text = str(params.get("text", ""))
        message = ChatMessage(
            chat_id, next(self._message_ids), True, text, parse_mode=params.get("parse_mode")
        )
        self._apply_markup(message, params.get("reply_markup"))
        self.chats.setdefault(chat_id, []).append(message)
        return self._message_json(message)

    async def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = require_int(params, "chat_id")
        document = params.get("document")
        if not isinstance(document, tuple):
            raise ApiError(400, "Bad Request: there is no document in the request")
        caption = self._caption(params)
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

    def _caption(self, params: dict[str, Any]) -> str:
        if len(self._parsed(params, "caption")) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        return str(params.get("caption", ""))

    async def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        """A picture uploaded (multipart: a PNG or a JPEG, kept as sent) with its caption, or
        one sent before, by its ``file_id``."""
        chat_id = require_int(params, "chat_id")
        photo = params.get("photo")
        if isinstance(photo, str) and photo:
            photo = self._photos.get(photo)
            if photo is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if not isinstance(photo, tuple):
            raise ApiError(400, "Bad Request: there is no photo in the request")
        size = _image_size(photo[1])
        if size is None:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        caption = self._caption(params)
        message = ChatMessage(
            chat_id, next(self._message_ids), True, caption, parse_mode=params.get("parse_mode")
        )
        message.photo = photo
        self._apply_markup(message, params.get("reply_markup"))
        self.chats.setdefault(chat_id, []).append(message)
        file_id = f"photo{message.message_id}"
        self._photos[file_id] = photo
        result = self._message_json(message)
        result.pop("text", None)
        if caption:
            result["caption"] = message.plain
        width, height = size
        result["photo"] = [
            {
                "file_id": file_id,
                "file_unique_id": f"u{message.message_id}",
                "width": width,
                "height": height,
                "file_size": len(photo[1]),
            }
        ]
        return result

    async def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(params)
        self._parsed_text(params)
        text = str(params.get("text", ""))
        markup = params.get("reply_markup")
        new_buttons = (markup or {}).get("inline_keyboard", [])
        if text == message.text and new_buttons == message.buttons:
            raise ApiError(
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
            raise ApiError(400, "Bad Request: message is not modified")
        message.buttons = new_buttons
        message.edits += 1
        return self._message_json(message)

    async def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        message = self._find(params)
        self.chats[message.chat_id].remove(message)
        return True

    def _find(self, params: dict[str, Any]) -> ChatMessage:
        chat_id = require_int(params, "chat_id")
        message_id = require_int(params, "message_id")
        for message in self.chats.get(chat_id, []):
            if message.message_id == message_id:
                if not message.from_bot:
                    raise ApiError(400, "Bad Request: message can't be edited")
                return message
        raise ApiError(400, "Bad Request: message to edit not found")

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
