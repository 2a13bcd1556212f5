"""Supervisors decide on large top-ups: ✅ approve / ❌ reject, the first decision wins.

The buttons sit on cards in supervisor chats and supervisors' private chats. Pressed by anyone
but a supervisor or admin, by the cashier who asked, twice, or after expiry: nothing changes
and the presser is told why. After a rejection the supervisor may give a reason.
"""

from __future__ import annotations

import contextlib
import logging

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.payments.controls import Approval, Decision
from bot.payments.journal import Journal, StaffUser
from bot.payments.service import PaymentService
from bot.telegram import texts
from bot.telegram.callbacks import ApprovalCb
from bot.telegram.states import RejectReason

log = logging.getLogger(__name__)
router = Router(name="approvals")


async def _show_decided(
    callback: CallbackQuery,
    approval: Approval | None,
    journal: Journal,
    settings: Settings,
    payments: PaymentService,
) -> None:
    """This card shows the decision at once (the outbox updates the other cards) — only if
    the button was pressed on this approval's own card, never on another message."""
    message = callback.message
    if approval is None or not isinstance(message, Message):
        return
    card = await payments.controls.card_message(approval.id, message.chat.id)
    if card != message.message_id:
        return
    text = texts.approval_card(approval, await journal.names(), settings.tz)
    with contextlib.suppress(TelegramAPIError):
        await message.edit_text(text, reply_markup=None)


@router.callback_query(ApprovalCb.filter())
async def decide(
    callback: CallbackQuery,
    callback_data: ApprovalCb,
    state: FSMContext,
    staff: StaffUser,
    journal: Journal,
    payments: PaymentService,
    settings: Settings,
) -> None:
    if not staff.role.sees_everyone:
        await callback.answer(_("Only supervisors and admins can decide."), show_alert=True)
        return
    if callback_data.action not in ("y", "n"):
        await callback.answer(_("This button is no longer active."))
        return
    approve = callback_data.action == "y"
    result = await payments.decide(callback_data.approval_id, staff.user_id, approve=approve)
    names = await journal.names()
    approval = result.approval
    if result.decision is Decision.SELF:
        await callback.answer(_("You cannot approve your own top-up."), show_alert=True)
        return
    if result.decision is Decision.NOT_FOUND:
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return
    if result.decision is Decision.ALREADY and approval is not None:
        await callback.answer(
            _("Already decided: {decision}").format(
                decision=texts.approval_state_label(approval, names)
            ),
            show_alert=True,
        )
        await _show_decided(callback, approval, journal, settings, payments)
        return
    if result.decision is Decision.EXPIRED:
        await callback.answer(_("Too late: the request has expired."), show_alert=True)
        await _show_decided(callback, approval, journal, settings, payments)
        return
    await callback.answer(_("Approved: sending to Allpay.") if approve else _("Rejected."))
    await _show_decided(callback, approval, journal, settings, payments)
    if not approve and isinstance(callback.message, Message) and approval is not None:
        await state.set_state(RejectReason.text)
        await state.update_data(approval_id=approval.id)
        await callback.message.answer(
            _("Reason for the cashier (optional): send it as a message, or /skip.")
        )


@router.message(RejectReason.text, Command("skip"))
async def skip_reason(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("OK, no reason given."))


@router.message(RejectReason.text, F.text, ~F.text.startswith("/"))
async def reason(
    message: Message, state: FSMContext, staff: StaffUser, payments: PaymentService
) -> None:
    approval_id = (await state.get_data()).get("approval_id")
    await state.clear()
    text = (message.text or "").strip()
    if not isinstance(approval_id, str) or not text or text.startswith("/"):
        return
    if await payments.controls.set_reason(approval_id, staff.user_id, text):
        payments.notify_changed()
        await message.answer(_("The cashier will see the reason."))
