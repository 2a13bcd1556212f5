from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.payments.journal import Role, StaffUser


class MenuButton(Filter):
    """A main-menu button, whatever language the keyboard was drawn in."""

    def __init__(self, msgid: str) -> None:
        self.msgid = msgid

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        if not message.text:
            return False
        return any(
            message.text == i18n.gettext(self.msgid, locale=locale)
            for locale in i18n.available_locales
        )


class HasRole(Filter):
    """The roster role of the person is one of ``roles``."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, event: object, staff: StaffUser) -> bool:
        return staff.role in self.roles


SUPERVISING = (Role.SUPERVISOR, Role.ADMIN)
