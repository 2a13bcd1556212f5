"""The one command registry: who may use which command, and what follows from it here — each
command's one line and what ``/help <command>`` says of it, and the menus (``setMyCommands``
per language and role). The refusals other roles get and ``/help`` itself are built from it
in :mod:`bot.telegram.basics`.

Cashiers get the default menu scope; supervisors and admins get their own chat scope with
the commands their role may use. Supervisor group chats get the supervisor menu. The menu is
a convenience; access is the routers' role filters (see :mod:`bot.telegram.routers`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config.languages import SUPPORTED_LANGUAGES
from bot.domain.model import Role, StaffUser
from bot.telegram.shared.texts import N_

log = logging.getLogger(__name__)


#: Every role: the answer shows clients' names or logins to whoever may use the command.
EVERYONE = tuple(Role)


@dataclass(frozen=True, slots=True)
class BotCommandSpec:
    name: str
    description: str  # msgid, translated where shown
    least: Role  # the least role that may use it; every higher role may too
    #: The roles to whom its answer shows clients' personal data (names, logins, receipts):
    #: for them it is answered in a private chat only (see :mod:`bot.telegram.basics.privacy`).
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
    BotCommandSpec(
        "digest", N_("The daily digest now: today's so far, or a past day's"), Role.SUPERVISOR
    ),
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


@dataclass(frozen=True, slots=True)
class About:
    """What ``/help <command>`` says of a command beyond its one line (msgids): for a
    cashier, and where it differs for those who see everyone's top-ups (supervisors, admins),
    whose menu and /help may name it differently too."""

    details: str
    staff_details: str = ""
    staff_description: str = ""


ABOUT: dict[str, About] = {
    "cashin": About(
        N_(
            "Tops up a client's Allpay wallet with cash: the client's login (phone number), "
            "the amount, then «Confirm» on the card. The steps and what ✅ ❌ ⏳ mean: /help."
        )
    ),
    "history": About(
        N_(
            "Your own top-ups, newest first, 10 a page. Tap a number for the details and the "
            "receipt."
        ),
        N_(
            "Everyone's top-ups, newest first, 10 a page, each with its cashier. Tap a number "
            "for the details and the receipt."
        ),
        N_("Everyone's top-ups"),
    ),
    "find": About(
        N_(
            "/find +7 701 000 00 01 — a client's top-ups by login;\n"
            "/find 1a2b3c4d — a top-up by its GUID or the GUID's first 8 characters.\n"
            "Only your own top-ups are searched; tap a number to open one."
        ),
        N_(
            "/find +7 701 000 00 01 — a client's top-ups by login;\n"
            "/find 1a2b3c4d — a top-up by its GUID or the GUID's first 8 characters.\n"
            "Everyone's top-ups are searched; tap a number to open one."
        ),
    ),
    "today": About(
        N_("Your top-ups today: how many and how much, by status."),
        N_("Today's top-ups by status: per cashier and in total."),
    ),
    "cash": About(
        N_("The cash you hold by our records from completed top-ups, and your handovers."),
        N_(
            "The cash each cashier holds by our records, with buttons to write a difference "
            "off or to record a handover for a cashier."
        ),
    ),
    "handover": About(
        N_(
            "Hand your cash to a supervisor: enter the amount, choose who receives it; they "
            "confirm what they counted."
        )
    ),
    "report": About(
        N_("/report — today; /report YYYY-MM-DD — that day. Totals per cashier and by status.")
    ),
    "digest": About(
        N_(
            "/digest — today's so far; /digest yesterday or /digest YYYY-MM-DD — that day. "
            "The daily digest the supervisors' group gets once a day: totals per cashier, "
            "cash on hand, the day's handovers."
        )
    ),
    "export": About(
        N_(
            "/export — today; /export YYYY-MM-DD — that day; /export YYYY-MM-DD YYYY-MM-DD — "
            "a period. Top-ups and cash handovers as CSV and Excel files."
        )
    ),
    "pending": About(
        N_("Top-ups still without Allpay's final answer, and approval requests still waiting.")
    ),
    "balance": About(N_("The agent's available balance in Allpay, as Allpay reports it now.")),
    "recheck": About(
        N_(
            "/recheck 1a2b3c4d — ask Allpay again about a top-up without a final answer "
            "(see /pending); the cashier is told the answer."
        )
    ),
    "cashiers": About(N_("Everyone who may use the bot, with their role.")),
    "add_cashier": About(
        N_(
            "/add_cashier 123456789 Aigerim — let someone use the bot as a cashier: their "
            "Telegram ID, then a name if you like. Someone on the roster gets this role."
        )
    ),
    "add_supervisor": About(
        N_(
            "/add_supervisor 123456789 Aidos — the same for a supervisor: they see everyone's "
            "top-ups, decide approvals and receive cash."
        )
    ),
    "remove": About(
        N_(
            "/remove 123456789 — take someone off the roster; the top-up they were typing, "
            "their waiting requests and handover end."
        )
    ),
    "block": About(
        N_(
            "/block 123456789 — stop someone at once, their open work ends; /unblock lets "
            "them back."
        )
    ),
    "unblock": About(N_("/unblock 123456789 — let a blocked person use the bot again.")),
    "audit": About(
        N_("/audit — the latest 20 entries; /audit 50 — up to 100: who did what, and when.")
    ),
    "lang": About(N_("Choose the bot's language: Russian, Kazakh or English.")),
    "help": About(
        N_("/help — the steps of a top-up and the commands; <code>/help find</code> — one command.")
    ),
    "cancel": About(
        N_(
            "Stops what you are doing: an open top-up card, a request waiting for approval, a "
            "handover waiting for an answer. A top-up already sent to Allpay cannot be cancelled."
        )
    ),
}


def description(spec: BotCommandSpec, role: Role) -> str:
    """The command's one line for ``role``, translated (menus and /help)."""
    about = ABOUT.get(spec.name)
    if role.sees_everyone and about is not None and about.staff_description:
        return _(about.staff_description)
    return _(spec.description)


# ---------------------------------------------------------------- the menus


def commands_for(role: Role, i18n: I18n, locale: str) -> list[BotCommand]:
    with i18n.context(), i18n.use_locale(locale):
        return [
            BotCommand(command=spec.name, description=description(spec, role))
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
