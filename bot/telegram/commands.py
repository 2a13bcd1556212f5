"""The command menu each person sees: per language and per role (``setMyCommands`` scopes).

Cashiers get the default scope; supervisors and admins get their own chat scope with the
commands their role may use. Supervisor group chats get the supervisor menu. The handlers
check roles themselves: the menu is a convenience, not the access control.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n

from bot.config import SUPPORTED_LANGUAGES
from bot.payments.journal import Role, StaffUser
from bot.telegram.keyboards import N_

log = logging.getLogger(__name__)

_RANK = {Role.CASHIER: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}

#: (command, description msgid, the least role that may use it), in menu order.
COMMANDS: tuple[tuple[str, str, Role], ...] = (
    ("cashin", N_("Top up a client's wallet"), Role.CASHIER),
    ("history", N_("My payments"), Role.CASHIER),
    ("find", N_("Find a payment by GUID or login"), Role.CASHIER),
    ("today", N_("Today's totals"), Role.CASHIER),
    ("report", N_("A day's totals per cashier"), Role.SUPERVISOR),
    ("export", N_("Payments as a CSV file"), Role.SUPERVISOR),
    ("pending", N_("Payments without a final answer"), Role.SUPERVISOR),
    ("balance", N_("The agent's Allpay balance"), Role.SUPERVISOR),
    ("cashiers", N_("Who may use the bot"), Role.ADMIN),
    ("add_cashier", N_("Add a cashier: /add_cashier id [name]"), Role.ADMIN),
    ("add_supervisor", N_("Add a supervisor: /add_supervisor id [name]"), Role.ADMIN),
    ("remove", N_("Remove someone: /remove id"), Role.ADMIN),
    ("block", N_("Block someone at once: /block id"), Role.ADMIN),
    ("unblock", N_("Unblock: /unblock id"), Role.ADMIN),
    ("audit", N_("Latest audit entries"), Role.ADMIN),
    ("lang", N_("Language"), Role.CASHIER),
    ("help", N_("How it works"), Role.CASHIER),
    ("cancel", N_("Cancel the current step"), Role.CASHIER),
)


def commands_for(role: Role, i18n: I18n, locale: str) -> list[BotCommand]:
    return [
        BotCommand(command=command, description=i18n.gettext(msgid, locale=locale))
        for command, msgid, least in COMMANDS
        if _RANK[role] >= _RANK[least]
    ]


def _languages(i18n: I18n) -> Iterable[tuple[str | None, str]]:
    """(language_code for Telegram, our locale): the default menu, then one per language."""
    yield None, i18n.default_locale
    for code in SUPPORTED_LANGUAGES:
        yield code, code


async def set_default_commands(bot: Bot, i18n: I18n) -> None:
    for code, locale in _languages(i18n):
        await bot.set_my_commands(
            commands_for(Role.CASHIER, i18n, locale),
            scope=BotCommandScopeDefault(),
            language_code=code,
        )


async def set_chat_commands(bot: Bot, i18n: I18n, chat_id: int, role: Role | None) -> None:
    """The menu of one private or group chat; ``role`` None (or cashier): the default menu."""
    scope = BotCommandScopeChat(chat_id=chat_id)
    for code, locale in _languages(i18n):
        if role is None or role is Role.CASHIER:
            await bot.delete_my_commands(scope=scope, language_code=code)
        else:
            await bot.set_my_commands(
                commands_for(role, i18n, locale), scope=scope, language_code=code
            )


async def sync_commands(
    bot: Bot, i18n: I18n, roster: Iterable[StaffUser], supervisor_chats: Iterable[int]
) -> None:
    """At start-up: every menu as the roster says. Failures are logged, never fatal."""
    try:
        await set_default_commands(bot, i18n)
        for user in roster:
            if user.role is not Role.CASHIER and not user.blocked:
                await set_chat_commands(bot, i18n, user.user_id, user.role)
        for chat_id in supervisor_chats:
            await set_chat_commands(bot, i18n, chat_id, Role.SUPERVISOR)
    except TelegramAPIError as exc:
        log.warning("could not set the command menus: %s", exc)


async def refresh_user_commands(bot: Bot, i18n: I18n, user_id: int, role: Role | None) -> None:
    """After a roster change: best effort (the person may never have opened the bot)."""
    try:
        await set_chat_commands(bot, i18n, user_id, role)
    except TelegramAPIError as exc:
        log.info("could not update the command menu of %d: %s", user_id, exc)
