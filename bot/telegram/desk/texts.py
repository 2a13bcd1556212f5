"""Every word the desk's page shows, served by the API in the reader's language
(``GET …/api/me``) out of the bot's gettext catalogs, so ``tools/i18n.py check`` covers them.
The page inserts them, and everything else from outside, as text, never as HTML."""

from __future__ import annotations

from aiogram.utils.i18n import I18n

from bot.telegram.approvals.texts import REJECT_REASONS
from bot.telegram.shared.texts import N_

#: key → msgid (English). Keys are the page's; ``{…}`` placeholders it fills in.
TEXTS: dict[str, str] = {
    "title": N_("Supervisor's desk"),
    "tab_today": N_("Today"),
    "tab_now": N_("Now"),
    "tab_find": N_("Find"),
    "tab_balance": N_("Balance"),
    "top_ups": N_("Top-ups"),
    "sum": N_("Amount"),
    "fees": N_("Fees"),
    "cash_accepted": N_("Cash accepted"),
    "status_completed": N_("completed"),
    "status_pending": N_("pending"),
    "status_new": N_("sending"),
    "status_declined": N_("declined"),
    "status_unknown": N_("needs reconciliation"),
    "per_hour": N_("Top-ups per hour: today and the average of the 7 days before"),
    "legend_day": N_("this day"),
    "legend_average": N_("7-day average"),
    "per_cashier": N_("Per cashier"),
    "nothing": N_("Nothing here."),
    "unresolved": N_("Top-ups without Allpay's final answer"),
    "attempts": N_("attempts: {n}"),
    "age": N_("{minutes} min ago"),
    "approvals": N_("Approval requests"),
    "not_identified": N_("⚠️ The client's wallet is not identified"),
    "approve": N_("✅ Approve"),
    "reject": N_("❌ Reject"),
    "own_request": N_("Your own request: another supervisor decides it."),
    "reason_question": N_("Reason for the cashier (optional):"),
    "handovers": N_("Cash handovers waiting"),
    "received": N_("👍 Received {amount}"),
    "not_received": N_("🚫 Nothing received"),
    "another_amount": N_("✏️ Another amount"),
    "error_not_sent": N_(
        "The bot cannot write to your chat: open your chat with the bot, press Start, and "
        "try again."
    ),
    "error_bad_amount": N_("Enter the amount in digits, for example 5000 or 5 000."),
    "cash_on_hand": N_("Cash on hand"),
    "unresolved_cash": N_("kept apart: {amount}"),
    "search": N_("GUID, its beginning, or the client's login"),
    "find": N_("Find"),
    "any_cashier": N_("Any cashier"),
    "any_status": N_("Any status"),
    "send_receipt": N_("Send the receipt to my chat"),
    "send_export": N_("Send the day's export to my chat"),
    "done_sent": N_("Sent to your chat with the bot."),
    "client": N_("Client"),
    "cashier": N_("Cashier"),
    "created": N_("Created"),
    "receipt_no": N_("Receipt"),
    "fee": N_("Fee"),
    "allpay_says": N_("Allpay says"),
    "back": N_("Back"),
    "balance": N_("The agent's balance in Allpay"),
    "as_of": N_("as of {time}"),
    "spent_today": N_("Sent today"),
    "lasts_until": N_("At today's pace it lasts until {time}"),
    "pace_unknown": N_("Too early today to tell how long it lasts."),
    "balance_out": N_("The balance is used up: top-ups will be declined."),
    "balance_not_configured": N_(
        "The balance is not available: the bot is not set up to ask Allpay for it."
    ),
    "balance_no_answer": N_("Allpay did not answer. Try again in a minute."),
    "stale": N_("Connection lost — last updated {time}"),
    "reopen": N_("This desk has expired or is not yours. Close it and open it again from the bot."),
    "forbidden": N_("The desk is for active supervisors and admins only."),
    "done_approved": N_("Approved: sending to Allpay."),
    "done_rejected": N_("Rejected."),
    "done_already": N_("Already decided by someone else."),
    "done_expired": N_("Too late: the request has expired."),
    "done_refused": N_("Not sent: over a daily limit; the cashier is told to give the cash back."),
    "done_unrecorded": N_("Our records are not answering: try again in a minute."),
    "done_confirmed": N_("Received."),
    "done_disputed": N_("Marked as not received."),
    "done_not_yours": N_("This handover is addressed to another supervisor."),
    "done_self": N_("You cannot approve your own top-up."),
    "done_reason": N_("The cashier will see the reason."),
    "sandbox": N_("SANDBOX — no real money"),
}


def desk_texts(i18n: I18n, locale: str) -> dict[str, str]:
    """The page's words in ``locale``, and the rejection reasons by code."""
    words = {key: i18n.gettext(msgid, locale=locale) for key, msgid in TEXTS.items()}
    for code, msgid in REJECT_REASONS.items():
        words[f"reason_{code}"] = i18n.gettext(msgid, locale=locale)
    return words
