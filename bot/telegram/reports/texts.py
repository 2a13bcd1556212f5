"""Totals, the daily digest, the waiting top-ups and requests of /pending."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal

from aiogram.utils.i18n import gettext as _

from bot.domain.balance import BalanceAlert
from bot.domain.cash import CashDay
from bot.domain.masking import mask_login
from bot.domain.model import Approval, Payment, Status
from bot.domain.parsing import format_tenge
from bot.domain.reports import Summary, Tally
from bot.telegram.cash.texts import cash_digest
from bot.telegram.shared.texts import (
    age,
    local_time,
    marked,
    person,
    short_guid,
    status_label,
)


def _tally_lines(tallies: Mapping[Status, Tally], indent: str) -> list[str]:
    return [
        f"{indent}{status.icon} {status_label(status)}: {tallies[status].count} · "
        f"{format_tenge(tallies[status].amount)}"
        for status in Status
        if status in tallies
    ]


def summary_text(
    title: str, summary: Summary, names: Mapping[int, str], *, per_cashier: bool
) -> str:
    """Totals by status; per cashier (supervisors) with an overall block at the end."""
    lines = [f"<b>{title}</b>"]
    if summary.empty:
        lines.append(_("No top-ups."))
        return "\n".join(lines)
    if per_cashier:
        for cashier_id in sorted(summary.per_cashier):
            lines += ["", person(cashier_id, names)]
            lines += _tally_lines(summary.per_cashier[cashier_id], "  ")
        lines += ["", _("<b>Total</b>")]
    lines += _tally_lines(summary.overall, "  " if per_cashier else "")
    return "\n".join(lines)


def day_title(day: date) -> str:
    return _("Top-ups on {date}").format(date=f"{day:%d.%m.%Y}")


def digest_title(day: date) -> str:
    return _("📊 Daily digest for {date}").format(date=f"{day:%d.%m.%Y}")


def unresolved_note(count: int) -> str:
    return _("⏳ Without Allpay's final answer now: {count} — see /pending.").format(count=count)


def digest_text(
    day: date,
    summary: Summary,
    names: Mapping[int, str],
    unresolved: int,
    cash: CashDay,
    tz: tzinfo,
    *,
    as_of: datetime | None = None,
) -> str:
    """The daily digest as the supervisors' chats get it at DIGEST_TIME; ``as_of``: the
    day is not over (``/digest`` today), said under the title."""
    text = summary_text(digest_title(day), summary, names, per_cashier=True)
    if as_of is not None:
        title, _rest, body = text.partition("\n")
        so_far = _("So far today: as of {time}.").format(time=f"{as_of.astimezone(tz):%H:%M}")
        text = "\n".join([title, so_far, body] if body else [title, so_far])
    if unresolved:
        text += "\n\n" + unresolved_note(unresolved)
    return text + "\n" + "\n".join(cash_digest(cash, names, tz))


def digest_usage() -> str:
    return _("Usage: /digest [yesterday | YYYY-MM-DD] — today's so far by default.")


def day_not_come(day: date) -> str:
    return _("{date} has not come yet.").format(date=f"{day:%d.%m.%Y}")


def approval_pending_line(approval: Approval, now: datetime, cashier: str) -> str:
    return _("🛂 {amount} · {login} · {cashier} · waiting {age}").format(
        amount=format_tenge(approval.amount),
        login=mask_login(approval.login),
        cashier=cashier,
        age=age((now - approval.created_at).total_seconds()),
    )


def pending_line(payment: Payment, now: datetime, cashier: str) -> str:
    return _(
        "{icon} {amount} · {login} · {guid}\n   {age} · attempts: {attempts} · {cashier}"
    ).format(
        icon=payment.status.icon,
        amount=format_tenge(payment.amount),
        login=mask_login(payment.login),
        guid=f"<code>{short_guid(payment.guid)}</code>",
        age=age((now - payment.created_at).total_seconds()),
        attempts=payment.attempts,
        cashier=cashier,
    )


def pending_subject(payment: Payment) -> str:
    """A payment named for supervisors: amount, masked login, short GUID."""
    return (
        f"{format_tenge(payment.amount)} · {mask_login(payment.login)} · "
        f"<code>{short_guid(payment.guid)}</code>"
    )


def _signed_tenge(amount: Decimal) -> str:
    return format_tenge(amount) if amount >= 0 else "−" + format_tenge(-amount)


def balance_alert_text(alert: BalanceAlert, tz: tzinfo, sandbox: bool) -> str:
    """The balance watch's message: below the mark (with until when it lasts at today's
    pace), or back above it."""
    when = local_time(alert.at, tz)
    amount, mark = _signed_tenge(alert.balance), format_tenge(alert.threshold)
    if not alert.below:
        lines = [
            _("✅ The agent's Allpay balance is back above {mark}: <b>{amount}</b>").format(
                mark=mark, amount=amount
            ),
            _("As of {time}").format(time=when),
        ]
        return "\n".join(marked(lines, sandbox))
    lines = [
        _("⚠️ The agent's Allpay balance is below {mark}: <b>{amount}</b>").format(
            mark=mark, amount=amount
        ),
        _("As of {time}").format(time=when),
        "",
    ]
    cast = alert.forecast
    if alert.balance <= 0:
        lines.append(_("It has run out: Allpay declines top-ups until it is topped up."))
    elif cast.pace is None:
        lines.append(_("No top-up completed today yet: cannot tell how long it lasts."))
    elif cast.runs_out_at is None:
        lines.append(
            _("At today's pace ({pace} an hour) it lasts more than a week.").format(
                pace=format_tenge(cast.pace.quantize(Decimal(1)))
            )
        )
    else:
        local = cast.runs_out_at.astimezone(tz)
        same_day = local.date() == alert.at.astimezone(tz).date()
        lines.append(
            _("At today's pace ({pace} an hour) it lasts about {left}, until {until}.").format(
                pace=format_tenge(cast.pace.quantize(Decimal(1))),
                left=age((cast.runs_out_at - alert.at).total_seconds()),
                until=local.strftime("%H:%M" if same_day else "%d.%m %H:%M"),
            )
        )
    if alert.balance > 0:
        lines.append(_("Top up the agent's balance in Allpay before top-ups are declined."))
    return "\n".join(marked(lines, sandbox))
