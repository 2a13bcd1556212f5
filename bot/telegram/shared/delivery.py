"""What a feature's renderer of outbox items is given (:class:`Delivery`): the bot, the use
cases its news is read from, the person's language, and the ways a message is shown — edited,
or sent anew when it cannot be. The outbox's delivery loop (:mod:`bot.telegram.runtime.outbox`)
hands each item to the feature that owns its kind (:data:`Renderer`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramNotFound
from aiogram.types import InlineKeyboardMarkup, ReplyParameters
from aiogram.utils.i18n import I18n

from bot.domain.model import OutboxItem
from bot.usecases.approvals import ApprovalDesk
from bot.usecases.cash import CashDesk
from bot.usecases.dashboard import Dashboard
from bot.usecases.deliveries import Deliveries, Due
from bot.usecases.people import People


@dataclass(frozen=True, slots=True)
class Delivery:
    bot: Bot
    deliveries: Deliveries
    people: People
    desk: ApprovalDesk
    cash: CashDesk
    i18n: I18n
    tz: tzinfo
    #: The embedded sandbox answers: statuses and cards say no real money moves.
    sandbox: bool
    clock: Callable[[], datetime]
    #: The desk's address (WEBAPP_URL), which supervisors' and admins' menu buttons open.
    desk_url: str | None = None
    #: The desk's figures, which the daily digest's chart is drawn from where no desk is
    #: served (None: no chart).
    dashboard: Dashboard | None = None

    async def language(self, chat_id: int, fallback: str | None = None) -> str:
        return await self.people.language(chat_id) or fallback or self.i18n.default_locale

    @contextmanager
    def speaking(self, locale: str) -> Iterator[None]:
        """Texts made inside are in ``locale``."""
        with self.i18n.context(), self.i18n.use_locale(locale):
            yield

    async def ring(self, chat_id: int, message_id: int, text: str) -> None:
        """A short message in reply to one just edited: an edit makes no sound."""
        await self.bot.send_message(
            chat_id=chat_id,
            text=text,
            reply_parameters=ReplyParameters(
                message_id=message_id, allow_sending_without_reply=True
            ),
        )

    async def edit_or_send(
        self, chat_id: int, message_id: int | None, text: str, markup: InlineKeyboardMarkup | None
    ) -> int | None:
        """Edit the message; a message that cannot be edited is sent anew (its id returned)."""
        sent, _changed = await self.show(chat_id, message_id, text, markup)
        return sent

    async def show(
        self, chat_id: int, message_id: int | None, text: str, markup: InlineKeyboardMarkup | None
    ) -> tuple[int | None, bool]:
        """:meth:`edit_or_send`, and whether the chat now shows something it did not
        (False: the message already said exactly this)."""
        if message_id is not None:
            try:
                await self.bot.edit_message_text(
                    text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup
                )
                return None, True
            except TelegramBadRequest as exc:
                if "not modified" in exc.message:
                    return None, False
                if not _edit_impossible(exc.message):
                    raise
            except TelegramNotFound:
                pass
        sent = await self.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
        return sent.message_id, True


#: Delivers a batch of items of one kind for one chat (several only for the feed and a
#: payment's status items); True when it marked them itself (delivered or failed), False
#: when the delivery loop is to mark them delivered.
Renderer = Callable[[Delivery, Sequence[OutboxItem], Due], Awaitable[bool]]


def _edit_impossible(message: str) -> bool:
    lowered = message.lower()
    return any(
        phrase in lowered
        for phrase in ("message to edit not found", "message can't be edited", "message_id_invalid")
    )
