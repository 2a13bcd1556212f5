"""The supervisor's desk in a real browser (issue 28): Debian's headless Chromium at 360×740,
the page opened as Telegram opens a Mini App (tests/browser.py), the bot in-process with its
own web server, the Bot API stand-in and the embedded sandbox. In ru, kk and en: the day's
totals are the journal's, the chart is drawn, an approval pressed in the desk pays once, and
a ⏳ top-up turns ✅ on the open page — no reload, no console error, nothing fetched past
loopback. Screenshots: ``<tmp_path>/screenshots/``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from aiohttp import web

from bot.allpay.protocol import PayStatus
from bot.devtools.telegram import FakeTelegram
from bot.telegram.desk.texts import desk_texts
from bot.wiring.web import start_web
from tests.browser import MiniApp, OpenMiniApp, telegram_user
from tests.fixtures import sandbox_folder, start_from
from tests.harness import (
    CASHIER,
    CASHIER_2,
    SUPERVISOR,
    TOKEN,
    Harness,
    english_words,
    running_bot,
    seed_payment,
    settings_for,
)

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.asyncio(loop_scope="module")

DESK = "https://bot.example.kz/desk/"


@dataclass
class Desk:
    h: Harness
    url: str  # the page on loopback


@pytest_asyncio.fixture(loop_scope="module")
async def desk(tmp_path: Path, sandbox_keys: Path, migrated_journal: Path) -> AsyncIterator[Desk]:
    """The bot with the desk (WEBAPP_URL), its main listener on 127.0.0.1; a top-up held at
    ⏳ (no resend for ten minutes), approvals above 100 000 ₸."""
    tg = FakeTelegram()
    await tg.start()
    database_url = f"sqlite:///{tmp_path / 'cashin.sqlite3'}"
    start_from(migrated_journal, database_url)
    settings = settings_for(
        tmp_path,
        tg.base_url,
        database_url=database_url,
        sandbox_dir=sandbox_folder(tmp_path, sandbox_keys),
        webapp_url=DESK,
        approval_threshold=100_000,
        pending_retry_min=600.0,
        pending_retry_max=600.0,
    )
    try:
        async with running_bot(settings, tg) as h:
            runner: web.AppRunner = await start_web(h.app, "127.0.0.1", 0)
            try:
                yield Desk(h, f"http://127.0.0.1:{runner.addresses[0][1]}/desk/")
            finally:
                await runner.cleanup()
    finally:
        await tg.close()


def tenge(text: str) -> Decimal:
    """An amount as the desk shows it ("3 500,50 ₸") as a number."""
    return Decimal(re.sub(r"[^\d,]", "", text).replace(",", "."))


async def journal_day(h: Harness) -> tuple[int, Decimal]:
    """The journal's own count and sum of the day's top-ups (every status)."""
    [row] = await h.app.db.query("SELECT COUNT(*) AS n, SUM(amount_tiyn) AS tiyn FROM payments")
    return int(row["n"]), Decimal(row["tiyn"] or 0) / 100


async def approval_request(h: Harness) -> str:
    """A cashier's top-up above the threshold, confirmed: the waiting request's id."""
    user = h.user(CASHIER_2)
    card = await h.top_up_card(user, "77000000001", "150000")
    await h.press(user, card, "Confirm")
    await h.tg.wait_for(lambda: card.text.startswith("🛂"))
    [row] = await h.app.db.query("SELECT id FROM approvals WHERE state = 'WAITING'")
    return str(row["id"])


async def sent_to_allpay(h: Harness, amount: Decimal) -> list[str]:
    """The GUIDs Allpay (the sandbox) got for ``amount``, once the first has arrived (the
    send follows the approval's commit) and a moment has passed for any second one."""
    for _ in range(100):
        if any(row.amount == amount for row in await h.sandbox_ledger()):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    return [row.guid for row in await h.sandbox_ledger() if row.amount == amount]


async def text_of(page: Page, testid: str) -> str:
    return (await page.get_by_test_id(testid).inner_text()).strip()


@pytest.mark.parametrize("language", ["ru", "kk", "en"])
async def test_the_desk_in_a_browser(mini_app: OpenMiniApp, desk: Desk, language: str) -> None:
    h = desk.h
    words = desk_texts(h.app.i18n, language)
    # The day so far: two ✅, one declined, one ⏳ (a real top-up, held), one request.
    await seed_payment(h.journal, amount="1000")
    await seed_payment(h.journal, amount="2500.50", cashier_id=CASHIER_2)
    await seed_payment(h.journal, amount="700", status=PayStatus.DECLINED)
    _card, _status = await h.pending_top_up(h.user(CASHIER), "4000")
    [held] = await h.journal.unresolved()
    approval_id = await approval_request(h)
    await h.app.people.set_language(SUPERVISOR, language)

    mini: MiniApp = await mini_app(
        desk.url, token=TOKEN, user=telegram_user(SUPERVISOR, language, "Дана")
    )
    page = mini.page
    await page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads

    # Today: the journal's totals, the hourly chart as SVG bars, in the reader's language.
    count, amount = await journal_day(h)
    await page.get_by_test_id("today-count").filter(has_text=str(count)).wait_for()
    assert tenge(await text_of(page, "today-sum")) == amount
    assert await text_of(page, "title") == words["title"]
    assert await text_of(page, "tab-now") == words["tab_now"]
    assert await page.evaluate("document.documentElement.lang") == language
    bars = page.locator("[data-testid=hourly-chart] rect")
    assert await bars.count() == 24
    drawn = [int(await bar.get_attribute("data-count") or 0) for bar in await bars.all()]
    assert sum(drawn) == count
    heights = [float(await bar.get_attribute("height") or 0) for bar in await bars.all()]
    assert max(heights) > 0
    await page.get_by_test_id("hourly-average").wait_for(state="attached")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360  # one hand
    if language != "en":
        assert english_words(await page.inner_text("body")) == []
    await mini.shot(f"today-{language}")

    # Now: the request, approved from the desk — through the use case, exactly once.
    await page.get_by_test_id("tab-now").click()
    request = page.get_by_test_id(f"approval-{approval_id}")
    await request.get_by_test_id("approve").wait_for()
    await page.get_by_test_id(f"payment-{held.guid}").wait_for()
    await mini.shot(f"now-{language}")
    await request.get_by_test_id("approve").click()
    await request.wait_for(state="detached")
    [state] = await h.app.db.query("SELECT state FROM approvals WHERE id = ?", (approval_id,))
    assert state["state"] == "APPROVED"
    decided = await h.app.db.query(
        "SELECT actor_id FROM audit WHERE action = 'approval.approved' AND subject = ?",
        (approval_id,),
    )
    assert [row["actor_id"] for row in decided] == [SUPERVISOR]
    journaled = await h.app.db.query(
        "SELECT guid FROM payments WHERE amount_tiyn = ?", (150_000 * 100,)
    )
    assert len(journaled) == 1  # one top-up for the request
    assert await sent_to_allpay(h, Decimal(150_000)) == [journaled[0]["guid"]]
    await mini.shot(f"approved-{language}")

    # A ⏳ top-up followed on the open page until Allpay's ✅ (a supervisor's recheck).
    await page.get_by_test_id(f"payment-{held.guid}").click()
    status = page.get_by_test_id("detail-status")
    await status.filter(has_text="⏳").wait_for()
    assert (await h.app.sender.recheck(held.guid, SUPERVISOR)).outcome.value == "answered"
    await status.filter(has_text="✅").wait_for(timeout=15_000)
    assert (await status.inner_text()).strip() == "✅ " + words["status_completed"]
    assert await page.evaluate("window.__sameDocument === true")
    await mini.shot(f"followed-{language}")
    assert {"ready", "expand"} <= set(await mini.telegram_calls())
