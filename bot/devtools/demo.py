"""``python -m bot demo``: the real bot in a terminal, no token and no internet needed.

Everything real runs: the Dispatcher and handlers, the journal, resolver and outbox, the
Allpay client against the embedded signed sandbox, all over HTTP on loopback. Only Telegram is
played by the Bot API stand-in (:mod:`bot.devtools.telegram`); this module is its screen and
keyboard. You play three people in turn — an admin, a supervisor and a cashier (``/as``) —
so an approval, a report and an export can be tried end to end; the supervisors' group shows
too. Every top-up of 100 000 ₸ or more waits for the supervisor's approval.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.app import announce, build_app
from bot.config import Settings
from bot.devtools.telegram import ChatMessage, FakeTelegram
from bot.files import write_private

DEMO_USER_ID = 1001  # the admin: who you are at the start
SUPERVISOR_ID = 1002
CASHIER_ID = 1003
#: ``/as <persona>``: who you are; each has their own chat with the bot.
PERSONAS = {"admin": DEMO_USER_ID, "supervisor": SUPERVISOR_ID, "cashier": CASHIER_ID}
NAMES = {DEMO_USER_ID: "Admin", SUPERVISOR_ID: "Supervisor", CASHIER_ID: "Cashier"}
SUPERVISORS_CHAT_ID = -1002
APPROVAL_FROM = 100_000
DEMO_TOKEN = "123456:DEMO-token-not-a-real-one-000000000000"  # noqa: S105 - the stand-in only
_TAG = re.compile(r"<[^>]+>")

HELP = """\
Allpay cash-in bot — terminal demo (no real money; the Allpay sandbox is built in).
Type as a cashier would: /cashin, a login, an amount… Bot messages appear below.
  [n]       buttons under the latest message: type the number to press one
  contact +7 700 000 00 01   share a contact
  \\text     send text that looks like a button number (e.g. \\1)
  /as cashier | supervisor | admin   be someone else (you start as the admin);
            top-ups from 100 000 ₸ wait for the supervisor's approval
  /quit     leave (Ctrl-D works too)
Sandbox clients: 77000000001 identified (pending, then completed) · 77000000002 not
identified · 77000000003 declined · 77000000004 slow · 77000000005 HTTP 500 first.
"""


def plain(text: str) -> str:
    """Telegram HTML as a terminal shows it."""
    return html.unescape(_TAG.sub("", text))


@dataclass
class Screen:
    """What has been shown, and which buttons the numbers press now."""

    out: TextIO
    files: Path
    seen: dict[tuple[int, int], int] = field(default_factory=dict)  # (chat, id) -> edits shown
    buttons: list[tuple[ChatMessage, str]] = field(default_factory=list)
    menu: list[list[str]] | None = None
    current: int = DEMO_USER_ID  # whose chat the numbers press buttons in

    def write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def show(self, message: ChatMessage, who: str) -> None:
        key = (message.chat_id, message.message_id)
        edited = key in self.seen
        self.seen[key] = message.edits
        title = f"── {who}{' (edited)' if edited else ''} ──"
        self.write(title)
        if message.text:
            self.write(plain(message.text))
        if message.document is not None:
            name, data = message.document
            target = self.files / Path(name).name
            write_private(target, data)  # exports carry client logins
            self.write(f"📎 {name} ({len(data)} bytes) saved to {target}")
        if message.chat_id == self.current and message.buttons:
            self.buttons = [(message, label) for label, _data in message.callback_buttons]
            self.write(
                "   "
                + "   ".join(f"[{n}] {label}" for n, (_m, label) in enumerate(self.buttons, 1))
            )
        elif self.buttons and self.buttons[0][0] is message:
            self.buttons = []  # its buttons are gone
        if (
            message.chat_id == self.current
            and message.reply_keyboard
            and message.reply_keyboard != self.menu
        ):
            self.menu = message.reply_keyboard
            self.write("   menu: " + " | ".join(b for row in self.menu for b in row))

    def refresh(self, tg: FakeTelegram) -> None:
        chats = [(chat_id, f"bot → {NAMES[chat_id].lower()}") for chat_id in NAMES]
        for chat_id, who in (*chats, (SUPERVISORS_CHAT_ID, "supervisors")):
            for message in tg.messages(chat_id):
                shown = self.seen.get((chat_id, message.message_id))
                if shown is None or shown != message.edits:
                    self.show(message, "bot" if chat_id == self.current else who)

    def become(self, tg: FakeTelegram, user_id: int) -> None:
        """Switch persona: the numbers now press the buttons of their latest message."""
        self.current = user_id
        self.menu = None
        mine = [m for m in tg.messages(user_id) if m.buttons]
        self.buttons = [(mine[-1], label) for label, _ in mine[-1].callback_buttons] if mine else []
        self.write(f"── you are now the {NAMES[user_id].lower()} ──")
        if self.buttons:
            self.write(
                "   "
                + "   ".join(f"[{n}] {label}" for n, (_m, label) in enumerate(self.buttons, 1))
            )


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
        "digest_time": None,
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
            async with build_app(settings) as app:
                await announce(app)
                polling = asyncio.create_task(app.intake.poll(timeout=1), name="polling")
                try:
                    await _converse(tg, Screen(out, folder / "files"), language, src)
                finally:
                    polling.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await polling
        finally:
            await tg.close()
    return 0


async def _converse(tg: FakeTelegram, screen: Screen, language: str, src: TextIO) -> None:
    users = {uid: FakeTelegram.user(uid, name, language) for uid, name in NAMES.items()}
    started = {DEMO_USER_ID}
    user = users[DEMO_USER_ID]
    screen.write(HELP)
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    threading.Thread(
        target=_reader, args=(queue, asyncio.get_running_loop(), src), daemon=True
    ).start()
    tg.send_text(user, "/start")
    version = 0
    while True:
        line_task = asyncio.create_task(queue.get())
        change_task = asyncio.create_task(tg.wait_change(version))
        done, _ = await asyncio.wait({line_task, change_task}, return_when=asyncio.FIRST_COMPLETED)
        if change_task in done:
            version = change_task.result()
            screen.refresh(tg)
        else:
            change_task.cancel()
        if line_task not in done:
            line_task.cancel()
            continue
        line = line_task.result()
        if line is None or line.strip() in {"/quit", "/exit"}:
            screen.write("bye")
            return
        persona = _persona(line)
        if persona is None:
            _act(tg, screen, user, line)
        elif persona == 0:
            screen.write("usage: /as cashier | supervisor | admin")
        else:
            user = users[persona]
            screen.become(tg, persona)
            if persona not in started:  # their first words to the bot
                started.add(persona)
                tg.send_text(user, "/start")


def _persona(line: str) -> int | None:
    """``/as <who>``: their user id; 0 for an unknown persona; None for anything else."""
    words = line.strip().split()
    if not words or words[0] != "/as":
        return None
    return PERSONAS.get(words[1].lower(), 0) if len(words) == 2 else 0


def _act(tg: FakeTelegram, screen: Screen, user: dict[str, Any], line: str) -> None:
    text = line.strip()
    if not text:
        return
    if text.startswith("\\"):
        tg.send_text(user, text[1:])
        return
    if text.isdigit() and 1 <= int(text) <= len(screen.buttons):
        message, label = screen.buttons[int(text) - 1]
        screen.write(f"(pressed «{label}»)")
        tg.press_button(user, message, label)
        return
    if text.lower().startswith("contact "):
        tg.send_contact(user, text[8:].strip())
        return
    tg.send_text(user, text)
