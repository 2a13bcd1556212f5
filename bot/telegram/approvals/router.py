"""Supervisors decide on large top-ups: ✅ approve / ❌ reject, the first decision wins.

The buttons sit on cards in supervisor chats and supervisors' private chats. Pressed by the
cashier who asked, twice, or after expiry: nothing changes and the presser is told why (a
cashier's press is refused by the registry's refusals). After a rejection the supervisor
may give a reason.
"""

from __future__ import annotations

import contextlib
import logging

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.domain.model import Approval, ApprovalState, Decision, StaffUser
from bot.telegram.approvals import texts
from bot.telegram.approvals.callbacks import ApprovalAction, ApprovalCb, RejectReasonCb
from bot.telegram.approvals.keyboards import reject_reasons_keyboard
from bot.telegram.approvals.states import RejectReason, RejectReasonData
from bot.telegram.shared.answers import PressAnswer
from bot.telegram.shared.filters import SUPERVISING, HasRole, Is
from bot.telegram.shared.view import View
from bot.usecases.approvals import ApprovalDesk

log = logging.getLogger(__name__)


def make_router() -> Router:
    """Supervisors and admins only."""
    router = Router(name="approvals")
    router.callback_query.filter(HasRole(*SUPERVISING))
    router.message.filter(HasRole(*SUPERVISING))
    router.callback_query.register(
        decide, ApprovalCb.filter(F.action.in_({ApprovalAction.APPROVE, ApprovalAction.REJECT}))
    )
    router.callback_query.register(chosen_reason, RejectReasonCb.filter())
    reasoning = StateFilter(RejectReason.text)
    router.message.register(skip_reason, reasoning, Command("skip"))
    router.message.register(reason, reasoning, Is(F.text & ~F.text.startswith("/")))
    return router


async def _show_decided(
    callback: CallbackQuery,
    approval: Approval,
    desk: ApprovalDesk,
    view: View,
    answer: PressAnswer,
    alert: str | None = None,
) -> None:
    """Show the decision on this card at once (the outbox updates the other cards) — only if
    the button was pressed on this approval's own card, never on another message; with
    ``alert``, the press is answered with it as an alert."""
    message = callback.message
    chat_id = message.chat.id if isinstance(message, Message) else 0
    _now, card, names = await desk.view(approval.id, chat_id)
    if alert is not None:
        answer.alert(alert.format(decision=texts.approval_state_label(approval, names)))
    if not isinstance(message, Message) or card != message.message_id:
        return
    text = texts.approval_card(approval, names, view.tz, sandbox=view.sandbox)
    with contextlib.suppress(TelegramAPIError):
        await message.edit_text(text, reply_markup=None)


async def decide(
    callback: CallbackQuery,
    callback_data: ApprovalCb,
    state: FSMContext,
    staff: StaffUser,
    desk: ApprovalDesk,
    view: View,
    callback_answer: PressAnswer,
) -> None:
    approve = callback_data.action is ApprovalAction.APPROVE
    result = await desk.decide(callback_data.approval_id, staff.user_id, approve=approve)
    approval = result.approval
    answer = callback_answer
    if result.decision is Decision.UNRECORDED:
        answer.alert(texts.decision_unrecorded())
        return
    if result.decision is Decision.SELF:
        answer.alert(_("You cannot approve your own top-up."))
        return
    if result.decision is Decision.NOT_FOUND or approval is None:
        answer.alert(_("This button is no longer active."))
        return
    if result.decision is Decision.ALREADY:
        already = _("Already decided: {decision}")
        await _show_decided(callback, approval, desk, view, answer, already)
        return
    if result.decision is Decision.EXPIRED:
        too_late = _("Too late: the request has expired.")
        await _show_decided(callback, approval, desk, view, answer, too_late)
        return
    if result.decision is Decision.REFUSED and result.refusal is not None:
        # The day it would be paid on is over a limit: nothing sent, the supervisor is told.
        alert = texts.approval_refused(result.refusal).replace("{", "{{").replace("}", "}}")
        await _show_decided(callback, approval, desk, view, answer, alert)
        return
    answer.text = _("Approved: sending to Allpay.") if approve else _("Rejected.")
    await answer.now()  # the decision is recorded: said before the card and the question
    await _show_decided(callback, approval, desk, view, answer)
    if not approve and isinstance(callback.message, Message):
        await state.set_state(RejectReason.text)
        ask = await callback.message.answer(
            _(
                "Reason for the cashier (optional): choose one, send your own as a message, "
                "or /skip."
            ),
            reply_markup=reject_reasons_keyboard(approval.id, texts.REJECT_REASONS),
        )
        await RejectReasonData(approval.id, ask.message_id).save(state)


async def _close_question(message: Message, state: FSMContext) -> None:
    """The reason's question is answered (typed, skipped): its buttons go."""
    ask_id = (await RejectReasonData.load(state)).ask_id
    await state.clear()
    if isinstance(ask_id, int) and message.bot is not None:
        with contextlib.suppress(TelegramAPIError):
            await message.bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=ask_id, reply_markup=None
            )


async def skip_reason(message: Message, state: FSMContext) -> None:
    await _close_question(message, state)
    await message.answer(_("OK, no reason given."))


async def reason(message: Message, state: FSMContext, staff: StaffUser, desk: ApprovalDesk) -> None:
    approval_id = (await RejectReasonData.load(state)).approval_id
    await _close_question(message, state)
    text = (message.text or "").strip()
    if not isinstance(approval_id, str) or not text or text.startswith("/"):
        return
    if await desk.set_reason(approval_id, staff.user_id, text):
        await message.answer(_("The cashier will see the reason."))


async def chosen_reason(
    callback: CallbackQuery,
    callback_data: RejectReasonCb,
    state: FSMContext,
    staff: StaffUser,
    desk: ApprovalDesk,
    callback_answer: PressAnswer,
) -> None:
    """A common reason pressed on the question after ❌: kept as its code, so the cashier
    reads it in their own language; the question shows the answer and loses its buttons."""
    approval_id = callback_data.approval_id
    told = await desk.set_reason(
        approval_id, staff.user_id, texts.preset_reason(callback_data.code)
    )
    if (await RejectReasonData.load(state)).approval_id == approval_id:
        await state.clear()
    message = callback.message
    if not told:
        # Someone else's rejection (a group's question), or its reason was given already.
        approval = await desk.get(approval_id)
        others = (
            approval is not None
            and approval.state is ApprovalState.REJECTED
            and approval.reason is None
            and approval.decided_by != staff.user_id
        )
        callback_answer.alert(
            _("Only the person who rejected the request gives its reason.")
            if others
            else _("This button is no longer active.")
        )
        return
    callback_answer.text = _("The cashier will see the reason.")
    if isinstance(message, Message):
        shown = texts.reject_reason(texts.preset_reason(callback_data.code))
        with contextlib.suppress(TelegramAPIError):
            await message.edit_text(
                _("Reason for the cashier: {reason}").format(reason=shown), reply_markup=None
            )
