"""A busy hour, played through the Bot API stand-in: N cashiers each doing one whole top-up,
all starting within a few seconds. Used by the rush test and by ``bench/rush.py``."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.devtools.telegram import ChatMessage, FakeTelegram

FIRST_CASHIER = 10_000
LOGIN = "77000000002"  # completes at once
GUID_PREFIX = re.compile(r"\b([0-9a-f]{8})\b")


@dataclass
class CashierRun:
    cashier_id: int
    steps: list[float] = field(default_factory=list)  # seconds from a message to its reply
    confirm_to_done: float | None = None
    done_at: float | None = None
    lost: str | None = None  # the step whose reply never came


@dataclass
class Rush:
    runs: list[CashierRun]
    started: float
    finished: float

    @property
    def lost(self) -> list[CashierRun]:
        return [r for r in self.runs if r.lost is not None]


async def _top_up(
    tg: FakeTelegram, cashier_id: int, delay: float, amount: str, timeout: float
) -> CashierRun:
    run = CashierRun(cashier_id)
    user = FakeTelegram.user(cashier_id, f"Cashier {cashier_id}", "en")
    await asyncio.sleep(delay)  # when this cashier starts: the rush's schedule, not a wait
    steps: Sequence[tuple[str, str, object]] = (
        ("/cashin", "login", lambda m: "login" in m.text),
        (LOGIN, "amount", lambda m: "amount" in m.text),
        (amount, "card", lambda m: bool(m.buttons)),
    )
    card: ChatMessage | None = None
    for text, step, predicate in steps:
        mark = tg.mark()
        sent = time.monotonic()
        tg.send_text(user, text)
        try:
            card = await tg.wait_message(
                cashier_id,
                predicate,  # type: ignore[arg-type]
                after=mark,
                timeout=timeout,
            )
        except AssertionError:
            run.lost = step
            return run
        run.steps.append(time.monotonic() - sent)
    assert card is not None
    confirmed = time.monotonic()
    tg.press_button(user, card, "Confirm")
    shown = card
    try:
        await tg.wait_for(lambda: shown.text.startswith("✅"), timeout)
    except AssertionError:
        run.lost = "status"
        return run
    run.done_at = time.monotonic()
    run.confirm_to_done = run.done_at - confirmed
    return run


async def rush(
    tg: FakeTelegram,
    cashiers: int,
    *,
    within: float = 5.0,
    amount: str = "1000",
    timeout: float = 60.0,
) -> Rush:
    """Cashiers ``FIRST_CASHIER…`` start evenly spread over ``within`` seconds."""
    started = time.monotonic()
    runs = await asyncio.gather(
        *(
            _top_up(tg, FIRST_CASHIER + i, within * i / max(1, cashiers), amount, timeout)
            for i in range(cashiers)
        )
    )
    return Rush(list(runs), started, time.monotonic())


def cashier_ids(cashiers: int) -> list[int]:
    return [FIRST_CASHIER + i for i in range(cashiers)]


def feed_guids(tg: FakeTelegram, chat_id: int) -> Counter[str]:
    """How often each payment (its GUID's first 8 hex) appeared in a supervisor chat."""
    seen: Counter[str] = Counter()
    for message in tg.messages(chat_id):
        for line in message.plain.splitlines():
            if line.startswith(("✅", "❌", "⚠️")):
                seen.update(GUID_PREFIX.findall(line)[-1:])
    return seen
