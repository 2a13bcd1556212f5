"""Supervisors' commands: /report, /export, /pending and /balance.

Admins may use them too. Anyone else gets a refusal naming the command (``denied``).
"""

from __future__ import annotations

import logging
from html import escape

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.allpay.client import AllpayClient
from bot.allpay.protocol import AllpayError, AllpayErrorKind
from bot.config import Settings
from bot.payments.db import utcnow
from bot.payments.journal import Journal
from bot.payments.parsing import format_tenge
from bot.payments.reports import (
    MAX_RANGE_DAYS,
    PeriodError,
    PeriodProblem,
    day_bounds,
    export_csv,
    local_today,
    parse_period,
    summarize,
)
from bot.telegram import texts
from bot.telegram.filters import SUPERVISING, HasRole

log = logging.getLogger(__name__)
router = Router(name="reports")
# Each handler carries its role filter (build_router copies handlers, not router filters).
SUPERVISORS = HasRole(*SUPERVISING)
denied = Router(name="reports.denied")

COMMANDS = ("report", "export", "pending", "balance")
PENDING_LIMIT = 30


def period_problem(error: PeriodError) -> str:
    if error.problem is PeriodProblem.BAD_DATE:
        return _("«{text}» is not a date. Write it as YYYY-MM-DD or DD.MM.YYYY.").format(
            text=escape(error.text)
        )
    if error.problem is PeriodProblem.REVERSED:
        return _("The first date is after the second one.")
    if error.problem is PeriodProblem.TOO_LONG:
        return _("The period is longer than {days} days; split it.").format(days=MAX_RANGE_DAYS)
    return _("Give at most two dates: from and to.")


@router.message(Command("report"), SUPERVISORS)
async def report(
    message: Message, command: CommandObject, journal: Journal, settings: Settings
) -> None:
    args = (command.args or "").split()
    if len(args) > 1:
        await message.answer(_("Usage: /report [YYYY-MM-DD] — one day, today by default."))
        return
    try:
        day, _last = parse_period(args, local_today(utcnow(), settings.tz))
    except PeriodError as error:
        await message.answer(period_problem(error))
        return
    start, end = day_bounds(day, day, settings.tz)
    summary = summarize(await journal.totals(start, end))
    names = await journal.names()
    await message.answer(texts.summary_text(texts.day_title(day), summary, names, per_cashier=True))


@router.message(Command("export"), SUPERVISORS)
async def export(
    message: Message, command: CommandObject, journal: Journal, settings: Settings
) -> None:
    args = (command.args or "").split()
    try:
        first, last = parse_period(args, local_today(utcnow(), settings.tz))
    except PeriodError as error:
        await message.answer(period_problem(error))
        return
    start, end = day_bounds(first, last, settings.tz)
    payments = await journal.payments_between(start, end)
    name = f"payments_{first:%Y-%m-%d}" + (f"_{last:%Y-%m-%d}" if last != first else "")
    data = export_csv(payments, await journal.names(), settings.tz)
    await message.answer_document(
        BufferedInputFile(data, filename=f"{name}.csv"),
        caption=_("{count} payments, {first} – {last}").format(
            count=len(payments), first=f"{first:%d.%m.%Y}", last=f"{last:%d.%m.%Y}"
        ),
    )


@router.message(Command("pending"), SUPERVISORS)
async def pending(message: Message, journal: Journal) -> None:
    payments = await journal.unresolved()
    if not payments:
        await message.answer(_("No payments are waiting for Allpay's final answer."))
        return
    names = await journal.names()
    now = utcnow()
    lines = [
        _("Payments without Allpay's final answer: {count}").format(count=len(payments)),
        _("⚠️ — the bot stopped resending: reconcile with Allpay by GUID."),
        "",
    ]
    for p in payments[:PENDING_LIMIT]:  # the oldest first: they need attention most
        lines.append(texts.pending_line(p, now, texts.person(p.cashier_id, names)))
    if len(payments) > PENDING_LIMIT:
        lines += [
            "",
            _("…and {count} more: /export has them all.").format(
                count=len(payments) - PENDING_LIMIT
            ),
        ]
    await message.answer("\n".join(lines))


@router.message(Command("balance"), SUPERVISORS)
async def balance(message: Message, allpay: AllpayClient, i18n: I18n, settings: Settings) -> None:
    try:
        result = await allpay.available_balance(i18n.current_locale)
    except AllpayError as error:
        if error.kind is AllpayErrorKind.UNAVAILABLE and allpay.tm_url is None:
            await message.answer(
                _("The balance service is not configured (ALLPAY_TM_URL is not set).")
            )
        else:
            log.warning("availableBalance failed: %s", error)
            await message.answer(
                _("Allpay did not answer the balance request. Try again in a minute.")
            )
        return
    shown = format_tenge(result.amount) if result.amount is not None else result.raw
    await message.answer(
        _("Agent balance in Allpay: <b>{amount}</b>\nAs of {time}").format(
            amount=escape(shown), time=texts.local_time(result.header.timestamp, settings.tz)
        )
    )


@denied.message(Command(*COMMANDS))
async def not_a_supervisor(message: Message, command: CommandObject) -> None:
    await message.answer(
        _("Only supervisors and admins can use /{command}.").format(command=command.command)
    )
