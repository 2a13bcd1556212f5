"""Several instances of the bot on one journal and one Redis, updates spread between them
as a load balancer would: a conversation continues on whichever instance takes its next
update, one person's updates are handled in order, a roster change made on one instance is
obeyed by the others at once, and the payment is sent once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.devtools.telegram import ChatMessage, FakeTelegram
from bot.domain.model import Status
from bot.wiring.app import build_app
from bot.wiring.running import App
from bot.wiring.web import health
from tests.fixtures import REDIS_URL
from tests.harness import ADMIN, CASHIER, _has_button
from tests.journal import Journal

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends


@contextlib.asynccontextmanager
async def _instances(controlled: Any, prefix: str, count: int) -> AsyncIterator[list[App]]:
    async with contextlib.AsyncExitStack() as stack:
        apps = []
        for number in range(count):
            settings = controlled.settings(
                redis_url=REDIS_URL, redis_prefix=prefix, instance_name=f"bot-{number}"
            )
            apps.append(await stack.enter_async_context(build_app(settings)))
        yield apps


class Balancer:
    """Round-robin, as a load balancer in front of webhook instances."""

    def __init__(self, telegram: FakeTelegram, apps: list[App]) -> None:
        self.telegram = telegram
        self.apps = apps
        self.turn = 0
        self.handled_by: list[int] = []

    async def deliver(self, update_id: int) -> None:
        update = self.telegram.last_update(update_id)
        assert update is not None
        app = self.apps[self.turn % len(self.apps)]
        self.handled_by.append(self.turn % len(self.apps))
        self.turn += 1
        await app.dispatcher.feed_raw_update(app.bot, dict(update))

    async def say(self, user: dict[str, Any], text: str) -> ChatMessage:
        mark = self.telegram.mark()
        await self.deliver(self.telegram.send_text(user, text))
        return await self.telegram.wait_message(user["id"], after=mark)

    async def press(self, user: dict[str, Any], message: ChatMessage, label: str) -> None:
        for text, data in message.callback_buttons:
            if label in text:
                await self.deliver(self.telegram.press(user, message, data))
                return
        raise LookupError(label)


async def test_a_conversation_continues_across_instances_and_pays_once(
    controlled: Any, telegram: FakeTelegram, redis_prefix: str
) -> None:
    async with _instances(controlled, redis_prefix, 3) as apps:
        lb = Balancer(telegram, apps)
        cashier = FakeTelegram.user(CASHIER, "Cashier", "en")
        await lb.say(cashier, "/cashin")  # instance 0
        mark = telegram.mark()
        await lb.deliver(telegram.send_text(cashier, "77000000002"))  # instance 1
        await telegram.wait_message(CASHIER, _has_button("a:"), after=mark)
        mark = telegram.mark()
        await lb.deliver(telegram.send_text(cashier, "5000"))  # instance 2
        card = await telegram.wait_message(CASHIER, _has_button("d:"), after=mark)
        await lb.press(cashier, card, "Confirm")  # instance 0 again
        await telegram.wait_for(lambda: card.text.startswith("✅"), timeout=15)
        assert lb.handled_by == [0, 1, 2, 0]
        for app in apps:  # each instance reports the shared Redis
            healthy, body = await health(app)
            assert healthy and body["redis"] == {"reachable": True}
        # One Telegram budget for all three, this bot's own (another bot may share Redis).
        redis = apps[0].redis
        assert redis is not None
        paced = [key async for key in redis.scan_iter(f"{redis_prefix}:*:pace:*")]
        assert paced and all(
            key.decode().startswith(f"{redis_prefix}:{apps[0].bot.id}:pace:") for key in paced
        )
        payments, _total = await Journal(apps[0].db).payments_page(None, 0, 10)
        assert [p.status for p in payments] == [Status.COMPLETED]
        ledger = [app.sandbox.sandbox.stats.pay_guids for app in apps if app.sandbox]
        assert sum(sum(counter.values()) for counter in ledger) == 1  # sent once

        # A block made on one instance is obeyed by the next, whichever it is.
        admin = FakeTelegram.user(ADMIN, "Admin", "en")
        blocked = await lb.say(admin, f"/block {CASHIER}")  # instance 1
        assert "blocked" in blocked.plain.lower()
        mark = telegram.mark()
        await lb.deliver(telegram.send_text(cashier, "/cashin"))  # instance 2 (it knew them)
        # Handled to the end by now: whatever it said, it did not start a top-up.
        after = [m.text for m in telegram.messages(CASHIER) if m.message_id > mark]
        assert not any("Enter the client's Allpay login" in text for text in after), after
