"""The cash-in conversation over real HTTP: Telegram stand-in, embedded sandbox, SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.model import Status
from tests.harness import (
    CASHIER,
    STRANGER,
    SUPERVISOR_CHAT,
    Harness,
    english_words,
    running_bot,
)


async def _payments(h: Harness) -> list[tuple[str, str]]:
    rows = await h.app.db.query("SELECT guid, status FROM payments")
    return [(r[0], r[1]) for r in rows]


async def test_start_greets_in_telegram_language_with_menu(harness: Harness) -> None:
    reply = await harness.say(harness.user(language_code="kk"), "/start")
    assert "Сәлеметсіз бе" in reply.text
    assert reply.reply_keyboard and reply.reply_keyboard[0] == ["💵 Толтыру"]
    reply = await harness.say(harness.user(CASHIER + 1, language_code="de"), "/start")
    assert "Hello" in reply.text  # unsupported language: DEFAULT_LANGUAGE (en here)


async def test_happy_path_unidentified_client_completes(harness: Harness) -> None:
    user = harness.user()
    await harness.say(user, "/cashin")
    card_intro = await harness.say(user, "+7 700 000 00 02")
    assert "Ахметов" in card_intro.text and "not identified" in card_intro.text
    assert "100\u00a0₸" in card_intro.text and card_intro.callback_buttons  # range, quick amounts
    card = await harness.say(user, "5 000")
    assert card.text.startswith("Check and confirm")
    # The login as people write a phone number, not as the digits Allpay wants.
    assert "5\u202f000\u00a0₸" in card.text and "+7 700 000 00 02" in card.text
    for _, data in card.callback_buttons:
        assert len(data.encode()) <= 64 and "{" not in data
    await harness.press(user, card, "Confirm")
    done = await harness.wait_status(CASHIER, card.message_id, "✅")
    assert done.message_id == card.message_id
    [(guid, status)] = await _payments(harness)
    assert status == "COMPLETED" and guid in done.text
    # Left on the final card: the receipt and a new top-up for the same client.
    assert done.callback_buttons == [
        ("🧾 Receipt", f"r:{guid}"),
        ("🔁 Again for this client", f"ag:{guid}"),
    ]
    note = await harness.tg.wait_message(SUPERVISOR_CHAT, lambda m: m.text.startswith("✅"))
    assert "7700***0002" in note.text and "77000000002" not in note.text
    assert guid.strip("{}")[:8] in note.text


async def test_pending_then_resolver_completes_with_one_guid(harness: Harness) -> None:
    user = harness.user()
    card = await harness.top_up_card(user, "77000000001", "2000")
    await harness.press(user, card, "Confirm")
    await harness.wait_status(CASHIER, card.message_id, "✅")
    [(guid, _)] = await _payments(harness)
    assert harness.sandbox.stats.pay_guids[guid] >= 2
    assert list(harness.sandbox.stats.pay_guids) == [guid]
    texts = harness.texts_ever(CASHIER)
    assert any(t.startswith("⏳ Allpay is processing") for t in texts)


async def test_not_found_then_found(harness: Harness) -> None:
    user = harness.user()
    await harness.say(user, "/cashin")
    reply = await harness.say(user, "8 (701) 999-99-99")
    assert "No Allpay client with the login +7 701 999 99 99" in reply.text
    reply = await harness.say(user, "77000000002")  # same step: try again
    assert "Ахметов" in reply.text


async def test_declined_shows_allpay_message_and_cash_back(harness: Harness) -> None:
    user = harness.user()
    card = await harness.top_up_card(user, "77000000003", "3000")
    await harness.press(user, card, "Confirm")
    declined = await harness.wait_status(CASHIER, card.message_id, "❌")
    assert "wallet is blocked" in declined.text and "Give the cash back" in declined.text
    assert [s for _, s in await _payments(harness)] == ["DECLINED"]


async def test_allpay_down_offers_retry_and_changes_nothing(harness: Harness) -> None:
    user = harness.user()
    real_url = harness.app.allpay.url
    harness.app.allpay.url = "http://127.0.0.1:9/nothing-here"
    await harness.say(user, "/cashin")
    down = await harness.say(user, "77000000002")
    assert "not answering" in down.text and down.callback_buttons
    assert await _payments(harness) == []
    harness.app.allpay.url = real_url
    mark = harness.tg.mark()
    await harness.press(user, down, "Try again")
    # The "not answering" message itself becomes the client and the amount prompt.
    await harness.tg.wait_for(lambda: "Ахметов" in down.text)
    assert "Enter the amount" in down.plain and down.callback_buttons
    assert [m for m in harness.tg.messages(CASHIER) if m.message_id > mark] == []


async def test_http_500_and_timeout_end_completed_with_one_guid(harness: Harness) -> None:
    user = harness.user()
    for login in ("77000000005", "77000000004"):
        card = await harness.top_up_card(user, login, "1000")
        await harness.press(user, card, "Confirm")
        await harness.wait_status(CASHIER, card.message_id, "✅")
    payments = await _payments(harness)
    assert [s for _, s in payments] == ["COMPLETED", "COMPLETED"]
    assert set(harness.sandbox.stats.pay_guids) == {g for g, _ in payments}
    rows = await harness.sandbox.ledger.all()
    assert len(rows) == 2


async def test_broken_xml_and_forged_answers_are_not_believed(harness: Harness) -> None:
    user = harness.user()
    # The sandbox declines this client; a forged COMPLETED must never become a ✅.
    harness.sandbox.faults.extend(["forged", "broken_xml", "unsigned"])
    card = await harness.top_up_card(user, "77000000003", "1500")
    await harness.press(user, card, "Confirm")
    await harness.wait_status(CASHIER, card.message_id, "❌")
    assert not any(t.startswith("✅") for t in harness.texts_ever(CASHIER))
    [(guid, status)] = await _payments(harness)
    assert status == "DECLINED" and harness.sandbox.stats.pay_guids[guid] == 4


@pytest.mark.backends  # storage is the point here too
async def test_three_taps_and_a_replayed_update_make_one_payment(harness: Harness) -> None:
    user = harness.user()
    card = await harness.top_up_card(user, "77000000002", "4000")
    draft_id = _draft_id(card)
    for _ in range(3):
        harness.tg.press_button(user, card, "Confirm")
    await harness.tg.wait_for(lambda: len(harness.tg.callback_answers) >= 3)
    await harness.wait_status(CASHIER, card.message_id, "✅")
    # Telegram re-delivering the same confirm (a replayed update):
    harness.tg.press(user, card, f"d:ok:{draft_id}")
    await harness.tg.wait_for(lambda: len(harness.tg.callback_answers) >= 4)
    assert len(await _payments(harness)) == 1
    assert len(await harness.sandbox.ledger.all()) == 1
    assert harness.tg.last(CASHIER).text.startswith("✅")


def _draft_id(card: object) -> str:
    from bot.devtools.telegram import ChatMessage

    assert isinstance(card, ChatMessage)
    data = next(d for t, d in card.callback_buttons if d.startswith("d:ok:"))
    return data.split(":")[2]


async def test_stranger_is_refused_with_id_and_reaches_no_allpay_call(harness: Harness) -> None:
    stranger = harness.user(STRANGER)
    for text in ("/start", "/cashin", "77000000002", "5000"):
        reply = await harness.say(stranger, text)
        assert str(STRANGER) in reply.text and "only for the agent's cashiers" in reply.text
    assert sum(harness.sandbox.stats.requests.values()) == 0
    assert await _payments(harness) == []


async def test_bad_logins_and_amounts_get_errors_and_the_flow_continues(harness: Harness) -> None:
    user = harness.user()
    await harness.say(user, "/cashin")
    for bad in ("hello", "12345", "+1 202 555 0100", "7700000000211"):
        reply = await harness.say(user, bad)
        assert reply.text.startswith("That is not a phone number")
    await harness.say(user, "77000000002")
    expected = {
        "0": "greater than zero",
        "-5000": "greater than zero",
        "5000.50": "Whole tenge",
        "1e4": "in digits",
        "five": "in digits",
        "50": "smallest",
        "600000": "largest",
    }
    for bad, needle in expected.items():
        reply = await harness.say(user, bad)
        assert needle in reply.text, (bad, reply.text)
    card = await harness.say(user, "5000")
    assert card.text.startswith("Check and confirm")
    assert await _payments(harness) == []


async def test_change_amount_and_cancel_send_nothing(harness: Harness) -> None:
    user = harness.user()
    card = await harness.top_up_card(user, "77000000002", "5000")
    old_confirm = f"d:ok:{_draft_id(card)}"
    await harness.press(user, card, "Change amount")
    # The card becomes the amount prompt again, presets and all.
    await harness.tg.wait_for(lambda: "Enter the amount" in card.text)
    assert "Confirm" not in str(card.callback_buttons)
    card2 = await harness.say(user, "7000")
    assert "7\u202f000" in card2.text
    answered = len(harness.tg.callback_answers)
    harness.tg.press(user, card, old_confirm)  # the old card's confirm: dead
    await harness.tg.wait_for(lambda: len(harness.tg.callback_answers) > answered)
    await harness.press(user, card2, "Cancel")
    assert (await _edited(harness, card2.message_id)).startswith("✖️")
    assert await _payments(harness) == []
    assert sum(harness.sandbox.stats.pay_guids.values()) == 0


async def _edited(h: Harness, message_id: int) -> str:
    await h.tg.wait_for(
        lambda: any(m.message_id == message_id and m.edits for m in h.tg.messages(CASHIER))
    )
    return next(m.text for m in h.tg.messages(CASHIER) if m.message_id == message_id)


async def test_lang_kazakh_prompts_and_allpay_lang(harness: Harness) -> None:
    user = harness.user()
    choice = await harness.say(user, "/lang")
    labels = [t for t, _ in choice.callback_buttons]
    assert labels == ["🇷🇺 Русский", "🇰🇿 Қазақша", "🇬🇧 English"]
    mark = harness.tg.mark()
    await harness.press(user, choice, "Қазақша")
    await harness.tg.wait_message(CASHIER, lambda m: "Тіл" in m.text, after=mark)
    prompt = await harness.say(user, "/cashin")
    assert "Клиенттің Allpay логинін" in prompt.text
    reply = await harness.say(user, "77000000001")
    assert "Сәйкестендірілген: иә" in reply.text and "••••••••0011" in reply.text
    assert "900101400011" not in reply.text
    assert harness.sandbox.stats.langs == ["kk"]


async def test_menu_buttons_work_in_the_users_language(harness: Harness) -> None:
    user = harness.user(language_code="ru")
    reply = await harness.say(user, "💵 Пополнить")
    assert "Введите логин клиента" in reply.text


async def test_conversation_survives_a_restart(tmp_path: Path, harness: Harness) -> None:
    user = harness.user()
    await harness.say(user, "/cashin")
    await harness.say(user, "77000000002")  # now at the amount step
    # The first process has not let go of its name yet: the new one runs under its own.
    settings = harness.app.settings.model_copy(update={"instance_name": "restarted"})
    await harness.stop_polling()
    async with running_bot(settings, harness.tg) as again:
        card = await again.say(user, "2500")
        assert card.text.startswith("Check and confirm") and "2\u202f500" in card.text


async def test_status_enum_icons() -> None:
    assert [s.icon for s in Status] == ["⏳", "⏳", "✅", "❌", "⚠️"]


async def test_commands_and_menu_buttons_work_at_every_step_of_a_top_up(
    harness: Harness,
) -> None:
    """The conversation's steps come early in the routers, but never take a command or a
    main-menu button: those reach their own handlers at any step, and the step goes on."""
    user = harness.user()
    await harness.say(user, "/cashin")
    assert (await harness.say(user, "/history")).text == "No top-ups yet."
    assert (await harness.say(user, "📊 Today")).text == "No top-ups today."
    reply = await harness.say(user, "+7 700 000 00 02")  # still at the login step
    assert "amount" in reply.text.lower()
    assert (await harness.say(user, "📜 History")).text == "No top-ups yet."
    assert "How to top up" in (await harness.say(user, "❓ Help")).text
    card = await harness.say(user, "5000")  # still at the amount step
    assert card.buttons and "5\u202f000" in card.text


CASH_RULE = {
    # the card, ✅, ❌, ⏳: each step says what to do with the cash
    "ru": (
        "Примите у клиента",
        "наличные остаются у вас",
        "Верните клиенту наличные",
        "не повторяйте",
    ),
    "kk": ("Клиенттен", "ақша сізде қалады", "клиентке қайтарыңыз", "қайталамаңыз"),
    "en": ("Take", "the cash stays with you", "Give the cash back", "do not repeat"),
}


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
async def test_one_cash_rule_at_every_step_in_every_language(harness: Harness, lang: str) -> None:
    """The card says how much cash to take; ✅ that it stays; ❌ to give it back (the
    amount); ⏳ to keep it and not repeat the top-up. Help says the same."""
    take, stays, give_back, keep = CASH_RULE[lang]
    user = harness.user(language_code=lang)
    for login, amount, icon in (
        ("77000000002", "1000", "✅"),
        ("77000000003", "3000", "❌"),
        ("77000000001", "2000", "✅"),  # ⏳ first, then ✅
    ):
        card = await harness.top_up_card(user, login, amount)
        assert take in card.text and f"{amount[0]}\u202f000\u00a0₸" in card.text.split("\n")[-1]
        await harness.press(user, card, "Confirm" if lang == "en" else card.callback_buttons[0][0])
        final = await harness.wait_status(CASHIER, card.message_id, icon)
        if icon == "✅":
            assert stays in final.text
        else:
            assert give_back in final.text and f"{amount[0]}\u202f000\u00a0₸" in final.text
    pending = [t for t in harness.texts_ever(CASHIER) if t.startswith("⏳")]
    assert pending and all(keep in t for t in pending)
    help_text = (await harness.say(user, "/help")).text
    assert all(word in help_text for word in (stays.split()[-1], keep))
    # The rest of a cashier's day in the same language: history, an entry, today, a receipt.
    page = await harness.say(user, "/history")
    await harness.press(user, page, "1")
    await harness.say(user, "/today")
    done = next(m for m in harness.tg.messages(CASHIER) if m.text.startswith("✅"))
    mark = harness.tg.mark()
    await harness.press(user, done, done.callback_buttons[0][0])  # 🧾
    await harness.tg.wait_message(CASHIER, after=mark)
    if lang != "en":
        # No English left on a ru/kk screen: every text the cashier was ever shown.
        english = {w for t in harness.texts_ever(CASHIER) for w in english_words(t)}
        assert not english, english
