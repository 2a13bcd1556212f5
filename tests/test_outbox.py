"""The outbox's delivery rules, against a real journal and a Bot stand-in that fails on cue:
a multi-part digest resumes where it failed; several final payments make one feed message
(split at Telegram's 4096 characters), each payment in it exactly once; two processes on
one journal deliver each message once (a chat is claimed by one at a time)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram.exceptions import TelegramServerError
from aiogram.methods import SendMessage
from aiogram.types import Chat, Message

from bot.domain.clock import utcnow
from bot.domain.model import OutboxKind
from bot.store.db import Database, Tx
from bot.store.roster import Roster
from bot.telegram.runtime.i18n import make_i18n
from bot.telegram.runtime.outbox import OutboxWorker
from bot.usecases.approvals import ApprovalDesk
from bot.usecases.cash import CashDesk
from bot.usecases.deliveries import Deliveries
from bot.usecases.people import People
from tests.fixtures import Connect
from tests.harness import CASHIER, SUPERVISOR_CHAT, seed_payment
from tests.journal import Journal

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends

ALMATY = ZoneInfo("Asia/Almaty")


class StubBot:
    """Records what would be sent; ``fail_on`` makes chosen sends (1-based) fail once."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail_on: set[int] = set()
        self._calls = 0

    async def send_message(self, chat_id: int, text: str, **_: Any) -> Message:
        self._calls += 1
        if self._calls in self.fail_on:
            self.fail_on.discard(self._calls)
            raise TelegramServerError(SendMessage(chat_id=chat_id, text=text), "Bad Gateway")
        self.sent.append(text)
        return Message(
            message_id=self._calls,
            date=datetime.now(ALMATY),
            chat=Chat(id=chat_id, type="group"),
            text=text,
        )


@pytest.fixture
async def journal(connect: Connect) -> AsyncIterator[Journal]:
    db = await connect()
    try:
        yield Journal(db, [SUPERVISOR_CHAT])
    finally:
        await db.close()


def _worker(
    journal: Journal, bot: StubBot, db: Database | None = None, instance: str = "local"
) -> OutboxWorker:
    db = db or journal.db
    desk = ApprovalDesk(db, journal.sender, journal.notices, timeout=900)
    cash = CashDesk(db, journal.notices, ALMATY)
    return OutboxWorker(
        bot,  # type: ignore[arg-type]
        Deliveries(db, ALMATY, instance=instance),
        People(db, Roster(), desk, cash),
        desk,
        cash,
        make_i18n("en"),
        ALMATY,
    )


async def _drain(journal: Journal, worker: OutboxWorker) -> None:
    """Run lanes until nothing is due (failed items are made due again at once)."""
    for _ in range(10):
        await worker.run_once()
        for lane in list(worker._lanes.values()):
            await lane
        await journal.db.write(
            lambda tx: tx.run("UPDATE outbox SET next_at = '0' WHERE done_at IS NULL")
        )
        if not await journal.due_outbox(utcnow(), chat_id=SUPERVISOR_CHAT):
            return


async def test_a_multi_part_digest_resumes_at_the_part_that_failed(journal: Journal) -> None:
    for cashier in range(1000, 1160):  # enough cashiers for a digest of several parts
        await seed_payment(journal, cashier_id=cashier, amount="1000")
    day = datetime.now(ALMATY).date()
    assert await journal.enqueue_digest(day, utcnow())
    bot = StubBot()
    bot.fail_on = {2}  # the second part fails once
    await _drain(journal, _worker(journal, bot))
    assert len(bot.sent) >= 2  # several parts: the first went out before the failure
    assert bot.sent[0].startswith("<b>📊 Daily digest")
    assert len(set(bot.sent)) == len(bot.sent)  # no part twice
    joined = "\n".join(bot.sent)
    for cashier in range(1000, 1160):
        assert joined.count(f"\n{cashier}\n") == 1, cashier


async def test_final_payments_for_a_chat_go_out_as_one_list_each_once(journal: Journal) -> None:
    payments = [
        await seed_payment(journal, amount=str(100 + i), notified=False) for i in range(120)
    ]

    def statuses_out(tx: Tx) -> None:  # the cashiers' own status messages went out
        tx.run("UPDATE outbox SET done_at = '1' WHERE kind = ?", (OutboxKind.STATUS.value,))

    await journal.db.write(statuses_out)
    bot = StubBot()
    bot.fail_on = {2}  # a part fails once: it is sent again, the others are not
    await _drain(journal, _worker(journal, bot))
    assert 2 <= len(bot.sent) <= 5  # a list, split at 4096 characters, not 120 messages
    assert all(len(text) <= 4096 for text in bot.sent)
    lines = [line for text in bot.sent for line in text.splitlines()]
    for payment in payments:
        short = payment.guid.strip("{}")[:8]
        assert sum(short in line for line in lines) == 1, short


class SlowBot(StubBot):
    """Telegram's ~100 ms, shortened: a window for a second process to send the same."""

    def __init__(self) -> None:
        super().__init__()
        self.chats: list[int] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> Message:
        await asyncio.sleep(0.01)
        self.chats.append(chat_id)
        return await super().send_message(chat_id, text, **kwargs)


async def test_two_processes_deliver_each_message_once(journal: Journal, connect: Connect) -> None:
    cashiers = range(2000, 2012)
    payments = [
        await seed_payment(journal, cashier_id=c, amount=str(100 + i), notified=False)
        for i, c in enumerate(cashiers)
    ]
    other = await connect()  # a second process's connection to the same journal
    try:
        bots = [SlowBot(), SlowBot()]
        workers = [
            _worker(journal, bots[0], instance="a"),
            _worker(journal, bots[1], db=other, instance="b"),
        ]
        for _ in range(40):
            await asyncio.gather(*(worker.run_once() for worker in workers))
            lanes = [lane for worker in workers for lane in worker._lanes.values()]
            await asyncio.gather(*lanes)
            # What waits (the feed behind its statuses) is due again at once.
            await journal.db.write(
                lambda tx: tx.run("UPDATE outbox SET next_at = '0' WHERE done_at IS NULL")
            )
            if not await journal.due_outbox(utcnow()):
                break
        # Each cashier's status message once; each payment once in the supervisors' feed.
        chats = [chat for bot in bots for chat in bot.chats]
        assert sorted(c for c in chats if c != SUPERVISOR_CHAT) == list(cashiers)
        feed = [t for bot in bots for c, t in zip(bot.chats, bot.sent, strict=True) if c < 0]
        for payment in payments:
            short = payment.guid.strip("{}")[:8]
            assert sum(text.count(short) for text in feed) == 1, short
        claimed = await journal.db.read(
            lambda tx: tx.value("SELECT COUNT(*) FROM outbox WHERE claim_owner IS NOT NULL")
        )
        assert claimed == 0  # every delivered item let go of its claim
    finally:
        await other.close()


async def test_a_chat_another_process_holds_is_looked_at_when_its_claim_ends(
    journal: Journal,
) -> None:
    """Found in review: a new item in a chat another process was delivering to made this
    process's loop spin (due now, yet never its to take)."""
    await seed_payment(journal, amount="100", notified=False)
    now = utcnow()
    holder = Deliveries(journal.db, ALMATY, instance="a", claim=60)
    other = Deliveries(journal.db, ALMATY, instance="b", claim=60, clock=lambda: now)
    due = await holder.due(CASHIER, now, 10)  # the cashier's chat, claimed
    assert due.items
    await seed_payment(journal, amount="200", notified=False)  # more for that chat
    assert not (await other.due(CASHIER, now, 10)).items  # not b's to take
    wake = await other.next_at([SUPERVISOR_CHAT])  # (the feed's chat is free: left out)
    assert wake is not None and wake >= now + timedelta(seconds=59)


async def test_a_lane_at_work_keeps_its_chat_claimed(journal: Journal) -> None:
    await seed_payment(journal, amount="100", notified=False)
    deliveries = Deliveries(journal.db, ALMATY, instance="a", claim=0.3)
    await deliveries.due(CASHIER, utcnow(), 10)

    async def until() -> str:
        return str(
            await journal.db.read(lambda tx: tx.value("SELECT MAX(claim_until) FROM outbox"))
        )

    first = await until()
    keeper = asyncio.create_task(deliveries.keep(CASHIER))
    try:
        async with asyncio.timeout(10):
            while await until() == first:  # noqa: ASYNC110 - renewed by the keeper
                await asyncio.sleep(0.05)
    finally:
        keeper.cancel()
