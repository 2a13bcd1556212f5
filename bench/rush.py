"""Table 5: a rush hour through a Bot API stand-in with Telegram's latency and flood limits.

N cashiers (20, 40, 80, 160) each start one whole top-up (client 77000000002, which
completes at once) within five seconds, against the real bot (in this process) and the
embedded sandbox; one supervisor group and one private supervisor get the feed. Printed:
replies lost, each conversation step's answer time, confirm → ✅, 429s received, calls made
inside an announced window, the time until every payment is in the group, the group's
messages, peak RSS, and Telegram's floor (counted messages ÷ 30 a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import tempfile
import time
from pathlib import Path

from tests.harness import SUPERVISOR, SUPERVISOR_CHAT, running_bot, settings_for
from tests.rush import cashier_ids, feed_guids, rush

from bench.common import median, pct, table
from bot.devtools.sandbox import ensure_sandbox_keys
from bot.devtools.telegram import FakeTelegram

TELEGRAM_RATE = 30.0  # messages a second for one bot: the floor of any rush


async def one(cashiers: int, keys: Path) -> list[object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        import shutil

        shutil.copytree(keys, folder / "sandbox")
        tg = FakeTelegram(realistic=True, seed=cashiers)
        await tg.start()
        try:
            settings = settings_for(
                folder,
                tg.base_url,
                cashier_ids=cashier_ids(cashiers),
                supervisor_chat_ids=[SUPERVISOR_CHAT, SUPERVISOR],
                pending_retry_min=2.0,
                pending_retry_max=5.0,
                allpay_timeout=10.0,
                log_level="ERROR",
            )
            async with running_bot(settings, tg) as h:
                result = await rush(tg, cashiers, within=5.0, timeout=120.0)
                payments = (await h.journal.payments_page(None, 0, 10_000))[0]
                expected = {p.guid.strip("{}")[:8] for p in payments}
                in_group: float | None = None
                with contextlib.suppress(AssertionError):
                    await tg.wait_for(lambda: set(feed_guids(tg, SUPERVISOR_CHAT)) >= expected, 180)
                    in_group = time.monotonic() - result.started
                await tg.wait_for(lambda: not h.app.outbox._lanes, 60)
                done = time.monotonic()
        finally:
            await tg.close()
    steps = [s for run in result.runs for s in run.steps]
    to_done = [r.confirm_to_done for r in result.runs if r.confirm_to_done is not None]
    counted = sum(tg.accepted.values())
    floor = counted / TELEGRAM_RATE
    rush_time = max((r.done_at or 0) for r in result.runs) - result.started
    group_messages = len(tg.messages(SUPERVISOR_CHAT))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seen = feed_guids(tg, SUPERVISOR_CHAT)
    once = set(seen) == expected and set(seen.values()) <= {1}
    return [
        cashiers,
        len(result.lost),
        f"{median(steps):.2f} / {pct(steps, 0.95):.2f} s" if steps else "—",
        f"{median(to_done):.2f} / {pct(to_done, 0.95):.2f} / {max(to_done):.2f} s"
        if to_done
        else "—",
        tg.refusals,
        len(tg.calls_inside_window),
        f"{rush_time:.1f} s ({rush_time / floor:.2f}× floor {floor:.1f} s)",
        f"{in_group:.1f} s" if in_group is not None else "not all",
        f"{group_messages}{'' if once else ' (NOT once each)'}",
        f"{rss:.0f} MB",
        f"{done - result.started:.1f} s",
    ]


async def run(counts: tuple[int, ...] = (20, 40, 80, 160)) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "keys"
        ensure_sandbox_keys(keys)
        rows = [await one(n, keys) for n in counts]
    return table(
        "5. Rush hour (realistic Telegram stand-in: 60–160 ms, 30/s bot, 1/s chat, 20/min group)",
        [
            "cashiers",
            "replies lost",
            "step answer p50 / p95",
            "confirm → ✅ p50 / p95 / max",
            "429s",
            "calls in a window",
            "whole rush (vs Telegram's floor)",
            "all in group",
            "group messages",
            "peak RSS",
            "until outbox idle",
        ],
        rows,
    ) + (
        "\nGoals at 80 cashiers: 0 lost, confirm → ✅ p95 ≤ 2 s, rush ≤ 1.5× floor, every "
        "payment in the group within 90 s, 429s ≤ 1 per 20 payments.\n"
    )


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(asyncio.run(run()))
