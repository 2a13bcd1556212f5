"""Paper money in words: a cashier's cash on hand, the supervisors' cash book, the
handover's questions and its lines in the digest."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from decimal import Decimal
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.domain.cash import CashDay, CashPosition, Handover, HandoverState
from bot.domain.parsing import format_tenge
from bot.telegram.shared.texts import local_time, person, receipt_number, status_label


def handover_number(handover: Handover) -> str:
    return f"#{handover.id}"


def variance_line(handover: Handover) -> str:
    variance = handover.variance
    if variance < 0:
        return _("Shortage: {amount}").format(amount=format_tenge(-variance))
    if variance > 0:
        return _("Surplus: {amount}").format(amount=format_tenge(variance))
    return _("No difference.")


def _open_variance_lines(
    position: CashPosition, indent: str = "", *, own: bool = False
) -> list[str]:
    """Each difference not yet written off, and whom it stays on: ``own`` says it to the
    cashier (their /cash), otherwise to supervisors (the book, the digest)."""
    lines = []
    for handover in position.open_variances:
        if handover.variance < 0 and own:
            text = _(
                "⚠️ Open shortage {amount} (handover {number}): counted on you until a "
                "supervisor writes it off."
            )
        elif handover.variance < 0:
            text = _(
                "⚠️ Open shortage {amount} (handover {number}): owed by the cashier until a "
                "supervisor writes it off."
            )
        elif own:
            text = _(
                "➕ Open surplus {amount} (handover {number}): held for you until a "
                "supervisor writes it off."
            )
        else:
            text = _(
                "➕ Open surplus {amount} (handover {number}): held for the cashier until a "
                "supervisor writes it off."
            )
        amount = format_tenge(abs(handover.variance))
        lines.append(indent + text.format(amount=amount, number=handover_number(handover)))
    return lines


def cash_own(position: CashPosition, tz: tzinfo, limit: int = 30) -> str:
    """A cashier's /cash: the cash they hold and the top-ups it comes from."""
    lines = [_("💵 <b>Cash on hand: {amount}</b>").format(amount=format_tenge(position.collected))]
    if position.since is not None and not position.count:
        lines.append(
            _("No completed top-ups since the handover of {time}.").format(
                time=local_time(position.since, tz)
            )
        )
    elif position.since is not None:
        lines.append(
            ngettext(
                "From {count} completed top-up since the handover of {time}.",
                "From {count} completed top-ups since the handover of {time}.",
                position.count,
            ).format(count=position.count, time=local_time(position.since, tz))
        )
    elif not position.count:
        lines.append(_("No completed top-ups yet."))
    else:
        lines.append(
            ngettext(
                "From {count} completed top-up; no handover yet.",
                "From {count} completed top-ups; no handover yet.",
                position.count,
            ).format(count=position.count)
        )
    for payment in position.payments[-limit:]:
        lines.append(
            f"· {payment.created_at.astimezone(tz):%d.%m %H:%M} {format_tenge(payment.cash)} · "
            f"{escape(payment.client_name)} · {receipt_number(payment)}"
        )
    if len(position.payments) > limit:
        lines.append(_("…and {count} earlier ones.").format(count=len(position.payments) - limit))
    if position.waiting is not None:
        lines += ["", handover_waiting_line(position.waiting)]
    variances = _open_variance_lines(position, own=True)
    if variances:
        lines += ["", *variances]
    if position.unresolved_count:
        lines += [
            "",
            ngettext(
                "⏳ Not counted: {count} top-up of {amount} without Allpay's final answer yet.",
                "⏳ Not counted: {count} top-ups of {amount} without Allpay's final answer yet.",
                position.unresolved_count,
            ).format(count=position.unresolved_count, amount=format_tenge(position.unresolved)),
        ]
        for payment in position.unresolved_payments[:limit]:
            lines.append(
                f"· {payment.created_at.astimezone(tz):%d.%m %H:%M} {format_tenge(payment.cash)} "
                f"· {payment.status.icon} {status_label(payment.status)}"
            )
    if position.collected and position.waiting is None:
        lines += ["", _("To hand the cash over to a supervisor: /handover")]
    return "\n".join(lines)


def handover_waiting_line(handover: Handover) -> str:
    return _("🤝 Handover {number} of {amount} waits for a supervisor.").format(
        number=handover_number(handover), amount=format_tenge(handover.declared or Decimal(0))
    )


def handover_waiting_reply(handover: Handover) -> str:
    """/handover while one waits, in reply to its message (the one that shows its answer)."""
    return "\n".join(
        [
            handover_waiting_line(handover),
            _("The answer comes in its message above; you can withdraw it there."),
        ]
    )


def cash_book(positions: list[CashPosition], names: Mapping[int, str], tz: tzinfo) -> str:
    """A supervisor's /cash: every cashier's paper money and the total."""
    lines = [_("💵 <b>Cash on hand</b>")]
    if not positions:
        lines.append(_("No cashier holds cash from top-ups."))
        return "\n".join(lines)
    for position in positions:
        lines += ["", cash_book_line(position, names, tz)]
        if position.waiting is not None:
            lines.append("  " + handover_waiting_line(position.waiting))
        lines += _open_variance_lines(position, "  ")
        if position.unresolved_count:
            lines.append(
                "  "
                + ngettext(
                    "⏳ not counted: {count} top-up of {amount} without a final answer",
                    "⏳ not counted: {count} top-ups of {amount} without a final answer",
                    position.unresolved_count,
                ).format(count=position.unresolved_count, amount=format_tenge(position.unresolved))
            )
    total = sum((p.collected for p in positions), Decimal(0))
    lines += ["", _("<b>Total: {amount}</b>").format(amount=format_tenge(total))]
    return "\n".join(lines)


def cash_book_line(position: CashPosition, names: Mapping[int, str], tz: tzinfo) -> str:
    since = (
        _("since {time}").format(time=local_time(position.since, tz))
        if position.since is not None
        else _("no handover yet")
    )
    count = ngettext("{count} top-up", "{count} top-ups", position.count).format(
        count=position.count
    )
    return (
        f"{person(position.cashier_id, names)}: <b>{format_tenge(position.collected)}</b> · "
        f"{count} · {since}"
    )


def handover_prompt(position: CashPosition) -> str:
    if position.collected:
        head = ngettext(
            "💵 By our records you hold {amount} from {count} completed top-up.",
            "💵 By our records you hold {amount} from {count} completed top-ups.",
            position.count,
        ).format(amount=format_tenge(position.collected), count=position.count)
    else:
        head = _("💵 By our records you hold no cash from top-ups.")
    lines = [head]
    if position.unresolved_count:
        lines.append(
            _(
                "⏳ Keep the {amount} of top-ups without Allpay's final answer apart: it is not "
                "part of the handover."
            ).format(amount=format_tenge(position.unresolved))
        )
    lines.append(_("Count the cash you hand over and send the amount, for example 50000."))
    return "\n".join(lines)


def handover_receiver_prompt(amount: Decimal) -> str:
    return _("Who receives {amount}?").format(amount=format_tenge(amount))


def write_off_line(handover: Handover, names: Mapping[int, str]) -> str:
    return _("✔️ {who} wrote off the difference of {amount}. Reason: {reason}").format(
        who=person(handover.written_off_by, names),
        amount=format_tenge(abs(handover.variance)),
        reason=escape(handover.write_off_reason or ""),
    )


def handover_state_word(state: HandoverState) -> str:
    return {
        HandoverState.DECLARED: _("waiting"),
        HandoverState.CONFIRMED: _("received"),
        HandoverState.DISPUTED: _("nothing received"),
        HandoverState.WITHDRAWN: _("withdrawn"),
    }[state]


def handover_state_label(handover: Handover, names: Mapping[int, str]) -> str:
    who = person(handover.decided_by, names)
    return {
        HandoverState.DECLARED: _("waiting"),
        HandoverState.CONFIRMED: _("received by {who}").format(who=who),
        HandoverState.DISPUTED: _("not received by {who}").format(who=who),
        HandoverState.WITHDRAWN: _("withdrawn"),
    }[handover.state]


def cash_digest(day: CashDay, names: Mapping[int, str], tz: tzinfo) -> list[str]:
    """The digest's paper-money part: cash on hand per cashier now, the day's handovers."""
    lines = ["", _("<b>💵 Cash on hand now</b>")]
    holding = [p for p in day.positions if p.collected or p.open_variances or p.waiting]
    if not holding:
        lines.append(_("No cashier holds cash from top-ups."))
    for position in holding:
        lines.append(cash_book_line(position, names, tz))
        lines += _open_variance_lines(position, "  ")
    total = sum((p.collected for p in day.positions), Decimal(0))
    lines.append(_("<b>Total: {amount}</b>").format(amount=format_tenge(total)))
    lines += ["", _("<b>🤝 Handovers of the day</b>")]
    if not day.handovers:
        lines.append(_("None."))
    for handover in day.handovers:
        lines.append(handover_digest_line(handover, names))
    return lines


def handover_count(received: Decimal, expected: Decimal) -> str:
    """A supervisor's count against our records (the digest, the audit trail): a shortage
    is received "of" what was expected, a surplus "instead of" it; each with its size."""
    amounts = {"received": format_tenge(received), "expected": format_tenge(expected)}
    difference = format_tenge(abs(received - expected))
    if received > expected:
        return _("received {received} instead of {expected} (surplus {difference})").format(
            difference=difference, **amounts
        )
    if received < expected:
        return _("received {received} of {expected} (shortage {difference})").format(
            difference=difference, **amounts
        )
    return _("received {received} of {expected}").format(**amounts)


def handover_digest_line(handover: Handover, names: Mapping[int, str]) -> str:
    head = f"{handover_number(handover)} {person(handover.cashier_id, names)}: "
    if handover.state is HandoverState.CONFIRMED:
        line = head + handover_count(handover.received or Decimal(0), handover.expected)
        if handover.written_off_at is not None:
            line += " · " + _("written off")
        return line
    return head + handover_state_label(handover, names)
