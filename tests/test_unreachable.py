"""A button pressed on a message the bot can no longer reach (too old, deleted: Telegram
sends an ``InaccessibleMessage``): the feature routers take only presses on messages they can
read and edit (``OnMessage`` gives the handler the ``message``), and one handler answers the
rest — "This button is no longer active." — whatever the button (bot/telegram/shared/)."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.types import CallbackQuery, Chat, InaccessibleMessage, Message, Update, User

from bot.domain.model import Role, StaffUser, Withdrawal
from bot.telegram.approvals.callbacks import ApprovalAction, ApprovalCb
from bot.telegram.cash.callbacks import CashRecordCb, HandoverAction, HandoverCb
from bot.telegram.cashin.callbacks import AmountCb, DraftAction, DraftCb
from bot.telegram.history.callbacks import ReceiptCb
from bot.telegram.routers import build_router
from bot.telegram.runtime.i18n import make_i18n
from bot.telegram.shared.filters import OnMessage, Unreachable

CHAT = Chat(id=200, type="private")
USER = User(id=200, is_bot=False, first_name="Aliya")
GUID = "{0f8fad5b-d9cb-469f-a165-70867728950e}"


class Recorded(BaseSession):
    """A Bot API that answers every call and writes it down."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        self.calls.append(method)
        return True

    async def stream_content(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    async def close(self) -> None:
        pass


def _press(data: str, message: Message | InaccessibleMessage) -> Update:
    query = CallbackQuery(id="q1", from_user=USER, chat_instance="c", data=data, message=message)
    return Update(update_id=1, callback_query=query)


async def test_on_message_gives_the_message_and_passes_by_an_unreachable_one() -> None:
    gone = InaccessibleMessage(chat=CHAT, message_id=7, date=0)
    shown = Message(message_id=8, date=1_700_000_000, chat=CHAT, text="card")
    query = CallbackQuery(id="q", from_user=USER, chat_instance="c", data="x", message=shown)
    assert await OnMessage()(query) == {"message": shown}
    assert not await Unreachable()(query)
    old = query.model_copy(update={"message": gone})
    assert await OnMessage()(old) is False
    assert await Unreachable()(old)
    assert await OnMessage()(query.model_copy(update={"message": None})) is False


@pytest.mark.parametrize(
    "data",
    [
        DraftCb(action=DraftAction.CONFIRM, draft_id="hZnzBk7zCzbK").pack(),
        DraftCb(action=DraftAction.CANCEL, draft_id="hZnzBk7zCzbK").pack(),
        AmountCb(amount=5000).pack(),
        ReceiptCb(guid=GUID).pack(),
        HandoverCb(action=HandoverAction.OTHER_AMOUNT, handover_id=3).pack(),
        CashRecordCb(cashier_id=201).pack(),
    ],
)
@pytest.mark.parametrize("role", [Role.CASHIER, Role.SUPERVISOR])
async def test_a_press_on_an_unreachable_message_is_answered_no_longer_active(
    data: str, role: Role
) -> None:
    session = Recorded()
    bot = Bot("42:TEST", session=session)
    dispatcher = Dispatcher()
    dispatcher.include_router(build_router())
    staff = StaffUser(USER.id, role, "Aliya", blocked=False)
    gone = InaccessibleMessage(chat=CHAT, message_id=7, date=0)
    with make_i18n("en").context():
        await dispatcher.feed_update(bot, _press(data, gone), staff=staff)
    answers = [call for call in session.calls if isinstance(call, AnswerCallbackQuery)]
    assert [(a.text, a.show_alert) for a in answers] == [("This button is no longer active.", True)]
    assert len(session.calls) == 1  # nothing else was done


async def test_a_withdrawal_is_not_a_question_of_its_message() -> None:
    """Buttons that act wherever their message is (withdraw a request) still reach their
    handler: it is not the one that answers unreachable messages."""
    session = Recorded()
    bot = Bot("42:TEST", session=session)
    dispatcher = Dispatcher()
    dispatcher.include_router(build_router())
    staff = StaffUser(USER.id, Role.CASHIER, "Aliya", blocked=False)
    gone = InaccessibleMessage(chat=CHAT, message_id=7, date=0)
    data = ApprovalCb(action=ApprovalAction.WITHDRAW, approval_id="hZnzBk7zCzbK").pack()

    class Desk:
        async def withdraw(self, approval_id: str, user_id: int) -> Withdrawal:
            return Withdrawal.TOO_LATE

    with make_i18n("en").context():
        await dispatcher.feed_update(bot, _press(data, gone), staff=staff, desk=Desk())
    [answer] = session.calls
    assert isinstance(answer, AnswerCallbackQuery)
    assert (answer.text, answer.show_alert) == ("This request is no longer waiting.", True)
