"""Every message has a translation in ru, kk and en; no .mo is stale against its .po."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from aiogram.utils.i18n import I18n

from bot.devtools.telegram import FakeTelegram
from bot.telegram.runtime.i18n import locales_path
from tests.harness import ADMIN, CASHIER, SUPERVISOR, english_words

ROOT = Path(__file__).resolve().parents[1]


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "tools" / "i18n.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["i18n_tool"] = module
    spec.loader.exec_module(module)
    return module


def test_every_message_is_translated_and_compiled() -> None:
    tool = _tool()
    assert len({m.id for m in tool.extract() if m.id}) > 50
    assert tool.problems() == []


def test_kazakh_is_not_russian_copied() -> None:
    tool = _tool()
    ru = {m.id: m.string for m in tool.load_po("ru") if m.id}
    kk = {m.id: m.string for m in tool.load_po("kk") if m.id}
    import re

    def words(text: str) -> list[str]:
        return re.findall(r"[^\W\d_]+", re.sub(r"\{[^}]*\}|<[^>]*>", "", text))

    same = [
        k
        for k in kk
        if isinstance(kk[k], str)
        and kk[k] == ru[k]
        and any(c > "\u0400" for c in "".join(words(kk[k])))
    ]
    # Only labels of one or two words shared by both languages ("Кассир:", "Логин:",
    # "супервайзер") may coincide; a sentence copied from Russian is a missing translation.
    assert all(len(words(kk[k])) <= 2 for k in same), same
    assert any(ch in "".join(map(str, kk.values())) for ch in "әғқңөұүһі")


def test_placeholders_survive_translation() -> None:
    tool = _tool()
    for lang in ("ru", "kk"):
        for message in tool.load_po(lang):
            if message.id:
                # Every plural form keeps the placeholders of the plural msgid.
                source = message.id if isinstance(message.id, str) else message.id[-1]
                wanted = sorted(re.findall(r"\{\w+\}", source))
                for text in tool._texts(message.string):
                    assert sorted(re.findall(r"\{\w+\}", text)) == wanted, message.id


def test_runtime_loads_all_three() -> None:
    i18n = I18n(path=locales_path(), default_locale="ru")
    assert set(i18n.available_locales) >= {"ru", "kk", "en"}
    assert i18n.gettext("💵 Top up", locale="kk") == "💵 Толтыру"


def test_glossary_check_fails_on_a_known_wrong_term() -> None:
    """GLOSSARY.md's "never" columns are enforced: the real catalogs pass, and a Kazakh
    "cancelled" written «жойылды» ("deleted") or a Russian count «проведён:» is caught."""
    tool = _tool()
    never = tool.never_terms()
    assert "жойылды" in never["kk"] and "өңдеуде" in never["kk"] and "проведён:" in never["ru"]
    assert tool.glossary_problems() == []
    catalogs = {lang: tool.load_po(lang) for lang in ("ru", "kk")}
    catalogs["kk"]["cancelled"].string = "жойылды"
    catalogs["ru"]["completed"].string = "✅ проведён: 5"
    found = tool.glossary_problems(catalogs)
    assert len(found) == 2 and "жойылды" in found[0] + found[1] and "проведён:" in "".join(found)


def test_words_of_the_code_are_caught() -> None:
    """Issue 26, item 11: "journal" (our records) and "payment" (a top-up) never reach
    people; the audit trail keeps «журнал аудита» / «аудит журналы». The real catalogs pass,
    and each old wording is caught in its language."""
    tool = _tool()
    assert tool.inside_word_problems() == []
    catalogs = {lang: tool.load_po(lang) for lang in ("ru", "kk", "en")}
    old = {
        "ru": "💵 По журналу у вас нет наличных от пополнений.",
        "kk": "Журнал бойынша: {amount}",
        "en": "💵 By the journal you hold no cash from top-ups.",
    }
    for lang, text in old.items():
        catalogs[lang]["Expected by our records: {amount}"].string = text
    catalogs["en"]["No top-ups yet."].string = "No payments yet."
    catalogs["en"]["top-up status"].string = "Payment status"
    catalogs["ru"]["The audit trail is empty."].string = "Журнал аудита пуст."
    catalogs["kk"]["The audit trail is empty."].string = "Аудит журналы бос."
    catalogs["en"]["The audit trail is empty."].string = "Nothing from createCashInPayment."
    found = tool.inside_word_problems(catalogs)
    assert len(found) == 5, found
    assert {line.split(":")[0] for line in found} == {"ru", "kk", "en"}
    assert sum("payment" in line for line in found) == 2


def test_plural_forms_follow_each_language() -> None:
    i18n = I18n(path=locales_path(), default_locale="ru")
    one, many = "{count} top-up, {first} – {last}", "{count} top-ups, {first} – {last}"

    def said(n: int, lang: str) -> str:
        return i18n.gettext(one, many, n, locale=lang).format(count=n, first="a", last="b")

    assert [said(n, "ru").split(",")[0] for n in (1, 3, 5, 11, 21, 22)] == [
        "1 пополнение",
        "3 пополнения",
        "5 пополнений",
        "11 пополнений",
        "21 пополнение",
        "22 пополнения",
    ]
    assert said(1, "en").startswith("1 top-up,") and said(2, "en").startswith("2 top-ups,")
    assert said(1, "kk").startswith("1 толтыру") and said(5, "kk").startswith("5 толтыру")


def test_no_english_word_in_ru_or_kk_translations() -> None:
    """Outside names of things (GUID, Allpay, Telegram, ID, file formats), commands and
    setting names, a ru or kk translation has no Latin word."""
    tool = _tool()
    for lang in ("ru", "kk"):
        for message in tool.load_po(lang):
            if not message.id:
                continue
            for text in tool._texts(message.string):
                assert english_words(re.sub(r"\{\w+\}", " ", text)) == [], (lang, text)


@pytest.mark.parametrize("lang", ["ru", "kk"])
async def test_staff_screens_in_ru_and_kk_have_no_english(
    controlled: Any, telegram: FakeTelegram, lang: str
) -> None:
    """A day seen by a cashier, a supervisor, an admin and the supervisors' group in ru or
    kk — ✅, ❌, an approval, a limit refusal, the audit trail, reports, the roster — shows
    no English word: statuses, roles and audit details are translated, not stored words."""
    async with controlled(
        default_language=lang, approval_threshold="100000", client_daily_limit="200000"
    ) as h:
        cashier = h.user(language_code=lang)
        admin, supervisor = h.user(ADMIN, lang), h.user(SUPERVISOR, lang)
        for login, amount, icon in (("77000000002", "1000", "✅"), ("77000000003", "2000", "❌")):
            card = await h.top_up_card(cashier, login, amount)
            await h.press(cashier, card, card.callback_buttons[0][0])
            await h.wait_status(CASHIER, card.message_id, icon)
        card = await h.top_up_card(cashier, "77000000001", "150000")
        await h.press(cashier, card, card.callback_buttons[0][0])
        await telegram.wait_for(lambda: bool(telegram.messages(SUPERVISOR)))
        request = next(m for m in telegram.messages(SUPERVISOR) if m.buttons)
        await h.press(supervisor, request, request.callback_buttons[0][0])  # approve
        await h.wait_status(CASHIER, card.message_id, "✅")
        await h.say(cashier, "/cashin")
        await h.say(cashier, "77000000001")
        refusal = await h.say(cashier, "60000")  # over the client's daily limit
        assert refusal.text.startswith("⛔")
        for command in ("/audit", "/cashiers", "/pending", "/report", "/today", "/history"):
            await h.say(admin, command)
        await h.say(supervisor, "/export")
        await h.say(admin, "/help")
        shown = [
            str(params.get("text") or params.get("caption") or "")
            for method, params in telegram.calls
            if method in {"sendMessage", "editMessageText", "sendDocument", "sendPhoto"}
        ]
        english = {word for text in shown for word in english_words(text)}
        assert not english, english
