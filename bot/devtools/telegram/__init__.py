"""A small Telegram Bot API stand-in on loopback, reached through ``TELEGRAM_API_URL``.

It speaks the methods this bot uses (long-polling ``getUpdates``, sending and editing
messages, callback answers, documents and photos, commands, each private chat's menu button,
webhooks) with Telegram's JSON shapes and error texts, keeps each chat's messages as a person
would see them, and lets a caller act as users (type, share a contact, press a button) and
inject Telegram's faults (429 with ``retry_after``, 5xx, a user who blocked the bot).

- :mod:`.html`: Telegram's HTML parser (a port of TDLib's ``parse_html``): a malformed text
  is refused with ``400 Bad Request: can't parse entities: <reason>``;
- :mod:`.chats`: the messages as people see them, and acting as those people;
- :mod:`.methods`: the Bot API methods over the chats;
- :mod:`.faults`: injected faults and Telegram's error answers;
- :mod:`.limits`: realistic mode's flood limits (token buckets, 429 windows);
- :mod:`.server`: :class:`FakeTelegram`, the HTTP server, with realistic mode's latency.
"""

from __future__ import annotations

from bot.devtools.telegram.chats import BOT_USER, ChatMessage
from bot.devtools.telegram.faults import Fault
from bot.devtools.telegram.html import HtmlError, parse_html
from bot.devtools.telegram.limits import COUNTED_METHODS, Limits
from bot.devtools.telegram.server import FakeTelegram

__all__ = [
    "BOT_USER",
    "COUNTED_METHODS",
    "ChatMessage",
    "FakeTelegram",
    "Fault",
    "HtmlError",
    "Limits",
    "parse_html",
]
