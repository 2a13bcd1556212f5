"""An export's files sent to a chat: the period's top-ups as CSV and XLSX (and the cash
handovers' CSV when there are any) — for /export and for the supervisor's desk, which sends
them to the person's private chat. Words in the current locale (the caller's context)."""

from __future__ import annotations

import asyncio
from datetime import date, tzinfo

from aiogram import Bot
from aiogram.types import BufferedInputFile
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.documents.export import export_xlsx
from bot.domain.reports import export_csv, export_handovers_csv
from bot.telegram.cash.texts import handover_state_word
from bot.telegram.shared.actions import uploading_document
from bot.telegram.shared.texts import status_label
from bot.usecases.reports import Reports


async def send_export(
    bot: Bot, chat_id: int, reports: Reports, first: date, last: date, tz: tzinfo
) -> int:
    """The files of ``first``..``last`` sent to ``chat_id``; how many top-ups they list."""
    listing = await reports.export(first, last)
    payments, handovers = listing.payments, listing.handovers
    span = f"{first:%Y-%m-%d}" + (f"_{last:%Y-%m-%d}" if last != first else "")
    name = f"payments_{span}"
    # The same payments twice: CSV for programs, XLSX (real numbers and dates, a sheet of
    # totals, a sheet of cash handovers) for Excel. Built off the event loop: a month of
    # payments is seconds of CPU.
    async with uploading_document(bot, chat_id):
        csv_data = await asyncio.to_thread(export_csv, payments, listing.names, tz)
        xlsx_data = await asyncio.to_thread(
            export_xlsx,
            payments,
            listing.names,
            tz,
            _,
            status_label,
            handovers,
            handover_state_word,
        )
    await bot.send_document(chat_id, BufferedInputFile(csv_data, filename=f"{name}.csv"))
    if handovers:
        handovers_csv = await asyncio.to_thread(export_handovers_csv, handovers, listing.names, tz)
        await bot.send_document(
            chat_id, BufferedInputFile(handovers_csv, filename=f"handovers_{span}.csv")
        )
    await bot.send_document(
        chat_id,
        BufferedInputFile(xlsx_data, filename=f"{name}.xlsx"),
        caption=ngettext(
            "{count} top-up, {first} – {last}", "{count} top-ups, {first} – {last}", len(payments)
        ).format(count=len(payments), first=f"{first:%d.%m.%Y}", last=f"{last:%d.%m.%Y}"),
    )
    return len(payments)
