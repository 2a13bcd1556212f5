"""A step of the cash-in conversation shown: edited into the prompt just answered or sent
anew, and which message is the conversation's current prompt (whose buttons act)."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError, TelegramServerError
from aiogram.fsm.context import FSMContext
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.telegram.cashin.states import CashInData
from bot.telegram.shared.answers import PressAnswer

log = logging.getLogger(__name__)


async def next_step(
    message: Message,
    text: str,
    markup: InlineKeyboardMarkup | None,
    *,
    edit: bool,
    state: FSMContext | None = None,
) -> Message:
    shown = await show_step(message, text, markup, edit=edit)
    if state is not None:
        # The conversation's current prompt: its buttons act; any older message's do not.
        await (await CashInData.load(state)).update(state, prompt=shown.message_id)
    return shown


async def on_prompt(message: Message, state: FSMContext, answer: PressAnswer) -> bool:
    """Whether a step's button (a preset, a recent client, "try again") was pressed on the
    conversation's current prompt (``message``); anywhere else — an older message, since
    edited into something else, perhaps a payment's status — it changes nothing, and the
    press is answered so."""
    prompt = (await CashInData.load(state)).prompt
    if message.message_id == prompt:
        return True
    answer.alert(_("This button is no longer active."))
    return False


async def show_step(
    message: Message, text: str, markup: InlineKeyboardMarkup | None, *, edit: bool
) -> Message:
    """Show the conversation's next step: edited into the bot's own ``message`` (a prompt
    whose button was just pressed: no orphaned prompt, one message less), or as a new message
    after what the cashier typed. A message that cannot be edited any more, or an edit lost
    on the way, is sent anew: the step is never lost (at worst it shows twice)."""
    if edit:
        try:
            edited = await message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return message
        except (TelegramNetworkError, TelegramServerError) as exc:
            log.warning("editing the step failed (%s); sending it anew", type(exc).__name__)
        else:
            return edited if isinstance(edited, Message) else message
    return await message.answer(text, reply_markup=markup)
