"""The day's chart as a picture in the chat where no desk is served (WEBAPP_URL unset): drawn
by matplotlib in the reader's language (Kazakh letters included, from the DejaVu font the
PDFs ship), after /report's text and as the daily digest's last part — sent once, even when
Telegram fails the picture's first upload. With the desk, no picture.

matplotlib costs about a CPU-second to load: only the tests marked ``draws`` draw for real
(elsewhere tests/fixtures.py puts a tiny PNG in its place)."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import struct
import warnings
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.devtools.telegram import ChatMessage, Fault
from bot.documents.chart import ChartWords, render_png
from bot.domain.clock import utcnow
from bot.telegram.reports.chart import chart_text, zone_label
from bot.telegram.runtime.i18n import make_i18n
from bot.usecases.digest import DigestScheduler
from tests.harness import SUPERVISOR, SUPERVISOR_CHAT, Harness, seed_payment

ALMATY = ZoneInfo("Asia/Almaty")
PNG = b"\x89PNG\r\n\x1a\n"
KAZAKH = "ӘәҒғҚқҢңӨөҰұҮүҺһІі"
DESK = "https://bot.example.kz/desk/"
DIGEST_DONE = (
    "SELECT attempts FROM outbox WHERE kind = 'digest' AND chat_id = ? AND done_at IS NOT NULL"
)


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG) and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def kazakh_words(day: date) -> ChartWords:
    i18n = make_i18n("en")
    with i18n.context(), i18n.use_locale("kk"):
        return chart_text(day, ALMATY).words


# ------------------------------------------------------------------------------- drawing


@pytest.mark.draws
def test_the_chart_is_a_small_png_with_every_kazakh_letter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    words = kazakh_words(date(2026, 12, 6))
    assert words.title == "Сағат бойынша толтырулар, 06.12.2026"
    assert words.hours == "Тәулік сағаты (Asia/Almaty, UTC+05:00)"
    words = ChartWords(f"{words.title} {KAZAKH}", words.day, words.average, words.hours, KAZAKH)
    hourly = [0] * 8 + [3, 5, 12, 7, 9, 4, 2, 8, 11, 6, 3, 1] + [0] * 4
    average = [0.0] * 6 + [0.1, 0.4, 2.3, 4, 6.1, 7, 8.4, 5, 3, 6, 7, 5, 2, 1, 0.3, 0, 0, 0]
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        picture = render_png(hourly, average, words)
        quiet = render_png([0] * 24, [0.0] * 24, words)  # an empty day draws too
    # No glyph missing (matplotlib warns of each), nothing else said either.
    assert [str(w.message) for w in caught] == []
    assert [r.getMessage() for r in caplog.records] == []
    for data in (picture, quiet):
        assert png_size(data) == (1200, 720)  # a phone's width at 150 dpi
        assert len(data) < 100_000
    # matplotlib's cache went to a private folder, not the home folder.
    folder = os.environ["MPLCONFIGDIR"]
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert not folder.startswith(os.path.expanduser("~"))


def test_a_day_has_24_hours() -> None:
    words = kazakh_words(date(2026, 12, 6))
    with pytest.raises(ValueError, match="24 hours"):
        render_png([1] * 23, [0.0] * 24, words)


def test_the_zone_is_named_with_its_offset_that_day() -> None:
    assert zone_label(date(2026, 7, 1), ZoneInfo("Europe/Berlin")) == "Europe/Berlin, UTC+02:00"
    assert zone_label(date(2026, 1, 1), ZoneInfo("Europe/Berlin")) == "Europe/Berlin, UTC+01:00"
    assert zone_label(date(2026, 1, 1), ZoneInfo("UTC")) == "UTC+00:00"


# ------------------------------------------------------------------------------- /report


def photos(harness: Harness, chat_id: int) -> list[ChatMessage]:
    return [m for m in harness.tg.messages(chat_id) if m.photo is not None]


async def digest_done(harness: Harness) -> list[Any]:
    """The supervisors' chat's digest, once marked delivered: its attempts."""
    for _ in range(500):
        done = await harness.journal.db.query(DIGEST_DONE, (SUPERVISOR_CHAT,))
        if done:
            return [row[0] for row in done]
        await asyncio.sleep(0.02)
    raise AssertionError("the digest is still due")


async def no_update_open(harness: Harness, timeout: float = 10.0) -> None:
    """Every update handed over has been handled (its handler returned)."""
    for _ in range(int(timeout / 0.02)):
        if not await harness.journal.db.query("SELECT 1 FROM updates WHERE done_at IS NULL"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"an update still open after {timeout} s")


@pytest.mark.draws
async def test_report_brings_the_days_chart_without_the_desk(harness: Harness) -> None:
    noon = datetime.combine(utcnow().astimezone(ALMATY).date(), time(12), tzinfo=ALMATY)
    await seed_payment(harness.journal, created_at=noon - timedelta(days=1))
    supervisor = harness.user(SUPERVISOR)
    report = await harness.say(supervisor, "/report")
    assert report.text.startswith("<b>Top-ups on") and report.photo is None
    chart = await harness.chart_after(report)
    assert chart.photo is not None
    assert png_size(chart.photo[1]) == (1200, 720) and len(chart.photo[1]) < 100_000
    assert chart.plain.startswith("📈 Top-ups per hour on ")
    actions = [p["action"] for m, p in harness.tg.calls if m == "sendChatAction"]
    assert "upload_photo" in actions
    await no_update_open(harness)
    assert len(photos(harness, SUPERVISOR)) == 1


async def _report_and_digest(h: Harness) -> None:
    """/report's text, then the digest of two days ago in the group."""
    report = await h.say(h.user(SUPERVISOR), "/report")
    assert report.text.startswith("<b>Top-ups on")
    day = utcnow().astimezone(ALMATY).date() - timedelta(days=2)
    assert await h.journal.enqueue_digest(day, utcnow())
    h.app.sender.notices.wake()
    await h.tg.wait_message(SUPERVISOR_CHAT, lambda m: "Daily digest" in m.text)


async def test_no_picture_with_the_desk(controlled: Any) -> None:
    """WEBAPP_URL set: the desk shows the chart; /report and the digest are text only."""
    async with controlled(webapp_url=DESK) as h:
        await _report_and_digest(h)
        await digest_done(h)
        await no_update_open(h)
        assert photos(h, SUPERVISOR) == [] and photos(h, SUPERVISOR_CHAT) == []
        assert not any(m == "sendPhoto" for m, _ in h.tg.calls)


# ------------------------------------------------------------------------------- the digest


async def test_the_digest_sends_its_picture_once_when_the_first_upload_fails(
    harness: Harness,
) -> None:
    """A 502 on the picture after the text went: the retry sends the picture alone."""
    day = utcnow().astimezone(ALMATY).date() - timedelta(days=3)
    await seed_payment(harness.journal, created_at=datetime.combine(day, time(10), tzinfo=ALMATY))
    harness.tg.faults.append(Fault("sendPhoto", 502, "Bad Gateway", chat_id=SUPERVISOR_CHAT))
    now = datetime.combine(day, time(21), tzinfo=ALMATY)
    notices = harness.app.sender.notices  # the bot's own: they wake its outbox
    scheduler = DigestScheduler(harness.app.db, notices, time(21, 0), ALMATY, clock=lambda: now)
    assert await scheduler.run_once() == 1
    chart = await harness.tg.wait_message(
        SUPERVISOR_CHAT, lambda m: m.photo is not None, timeout=20
    )
    assert chart.photo is not None and chart.photo[1].startswith(PNG)
    assert f"{day:%d.%m.%Y}" in chart.plain
    assert not harness.tg.faults  # the first upload did fail
    assert await digest_done(harness) == [2]  # delivered as the picture went, at attempt 2
    digests = [m for m in harness.tg.messages(SUPERVISOR_CHAT) if "Daily digest" in m.text]
    assert len(digests) == 1  # the text once
    assert len(photos(harness, SUPERVISOR_CHAT)) == 1  # the picture once
    uploads = [p for m, p in harness.tg.calls if m == "sendPhoto"]
    assert len(uploads) == 2  # the failed one and the one that went
    assert digests[0].message_id < chart.message_id


async def test_a_chart_that_cannot_be_drawn_costs_no_text(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Drawing fails: /report's text and the digest's go all the same, without a picture; the
    log says what failed, without what the error carried of a person."""

    def broken(*_: object) -> bytes:
        raise RuntimeError("cannot draw for 77012345678")

    monkeypatch.setattr("bot.documents.chart.render_png", broken)
    await _report_and_digest(harness)
    assert await digest_done(harness) == [1]
    await no_update_open(harness)
    assert photos(harness, SUPERVISOR) == [] and photos(harness, SUPERVISOR_CHAT) == []
    assert not any(m == "sendPhoto" for m, _ in harness.tg.calls)
    failures = [r.getMessage() for r in caplog.records if "chart was not drawn" in r.getMessage()]
    assert len(failures) == 2, failures
    assert all("RuntimeError" in f and "77012345678" not in f for f in failures)
