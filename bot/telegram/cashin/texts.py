"""What the cash-in conversation says: the client, the card, the day's limits, and what
becomes of a confirm that could not be recorded."""

from __future__ import annotations

import re
from decimal import Decimal
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.domain.clients import Client
from bot.domain.limits import LimitKind, LimitRefusal
from bot.domain.masking import mask_iin
from bot.domain.model import Draft
from bot.domain.parsing import format_login, format_tenge
from bot.telegram.shared.texts import marked, sandbox_mark


def client_card(login: str, client: Client, *, sandbox: bool = False) -> str:
    lines = [
        _("Client: <b>{name}</b>").format(name=escape(client.name)),
        _("Login: {login}").format(login=format_login(login)),
        _("Identified: yes") if client.identified else _("Identified: no"),
    ]
    if client.masked_iin:
        lines.append(_("IIN: {iin}").format(iin=client.masked_iin))
    if not client.identified:
        lines.append(
            _(
                "⚠️ The wallet is not identified: Allpay may refuse larger amounts "
                "(limits for unidentified wallets)."
            )
        )
    return "\n".join(marked(lines, sandbox))


def lookup_refused(code: str | None, message: str | None) -> str:
    """Allpay answered the client lookup with a SOAP Fault. Faults are unsigned (anyone on the
    way can write one): the bot says what happened in its own words, with the fault code;
    the Fault's text, if any, is quoted as unverified — never as Allpay's word."""
    lines = [
        _(
            "⚠️ The client lookup failed: Allpay answered with an error (code {code}). Nothing "
            "was paid. Check the login and try again."
        ).format(code=f"<code>{escape(code or '—')}</code>")
    ]
    if message:
        # The bot never shows an IIN whole, whoever wrote it.
        shown = _IIN_SHAPED.sub(lambda m: mask_iin(m.group()), message)
        lines.append(
            _(
                "The error's text is not signed by Allpay and is unverified — do not act on "
                "it: «{text}»"
            ).format(text=escape(shown))
        )
    return "\n".join(lines)


_IIN_SHAPED = re.compile(r"(?<!\d)\d{12}(?!\d)")


def confirm_card(
    draft: Draft, fee: Decimal, *, approval: bool = False, sandbox: bool = False
) -> str:
    """The last look before money moves: who, how much, and the cash to take — its last line,
    right above the button (the sandbox's mark goes under the title). With ``approval`` it
    says, before the cash, that a supervisor decides first."""
    assert draft.amount is not None, "a card is shown for a draft with its amount"
    lines = [
        _("Check and confirm the top-up:"),
        *([sandbox_mark()] if sandbox else []),
        "",
        _("Client: <b>{name}</b>").format(name=escape(draft.client_name)),
        _("Login: {login}").format(login=format_login(draft.login)),
    ]
    if draft.masked_iin:
        lines.append(_("IIN: {iin}").format(iin=escape(draft.masked_iin)))
    lines.append(_("Identified: yes") if draft.identified else _("Identified: no"))
    lines.append(_("Amount: <b>{amount}</b>").format(amount=format_tenge(draft.amount)))
    if fee:
        lines.append(_("Fee: {amount}").format(amount=format_tenge(fee)))
    cash = format_tenge(draft.amount + fee)
    if approval:
        lines += [
            "",
            _("🛂 This amount is sent to Allpay only if a supervisor approves it first."),
            _(
                "💵 Take {amount} in cash from the client, then tap «Confirm and ask for "
                "approval». If it is not approved, give the cash back."
            ).format(amount=cash),
        ]
        return "\n".join(lines)
    lines += [
        "",
        _("💵 Take {amount} in cash from the client, then tap «Confirm».").format(amount=cash),
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- money controls


def limit_refusal(refusal: LimitRefusal) -> str:
    if refusal.kind is LimitKind.CASHIER_COUNT:
        return ngettext(
            "⛔ You have made your {limit} top-up for today: that is the daily limit.",
            "⛔ You have made your {limit} top-ups for today: that is the daily limit.",
            int(refusal.limit),
        ).format(limit=int(refusal.limit))
    if refusal.kind is LimitKind.CASHIER_SUM:
        return _("⛔ Over your daily limit of {limit}: {left} left today.").format(
            limit=format_tenge(refusal.limit), left=format_tenge(refusal.left)
        )
    return _(
        "⛔ Over this client's daily limit of {limit}: {left} left today for this wallet."
    ).format(limit=format_tenge(refusal.limit), left=format_tenge(refusal.left))


def _renews() -> str:
    return _("The limit renews at 00:00.")


def limit_used_up(limit: LimitRefusal) -> str:
    """A daily limit nothing fits in any more today: said at /cashin (the cashier's own) or
    at the login (the client's), with what is left and when it renews."""
    if limit.kind is LimitKind.CASHIER_COUNT:
        head = limit_refusal(limit)
    elif limit.kind is LimitKind.CASHIER_SUM:
        head = _("⛔ Your daily limit of {limit} is used up: {left} left today.").format(
            limit=format_tenge(limit.limit), left=format_tenge(limit.left)
        )
    else:
        head = _(
            "⛔ This client's daily limit of {limit} is used up: {left} left today for this wallet."
        ).format(limit=format_tenge(limit.limit), left=format_tenge(limit.left))
    return head + " " + _renews()


def limit_left(limit: LimitRefusal) -> str:
    """What a daily sum limit leaves today, shown with the amount prompt."""
    if limit.kind is LimitKind.CLIENT_SUM:
        text = _("Left today: {left} (this client's daily limit; it renews at 00:00).")
    else:
        text = _("Left today: {left} (your daily limit; it renews at 00:00).")
    return text.format(left=format_tenge(limit.left))


def no_other_decider(threshold: Decimal) -> str:
    """A top-up that needs an approval nobody but the cashier could give: refused at the
    amount step, before any card says to take the cash."""
    return _(
        "🛂 From {threshold} a top-up needs another person's approval, and there is no active "
        "supervisor or admin besides you to give it. Enter an amount below {threshold}, or "
        "/cancel and ask an admin to add a supervisor."
    ).format(threshold=format_tenge(threshold))


def confirm_unrecorded() -> str:
    """A confirm the journal did not answer: the cashier must not start a second top-up."""
    return "\n".join(
        [
            _("⚠️ Our records are not answering right now: this top-up is not confirmed yet."),
            _(
                "Do not take more cash and do not start it again. If it was recorded, this "
                "message shows its status by itself within a minute; if not, tap "
                "«🔄 Try again» in a minute."
            ),
        ]
    )


def top_up_cancelled(*, cash_asked: bool = True) -> str:
    """A top-up ended by the cashier before anything was sent."""
    if not cash_asked:
        return _("✖️ Top-up cancelled. Nothing was sent to Allpay.")
    return _("✖️ Top-up cancelled. Nothing was sent to Allpay: give the cash back if you took it.")


def use_the_card() -> str:
    """Text typed while the confirmation card waits for a tap."""
    return _(
        "The top-up waits on the card above: tap «✅ Confirm», «✏️ Change amount» or "
        "«✖️ Cancel» there."
    )
