"""/digest: supervisors and admins get the daily digest now, in the bot itself — today's so
far, yesterday's or a given day's — in the very words the supervisors' group gets at
DIGEST_TIME."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.clock import utcnow
from bot.domain.model import Role
from bot.telegram.shared.commands import available
from bot.usecases.digest import DigestScheduler
from tests.harness import (
    ADMIN,
    CASHIER,
    SUPERVISOR,
    SUPERVISOR_CHAT,
    Harness,
    english_words,
    seed_payment,
)

ALMATY = ZoneInfo("Asia/Almaty")


def today() -> datetime:
    return utcnow().astimezone(ALMATY)


async def test_a_supervisor_gets_todays_digest_so_far(harness: Harness) -> None:
    await seed_payment(harness.journal, amount="1200")
    reply = await harness.say(harness.user(SUPERVISOR), "/digest")
    now = today()
    assert reply.text.startswith(f"<b>📊 Daily digest for {now:%d.%m.%Y}</b>"), reply.text
    assert "So far today: as of " in reply.plain
    assert "✅ completed: 1 · 1\u202f200\u00a0₸" in reply.plain
    assert "Cash on hand now" in reply.plain and "Handovers of the day" in reply.plain
    assert "digest" in [spec.name for spec in available(Role.SUPERVISOR)]
    assert "digest" not in [spec.name for spec in available(Role.CASHIER)]


async def test_a_past_days_digest_is_the_one_the_group_got(harness: Harness) -> None:
    day = today().date() - timedelta(days=10)
    noon = datetime.combine(day, time(12), tzinfo=ALMATY)
    await seed_payment(harness.journal, amount="1200", created_at=noon)
    await seed_payment(harness.journal, amount="99", created_at=noon - timedelta(days=1))
    scheduler = DigestScheduler(harness.app.db, harness.app.sender.notices, time(21, 0), ALMATY)
    assert await scheduler.enqueue(day, utcnow())
    scheduled = await harness.tg.wait_message(SUPERVISOR_CHAT, lambda m: "Daily digest" in m.text)
    supervisor = await harness.say(harness.user(SUPERVISOR), f"/digest {day:%d.%m.%Y}")
    assert supervisor.text == scheduled.text
    admin = await harness.say(harness.user(ADMIN), f"/digest {day:%Y-%m-%d}")
    assert admin.text == scheduled.text
    totals = admin.plain.split("💵")[0]  # the day's top-ups (cash on hand is as of now)
    assert "1\u202f200\u00a0₸" in totals and "99\u00a0₸" not in totals and "So far" not in totals


async def test_yesterday_in_each_language(harness: Harness) -> None:
    yesterday = today().date() - timedelta(days=1)
    noon = datetime.combine(yesterday, time(12), tzinfo=ALMATY)
    await seed_payment(harness.journal, amount="700", created_at=noon)
    reply = await harness.say(harness.user(SUPERVISOR), "/digest yesterday")
    assert f"Daily digest for {yesterday:%d.%m.%Y}" in reply.plain
    assert "✅ completed: 1 · 700\u00a0₸" in reply.plain and "So far" not in reply.plain
    in_russian = await harness.say(harness.user(SUPERVISOR, "ru"), "/digest вчера")
    assert f"📊 Итоги дня за {yesterday:%d.%m.%Y}" in in_russian.plain, in_russian.plain
    assert not english_words(in_russian.text)
    in_kazakh = await harness.say(harness.user(ADMIN, "kk"), "/digest кеше")
    assert f"{yesterday:%d.%m.%Y}" in in_kazakh.plain and "700\u00a0₸" in in_kazakh.plain
    assert not english_words(in_kazakh.text)
    today_kk = await harness.say(harness.user(ADMIN, "kk"), "/digest")
    assert not english_words(today_kk.text), today_kk.plain


async def test_digest_refuses_what_it_cannot_show(harness: Harness) -> None:
    supervisor = harness.user(SUPERVISOR)
    reply = await harness.say(supervisor, "/digest someday")
    assert "«someday» is not a date" in reply.plain
    later = today().date() + timedelta(days=3)
    reply = await harness.say(supervisor, f"/digest {later:%Y-%m-%d}")
    assert reply.plain == f"{later:%d.%m.%Y} has not come yet.", reply.plain
    reply = await harness.say(supervisor, "/digest 2026-01-01 2026-01-02")
    assert reply.plain.startswith("Usage: /digest"), reply.plain
    reply = await harness.say(harness.user(CASHIER), "/digest")
    assert reply.text == "Only supervisors and admins can use /digest."
