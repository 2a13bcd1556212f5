"""What /cancel tells of the work it ended."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from bot.domain.model import Payment, WorkEnded
from bot.domain.parsing import format_tenge
from bot.telegram.cashin.texts import top_up_cancelled
from bot.telegram.shared.texts import status_label


def sent_line(payment: Payment) -> str:
    """A top-up already with Allpay, for its own cashier: icon, amount, status, time."""
    return f"{payment.status.icon} {format_tenge(payment.amount)} · {status_label(payment.status)}"


def work_ended(ended: WorkEnded) -> str:
    """What /cancel ended, and what it could not: only top-ups still without Allpay's final
    word (⏳, ⚠️) — never the ones that are done."""
    lines: list[str] = []
    if ended.top_ups:
        lines.append(top_up_cancelled(cash_asked=ended.cash_asked))
    if ended.requests:
        lines.append(
            _("🚫 Approval request withdrawn. Nothing was sent to Allpay: give the cash back.")
        )
    if ended.handovers:
        lines.append(_("↩️ Cash handover withdrawn: the cash is still counted on you."))
    if ended.unfinished:
        lines.append(
            _(
                "⚠️ Already sent to Allpay and still without its final answer: it cannot be "
                "cancelled. Keep the cash; the result comes in the top-up's own message:"
            )
        )
        lines += [sent_line(payment) for payment in ended.unfinished[:5]]
    return "\n".join(lines) if lines else _("Nothing to cancel.")
