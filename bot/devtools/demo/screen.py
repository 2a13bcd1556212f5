"""The demo's screen and its people: who you can be (an admin, a supervisor and a cashier,
each in their own chat with the bot, or in the supervisors' group), the banner, and
:class:`Screen`, which shows every chat's messages and edits, the pop-ups a button press
gets, and which buttons the numbers typed press."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from aiogram.utils.i18n import gettext as _

from bot.config.settings import Settings
from bot.devtools.telegram import ChatMessage, FakeTelegram
from bot.domain.clock import utcnow
from bot.domain.parsing import format_tenge
from bot.infra.files import write_private
from bot.telegram.shared.texts import N_

DEMO_USER_ID = 1001  # the admin: who you are at the start
SUPERVISOR_ID = 1002
CASHIER_ID = 1003
NAMES = {DEMO_USER_ID: "Admin", SUPERVISOR_ID: "Supervisor", CASHIER_ID: "Cashier"}
#: ``/as <persona>``: who you are, each with their own chat with the bot; a persona is named
#: by its role, in English or in the demo's language (``/as кассир``).
ROLES = {CASHIER_ID: N_("cashier"), SUPERVISOR_ID: N_("supervisor"), DEMO_USER_ID: N_("admin")}
SUPERVISORS_CHAT_ID = -1002
#: ``/as group [persona]``: act in the supervisors' group (the supervisor by default).
GROUP = N_("group")
#: The demo's own words for sharing a contact and for a text sent as typed.
CONTACT = N_("contact")
TEXT = N_("text")
APPROVAL_FROM = 100_000
#: When the supervisors' group gets the daily digest in a real deployment (DIGEST_TIME's
#: default); the demo's comes at ``/daily_digest``.
DIGEST_AT = time(21, 0)
DEMO_TOKEN = "123456:DEMO-token-not-a-real-one-000000000000"  # noqa: S105 - the stand-in only
_TAG = re.compile(r"<[^>]+>")


def banner(settings: Settings) -> str:
    """What the demo says first, in its language."""
    now = utcnow().astimezone(settings.tz)
    offset = now.strftime("%z")
    return _(
        "Allpay cash-in bot — terminal demo (no real money; the Allpay sandbox is built in).\n"
        "Type as a cashier would: /cashin, a login, an amount… Bot messages appear below.\n"
        "  1, 2, …   buttons under the latest message: type the number to press one\n"
        "  {contact} +7 700 000 00 01   share a contact\n"
        "  \\{text}     send text that looks like a button number (e.g. \\1)\n"
        "  /as {personas}   be someone else (you start as the {admin});\n"
        "            top-ups from {amount} wait for a supervisor's approval\n"
        "  /as {group} [{admin} | {cashier}]   act in the supervisors' group (as the\n"
        "            {supervisor} by default): press its buttons, send its commands\n"
        "  /digest   (a supervisor or the admin) the daily digest now\n"
        "  /daily_digest   the digest's time comes now: the group gets today's digest,\n"
        "            as every day at {digest_at}\n"
        "  /quit     leave ({eof} works too)\n"
        "Sandbox clients: 77000000001 identified (pending, then completed) · 77000000002 not\n"
        "identified · 77000000003 declined · 77000000004 slow · 77000000005 error 500 first.\n"
        "A button's pop-up shows as «pop-up» or «alert». Times here and in the log are "
        "{zone} time ({offset})."
    ).format(
        contact=_(CONTACT),
        text=_(TEXT),
        personas=personas(),
        group=_(GROUP),
        cashier=_(ROLES[CASHIER_ID]),
        supervisor=_(ROLES[SUPERVISOR_ID]),
        admin=_(ROLES[DEMO_USER_ID]),
        amount=format_tenge(Decimal(APPROVAL_FROM)),
        digest_at=f"{DIGEST_AT:%H:%M}",
        eof="Ctrl-D",
        zone=settings.timezone,
        offset=f"UTC{offset[:3]}:{offset[3:]}",
    )


def personas() -> str:
    """``cashier | supervisor | admin`` in the demo's language."""
    return " | ".join(_(role) for role in ROLES.values())


def means(word: str, msgid: str) -> bool:
    """``word`` is the demo's word ``msgid``, in English or in the demo's language."""
    return word.casefold() in {msgid.casefold(), _(msgid).casefold()}


def plain(text: str) -> str:
    """Telegram HTML as a terminal shows it."""
    return html.unescape(_TAG.sub("", text))


@dataclass(frozen=True)
class Seat:
    """Who you are and where: a persona in their own chat, or in the supervisors' group."""

    user_id: int
    chat_id: int

    @property
    def in_group(self) -> bool:
        return self.chat_id == SUPERVISORS_CHAT_ID


@dataclass
class Screen:
    """What has been shown, and which buttons the numbers press now."""

    out: TextIO
    files: Path
    seen: dict[tuple[int, int], int] = field(default_factory=dict)  # (chat, id) -> edits shown
    buttons: list[tuple[ChatMessage, str]] = field(default_factory=list)
    menu: list[list[str]] | None = None
    current: int = DEMO_USER_ID  # the chat whose buttons the numbers press
    answers_shown: int = 0  # Telegram's callback answers (pop-ups) shown so far

    def write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def title(self, chat_id: int) -> str:
        if chat_id == SUPERVISORS_CHAT_ID:
            return _("supervisors")
        if chat_id == self.current:
            return _("bot")
        return _("bot → {who}").format(who=_(ROLES[chat_id]))

    def show(self, message: ChatMessage) -> None:
        key = (message.chat_id, message.message_id)
        edited = key in self.seen
        self.seen[key] = message.edits
        who = self.title(message.chat_id)
        if edited:
            who = _("{who} (edited)").format(who=who)
        self.write(f"── {who} ──")
        if message.text:
            self.write(plain(message.text))
        if message.document is not None:
            name, data = message.document
            target = self.files / Path(name).name
            write_private(target, data)  # exports carry client logins
            self.write(
                _("📎 {name} ({size} bytes) saved to {path}").format(
                    name=name, size=len(data), path=target
                )
            )
        if message.chat_id == self.current and message.buttons:
            # Buttons a number presses; a web_app one (the desk) opens in a browser instead.
            self.buttons = [(message, label) for label, data in message.callback_buttons if data]
            if self.buttons:
                self.write_buttons()
        elif self.buttons and self.buttons[0][0] is message:
            self.buttons = []  # its buttons are gone
        if (
            message.chat_id == self.current
            and message.reply_keyboard
            and message.reply_keyboard != self.menu
        ):
            self.menu = message.reply_keyboard
            self.write("   " + _("menu: {buttons}").format(buttons=" | ".join(_menu(self.menu))))

    def write_buttons(self) -> None:
        self.write(
            "   " + "   ".join(f"[{n}] {label}" for n, (_m, label) in enumerate(self.buttons, 1))
        )

    def refresh(self, tg: FakeTelegram) -> None:
        for chat_id in (*NAMES, SUPERVISORS_CHAT_ID):
            for message in tg.messages(chat_id):
                shown = self.seen.get((chat_id, message.message_id))
                if shown is None or shown != message.edits:
                    self.show(message)
        answers = list(tg.callback_answers.items())
        for query_id, params in answers[self.answers_shown :]:
            self.pop_up(tg, query_id, params)
        self.answers_shown = len(answers)

    def pop_up(self, tg: FakeTelegram, query_id: str, params: dict[str, Any]) -> None:
        """A callback answer with a text: Telegram's pop-up over the chat (an alert waits
        for OK); only its presser sees it."""
        text = str(params.get("text") or "")
        if not text:
            return  # a silent answer: the button only stops spinning
        presser = tg.presses.get(query_id, (0, 0))[0]
        who = _(ROLES[presser]) if presser in ROLES else str(presser)
        alert = str(params.get("show_alert", "")).lower() in {"true", "1"}
        head = _("alert ({who})") if alert else _("pop-up ({who})")
        self.write(f"── {head.format(who=who)} ──")
        self.write(text)

    def become(self, tg: FakeTelegram, seat: Seat) -> None:
        """Switch seat: the numbers now press the buttons of that chat's latest message."""
        self.current = seat.chat_id
        self.menu = None
        mine = [m for m in tg.messages(seat.chat_id) if m.buttons]
        self.buttons = (
            [(mine[-1], label) for label, data in mine[-1].callback_buttons if data] if mine else []
        )
        who = _(ROLES[seat.user_id])
        if seat.in_group:
            said = _("you are now the {who} in the supervisors' group").format(who=who)
        else:
            said = _("you are now the {who}").format(who=who)
        self.write(f"── {said} ──")
        if self.buttons:
            self.write_buttons()


def _menu(rows: list[list[str]]) -> list[str]:
    return [button for row in rows for button in row]


def parse_seat(words: list[str]) -> Seat | None:
    """``/as <persona>`` or ``/as group [persona]``: the seat; None if it names none."""
    if not words or len(words) > 2:
        return None
    in_group = means(words[0], GROUP)
    names = words[1:] if in_group else words
    if len(names) > 1 or (not in_group and not names):
        return None
    if not names:
        return Seat(SUPERVISOR_ID, SUPERVISORS_CHAT_ID)
    found = [uid for uid, role in ROLES.items() if means(names[0], role)]
    if not found:
        return None
    return Seat(found[0], SUPERVISORS_CHAT_ID if in_group else found[0])
