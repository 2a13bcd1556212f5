"""Clients' personal data stays in private chats.

History, /find, receipts, exports, the cash-in conversation (its client card shows the
client's name, login and IIN) and a cashier's /cash answer in a private chat with the bot
only. Asked in a group, the bot says where to ask instead — a short reply, or an alert for a
button. Supervisor group chats keep what the outbox sends them: the feed and the cards, with
logins masked.

Which commands are private, and to whom, is the command registry's
(:data:`bot.telegram.shared.commands.COMMANDS`, ``private``); this router comes right after the
common one, before any router that would answer.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject, Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Chat, Message
from aiogram.utils.i18n import gettext as _

from bot.domain.model import StaffUser
from bot.telegram.cashin.callbacks import AgainCb
from bot.telegram.cashin.states import CashIn
from bot.telegram.history.callbacks import DetailCb, HistoryCb, ReceiptCb, ReceiptPdfCb
from bot.telegram.shared.answers import PressAnswer
from bot.telegram.shared.commands import COMMANDS, private_to
from bot.telegram.shared.filters import Is, MenuButton
from bot.telegram.shared.menu import MENU_HISTORY, MENU_TOP_UP

#: Buttons whose answer shows a client: a payment's details, its receipt (text and PDF), a
#: page of history, "again for this client" (the client's card).
PRIVATE_BUTTONS = tuple(
    f"{cb.__prefix__}:" for cb in (DetailCb, ReceiptCb, ReceiptPdfCb, HistoryCb, AgainCb)
)


def _chat_of(event: Message | CallbackQuery) -> Chat | None:
    if isinstance(event, Message):
        return event.chat
    return event.message.chat if event.message is not None else None


class InGroup(Filter):
    """The update comes from a chat that is not the person's private chat with the bot."""

    async def __call__(self, event: Message | CallbackQuery) -> bool:
        chat = _chat_of(event)
        return chat is not None and chat.type != ChatType.PRIVATE


class ShowsClients(Filter):
    """The command would answer this person with clients' names or logins."""

    async def __call__(self, message: Message, command: CommandObject, staff: StaffUser) -> bool:
        return command.command in private_to(staff.role)


def make_router() -> Router:
    router = Router(name="privacy")
    in_group = InGroup()
    names = [spec.name for spec in COMMANDS if spec.private]
    router.message.register(private_command, in_group, Command(*names), ShowsClients())
    router.message.register(private_top_up, in_group, MenuButton(MENU_TOP_UP))
    router.message.register(private_history, in_group, MenuButton(MENU_HISTORY))
    # A top-up begun in a group before this rule: its steps would show the client there.
    router.message.register(private_conversation, in_group, StateFilter(CashIn))
    router.callback_query.register(private_button, in_group, Is(F.data.startswith(PRIVATE_BUTTONS)))
    return router


def where_to_ask(command: str) -> str:
    return _(
        "🔒 Clients' names and logins are shown only in your private chat with the bot: "
        "send /{command} there."
    ).format(command=command)


async def private_command(message: Message, command: CommandObject) -> None:
    await message.reply(where_to_ask(command.command))


async def private_top_up(message: Message) -> None:
    await message.reply(where_to_ask("cashin"))


async def private_history(message: Message) -> None:
    await message.reply(where_to_ask("history"))


async def private_conversation(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.reply(where_to_ask("cashin"))


async def private_button(callback: CallbackQuery, callback_answer: PressAnswer) -> None:
    callback_answer.alert(
        _("🔒 Clients' names and logins are shown only in your private chat with the bot.")
    )
