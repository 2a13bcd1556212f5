"""The one command registry: who may use which command, and everything that follows from it —
the menus (``setMyCommands`` per language and role), the refusals other roles get, and each
role's ``/help``.

Cashiers get the default menu scope; supervisors and admins get their own chat scope with
the commands their role may use. Supervisor group chats get the supervisor menu. The menu is
a convenience; access is the routers' role filters (see :mod:`bot.telegram.handlers`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    Message,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import SUPPORTED_LANGUAGES
from bot.domain.model import Role, StaffUser
from bot.telegram.callbacks import ApprovalCb, CashRecordCb, HandoverCb
from bot.telegram.keyboards import N_

log = logging.getLogger(__name__)


#: Every role: the answer shows clients' names or logins to whoever may use the command.
EVERYONE = tuple(Role)


@dataclass(frozen=True, slots=True)
class BotCommandSpec:
    name: str
    description: str  # msgid, translated where shown
    least: Role  # the least role that may use it; every higher role may too
    #: The roles to whom its answer shows clients' personal data (names, logins, receipts):
    #: for them it is answered in a private chat only (see handlers.privacy).
    private: tuple[Role, ...] = ()


#: In menu and /help order.
COMMANDS: tuple[BotCommandSpec, ...] = (
    BotCommandSpec("cashin", N_("Top up a client's wallet"), Role.CASHIER, EVERYONE),
    BotCommandSpec("history", N_("My top-ups"), Role.CASHIER, EVERYONE),
    BotCommandSpec("find", N_("Find a top-up by GUID or login"), Role.CASHIER, EVERYONE),
    BotCommandSpec("today", N_("Today's totals"), Role.CASHIER),
    # A cashier's /cash lists the clients of their top-ups; a supervisor's, cashiers only.
    BotCommandSpec("cash", N_("Cash on hand from top-ups"), Role.CASHIER, (Role.CASHIER,)),
    BotCommandSpec("handover", N_("Hand the cash over to a supervisor"), Role.CASHIER),
    BotCommandSpec("report", N_("A day's totals per cashier"), Role.SUPERVISOR),
    BotCommandSpec("export", N_("Top-ups as CSV and Excel files"), Role.SUPERVISOR, EVERYONE),
    BotCommandSpec("pending", N_("Top-ups without a final answer"), Role.SUPERVISOR),
    BotCommandSpec("balance", N_("The agent's Allpay balance"), Role.SUPERVISOR),
    BotCommandSpec(
        "recheck", N_("Ask Allpay again about a top-up without a final answer"), Role.SUPERVISOR
    ),
    BotCommandSpec("cashiers", N_("Who may use the bot"), Role.ADMIN),
    BotCommandSpec("add_cashier", N_("Add a cashier: /add_cashier id [name]"), Role.ADMIN),
    BotCommandSpec("add_supervisor", N_("Add a supervisor: /add_supervisor id [name]"), Role.ADMIN),
    BotCommandSpec("remove", N_("Remove someone: /remove id"), Role.ADMIN),
    BotCommandSpec("block", N_("Block someone at once: /block id"), Role.ADMIN),
    BotCommandSpec("unblock", N_("Unblock: /unblock id"), Role.ADMIN),
    BotCommandSpec("audit", N_("Latest audit entries"), Role.ADMIN),
    BotCommandSpec("lang", N_("Language"), Role.CASHIER),
    BotCommandSpec("help", N_("How it works"), Role.CASHIER),
    BotCommandSpec("cancel", N_("Cancel the current step"), Role.CASHIER),
)


def private_to(role: Role) -> frozenset[str]:
    """The commands ``role`` may use whose answers show clients' personal data."""
    return frozenset(spec.name for spec in available(role) if role in spec.private)


def available(role: Role) -> list[BotCommandSpec]:
    return [spec for spec in COMMANDS if role.rank >= spec.least.rank]


def names_of(least: Role) -> tuple[str, ...]:
    """The commands whose least role is exactly ``least`` (a feature router's commands)."""
    return tuple(spec.name for spec in COMMANDS if spec.least is least)


def Commands(least: Role) -> Command:
    """The filter matching every command of one role: a router's commands, in one place."""
    return Command(*names_of(least))


# ---------------------------------------------------------------- /help


def help_text(role: Role) -> str:
    """How a top-up goes, then every command this role may use."""
    lines = [
        _(
            "How to top up a wallet:\n"
            "1. Tap «💵 Top up» (or /cashin).\n"
            "2. Enter the client's login — their phone number, e.g. +7 701 000 00 01 — or send "
            "the client's contact.\n"
            "3. Check the client's name, enter the amount in whole tenge.\n"
            "4. Take the cash from the client, check the card and tap «Confirm».\n\n"
            "✅ completed — the wallet is topped up; the cash stays with you.\n"
            "❌ declined — give the cash back to the client.\n"
            "⏳ pending — keep the cash and do not repeat the top-up; the answer will come in "
            "the same message."
        ),
        "",
        _("Commands:"),
    ]
    lines += [f"/{spec.name} — {_(spec.description)}" for spec in available(role)]
    return "\n".join(lines)


# ---------------------------------------------------------------- refusals


def _refusal(least: Role, command: str) -> str:
    if least is Role.ADMIN:
        return _("Only admins can use /{command}.").format(command=command)
    return _("Only supervisors and admins can use /{command}.").format(command=command)


def make_refusals_router() -> Router:
    """Answers a command a person's role may not use. Included after the role routers: a
    command reaches it only when the role filter of its own router did not match."""
    router = Router(name="refusals")
    for least in (Role.SUPERVISOR, Role.ADMIN):

        async def refuse(message: Message, command: CommandObject, least: Role = least) -> None:
            await message.answer(_refusal(least, command.command))

        router.message.register(refuse, Commands(least))
    router.callback_query.register(refuse_decision, ApprovalCb.filter())
    router.callback_query.register(refuse_decision, HandoverCb.filter(F.action != "w"))
    router.callback_query.register(refuse_decision, CashRecordCb.filter())
    return router


async def refuse_decision(callback: CallbackQuery) -> None:
    await callback.answer(_("Only supervisors and admins can decide."), show_alert=True)


# ---------------------------------------------------------------- menus


def commands_for(role: Role, i18n: I18n, locale: str) -> list[BotCommand]:
    return [
        BotCommand(command=spec.name, description=i18n.gettext(spec.description, locale=locale))
        for spec in available(role)
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
