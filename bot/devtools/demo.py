"""``python -m bot demo``: the real bot in a terminal, no token and no internet needed.

Everything real runs: the Dispatcher and handlers, the journal, resolver and outbox, the
Allpay client against the embedded signed sandbox, all over HTTP on loopback. Only Telegram is
played by the Bot API stand-in (:mod:`bot.devtools.telegram`); this module is its screen and
keyboard. You play three people in turn — an admin, a supervisor and a cashier (``/as``) —
each in their own chat with the bot or in the supervisors' group (``/as group``), so an
approval, a report and an export can be tried end to end. Every top-up of 100 000 ₸ or more
waits for a supervisor's approval.

What a person would see is shown: every chat's messages and edits, the pop-ups a button press
gets (Telegram's callback answers), the daily digest (``/digest``, the bot's command; and
``/daily_digest``, the group's digest as at DIGEST_TIME). The screen speaks the demo's
language (``--lang``); its times and the log lines' are TIMEZONE's.

Each line typed (or piped in: ``printf '/help\\n/quit\\n' | python -m bot demo``) is taken
after the bot has answered the one before: its update handled, the outbox's due messages
delivered, no top-up being sent. Input that is not a terminal also waits at its end for the
top-ups still waiting for Allpay's final answer (at most :data:`FINAL_WAIT` seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from aiogram.utils.i18n import gettext as _

from bot.app import announce, build_app
from bot.config import Settings
from bot.devtools.telegram import ChatMessage, FakeTelegram
from bot.domain.clock import utcnow
from bot.domain.model import OPEN_STATUSES
from bot.domain.parsing import format_tenge
from bot.files import write_private
from bot.logs import log_times_in
from bot.running import App
from bot.store.db import Tx
from bot.store.outbox import Outbox
from bot.store.payments import Payments
from bot.telegram.shared.texts import N_
from bot.usecases.digest import DigestScheduler

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

#: How long the screen waits for the bot after a line before taking the next one anyway (a
#: slow Allpay answer is shown when it comes), and how long nothing must change meanwhile.
SETTLE_LIMIT = 15.0
QUIET = 0.3
#: Outbox messages due within this are waited for (the feed holds an item half a second).
SOON = timedelta(seconds=2)
#: At the end of piped input: the longest wait for top-ups without Allpay's final answer.
FINAL_WAIT = 30.0


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
        personas=_personas(),
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


def _personas() -> str:
    """``cashier | supervisor | admin`` in the demo's language."""
    return " | ".join(_(role) for role in ROLES.values())


def _means(word: str, msgid: str) -> bool:
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
            self.buttons = [(message, label) for label, _data in message.callback_buttons]
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
            [(mine[-1], label) for label, _data in mine[-1].callback_buttons] if mine else []
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


def _reader(queue: asyncio.Queue[str | None], loop: asyncio.AbstractEventLoop, src: TextIO) -> None:
    """A daemon thread: a blocked read of the terminal never holds up the exit."""
    for line in src:
        loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
    loop.call_soon_threadsafe(queue.put_nowait, None)


def demo_settings(folder: Path, telegram_url: str, language: str) -> Settings:
    values: dict[str, Any] = {
        "bot_token": DEMO_TOKEN,
        "telegram_api_url": telegram_url,
        "allpay_url": None,  # always the sandbox, whatever the environment says
        "allpay_sandbox": True,
        "webhook_url": None,
        "web_enabled": False,
        "database_url": f"sqlite:///{folder / 'demo.sqlite3'}",
        "admin_ids": [DEMO_USER_ID],
        "supervisor_ids": [SUPERVISOR_ID],
        "cashier_ids": [CASHIER_ID],
        "supervisor_chat_ids": [SUPERVISORS_CHAT_ID],
        "approval_threshold": APPROVAL_FROM,
        "default_language": language,
        "allpay_timeout": 5.0,
        "pending_retry_min": 1.0,
        "pending_retry_max": 5.0,
        "digest_time": None,  # the demo's digest comes at /daily_digest
    }
    return Settings(_env_file=None, **values)


async def run_demo(
    language: str,
    folder: Path | None = None,
    *,
    src: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> int:
    with contextlib.ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cashin-demo-")))
        tg = FakeTelegram()
        await tg.start()
        try:
            settings = demo_settings(folder, tg.base_url, language)
            log_times_in(settings.tz)  # as the messages show times
            async with build_app(settings) as app:
                await announce(app)
                polling = asyncio.create_task(app.intake.poll(timeout=1), name="polling")
                try:
                    with app.i18n.context(), app.i18n.use_locale(language):
                        await Demo(app, tg, Screen(out, folder / "files"), src).converse()
                finally:
                    polling.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await polling
        finally:
            await tg.close()
    return 0


class Demo:
    """The conversation: lines in, one at a time, each after the bot's answers to the last."""

    def __init__(self, app: App, tg: FakeTelegram, screen: Screen, src: TextIO) -> None:
        self.app = app
        self.tg = tg
        self.screen = screen
        self.src = src
        self.interactive = _is_terminal(src)
        language = app.settings.default_language
        self.users = {uid: FakeTelegram.user(uid, name, language) for uid, name in NAMES.items()}
        self.started = {DEMO_USER_ID}
        self.seat = Seat(DEMO_USER_ID, DEMO_USER_ID)
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.version = 0

    async def converse(self) -> None:
        self.screen.write(banner(self.app.settings))
        threading.Thread(
            target=_reader, args=(self.queue, asyncio.get_running_loop(), self.src), daemon=True
        ).start()
        await self.settle(self.tg.send_text(self.users[DEMO_USER_ID], "/start"))
        while True:
            line = await self.next_line()
            if line is None or line.strip() in {"/quit", "/exit"}:
                if not self.interactive:  # a script's last top-ups get their answer
                    await self.settle(None, final=True)
                self.screen.write(_("bye"))
                return
            await self.settle(await self.act(line))

    async def next_line(self) -> str | None:
        """The next line typed, the screen kept up to date meanwhile."""
        line_task = asyncio.create_task(self.queue.get())
        try:
            while not line_task.done():
                change = asyncio.create_task(self.tg.wait_change(self.version))
                done, _pending = await asyncio.wait(
                    {line_task, change}, return_when=asyncio.FIRST_COMPLETED
                )
                if change in done:
                    self.version = change.result()
                    self.screen.refresh(self.tg)
                else:
                    change.cancel()
            return line_task.result()
        finally:
            line_task.cancel()

    async def act(self, line: str) -> int | None:
        """Do what the line says; the update it sent Telegram's stand-in, if any."""
        words = line.strip().split()
        if words and words[0] == "/as":
            return self.switch(words[1:])
        if words == ["/daily_digest"]:
            await self.daily_digest()
            return None
        return self.send(line)

    def switch(self, words: list[str]) -> int | None:
        """``/as …``: another seat; a persona's first time, their /start (its update)."""
        seat = _seat(words)
        if seat is None:
            self.screen.write(
                _("usage: /as {personas} | {group} [{admin} | {cashier}]").format(
                    personas=_personas(),
                    group=_(GROUP),
                    admin=_(ROLES[DEMO_USER_ID]),
                    cashier=_(ROLES[CASHIER_ID]),
                )
            )
            return None
        self.seat = seat
        self.screen.become(self.tg, seat)
        if seat.in_group or seat.user_id in self.started:
            return None
        self.started.add(seat.user_id)  # their first words to the bot
        return self.tg.send_text(self.users[seat.user_id], "/start")

    def send(self, line: str) -> int | None:
        text = line.strip()
        if not text:
            return None
        user, chat = self.users[self.seat.user_id], self.seat.chat_id
        if text.startswith("\\"):
            return self.tg.send_text(user, text[1:], chat_id=chat)
        buttons = self.screen.buttons
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            message, label = buttons[int(text) - 1]
            self.screen.write(_("(pressed «{label}»)").format(label=label))
            return self.tg.press_button(user, message, label)
        first, _space, rest = text.partition(" ")
        if rest and _means(first, CONTACT):
            return self.tg.send_contact(user, rest.strip(), chat_id=chat)
        return self.tg.send_text(user, text, chat_id=chat)

    async def daily_digest(self) -> None:
        """The digest's moment now: today's digest queued for the supervisors' group, as the
        bot's scheduler does at DIGEST_TIME (once per day)."""
        app = self.app
        scheduler = DigestScheduler(app.db, app.sender.notices, DIGEST_AT, app.settings.tz)
        now = utcnow()
        if await scheduler.enqueue(now.astimezone(app.settings.tz).date(), now):
            self.screen.write(
                _("(the digest's time: the supervisors' group gets today's digest now)")
            )
        else:
            self.screen.write(
                _("(today's digest has already gone to the supervisors' group: once a day)")
            )

    async def settle(self, update_id: int | None, *, final: bool = False) -> None:
        """Until the bot has answered: ``update_id`` handled, nothing due in the outbox, no
        top-up being sent, the chats unchanged for a moment (``final``: and no top-up
        without Allpay's final answer). The screen is kept up to date meanwhile."""
        try:
            async with asyncio.timeout(FINAL_WAIT if final else SETTLE_LIMIT):
                if update_id is not None:  # taken by the bot's polling, its handler started
                    await self.watch(lambda: self.tg.last_update(update_id) is None)
                while True:
                    await self.app.intake.wait_idle(SETTLE_LIMIT)  # every handler done
                    if await self.busy(final):
                        await self.watch(lambda: False, QUIET)
                        continue
                    if await self.quiet():
                        return
        except TimeoutError:
            pass  # taken as answered: what comes later is shown when it comes
        finally:
            self.screen.refresh(self.tg)

    async def quiet(self) -> bool:
        """Nothing a person sees changed for :data:`QUIET` seconds."""
        state = _state(self.tg)
        await self.watch(lambda: _state(self.tg) != state, QUIET)
        return _state(self.tg) == state

    async def busy(self, final: bool) -> bool:
        """A top-up being sent, a message due soon (``final``: a top-up awaiting Allpay's
        final answer)."""
        app = self.app
        if app.sender.in_flight:
            return True
        now = utcnow()

        def due(tx: Tx) -> bool:
            if Outbox.due_chats(tx, now + SOON):
                return True
            return final and any(p.status in OPEN_STATUSES for p in Payments.unresolved(tx))

        return bool(await app.db.read(due))

    async def watch(self, condition: Callable[[], bool], timeout: float | None = None) -> None:
        """Refresh the screen at each change until ``condition()`` (or ``timeout`` s)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not condition():
                    self.version = await self.tg.wait_change(self.version)
                    self.screen.refresh(self.tg)


def _state(tg: FakeTelegram) -> tuple[int, int, int]:
    """What a person could see change: messages, edits, pop-ups."""
    messages = [m for chat in tg.chats.values() for m in chat if m.from_bot]
    return len(messages), sum(m.edits for m in messages), len(tg.callback_answers)


def _seat(words: list[str]) -> Seat | None:
    """``/as <persona>`` or ``/as group [persona]``: the seat; None if it names none."""
    if not words or len(words) > 2:
        return None
    in_group = _means(words[0], GROUP)
    names = words[1:] if in_group else words
    if len(names) > 1 or (not in_group and not names):
        return None
    if not names:
        return Seat(SUPERVISOR_ID, SUPERVISORS_CHAT_ID)
    found = [uid for uid, role in ROLES.items() if _means(names[0], role)]
    if not found:
        return None
    return Seat(found[0], SUPERVISORS_CHAT_ID if in_group else found[0])


def _is_terminal(src: TextIO) -> bool:
    try:
        return src.isatty()
    except (AttributeError, ValueError):
        return False
