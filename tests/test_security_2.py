"""The holes found from outside, second round (issue 25), each kept closed by a test.

A sandbox started by mistake for real people; clients' names and logins in the logs; personal
data in group chats; daily limits crossed at midnight; Allpay's unsigned Fault text speaking
with Allpay's authority; ``/metrics`` published by the image's default bind.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shlex
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import SendMessage
from aiohttp import web

from bot.allpay.answers import CheckResult, PayResult
from bot.allpay.protocol import AllpayError, PayStatus
from bot.config.settings import ConfigError, Settings, load_settings
from bot.devtools.demo import demo_settings
from bot.devtools.sandbox import RunningSandbox
from bot.devtools.telegram import ChatMessage, FakeTelegram
from bot.domain.clock import utcnow
from bot.domain.limits import LimitKind, LimitRefusal, Limits
from bot.domain.model import Approval, ApprovalState, ConfirmOutcome, Decision, RetryPolicy, Role
from bot.infra.logs import describe_error, setup_logging
from bot.store.roster import Roster
from bot.usecases.approvals import ApprovalDesk
from bot.usecases.cashin import CashIn
from bot.usecases.notices import Notices
from bot.usecases.sending import Sender
from bot.wiring.app import warn_about_allpay
from tests.childstart import spawn
from tests.fixtures import ALMATY, Connect, make_client
from tests.harness import (
    ADMIN,
    CASHIER,
    PARTIES,
    PARTIES_ENV,
    SUPERVISOR,
    SUPERVISOR_CHAT,
    TOKEN,
    Harness,
    child_env,
    english_words,
    running_bot,
    seed_payment,
    settings_for,
)
from tests.journal import Journal
from tests.redacting import without_registered_secrets
from tests.test_docker import ROOT, _stages
from tests.test_preflight import _check as preflight_check
from tests.test_receipt import read_back

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends

CLIENT_NAME = "Нұрланова Айгерім Серікқызы"
#: One client's login in every form the bot and people write it.
LOGINS = ("+7 700 000 00 01", "8 700 000 00 01", "77000000001", "+77000000001", "87000000001")
#: A line a forged text would like to add to the log.
FORGED = "2026-12-01 10:00:00,000 INFO    bot.usecases.cashin: payment {x} journaled"


@pytest.fixture(autouse=True)
def _no_registered_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    without_registered_secrets(monkeypatch)


@pytest.fixture(params=["text", "json"])
def captured_logs(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """The bot's own logging (its filter and formatter) into a buffer, in both formats."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()
    setup_logging("INFO", request.param, stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def _assert_harmless(text: str) -> None:
    """No client name, no login in any form, no forged line."""
    assert CLIENT_NAME not in text and "Нұрланова" not in text, text
    for login in LOGINS:
        assert login not in text, (login, text)
    assert not any(line.startswith("2026-12-01 10:00:00") for line in text.splitlines()), text


# ---------------------------------------------------------------- 2. names and logins in logs


def _decode_error() -> ClientDecodeError:
    """What aiogram raises for a Bot API answer that fails validation: the whole answer —
    a client's card, name and spaced login — rides along in the exception."""
    answer = {
        "ok": True,
        "result": {
            "message_id": 5,
            "date": 1,
            "text": f"Client: {CLIENT_NAME}\nLogin: +7 700 000 00 01\n{FORGED}",
        },
    }
    bot, method = Bot(TOKEN), SendMessage(chat_id=1, text="x")
    try:
        AiohttpSession().check_response(bot, method, 200, json.dumps(answer))
    except ClientDecodeError as exc:
        return exc
    raise AssertionError("the answer decoded")


def test_describe_error_never_shows_telegrams_answer_nor_a_login() -> None:
    exc = _decode_error()
    described = describe_error(exc)
    assert described.startswith("ClientDecodeError: Failed to deserialize object")
    assert "result.chat" in described and "\n" not in described
    _assert_harmless(described)
    # Any exception: logins masked in every form the bot writes them, one line.
    for login in LOGINS:
        text = describe_error(RuntimeError(f"Login: {login}\n{FORGED}"))
        assert login not in text and "7700***0001" in text and "\n" not in text, text


def test_a_malformed_bot_api_answer_is_logged_without_names_logins_or_lines_of_its_own(
    captured_logs: io.StringIO,
) -> None:
    exc = _decode_error()
    log = logging.getLogger("bot.telegram.basics.router")
    # As the error handlers logged it (the repr, the traceback), and as they log it now.
    log.error("update %d failed: %r", 2, exc, exc_info=exc)
    log.error("update %d failed: %s", 2, describe_error(exc), exc_info=exc)
    log.warning("pay %s: no final answer (%s): %s", "{g}", "fault", f"text\r\n{FORGED}")
    text = captured_logs.getvalue()
    _assert_harmless(text)
    assert len(text.splitlines()) == 3, text  # one line per record
    assert text.count("update 2 failed: ") == 2 and "Failed to deserialize object" in text


async def test_a_malformed_answer_to_a_client_card_is_logged_harmlessly(
    harness: Harness, captured_logs: io.StringIO
) -> None:
    """End to end: Telegram's answer to the client's card does not decode; the update fails
    and its error handler logs it."""
    user = harness.user()
    await harness.say(user, "/cashin")
    harness.tg.malformed["sendMessage"] = 1
    mark = harness.tg.mark()
    harness.tg.send_text(user, "+7 700 000 00 01")
    await harness.tg.wait_message(CASHIER, lambda m: "went wrong" in m.text, after=mark)
    text = captured_logs.getvalue()
    assert re.search(r"update \d+ failed", text), text
    _assert_harmless(text)


# ---------------------------------------------------------------- 1. the sandbox by mistake

#: A real deployment's settings, one of them (ALLPAY_URL) misspelled.
TYPO_ENV = {
    "BOT_TOKEN": TOKEN,
    "ADMIN_IDS": "100",
    "ALLPAY_ULR": "https://allpay.example/soap",  # the typo: ALLPAY_URL is unset
    "ALLPAY_REQUESTER": "agent-real",
    **PARTIES_ENV,
}


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No setting from this machine's environment or a stray .env."""
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEBHOOK_URL", "https://bot.example.kz/hook"),
        ("DATABASE_URL", "postgresql://cashin@db:5432/cashin"),
        ("ISSUER_NAME", "АО «Эмитент»"),
        ("AGENT_NAME", "ТОО «Агент»"),
        ("ALLPAY_REQUESTER", "agent-real"),
    ],
)
def test_a_production_sign_without_allpay_url_refuses_the_sandbox(
    no_settings: pytest.MonkeyPatch, name: str, value: str
) -> None:
    no_settings.setenv("BOT_TOKEN", TOKEN)
    no_settings.setenv("ADMIN_IDS", "100")
    no_settings.setenv("WEBHOOK_SECRET", "s" * 20)
    no_settings.setenv("SANDBOX_DIR", "sandbox")  # PostgreSQL's own rule, satisfied
    no_settings.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert "\n" not in message and "ALLPAY_URL is not set" in message and name in message
    assert "ALLPAY_SANDBOX=true" in message
    no_settings.setenv("ALLPAY_SANDBOX", "true")  # asked for by name: it runs
    assert load_settings().uses_sandbox


def test_a_bare_first_run_and_the_demo_stay_on_the_sandbox(
    no_settings: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_settings.setenv("BOT_TOKEN", TOKEN)
    no_settings.setenv("ADMIN_IDS", "100")
    assert load_settings().uses_sandbox
    # The demo is the sandbox whatever the environment says.
    for name, value in TYPO_ENV.items():
        no_settings.setenv(name, value)
    assert demo_settings(tmp_path, "http://127.0.0.1:1", "ru").uses_sandbox
    # The sandbox and a real Allpay at once: a contradiction, refused.
    no_settings.setenv("ALLPAY_SANDBOX", "true")
    no_settings.setenv("ALLPAY_URL", "https://allpay.example/soap")
    with pytest.raises(ConfigError, match="contradict"):
        load_settings()
    no_settings.setenv("ALLPAY_SANDBOX", "false")
    no_settings.delenv("ALLPAY_URL")
    with pytest.raises(ConfigError, match="ALLPAY_URL is required"):
        load_settings()


def test_a_misspelled_allpay_url_stops_start_up_with_one_line(tmp_path: Path) -> None:
    env = {
        **child_env(),
        "HOME": str(tmp_path),
        "TELEGRAM_API_URL": "http://127.0.0.1:1",  # were it to start, nobody answers
        **TYPO_ENV,
    }
    done = spawn.run([], env=env, cwd=tmp_path, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "ALLPAY_URL is not set" in line and "ALLPAY_SANDBOX=true" in line, line
    assert "ALLPAY_REQUESTER" in line and "ISSUER_NAME" in line
    assert not (tmp_path / "data").exists()  # no sandbox was started, no journal made


SANDBOX_MARK = {"ru": "ТЕСТОВАЯ СРЕДА", "kk": "СЫНАҚ ОРТАСЫ", "en": "SANDBOX"}


async def test_the_sandbox_says_so_on_every_card_status_receipt_and_balance(
    controlled: Any, telegram: FakeTelegram
) -> None:
    """Asked for by name, with a real issuer and agent (the harness's ALLPAY_SANDBOX=true):
    the cashier (ru) sees the mark on the client's card, the confirm card, the status, the
    receipt and its PDF; the supervisor (kk) on /balance."""
    async with controlled(**PARTIES) as h:
        mark, user = SANDBOX_MARK["ru"], h.user(language_code="ru")
        await h.say(user, "/cashin")
        client = await h.say(user, "77000000002")
        assert mark in client.text, client.text
        card = await h.top_up_card(user, "77000000002", "2500")
        assert f"🧪 {mark} — без реальных денег" in card.text, card.text
        await h.press(user, card, "Подтвердить")
        done = await h.wait_status(CASHIER, card.message_id, "✅")
        assert mark in done.text and done.text.startswith("✅")
        before = telegram.mark()
        await h.press(user, done, "Чек")
        receipt = await telegram.wait_message(CASHIER, after=before)
        assert mark in receipt.text and "АО «Эмитент Тест»" in receipt.text
        before = telegram.mark()
        await h.press(user, receipt, "PDF")
        document = await telegram.wait_message(CASHIER, after=before)
        assert document.document is not None
        content, _codes = read_back(document.document[1])
        assert f"{mark} — без реальных денег" in content, content
        balance = await h.say(h.user(SUPERVISOR, language_code="kk"), "/balance")
        assert SANDBOX_MARK["kk"] in balance.text, balance.text
        assert not english_words(balance.text) and not english_words(card.text)


async def test_a_real_allpay_shows_no_sandbox_mark(
    tmp_path: Path, sandbox: RunningSandbox, telegram: FakeTelegram
) -> None:
    keys = sandbox.keys
    real = {
        "allpay_url": sandbox.url,
        "allpay_requester": "agent-real",
        "allpay_certificate_number": keys.certificate_number,
        "allpay_private_key": keys.agent_private,
        "allpay_public_key": keys.allpay_public,
        **PARTIES,
    }
    async with running_bot(settings_for(tmp_path, telegram.base_url, **real), telegram) as h:
        user = h.user()
        card = await h.top_up_card(user, "77000000002", "1000")
        await h.press(user, card, "Confirm")
        done = await h.wait_status(CASHIER, card.message_id, "✅")
        assert "SANDBOX" not in card.text and "SANDBOX" not in done.text


# ---------------------------------------------------------------- 4. personal data in groups


async def _in_group(h: Harness, user: dict[str, Any], text: str) -> ChatMessage:
    mark = h.tg.mark()
    h.tg.send_text(user, text, chat_id=SUPERVISOR_CHAT)
    return await h.tg.wait_message(SUPERVISOR_CHAT, after=mark)


async def test_personal_data_is_answered_in_private_chats_only(harness: Harness) -> None:
    h = harness
    payment = await seed_payment(h.journal)
    cashier, boss = h.user(), h.user(SUPERVISOR)
    for user, command in (
        (cashier, "/history"),
        (cashier, "/find 77000000001"),
        (cashier, "/cashin"),
        (cashier, "/cash"),
        (boss, "/history"),
        (boss, f"/find {payment.guid[1:9]}"),
        (boss, "/export"),
    ):
        reply = await _in_group(h, user, command)
        assert "private chat" in reply.text, (command, reply.text)
        assert "Иванова" not in reply.text and "+7 700" not in reply.text
        assert not reply.document
    # What shows no client stays where it was asked: a supervisor's /report and /cash.
    report = await _in_group(h, boss, "/report")
    assert "private chat" not in report.text and "Top-ups on" in report.text
    await h.chart_after(report)  # no desk: the day's chart follows, in the group too
    book = await _in_group(h, boss, "/cash")
    assert "private chat" not in book.text
    # A receipt's or a payment's button pressed in a group: an alert, nothing shown.
    for data in (f"r:{payment.guid}", f"rp:{payment.guid}", f"hd:{payment.guid}"):
        before = len(h.tg.callback_answers)
        h.tg.press(cashier, report, data)
        await h.tg.wait_for(lambda n=before: len(h.tg.callback_answers) > n)  # type: ignore[misc]
        answer = list(h.tg.callback_answers.values())[-1]
        assert answer.get("show_alert") and "private chat" in answer.get("text", ""), answer
    assert not any("Иванова" in m.text for m in h.tg.messages(SUPERVISOR_CHAT))
    # In the private chat: as ever.
    history = await h.say(cashier, "/history")
    assert "Иванова" in history.text


# ---------------------------------------------------------------- 5. limits across midnight


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class _Recorded:
    def __init__(self) -> None:
        self.guids: list[str] = []

    async def pay(self, guid: str, login: str, amount: Decimal, lang: str) -> PayResult:
        self.guids.append(guid)
        return PayResult(PayStatus.PENDING, cause="timeout: test")


class _NoDirectory:
    async def check_user(self, login: str, lang: str) -> CheckResult:
        raise AssertionError("not asked in this test")


async def test_a_request_waiting_across_midnight_is_refused_at_approval(
    connect: Connect,
) -> None:
    """3 000 ₸ asked at 23:58 counts against the old day; 3 000 ₸ more at 00:00:03 fits the
    new one. Approving both would pay 6 000 ₸ on the new day against a 3 000 ₸ limit: the
    approval checks the day it pays on, and the second one in is refused."""
    db = await connect()
    try:
        journal = Journal(db, [SUPERVISOR_CHAT])
        clock = _Clock(datetime(2026, 12, 1, 23, 58, tzinfo=ALMATY))
        limits = Limits(cashier_daily_sum=Decimal(3000), approval_threshold=Decimal(3000))
        notices = Notices([SUPERVISOR_CHAT])
        gateway = _Recorded()
        sender = Sender(db, gateway, RetryPolicy(60, 60, 600, 6000), notices, requester="a")
        desk = ApprovalDesk(db, sender, notices, timeout=900, limits=limits, tz=ALMATY, clock=clock)
        cashin = CashIn(db, _NoDirectory(), sender, desk, limits, tz=ALMATY, clock=clock)
        # Someone other than the cashier may decide (the confirm tap asks nobody otherwise).
        others = {SUPERVISOR: Role.SUPERVISOR, CASHIER: Role.CASHIER}
        await db.write(lambda tx: Roster().seed(tx, clock(), [ADMIN], others))

        async def request(login: str, message_id: int) -> Approval:
            draft = await journal.create_draft(
                cashier_id=CASHIER, chat_id=CASHIER, login=login, client_name="X",
                identified=True, amount=Decimal(3000), lang="en", card_message_id=message_id,
            )  # fmt: skip
            confirmed = await cashin.confirm(
                draft.id, CASHIER, chat_id=CASHIER, message_id=message_id
            )
            assert confirmed.outcome is ConfirmOutcome.AWAITING and confirmed.approval
            return confirmed.approval

        old = await request("77000000001", 1)  # 23:58: the old day
        clock.at = datetime(2026, 12, 2, 0, 0, 3, tzinfo=ALMATY)
        new = await request("77000000002", 2)  # 00:00:03: the new day had nothing yet
        clock.at += timedelta(seconds=2)
        refused = await desk.decide(old.id, SUPERVISOR, approve=True)
        assert refused.decision is Decision.REFUSED and refused.payment is None
        expected = LimitRefusal(LimitKind.CASHIER_SUM, Decimal(3000), Decimal(0))
        assert refused.refusal == expected
        assert refused.approval is not None
        assert refused.approval.state is ApprovalState.REJECTED
        assert refused.approval.decided_by is None and refused.approval.limit_refusal == expected
        # Refused once is decided: a second press changes nothing.
        again = await desk.decide(old.id, ADMIN, approve=True)
        assert again.decision is Decision.ALREADY and again.payment is None
        approved = await desk.decide(new.id, SUPERVISOR, approve=True)
        assert approved.decision is Decision.APPROVED and approved.payment is not None
        await sender.drain(2)
        assert gateway.guids == [approved.payment.guid]  # one top-up on the new day: 3 000 ₸
        actions = [(e.action, e.subject) for e in await journal.audit_log(50)]
        assert ("limit.cashier_sum", old.id) in actions
        due = await journal.due_outbox(clock.at + timedelta(days=1))
        assert any(i.ref == old.id and i.chat_id == CASHIER for i in due)  # the cashier is told
    finally:
        await db.close()


def _last_midnight() -> datetime:
    """The last local midnight: the bot's clocks are set around it (in the past, so what
    they queue is due at once)."""
    return datetime.combine(utcnow().astimezone(ALMATY).date(), time(0), ALMATY)


async def test_the_supervisor_is_told_what_the_limit_says_and_the_cashier_to_give_back(
    controlled: Any,
) -> None:
    settings = {"cashier_daily_limit": 3000, "approval_threshold": 3000, "approval_timeout": 2e5}
    async with controlled(**settings) as h:
        midnight = _last_midnight()
        clock = _Clock(midnight - timedelta(minutes=2))
        h.app.cashin._clock = clock  # the top-ups' and the decisions' clocks, at midnight
        h.app.desk._clock = clock
        cashier = h.user()
        first = await h.top_up_card(cashier, "77000000001", "3000")
        await h.press(cashier, first, "Confirm")
        await h.tg.wait_for(lambda: first.text.startswith("🛂"))
        clock.at = midnight + timedelta(seconds=3)
        second = await h.top_up_card(cashier, "77000000002", "3000")
        await h.press(cashier, second, "Confirm")
        await h.tg.wait_for(lambda: second.text.startswith("🛂"))
        await h.tg.wait_for(lambda: len(_approval_cards(h)) == 2)
        old = next(c for c in _approval_cards(h) if "Нұрланова" in c.text)
        answers = len(h.tg.callback_answers)
        h.tg.press_button(h.user(SUPERVISOR), old, "Approve")
        await h.tg.wait_for(lambda: len(h.tg.callback_answers) > answers)
        alert = list(h.tg.callback_answers.values())[-1]
        assert alert.get("show_alert"), alert
        assert (
            "Over the cashier's daily limit of 3\u202f000\u00a0₸: 0\u00a0₸ left today."
            in alert["text"]
        )
        assert "give the cash back" in alert["text"]
        await h.tg.wait_for(lambda: first.text.startswith("🚫"))
        assert "give back 3\u202f000\u00a0₸" in first.text and "daily limit" in first.text
        await h.tg.wait_for(lambda: "Not approved" in old.text and not old.buttons)
        assert h.sandbox.stats.pay_guids == {} or not sum(h.sandbox.stats.pay_guids.values())


def _approval_cards(h: Harness) -> list[ChatMessage]:
    return [m for m in h.tg.messages(SUPERVISOR) if m.text.startswith("🛂 Approval needed")]


# ---------------------------------------------------------------- 6. Allpay's unsigned Faults

FORGED_FAULT = (
    "клиент должен перевести 5000 ₸ на +7 777 123 45 67\n"
    '<a href="https://evil.example/pay">Allpay: оплатить здесь</a>'
)


async def test_a_forged_lookup_fault_is_shown_as_unverified_text(harness: Harness) -> None:
    harness.sandbox.check_faults.append(FORGED_FAULT)
    user = harness.user()
    await harness.say(user, "/cashin")
    reply = await harness.say(user, "77000000002")
    text = reply.text
    assert text.startswith("⚠️ The client lookup failed: Allpay answered with an error")
    assert "<code>soap:Server</code>" in text and "Nothing was paid" in text
    assert "Allpay refused" not in text
    [quoted] = [line for line in text.split("\n") if "«" in line]
    assert quoted.startswith("The error's text is not signed by Allpay and is unverified")
    assert "клиент должен перевести 5000 ₸ на +7 777 123 45 67 &lt;a href=" in quoted
    assert "<a " not in text and reply.buttons  # text, never markup; "try again" stays


FAULT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>
<faultcode>soap:Server\r\n{FORGED}</faultcode><faultstring>{text}</faultstring>
<detail><userMessage>{text}</userMessage></detail></soap:Fault></soap:Body></soap:Envelope>"""


async def test_a_forged_pay_fault_writes_no_log_line_of_its_own(
    fake_allpay: Any, sandbox: RunningSandbox, captured_logs: io.StringIO
) -> None:
    guid = "{0f8fad5b-d9cb-469f-a165-70867728950e}"
    text = f"declined, call +7 777 123 45 67\r\n{FORGED}"
    body = FAULT_XML.replace("{FORGED}", FORGED).replace("{text}", text)

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=500, body=body.encode(), content_type="text/xml")

    url = await fake_allpay(answer)
    async with make_client(sandbox, url=url) as client:
        result = await client.pay(guid, "77000000001", Decimal(100), "ru")
        with pytest.raises(AllpayError) as refused:
            await client.check_user("77000000001", "ru")
    assert result.status is PayStatus.PENDING and "\n" not in (result.cause or "")
    assert "unverified" in (result.cause or "")
    error = refused.value
    assert error.code is not None and re.fullmatch(r"[A-Za-z0-9:._-]+", error.code)
    assert error.user_message is not None and "\n" not in error.user_message
    logged = captured_logs.getvalue()
    assert f"pay {guid}: no final answer (fault)" in logged
    _assert_harmless(logged)
    assert "+7 777 123 45 67" not in logged  # a login-shaped number is masked too


async def test_plain_http_allpay_is_warned_at_start_up_and_in_check(
    tmp_path: Path,
    sandbox: RunningSandbox,
    telegram: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = sandbox.keys
    env = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'cashin.sqlite3'}",
        "ALLPAY_URL": sandbox.url,  # http://127.0.0.1:…
        "ALLPAY_REQUESTER": "agent-check",
        "ALLPAY_CERTIFICATE_NUMBER": keys.certificate_number,
        "ALLPAY_PRIVATE_KEY": str(keys.agent_private),
        "ALLPAY_PUBLIC_KEY": str(keys.allpay_public),
        "ADMIN_IDS": "100",  # the one warning looked at is Allpay's
        **PARTIES_ENV,
    }
    telegram.tokens = {TOKEN}
    code, lines = await preflight_check(env, tmp_path)
    assert code == 0, lines  # a warning, not a failure
    [warning] = [line for line in lines if line.startswith("⚠️")]
    assert warning.startswith("⚠️ ALLPAY_URL: not https://") and "Faults" in warning
    settings = load_settings(**{k.lower(): v for k, v in env.items()})
    with caplog.at_level(logging.WARNING, logger="bot.wiring.app"):
        warn_about_allpay(settings)
    assert any("ALLPAY_URL is not https://" in r.getMessage() for r in caplog.records)
    https = settings.model_copy(update={"allpay_url": "https://allpay.example/soap"})
    assert https.plain_http_allpay() == []


# ---------------------------------------------------------------- 7. /metrics on every interface


def test_the_image_listens_on_loopback_by_default() -> None:
    """``docker run -p 8080:8080 image`` publishes nothing: /healthz and /metrics listen on
    the container's loopback; only compose's services that publish on the host's loopback
    (or to the front, on their own network) listen wider."""
    final = _stages()[-1]
    env: dict[str, str] = {}
    for keyword, value in final:
        if keyword == "ENV":
            env.update(word.split("=", 1) for word in shlex.split(value) if "=" in word)
    assert env.get("WEB_HOST", "127.0.0.1") in {"127.0.0.1", "::1", "localhost"}, env
    assert env.get("METRICS_HOST", "127.0.0.1") in {"127.0.0.1", "::1", "localhost"}, env
    assert Settings.model_fields["web_host"].default == "127.0.0.1"
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    for name, service in services.items():
        if service.get("environment", {}).get("WEB_HOST") == "0.0.0.0":
            ports = service.get("ports", [])
            assert all(str(p).startswith("127.0.0.1:") for p in ports), (name, ports)
    readme = (ROOT / "README.md").read_text()
    assert "WEB_HOST=0.0.0.0" in readme
