"""The demo's session: :func:`run_demo` starts the Bot API stand-in and the real bot over it
(:func:`demo_settings`), and :class:`Demo` takes each line typed after the bot has answered
the one before — its update handled, the outbox's due messages delivered, no top-up being
sent (:meth:`Demo.settle`)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from aiogram.utils.i18n import gettext as _

from bot.config.settings import Settings
from bot.devtools.demo.desk import DEMO_WEBAPP_URL, desk_link, serve_desk, signed_init_data
from bot.devtools.demo.screen import (
    APPROVAL_FROM,
    CASHIER_ID,
    CONTACT,
    DEMO_TOKEN,
    DEMO_USER_ID,
    DIGEST_AT,
    GROUP,
    NAMES,
    ROLES,
    SUPERVISOR_ID,
    SUPERVISORS_CHAT_ID,
    Screen,
    Seat,
    banner,
    means,
    parse_seat,
    personas,
)
from bot.devtools.telegram import FakeTelegram
from bot.domain.clock import utcnow
from bot.domain.model import OPEN_STATUSES
from bot.infra.logs import log_times_in
from bot.store.db import Tx
from bot.store.outbox import Outbox
from bot.store.payments import Payments
from bot.usecases.digest import DigestScheduler
from bot.wiring.app import announce, build_app
from bot.wiring.running import App

#: How long the screen waits for the bot after a line before taking the next one anyway (a
#: slow Allpay answer is shown when it comes), and how long nothing must change meanwhile.
SETTLE_LIMIT = 15.0
QUIET = 0.3
#: Outbox messages due within this are waited for (the feed holds an item half a second).
SOON = timedelta(seconds=2)
#: At the end of piped input: the longest wait for top-ups without Allpay's final answer.
FINAL_WAIT = 30.0


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
        # The bot's own listener stays off; the desk is served on a port of its own
        # (bot/devtools/demo/desk.py), its link printed at the start.
        "web_enabled": True,
        "webapp_url": DEMO_WEBAPP_URL,
        "webapp_max_age": 86400,  # the printed link works all day
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
                runner, base = await serve_desk(app)
                init_data = signed_init_data(
                    app.bot.token, DEMO_USER_ID, NAMES[DEMO_USER_ID], language, utcnow()
                )
                polling = asyncio.create_task(app.intake.poll(timeout=1), name="polling")
                try:
                    with app.i18n.context(), app.i18n.use_locale(language):
                        demo = Demo(app, tg, Screen(out, folder / "files"), src)
                        demo.desk = desk_link(base, init_data)
                        await demo.converse()
                finally:
                    polling.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await polling
                    await runner.cleanup()
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
        #: The desk's loopback link, signed for the demo's persona (None: not shown).
        self.desk: str | None = None

    async def converse(self) -> None:
        self.screen.write(banner(self.app.settings))
        if self.desk is not None:
            self.screen.write(
                _("The supervisor's desk, signed for the {admin} — open it in a browser:").format(
                    admin=_(ROLES[DEMO_USER_ID])
                )
            )
            self.screen.write("  " + self.desk)
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
        seat = parse_seat(words)
        if seat is None:
            self.screen.write(
                _("usage: /as {personas} | {group} [{admin} | {cashier}]").format(
                    personas=personas(),
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
        if rest and means(first, CONTACT):
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


def _is_terminal(src: TextIO) -> bool:
    try:
        return src.isatty()
    except (AttributeError, ValueError):
        return False
