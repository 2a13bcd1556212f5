"""What the person sees while the bot works: "sending a file…" while a document is made,
"sending a photo…" while a chart is drawn."""

from __future__ import annotations

import contextlib

from aiogram import Bot
from aiogram.enums import ChatAction
from aiogram.utils.chat_action import ChatActionSender


class _Tolerant(ChatActionSender):
    """aiogram's sender of a chat action, repeated while its block runs; a refused, lost or
    unreadable answer ends the repeats quietly (never an exception nobody reads): the
    document is what matters, not the hint."""

    async def _worker(self) -> None:
        with contextlib.suppress(Exception):
            await super()._worker()


def uploading_document(bot: Bot, chat_id: int) -> ChatActionSender:
    """``async with uploading_document(bot, chat_id):`` around making a PDF or an export."""
    return _Tolerant(bot=bot, chat_id=chat_id, action=ChatAction.UPLOAD_DOCUMENT)


def uploading_photo(bot: Bot, chat_id: int) -> ChatActionSender:
    """``async with uploading_photo(bot, chat_id):`` around drawing a chart."""
    return _Tolerant(bot=bot, chat_id=chat_id, action=ChatAction.UPLOAD_PHOTO)
