"""Supervisors' commands: /report, /digest, /export, /pending, /balance and /recheck.

Admins may use them too. Anyone else gets a refusal naming the command (see
:func:`bot.telegram.basics.refusals.make_refusals_router`).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from html import escape

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from bot.config.languages import SUPPORTED_LANGUAGES
from bot.domain.clock import utcnow
from bot.domain.model import StaffUser, Status
from bot.domain.parsing import format_tenge
from bot.domain.reports import (
    MAX_RANGE_DAYS,
    PeriodError,
    PeriodProblem,
    local_today,
    parse_lookup,
    parse_period,
)
from bot.infra.logs import describe_error
from bot.telegram.reports import texts
from bot.telegram.reports.chart import chart_text, draw_day
from bot.telegram.reports.exports import send_export
from bot.telegram.shared.actions import uploading_photo
from bot.telegram.shared.desk import with_desk
from bot.telegram.shared.filters import SUPERVISING, HasRole
from bot.telegram.shared.texts import N_, chunks, local_time, person, sandbox_mark, status_label
from bot.telegram.shared.view import View
from bot.usecases.cash import CashDesk
from bot.usecases.dashboard import Dashboard
from bot.usecases.digest import day_digest
from bot.usecases.reports import BalanceAnswer, Reports
from bot.usecases.sending import Recheck, Sender

log = logging.getLogger(__name__)
PENDING_LIMIT = 30


def make_router() -> Router:
    """Supervisors and admins only: anyone else gets the registry's refusal."""
    router = Router(name="reports")
    router.message.filter(HasRole(*SUPERVISING))
    router.message.register(report, Command("report"))
    router.message.register(digest, Command("digest"))
    router.message.register(export, Command("export"))
    router.message.register(pending, Command("pending"))
    router.message.register(balance, Command("balance"))
    router.message.register(recheck, Command("recheck"))
    return router


def period_problem(error: PeriodError) -> str:
    if error.problem is PeriodProblem.BAD_DATE:
        return _("«{text}» is not a date. Write it as YYYY-MM-DD or DD.MM.YYYY.").format(
            text=escape(error.text)
        )
    if error.problem is PeriodProblem.REVERSED:
        return _("The first date is after the second one.")
    if error.problem is PeriodProblem.TOO_LONG:
        return ngettext(
            "The period is longer than {days} day; split it.",
            "The period is longer than {days} days; split it.",
            MAX_RANGE_DAYS,
        ).format(days=MAX_RANGE_DAYS)
    return _("Give at most two dates: from and to.")


async def report(
    message: Message,
    command: CommandObject,
    reports: Reports,
    view: View,
    bot: Bot,
    dashboard: Dashboard | None = None,
) -> None:
    args = (command.args or "").split()
    if len(args) > 1:
        await message.answer(_("Usage: /report [YYYY-MM-DD] — one day, today by default."))
        return
    try:
        day, _last = parse_period(args, local_today(utcnow(), view.tz))
    except PeriodError as error:
        await message.answer(period_problem(error))
        return
    summary, names = await reports.totals(day, day)
    await message.answer(
        texts.summary_text(texts.day_title(day), summary, names, per_cashier=True),
        reply_markup=with_desk(None, message, view),
    )
    if view.webapp_url is None and dashboard is not None:  # else the desk shows the chart
        await _report_chart(message, bot, dashboard, day, view)


async def _report_chart(
    message: Message, bot: Bot, dashboard: Dashboard, day: date, view: View
) -> None:
    """The day's chart after the report's text; one that cannot be read, drawn or sent is
    left out (logged): the report went all the same."""
    shown = chart_text(day, view.tz)
    try:
        async with uploading_photo(bot, message.chat.id):
            png = await draw_day(dashboard, day, shown.words)
    except Exception as exc:  # the figures could not be read: the report went all the same
        log.warning("/report: the day's chart was not read (%s)", describe_error(exc))
        return
    if png is None:
        return
    photo = BufferedInputFile(png, filename=f"chart-{day:%Y-%m-%d}.png")
    try:
        await message.answer_photo(photo, caption=shown.caption)
    except TelegramBadRequest as exc:
        log.warning("/report: the day's chart was refused (%s)", describe_error(exc))


#: ``/digest yesterday`` (or ``today``), in any of the bot's languages.
YESTERDAY = N_("yesterday")
TODAY = N_("today")


def _named_day(word: str, today: date, i18n: I18n) -> date | None:
    """The day a word names ("yesterday", «вчера», «кеше», …), None for any other word."""
    for msgid, day in ((YESTERDAY, today - timedelta(days=1)), (TODAY, today)):
        names = {msgid} | {i18n.gettext(msgid, locale=lang) for lang in SUPPORTED_LANGUAGES}
        if word.casefold() in {name.casefold() for name in names}:
            return day
    return None


async def digest(
    message: Message,
    command: CommandObject,
    reports: Reports,
    cash: CashDesk,
    i18n: I18n,
    view: View,
) -> None:
    """/digest [yesterday | date]: the daily digest now, in the words the supervisors' chats
    get at DIGEST_TIME; today's says it is so far."""
    args = (command.args or "").split()
    if len(args) > 1:
        await message.answer(texts.digest_usage())
        return
    today = local_today(utcnow(), view.tz)
    day = _named_day(args[0], today, i18n) if args else today
    if day is None:
        try:
            day, _last = parse_period(args, today)
        except PeriodError as error:
            await message.answer(period_problem(error))
            return
    found = await day_digest(reports, cash, day)
    if found is None:
        await message.answer(texts.day_not_come(day))
        return
    text = texts.digest_text(
        found.day,
        found.summary,
        found.names,
        found.unresolved,
        found.cash,
        view.tz,
        as_of=found.read_at if found.so_far else None,
    )
    for part in chunks(text.split("\n")):
        await message.answer(part)


async def export(
    message: Message, command: CommandObject, reports: Reports, view: View, bot: Bot
) -> None:
    args = (command.args or "").split()
    try:
        first, last = parse_period(args, local_today(utcnow(), view.tz))
    except PeriodError as error:
        await message.answer(period_problem(error))
        return
    await send_export(bot, message.chat.id, reports, first, last, view.tz)


async def pending(message: Message, reports: Reports, view: View) -> None:
    listing, approvals = await reports.pending()
    payments, names = listing.payments, listing.names
    now = utcnow()
    lines: list[str] = []
    if approvals:  # people wait at these: first
        lines += [_("🛂 Approval requests waiting: {count}").format(count=len(approvals)), ""]
        for a in approvals[:PENDING_LIMIT]:
            lines.append(texts.approval_pending_line(a, now, person(a.cashier_id, names)))
        lines.append("")
    desk = with_desk(None, message, view)
    if not payments:
        lines.append(_("No top-ups are waiting for Allpay's final answer."))
        await message.answer("\n".join(lines), reply_markup=desk)
        return
    shown = payments[:PENDING_LIMIT]
    lines.append(_("Top-ups without Allpay's final answer: {count}").format(count=len(payments)))
    if any(p.status is Status.UNKNOWN for p in shown):  # a legend only for what is listed
        lines.append(_("⚠️ — the bot stopped resending: reconcile with Allpay by GUID."))
    lines.append("")
    for p in shown:  # the oldest first: they need attention most
        lines.append(texts.pending_line(p, now, person(p.cashier_id, names)))
    if len(payments) > PENDING_LIMIT:
        lines += [
            "",
            _("…and {count} more: /export has them all.").format(
                count=len(payments) - PENDING_LIMIT
            ),
        ]
    pages = chunks(lines)
    for number, text in enumerate(pages, start=1):
        await message.answer(text, reply_markup=desk if number == len(pages) else None)


async def balance(message: Message, reports: Reports, i18n: I18n, view: View) -> None:
    answer = await reports.balance(i18n.current_locale)
    result = answer.result
    if answer.answer is BalanceAnswer.NOT_CONFIGURED:
        await message.answer(_("The balance service is not configured (ALLPAY_TM_URL is not set)."))
        return
    if result is None:
        await message.answer(_("Allpay did not answer the balance request. Try again in a minute."))
        return
    shown = format_tenge(result.amount) if result.amount is not None else result.raw
    text = _("Agent balance in Allpay: <b>{amount}</b>\nAs of {time}").format(
        amount=escape(shown), time=local_time(result.as_of, view.tz)
    )
    if view.sandbox:  # the sandbox's own figure: no agent's money in it
        text += "\n\n" + sandbox_mark()
    await message.answer(text)


async def recheck(
    message: Message,
    command: CommandObject,
    staff: StaffUser,
    reports: Reports,
    sender: Sender,
    view: View,
) -> None:
    """/recheck <GUID or its first 8+ characters>: the same GUID sent to Allpay once more."""
    query = (command.args or "").strip()
    lookup = parse_lookup(query) if query else None
    if lookup is None or lookup.guid_prefix is None:
        await message.answer(
            _("Usage: /recheck followed by the top-up's GUID or its first 8 characters.")
        )
        return
    found = await reports.find(lookup, None, 2)
    if len(found.payments) != 1:
        text = (
            _("No top-up with that GUID.")
            if not found.payments
            else _("Several top-ups start with «{query}»: give more of the GUID.")
        )
        await message.answer(text.format(query=escape(query[:40])))
        return
    result = await sender.recheck(found.payments[0].guid, staff.user_id)
    payment = result.payment
    if result.outcome is Recheck.NOT_FOUND or payment is None:
        await message.answer(_("No top-up with that GUID."))
        return
    what = texts.pending_subject(payment)
    if result.outcome is Recheck.FINAL:
        text = _("{what}: already {status} by Allpay; nothing to recheck.")
    elif result.outcome is Recheck.BUSY:
        text = _("{what}: being sent to Allpay right now; its answer will come.")
    elif result.outcome is Recheck.ANSWERED:
        text = _("{what}: Allpay's answer is in: {icon} {status}. The cashier is told.")
    else:
        text = _("{what}: still no final answer from Allpay; the bot resends it again from now on.")
    await message.answer(
        text.format(what=what, status=status_label(payment.status), icon=payment.status.icon)
    )
