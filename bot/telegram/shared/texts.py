"""The words every feature uses: times, GUIDs, people, statuses, roles, ages, the sandbox
mark, and a long text cut into messages Telegram accepts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from html import escape

from aiogram.utils.i18n import gettext as _

from bot.domain.model import Payment, Role, Status


def N_(msgid: str) -> str:
    """Marks a message for extraction; translated where it is shown (and matched)."""
    return msgid


def local_time(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%d.%m.%Y %H:%M:%S")


def short_guid(guid: str) -> str:
    return guid.strip("{}")[:8]


def sandbox_mark() -> str:
    """The line every card, status, receipt and balance ends with while the embedded sandbox
    runs (``settings.uses_sandbox``): nothing there is real money."""
    return "🧪 " + _("SANDBOX — no real money")


def marked(lines: list[str], sandbox: bool) -> list[str]:
    return [*lines, "", sandbox_mark()] if sandbox else lines


_SEPARATORS = " \t:;,.—–-"


def unrepeated(message: str | None, head: str) -> str:
    """Allpay's own words, without what our head line already says: its "Top-up declined:
    the wallet is blocked" under "❌ Top-up declined" is shown as "The wallet is blocked"
    (empty when it says nothing more). Allpay answers in the top-up's language, which is
    the cashier's, so the head is compared in the language shown (and in English)."""
    text = (message or "").strip()
    for said in (head, "❌ Top-up declined"):
        said = said.lstrip("❌ ").strip()
        if said and text[: len(said)].casefold() == said.casefold():
            rest = text[len(said) :].lstrip(_SEPARATORS)
            return rest[:1].upper() + rest[1:]
    return text


def status_label(status: Status) -> str:
    return {
        Status.NEW: _("sending"),
        Status.PENDING: _("pending"),
        Status.COMPLETED: _("completed"),
        Status.DECLINED: _("declined"),
        Status.UNKNOWN: _("needs reconciliation"),
    }[status]


def role_label(role: Role) -> str:
    return {
        Role.ADMIN: _("admin"),
        Role.SUPERVISOR: _("supervisor"),
        Role.CASHIER: _("cashier"),
    }[role]


def person(user_id: int | None, names: Mapping[int, str]) -> str:
    """``Name (id)`` for staff, escaped for HTML; the bot itself for None."""
    if user_id is None:
        return _("the bot")
    name = names.get(user_id)
    return f"{escape(name)} ({user_id})" if name else str(user_id)


def receipt_number(payment: Payment) -> str:
    return f"{payment.receipt_no or 0:06d}"


def age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("{days} d {hours} h").format(days=hours // 24, hours=hours % 24)


TELEGRAM_TEXT_LIMIT = 4096


def chunks(lines: list[str], limit: int = TELEGRAM_TEXT_LIMIT - 96) -> list[str]:
    """Join lines into as few messages as Telegram's length limit allows."""
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + len(line) + 1 > limit:
            messages.append("\n".join(current))
            current, size = [], 0
        current.append(line[:limit])
        size += len(line) + 1
    if current:
        messages.append("\n".join(current))
    return messages


def temporarily_unavailable() -> str:
    """A step that could not be handled because a part of the bot is away."""
    return _(
        "⏳ Temporarily unavailable — nothing was sent to Allpay. Please try again in a minute."
    )
