from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import I18n
from magic_filter import MagicFilter

from bot.domain.model import Role, StaffUser


def _labels(i18n: I18n, msgids: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        i18n.gettext(msgid, locale=locale) for msgid in msgids for locale in i18n.available_locales
    )


class MenuButton(Filter):
    """A main-menu button, whatever language the keyboard was drawn in."""

    def __init__(self, *msgids: str) -> None:
        self.msgids = msgids
        self._labels: frozenset[str] | None = None  # every language's label, built once

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        if self._labels is None:
            self._labels = _labels(i18n, self.msgids)
        return message.text in self._labels


class Typed(Filter):
    """What a cashier types (or shares) at a conversation step: anything but a command or a
    main-menu button, which belong to their own routers whatever the step."""

    def __init__(self, menu: tuple[str, ...]) -> None:
        self.menu = MenuButton(*menu)

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        text = message.text or ""
        return not text.startswith("/") and not await self.menu(message, i18n)


class HasRole(Filter):
    """The roster role of the person is one of ``roles``."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, event: object, staff: StaffUser) -> bool:
        return staff.role in self.roles


SUPERVISING = (Role.SUPERVISOR, Role.ADMIN)


class Is(Filter):
    """A magic filter (``Is(F.text)``) checked in the event loop.

    aiogram runs a bare synchronous filter — a ``MagicFilter``, a ``State`` — in a worker
    thread (``asyncio.to_thread``): a thread hop for every check of every update. Routers
    here use ``Is(...)`` and ``StateFilter(...)`` instead; ``tests/test_architecture.py``
    fails on any filter or handler aiogram would run in a thread.
    """

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: TelegramObject) -> Any:
        return self.magic.resolve(event)


class OnMessage(Filter):
    """A button pressed on a message the bot can still reach: the handler receives it as
    ``message`` (a :class:`Message`: its text, its buttons, editable). A press on one it
    cannot (too old or deleted: Telegram sends an ``InaccessibleMessage``) passes by, to the
    one handler that answers it (:func:`bot.telegram.basics.refusals.unreachable`)."""

    async def __call__(self, callback: CallbackQuery) -> bool | dict[str, Any]:
        message = callback.message
        return {"message": message} if isinstance(message, Message) else False


class Unreachable(Filter):
    """A button pressed on a message the bot can no longer reach."""

    async def __call__(self, callback: CallbackQuery) -> bool:
        return not isinstance(callback.message, Message)
