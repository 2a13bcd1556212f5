"""Who may use the bot: roster roles from the database. Strangers never reach Allpay.

People not on the roster (or blocked) are answered, but sparingly: each gets a few replies
(:data:`REFUSAL_BURST`), then one per :data:`REFUSAL_INTERVAL`, and all of them together at
most :data:`REFUSALS_PER_MINUTE`, so a flood of strangers cannot spend the bot's Telegram
budget that cashiers need. Their updates are otherwise dropped before any handler runs.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, User
from aiogram.utils.i18n import gettext as _

from bot.domain.parsing import clean_name
from bot.usecases.people import People

log = logging.getLogger(__name__)


REFUSAL_BURST = 5  # replies a refused person gets at once
REFUSAL_INTERVAL = 60.0  # then one more per this many seconds
REFUSALS_PER_MINUTE = 20  # replies to refused people, all of them together
_REMEMBERED = 10_000  # refused people remembered (oldest forgotten first)


class RefusalBudget:
    """Whether a refused person may be answered now (memory bounded whatever the flood)."""

    def __init__(
        self,
        burst: int = REFUSAL_BURST,
        interval: float = REFUSAL_INTERVAL,
        per_minute: int = REFUSALS_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.interval = interval
        self.per_minute = per_minute
        self._clock = clock
        self._tokens: OrderedDict[int, tuple[float, float]] = OrderedDict()  # (tokens, at)
        self._recent: deque[float] = deque()

    def allow(self, user_id: int) -> bool:
        now = self._clock()
        while self._recent and now - self._recent[0] >= 60.0:
            self._recent.popleft()
        tokens, at = self._tokens.get(user_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) / self.interval)
        if tokens < 1.0 or len(self._recent) >= self.per_minute:
            return False
        self._tokens[user_id] = (tokens - 1.0, now)
        self._tokens.move_to_end(user_id)
        while len(self._tokens) > _REMEMBERED:
            self._tokens.popitem(last=False)
        self._recent.append(now)
        return True


class AccessMiddleware(BaseMiddleware):
    """Puts ``staff`` (the roster entry) into handler data; refuses everyone else politely."""

    def __init__(self, people: People, refusals: RefusalBudget | None = None) -> None:
        self.people = people
        self.refusals = refusals or RefusalBudget()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            return None
        staff = await self.people.who(user.id)
        if staff is None or staff.blocked:
            if not self.refusals.allow(user.id):
                if isinstance(event, CallbackQuery):
                    await event.answer()  # stops the button's spinner; costs no message
                return None
            log.info("refused user %d (%s)", user.id, "blocked" if staff else "not on the roster")
            text = (
                _("Your access to this bot is blocked. Please contact an administrator.")
                if staff
                else _(
                    "Sorry, this bot is only for the agent's cashiers.\n"
                    "Pass your Telegram id to an administrator to get access: {user_id}"
                ).format(user_id=user.id)
            )
            if isinstance(event, Message):
                await event.answer(text)
            elif isinstance(event, CallbackQuery):
                await event.answer(text[:200], show_alert=True)
            return None
        if staff.name is None and user.full_name and (name := clean_name(user.full_name)):
            await self.people.name_unnamed(user.id, name)
        data["staff"] = staff
        log.debug("%s from %s %d", type(event).__name__, staff.role.value, user.id)
        return await handler(event, data)
