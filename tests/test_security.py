"""The holes found from outside, each kept closed by a test (issue 11).

An intruder's view: tokens inside URLs, malformed Bot API answers, Allpay's texts and
Telegram names carrying HTML, forged and overflowing callback data, non-ASCII webhook
secrets, world-readable files, work that outlives the person who started it, a flood of
strangers, names that spoof others, and a start-up without Telegram.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import stat
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import aiosqlite
import pytest

from bot.devtools.sandbox import SCRIPT, RunningSandbox
from bot.devtools.telegram import ChatMessage, FakeTelegram, Fault
from bot.domain.model import ConfirmOutcome
from bot.domain.parsing import clean_name
from bot.infra.logs import one_line
from bot.infra.redaction import redact, redact_error, register_secret
from bot.telegram.runtime.access import RefusalBudget
from bot.wiring.serving import run_bot
from tests.childstart import spawn
from tests.fixtures import Connect, sandbox_folder
from tests.harness import (
    ADMIN,
    CASHIER,
    CASHIER_2,
    PARTIES_ENV,
    STRANGER,
    SUPERVISOR,
    SUPERVISOR_CHAT,
    TOKEN,
    Harness,
    child_env,
    free_port,
    running_bot,
    seed_payment,
    settings_for,
)
from tests.journal import Journal
from tests.redacting import without_registered_secrets
from tests.tgproxy import MalformedProxy

ROOT = Path(__file__).resolve().parents[1]
ALLPAY_TOKEN = "482915"
LOGIN = "77000000001"
IIN = SCRIPT[LOGIN].iin
assert IIN is not None


@pytest.fixture(autouse=True)
def _no_registered_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    without_registered_secrets(monkeypatch)


# ---------------------------------------------------------------- 1. the token, in any form


def test_redaction_catches_the_token_in_a_url_encoded_and_bare() -> None:
    secret_half = TOKEN.split(":")[1]
    for text in (
        f"https://api.telegram.org/bot{TOKEN}/getMe",
        f"url='http://127.0.0.1:1/bot{TOKEN}/sendMessage'",
        f"token={quote(TOKEN, safe='')}&x=1",
        f"plain {TOKEN} here",
    ):
        clean = redact(text)
        assert TOKEN not in clean and secret_half not in clean, clean
        assert quote(TOKEN, safe="") not in clean
    # A registered secret goes in every encoding, also when no shape would catch it.
    register_secret(ALLPAY_TOKEN)
    register_secret("s3cret/with:odd chars")
    clean = redact(f"a={ALLPAY_TOKEN} b={quote('s3cret/with:odd chars', safe='')}")
    assert ALLPAY_TOKEN not in clean and "s3cret" not in clean
    assert redact_error(RuntimeError(f"bad bot{TOKEN}/x")) == (
        "RuntimeError: bad bot<token redacted>/x"
    )
    assert "\n" not in one_line(RuntimeError(f"two\nlines {TOKEN}"))


async def _spawn(env: dict[str, str], cwd: Path, log: Path) -> spawn.Child:
    with log.open("ab") as stderr:
        return await spawn.start([], env=env, cwd=cwd, stdout=spawn.DEVNULL, stderr=stderr)


def _bot_env(tmp_path: Path, sandbox: RunningSandbox, telegram_url: str) -> dict[str, str]:
    keys = sandbox.keys
    return {
        **child_env(),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram_url,
        "ALLPAY_URL": sandbox.url,
        **PARTIES_ENV,
        "ALLPAY_REQUESTER": "agent-sec",
        "ALLPAY_TOKEN": ALLPAY_TOKEN,
        "ALLPAY_CERTIFICATE_NUMBER": keys.certificate_number,
        "ALLPAY_PRIVATE_KEY": str(keys.agent_private),
        "ALLPAY_PUBLIC_KEY": str(keys.allpay_public),
        "ALLPAY_TIMEOUT": "5",
        "PENDING_RETRY_MIN": "0.2",
        "PENDING_RETRY_MAX": "0.5",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'bot.sqlite3'}",
        "CASHIER_IDS": str(CASHIER),
        "SUPERVISOR_CHAT_IDS": str(SUPERVISOR_CHAT),
        "DEFAULT_LANGUAGE": "en",
        "WEB_PORT": str(free_port()),
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "DIGEST_TIME": "off",  # a 21:00 digest would take the send the proxy breaks
    }


def _secret_lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("-----")]


@pytest.mark.backends  # storage is the point here too
async def test_no_secret_or_personal_data_reaches_logs_stderr_or_the_database(
    tmp_path: Path, sandbox: RunningSandbox, telegram: FakeTelegram
) -> None:
    """A whole top-up while Telegram answers malformed HTTP at start-up, to a handler's
    reply and to the outbox's status edit, and Allpay answers a check with a Fault naming
    the client's IIN and login."""
    proxy = MalformedProxy(telegram.base_url)
    await proxy.start()
    # editMessageText: "Try again" edited into the client (sent anew instead), the outbox's
    # status edit (it retries).
    proxy.breaks.update({"getMe": 2, "sendMessage": 1, "editMessageText": 2})
    sandbox.sandbox.check_faults.append(f"Client {LOGIN} (IIN {IIN}) is under review")
    env = _bot_env(tmp_path, sandbox, proxy.url)
    log = tmp_path / "bot.log"
    user = FakeTelegram.user(CASHIER, "Cashier", "en")
    bot = await _spawn(env, tmp_path, log)
    try:
        # Start-up: getMe gets malformed answers twice; the bot waits and tries again.
        await telegram.wait_for(lambda: any(m == "getUpdates" for m, _ in telegram.calls), 30)
        assert proxy.broken["getMe"] == 2
        telegram.send_text(user, "/start")  # its reply is lost to a malformed answer
        await telegram.wait_for(lambda: proxy.broken["sendMessage"] == 1)
        mark = telegram.mark()
        telegram.send_text(user, "/cashin")
        await telegram.wait_message(CASHIER, lambda m: "login" in m.text, after=mark)
        mark = telegram.mark()
        telegram.send_text(user, LOGIN)  # Allpay's Fault
        refused = await telegram.wait_message(CASHIER, lambda m: bool(m.buttons), after=mark)
        assert "under review" in refused.text
        mark = telegram.mark()
        telegram.press_button(user, refused, "Try again")
        # The edit into the client is lost to a malformed answer: the step comes anew.
        await telegram.wait_message(CASHIER, lambda m: "amount" in m.text, after=mark)
        mark = telegram.mark()
        telegram.send_text(user, "1000")
        card = await telegram.wait_message(CASHIER, lambda m: bool(m.buttons), after=mark)
        telegram.press_button(user, card, "Confirm")
        await telegram.wait_message(
            CASHIER, lambda m: m.text.startswith("✅"), after=card.message_id - 1, timeout=30
        )
        assert proxy.broken["editMessageText"] == 2
        bot.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.wait(), 15) == 0
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
        await proxy.close()

    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    retries = [ln for ln in lines if ln["message"].startswith("Telegram did not answer getMe")]
    assert len(retries) == 2  # one line per attempt
    assert "Traceback" not in "\n".join(ln["message"] for ln in lines)
    assert "redacted>/getMe" in text and "redacted>/sendMessage" in text  # URLs, redacted
    forbidden = [
        TOKEN,
        TOKEN.split(":")[1],
        quote(TOKEN, safe=""),
        ALLPAY_TOKEN,
        IIN,
        LOGIN,
        *_secret_lines(sandbox.keys.agent_private),
    ]
    for secret in forbidden:
        assert secret not in text, secret

    # The database: the full login only where resends and look-ups need it.
    allowed_login = {("drafts", "login"), ("payments", "login"), ("approvals", "login")}
    database = tmp_path / "data" / "bot.sqlite3"
    async with aiosqlite.connect(database) as db:
        async with db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
            tables = [r[0] for r in await cur.fetchall()]
        found: set[tuple[str, str]] = set()
        for table in tables:
            async with db.execute(f"SELECT * FROM {table}") as cur:
                columns = [d[0] for d in cur.description]
                for row in await cur.fetchall():
                    for column, value in zip(columns, row, strict=True):
                        cell = str(value)
                        for secret in forbidden:
                            if secret in cell:
                                found.add((table, column))
                                assert secret == LOGIN, (table, column, secret)
        async with db.execute("SELECT last_error FROM outbox WHERE last_error IS NOT NULL") as c:
            stored = [r[0] for r in await c.fetchall()]
    assert found <= allowed_login, found
    assert ("payments", "login") in found
    # Stored errors are bounded (500 characters): the URL may be cut off, never shown whole.
    assert stored and any("redacted>/editMessageText" in e for e in stored), stored
    # Data files are private (the process umask covers SQLite's -wal and -shm too).
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    for path in database.parent.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


async def test_a_refused_token_stops_start_up_with_one_line(
    tmp_path: Path, sandbox: RunningSandbox, telegram: FakeTelegram
) -> None:
    from bot.devtools.telegram import Fault

    telegram.faults.append(Fault("getMe", 401, "Unauthorized", times=100))
    log = tmp_path / "bot.log"
    bot = await _spawn(_bot_env(tmp_path, sandbox, telegram.base_url), tmp_path, log)
    assert await asyncio.wait_for(bot.wait(), 30) == 2
    text = log.read_text()
    assert "configuration error: BOT_TOKEN: Telegram does not accept this token" in text
    assert "Traceback" not in text and TOKEN not in text


# ---------------------------------------------------------------- 10. no Telegram at start-up


async def test_without_telegram_pending_payments_are_resent_and_health_stays_ok(
    tmp_path: Path, sandbox_keys: Path, connect: Connect, database_url: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    port = free_port()
    settings = settings_for(
        tmp_path,
        dead,
        web_port=port,
        log_level="INFO",
        database_url=database_url,
        sandbox_dir=sandbox_folder(tmp_path, sandbox_keys),
    )
    db = await connect()  # another process's connection: the journal as the bot finds it
    payment = await seed_payment(Journal(db), login="77000000002", status=None)

    stop = asyncio.Event()
    bot = asyncio.create_task(run_bot(settings, stop=stop))
    try:

        async def status() -> str:
            rows = await db.query("SELECT status FROM payments WHERE guid = ?", (payment.guid,))
            return str(rows[0][0]) if rows else ""

        async with asyncio.timeout(20):
            while await status() != "COMPLETED":
                assert not bot.done()
                await asyncio.sleep(0.05)
            while True:
                async with (
                    aiohttp.ClientSession() as session,
                    session.get(f"http://127.0.0.1:{port}/healthz") as response,
                ):
                    body = await response.json()
                    code = response.status
                if body["telegram"]["reachable"] is False:
                    break
                await asyncio.sleep(0.05)
        assert code == 200 and body["status"] == "ok"
        assert body["telegram"]["last_error"] and TOKEN not in json.dumps(body)
        assert not bot.done()  # still waiting for Telegram, not dead
    finally:
        stop.set()
        assert await asyncio.wait_for(bot, 15) == 0


# ---------------------------------------------------------------- 2 and 9: work ends with it


async def _approval_request(h: Harness, user: dict[str, Any]) -> ChatMessage:
    card = await h.top_up_card(user, "77000000002", "150000")
    await h.press(user, card, "Confirm")
    await h.tg.wait_for(lambda: card.text.startswith("🛂"))
    await h.tg.wait_for(lambda: any(m.buttons for m in h.tg.messages(SUPERVISOR)))
    return card


async def _approve_fails(h: Harness, card: ChatMessage) -> None:
    """A supervisor presses Approve on their (now stale) card: nothing is paid."""
    [supervisor_card] = [m for m in h.tg.messages(SUPERVISOR) if "Cashier: " in m.plain]
    await h.tg.wait_for(lambda: not supervisor_card.buttons)  # the card says it is over
    # Its head says so: cancelled by an admin, or withdrawn by the cashier (/cancel).
    assert supervisor_card.plain.startswith(("🚫 Cancelled by", "↩️ Withdrawn by"))
    approval = await h.app.desk.waiting()
    assert approval == []
    [row] = await _approvals(h)
    h.tg.press(h.user(SUPERVISOR), supervisor_card, f"ap:y:{row[0]}")  # a forged, late approve
    before = len(h.tg.callback_answers)
    await h.tg.wait_for(lambda: len(h.tg.callback_answers) >= before)
    await h.tg.wait_for(
        lambda: any("Already decided" in str(a.get("text")) for a in h.tg.callback_answers.values())
    )
    assert await h.sandbox.ledger.all() == []
    assert card.text.startswith("🚫")


async def _approvals(h: Harness) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await h.app.db.query("SELECT id, state FROM approvals")]


async def test_removing_a_cashier_cancels_their_waiting_approval(controlled: Any) -> None:
    async with controlled(approval_threshold=100000) as h:
        card = await _approval_request(h, h.user())
        reply = await h.say(h.user(ADMIN), f"/remove {CASHIER}")
        assert reply.text.startswith(f"Removed {CASHIER}")
        await h.tg.wait_for(lambda: card.text.startswith("🚫"))
        assert [state for _id, state in await _approvals(h)] == ["CANCELLED"]
        await _approve_fails(h, card)


async def test_cancel_ends_a_request_waiting_for_approval(controlled: Any) -> None:
    async with controlled(approval_threshold=100000) as h:
        user = h.user()
        card = await _approval_request(h, user)
        reply = await h.say(user, "/cancel")
        assert reply.text.startswith("🚫 Approval request withdrawn. Nothing was sent")
        await h.tg.wait_for(lambda: card.text.startswith("🚫"))
        assert [state for _id, state in await _approvals(h)] == ["CANCELLED"]
        await _approve_fails(h, card)

        def group() -> list[Any]:
            return [m for m in h.tg.messages(SUPERVISOR_CHAT) if "Cashier: " in m.plain]

        await h.tg.wait_for(
            lambda: bool(group()) and all("Withdrawn by" in m.text for m in group())
        )


# ---------------------------------------------------------------- 3 and 4: text, not markup


async def test_allpay_fault_text_reaches_the_cashier_as_text(harness: Harness) -> None:
    hostile = '<a href="https://evil.example/verify">Verify here</a> & 1 < 2'
    harness.sandbox.check_faults.append(hostile)
    user = harness.user()
    await harness.say(user, "/cashin")
    reply = await harness.say(user, "77000000002")
    assert "&lt;a href=" in reply.text and "<a " not in reply.text
    assert "&amp; 1 &lt; 2" in reply.text
    assert reply.buttons  # "try again", as for any refused check


async def test_start_greets_a_user_whose_name_looks_like_html(harness: Harness) -> None:
    user = harness.user()
    user["first_name"] = "Tom <3 & <b>"
    reply = await harness.say(user, "/start")
    assert reply.text.startswith("Hello, Tom &lt;3 &amp; &lt;b&gt;!")


# ---------------------------------------------------------------- 5. a button acts on its card


async def test_a_confirm_pressed_on_another_message_changes_nothing(harness: Harness) -> None:
    user = harness.user()
    card = await harness.top_up_card(user, "77000000002", "1000")
    draft_id = next(d for _t, d in card.callback_buttons if d.startswith("d:ok:")).split(":")[2]
    other = await harness.say(user, "/help")
    other_text = other.text
    before = len(harness.tg.callback_answers)
    harness.tg.press(user, other, f"d:ok:{draft_id}")
    harness.tg.press(user, other, f"d:no:{draft_id}")
    await harness.tg.wait_for(lambda: len(harness.tg.callback_answers) >= before + 2)
    assert other.text == other_text and other.edits == 0
    assert card.buttons and card.edits == 0
    assert await harness.sandbox.ledger.all() == []
    await harness.press(user, card, "Confirm")  # the real card still works
    await harness.wait_status(CASHIER, card.message_id, "✅")


async def test_controls_refuse_a_confirm_for_another_message(harness: Harness) -> None:
    """The money step itself checks the card, whatever the handler did before it."""
    journal, cashin = harness.journal, harness.app.cashin
    draft = await journal.create_draft(
        cashier_id=CASHIER,
        chat_id=CASHIER,
        login="77000000002",
        client_name="Ахметов Данияр",
        identified=True,
        amount=Decimal(1000),
        lang="en",
        card_message_id=7,
    )
    for message_id, chat_id in ((8, CASHIER), (7, CASHIER_2), (None, None)):
        result = await cashin.confirm(draft.id, CASHIER, chat_id=chat_id, message_id=message_id)
        assert result.outcome is ConfirmOutcome.NOT_THIS_CARD, (message_id, chat_id)
        assert result.payment is None
    assert await journal.payment_for_draft(draft.id) is None
    confirmed = await cashin.confirm(draft.id, CASHIER, chat_id=CASHIER, message_id=7)
    assert confirmed.payment is not None


# ---------------------------------------------------------------- 6. bounded callback data


async def test_callback_fields_out_of_range_are_refused_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    user = harness.user()
    message = await harness.say(user, "/help")
    forged = [
        "h:99999999999999999999:0",
        "h:-1:0",
        "h:0:99999999999999999999999",
        "a:99999999999999999999",
        "l:xx",
        "ap:maybe:AAAAAAAAAAAA",
        "d:ok:../../etc",
    ]
    before = len(harness.tg.callback_answers)
    with caplog.at_level(logging.WARNING):
        for data in forged:
            harness.tg.press(user, message, data)
        await harness.tg.wait_for(lambda: len(harness.tg.callback_answers) >= before + len(forged))
    answers = list(harness.tg.callback_answers.values())[before:]
    assert len(answers) == len(forged)
    assert all(a.get("text") == "This button is no longer active." for a in answers), answers
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# ---------------------------------------------------------------- 7 and the status listener


async def test_webhook_port_refuses_a_non_ascii_secret_and_shows_no_status_pages(
    controlled: Any, telegram: FakeTelegram
) -> None:
    port, status_port = free_port(), free_port()
    settings = controlled.settings(
        webhook_url="https://bot.example.kz/hook",
        webhook_secret="s3cret-token_for-webhooks",
        web_port=port,
        metrics_port=status_port,
    )
    stop = asyncio.Event()
    bot = asyncio.create_task(run_bot(settings, stop=stop))
    try:
        await telegram.wait_for(lambda: telegram.webhook is not None or bot.done())
        body = b'{"update_id": 1}'
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Telegram-Bot-Api-Secret-Token: \xd1\x81\xd0\xb5\xd0\xba\xd1\x80\xd0\xb5\xd1\x82\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 401"), answer[:100]
        async with aiohttp.ClientSession() as session:
            for path in ("/healthz", "/metrics"):
                async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                    assert response.status == 404  # not on the public port
                async with session.get(f"http://127.0.0.1:{status_port}{path}") as response:
                    assert response.status == 200
    finally:
        stop.set()
        assert await asyncio.wait_for(bot, 15) == 0


# ---------------------------------------------------------------- 8. private files


@pytest.fixture
def _permissive_umask() -> Iterator[None]:
    """The bot's own modes must hold whatever umask it is started under: test under 022."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("_permissive_umask")
async def test_data_files_and_keys_are_private(tmp_path: Path, telegram: FakeTelegram) -> None:
    data = tmp_path / "fresh" / "data"
    settings = settings_for(tmp_path, telegram.base_url, database_url=f"sqlite:///{data}/c.db")
    async with running_bot(settings, telegram) as h:
        user = h.user()
        card = await h.top_up_card(user, "77000000002", "1000")
        await h.press(user, card, "Confirm")
        await h.wait_status(CASHIER, card.message_id, "✅")
        files = {p: stat.S_IMODE(p.stat().st_mode) for p in data.rglob("*") if p.is_file()}
        folders = [data, *(p for p in data.rglob("*") if p.is_dir())]
    names = {p.name for p in files}
    assert {"c.db", "c.db-wal", "c.db-shm", "ledger.sqlite3", "agent.key.pem"} <= names
    assert {"allpay.key.pem", "ledger.sqlite3-wal"} <= names
    for path, mode in files.items():
        assert mode == 0o600, path
    for folder in [*folders, tmp_path / "fresh"]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


# ---------------------------------------------------------------- strangers and names


async def test_strangers_are_answered_sparingly(harness: Harness) -> None:
    stranger = harness.user(STRANGER)
    for _ in range(8):
        harness.tg.send_text(stranger, "/start")
    await harness.tg.wait_for(lambda: len(harness.tg.messages(STRANGER)) >= 5)
    # Everything of the flood is handled: a cashier's update sent after it is answered...
    await harness.say(harness.user(), "/help")
    # ...and the stranger got no more than the burst.
    assert len(harness.tg.messages(STRANGER)) == 5


def test_refusal_budget_refills_and_caps_everyone_together() -> None:
    now = [0.0]
    budget = RefusalBudget(burst=2, interval=60.0, per_minute=3, clock=lambda: now[0])
    assert [budget.allow(1) for _ in range(3)] == [True, True, False]
    assert budget.allow(2) and not budget.allow(3)  # 3 a minute for everyone
    now[0] = 60.0
    assert budget.allow(1) and not budget.allow(1)  # one more per interval
    assert budget.allow(3)


def test_names_lose_bidi_and_zero_width_characters() -> None:
    assert clean_name("Ali\u202eecilA\u200b Ivanov") == "AliecilA Ivanov"
    assert clean_name("\u2066Admin\u2069 \u200d") == "Admin"
    assert clean_name("\u200b\u200c\u200d\ufeff") is None
    assert clean_name("  Иванова   Анна  ") == "Иванова Анна"


async def test_roster_names_are_cleaned_where_they_enter(harness: Harness) -> None:
    admin = harness.user(ADMIN)
    reply = await harness.say(admin, "/add_cashier 555 Ali\u202eecilA\u200b")
    assert reply.text.startswith("Added 555")
    names = await harness.journal.names()
    assert names[555] == "AliecilA"
    newcomer = harness.user(SUPERVISOR)
    newcomer["first_name"] = "\u202eRoot\u200b"
    await harness.say(newcomer, "/help")
    assert (await harness.journal.names())[SUPERVISOR] == "Root"


# ---------------------------------------------------------------- found in review


async def test_cancel_after_a_confirm_never_says_nothing_was_sent(harness: Harness) -> None:
    user = harness.user()
    card = await harness.top_up_card(user, "77000000002", "3000")
    await harness.press(user, card, "Confirm")
    await harness.wait_status(CASHIER, card.message_id, "✅")
    reply = await harness.say(user, "/cancel")
    assert "Nothing was sent" not in reply.text
    # Done is done: nothing to cancel, and no alarm about a completed top-up.
    assert reply.text == "Nothing to cancel."


async def test_an_old_card_never_pays_an_amount_typed_after_it(harness: Harness) -> None:
    """The card for 1 000 ₸ is on screen; «Change amount», 50 000 typed, but its card is lost
    on the way. The 1 000 ₸ card's Confirm must not pay 50 000 (nor anything: it was
    replaced)."""
    user = harness.user()
    old = await harness.top_up_card(user, "77000000002", "1000")
    [confirm] = [data for label, data in old.callback_buttons if "Confirm" in label]
    await harness.press(user, old, "Change amount")
    await harness.tg.wait_for(lambda: "Enter the amount" in old.text)  # the card is the prompt
    harness.tg.faults.append(Fault("sendMessage", 502, "Bad Gateway", chat_id=CASHIER))
    harness.tg.send_text(user, "50000")
    await harness.tg.wait_for(lambda: not harness.tg.faults)
    prompt = old.text
    answers = len(harness.tg.callback_answers)
    harness.tg.press(user, old, confirm)  # the old card's button, pressed late
    await harness.tg.wait_for(lambda: len(harness.tg.callback_answers) > answers)
    # This user's updates are handled in order: once /help is answered, the tap was handled.
    await harness.say(user, "/help")
    assert old.text == prompt  # a button no longer on the message changes nothing
    assert await harness.sandbox.ledger.all() == []
    assert [p for p in (await harness.journal.payments_page(None, 0, 5))[0]] == []


async def test_an_approval_button_never_rewrites_another_card(controlled: Any) -> None:
    async with controlled(approval_threshold=100000) as h:
        await _approval_request(h, h.user(CASHIER))
        await _approval_request(h, h.user(CASHIER_2))
        await h.tg.wait_for(lambda: len([m for m in h.tg.messages(SUPERVISOR) if m.buttons]) == 2)
        first, second = [m for m in h.tg.messages(SUPERVISOR) if m.buttons]
        [first_id, _second_id] = [row[0] for row in await _approvals(h)]
        second_text = second.text
        h.tg.press(h.user(SUPERVISOR), second, f"ap:y:{first_id}")  # forged onto the other card
        await h.tg.wait_for(lambda: "Approved by" in first.text)  # the outbox updates A's card
        assert second.text == second_text and second.buttons  # B untouched, still waiting
