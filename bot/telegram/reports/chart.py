"""The day's chart as a picture in the chat, where no desk is served (WEBAPP_URL unset):
after /report's text and after the daily digest's. Top-ups per local hour of the day against
the average of the days before, as the desk's figures have them (:meth:`Dashboard.day`),
drawn by :mod:`bot.documents.chart` in a worker thread, in the current locale's words.

The picture never costs the text: the text is sent first, and a chart that cannot be drawn
is logged (what failed, never whose figures) and left out."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo

from aiogram.utils.i18n import gettext as _

from bot.documents import chart as drawing
from bot.documents.chart import ChartWords
from bot.infra.logs import describe_error
from bot.usecases.dashboard import Dashboard

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChartText:
    """What the picture says and its caption, made in the reader's language."""

    words: ChartWords
    caption: str


def chart_text(day: date, tz: tzinfo) -> ChartText:
    """The chart's words for ``day`` in the current locale (call inside its context). The
    desk's words where it has them: its average is of the 7 days before
    (:data:`bot.usecases.dashboard.AVERAGE_DAYS`)."""
    shown = f"{day:%d.%m.%Y}"
    words = ChartWords(
        title=_("Top-ups per hour, {day}").format(day=shown),
        day=shown,
        average=_("7-day average"),
        hours=_("Hour of the day ({zone})").format(zone=zone_label(day, tz)),
        count=_("Top-ups"),
    )
    caption = _("📈 Top-ups per hour on {day} against the 7-day average.").format(day=shown)
    return ChartText(words, caption)


def zone_label(day: date, tz: tzinfo) -> str:
    """The zone the hours are in and its offset that day: «Asia/Almaty, UTC+05:00»."""
    offset = datetime.combine(day, time(12), tzinfo=tz).strftime("%z") or "+0000"
    utc = f"UTC{offset[:3]}:{offset[3:5]}"
    zone = str(tz)
    return utc if zone.upper() in {"UTC", "ETC/UTC"} else f"{zone}, {utc}"


async def draw_day(dashboard: Dashboard, day: date, words: ChartWords) -> bytes | None:
    """The PNG of ``day``'s hours; None when it cannot be drawn (logged). Reading the
    figures may fail as any read does (the caller decides); drawing never raises."""
    figures = await dashboard.day(day)
    average = [float(value) for value in figures.hourly_average]
    try:
        return await asyncio.to_thread(drawing.render_png, figures.hourly, average, words)
    except Exception as exc:
        log.warning(
            "the day's chart was not drawn (%s); the text went without it", describe_error(exc)
        )
        return None
