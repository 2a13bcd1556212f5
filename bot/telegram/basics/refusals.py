"""Answers a command or a decision button a person's role may not use (from the registry,
:mod:`bot.telegram.shared.commands`), and a button pressed on a message the bot can no longer
reach (the feature routers take only presses on messages they can read and edit:
:class:`~bot.telegram.shared.filters.OnMessage`)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.domain.model import Role
from bot.telegram.approvals.callbacks import ApprovalCb
from bot.telegram.basics.help import refusal
from bot.telegram.cash.callbacks import CashRecordCb, HandoverAction, HandoverCb
from bot.telegram.shared.answers import PressAnswer
from bot.telegram.shared.commands import Commands
from bot.telegram.shared.filters import Unreachable


def make_refusals_router() -> Router:
    """Answers a command a person's role may not use. Included after the role routers: a
    command reaches it only when the role filter of its own router did not match."""
    router = Router(name="refusals")
    # Before the role refusals: a supervisor's press on a card too old to reach is not a
    # question of role.
    router.callback_query.register(unreachable, Unreachable())
    for least in (Role.SUPERVISOR, Role.ADMIN):

        async def refuse(message: Message, command: CommandObject, least: Role = least) -> None:
            await message.answer(refusal(least, command.command))

        router.message.register(refuse, Commands(least))
    router.callback_query.register(refuse_decision, ApprovalCb.filter())
    router.callback_query.register(
        refuse_decision, HandoverCb.filter(F.action != HandoverAction.WITHDRAW)
    )
    router.callback_query.register(refuse_decision, CashRecordCb.filter())
    return router


async def unreachable(callback: CallbackQuery, callback_answer: PressAnswer) -> None:
    """A button on a message the bot can no longer reach (too old, deleted)."""
    callback_answer.alert(_("This button is no longer active."))


async def refuse_decision(callback: CallbackQuery, callback_answer: PressAnswer) -> None:
    callback_answer.alert(_("Only supervisors and admins can decide."))
