"""The receipt a client keeps: a PDF in the cashier's language, read back as a client's phone
would — its text extracted (pypdf), its page rendered to pixels (pypdfium2) and its QR code
decoded (zxing-cpp) — and the same receipt end to end through the bot."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pypdfium2
import pytest
import zxingcpp
from aiogram.utils.i18n import I18n
from pypdf import PdfReader

from bot.config.settings import ConfigError, load_settings
from bot.devtools.telegram import FakeTelegram
from bot.documents.receipt import render_pdf
from bot.domain.model import Payment, Status
from bot.domain.receipts import Parties, Receipt
from bot.telegram.runtime.i18n import locales_path
from tests.harness import CASHIER, PARTIES

ALMATY = ZoneInfo("Asia/Almaty")
GUID = "{0f8fad5b-d9cb-469f-a165-70867728950e}"
I18N = I18n(path=locales_path(), default_locale="ru")

#: Labels as each language prints them (from the catalogs), and the cashier's name with
#: every Kazakh letter: the embedded font must carry them all.
LABELS = {
    "en": ["Issuer", "Issuer's BIN", "Agent's BIN", "Cash accepted", "Fee", "E-money credited"],
    "ru": ["Эмитент", "БИН эмитента", "БИН агента", "Принято наличными", "Комиссия", "Кошелёк"],
    "kk": ["Эмитент", "Эмитенттің БСН", "Агенттің БСН", "Қабылданған қолма-қол ақша", "Әмиян"],
}
CASHIER_NAME = "Әсел Ғалымқызы Қоңырбаева Өмірұлы Үһі"


def _payment(**changes: object) -> Payment:
    moment = datetime(2026, 11, 28, 9, 30, 5, tzinfo=UTC)
    values: dict[str, object] = {
        "guid": GUID,
        "draft_id": None,
        "requester": "agent",
        "cashier_id": CASHIER,
        "chat_id": CASHIER,
        "message_id": None,
        "login": "77000000001",
        "client_name": "Client",
        "amount": Decimal(5000),
        "lang": "ru",
        "status": Status.COMPLETED,
        "attempts": 2,
        "last_error": None,
        "user_message": None,
        "developer_message": None,
        "reason": None,
        "created_at": moment,
        "updated_at": moment,
        "next_attempt_at": moment,
        "last_attempt_at": moment,
        "final_at": moment,
        "alerted_at": None,
        "receipt_no": 42,
        "fee": Decimal(150),
    }
    values.update(changes)
    return Payment(**values)  # type: ignore[arg-type]


def _flat(text: str) -> str:
    """Extracted text with every run of whitespace (the narrow no-break space too) as one."""
    return re.sub(r"\s+", " ", text.replace("\u202f", " "))


def read_back(pdf: bytes) -> tuple[str, list[str]]:
    """The page's text and the QR codes found on the rendered page."""
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = _flat(reader.pages[0].extract_text())
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=4).to_pil()
    finally:
        document.close()
    return text, [code.text for code in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_receipt_pdf_carries_every_field_and_a_qr_of_the_guid(lang: str) -> None:
    parties = Parties(**PARTIES)
    receipt = Receipt(_payment(), CASHIER_NAME, parties)
    pdf = render_pdf(receipt, ALMATY, lambda message: I18N.gettext(message, locale=lang))
    text, codes = read_back(pdf)
    assert codes == [GUID]
    required = [
        *LABELS[lang],
        parties.issuer_name,
        parties.issuer_bin,
        parties.agent_name,
        parties.agent_bin,
        CASHIER_NAME,  # the point of service: who took the cash
        "28.11.2026 14:30:05",  # local time, Almaty
        "000042",  # serial number
        "5 150 ₸",  # cash accepted = amount + fee
        "150 ₸",  # fee
        "5 000 ₸",  # e-money credited
        "+7 700 000 00 01",  # the wallet
        GUID,
    ]
    missing = [part for part in required if _flat(str(part)) not in text]
    assert not missing, (missing, text)
    assert "(example)" not in text and "пример" not in text and "үлгі" not in text
    if lang != "en":
        # The reader's language throughout: no English label is left.
        assert not re.search(r"\b(Issuer|Agent|Cashier|Wallet|Fee|Status)\b", text), text


def test_sandbox_receipt_marks_example_values_and_invents_no_identifier() -> None:
    receipt = Receipt(_payment(fee=Decimal(0)), "Aigul", Parties())
    text, codes = read_back(render_pdf(receipt, ALMATY, lambda m: I18N.gettext(m, locale="en")))
    assert codes == [GUID]
    assert "Example values: the sandbox, not a real top-up." in text
    assert "Issuer's BIN 000000000000 (example)" in text
    assert "Agent's BIN 000000000000 (example)" in text
    assert "Cash accepted 5 000 ₸" in text and "Fee 0 ₸" in text


def test_same_receipt_same_bytes() -> None:
    """A receipt asked for twice is the same document (no clock or random id inside)."""
    receipt = Receipt(_payment(), "Aigul", Parties(**PARTIES))
    en = lambda m: I18N.gettext(m, locale="en")  # noqa: E731
    assert render_pdf(receipt, ALMATY, en) == render_pdf(receipt, ALMATY, en)


@pytest.mark.parametrize("missing", ["ISSUER_NAME", "ISSUER_BIN", "AGENT_NAME", "AGENT_BIN"])
def test_a_real_allpay_needs_issuer_and_agent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox_keys: Path, missing: str
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "ALLPAY_URL": "https://allpay.example/soap",
        "ALLPAY_REQUESTER": "agent",
        "ALLPAY_CERTIFICATE_NUMBER": "1",
        "ALLPAY_PRIVATE_KEY": str(sandbox_keys / "agent.key.pem"),
        "ALLPAY_PUBLIC_KEY": str(sandbox_keys / "allpay.pub.pem"),
        **{name.upper(): value for name, value in PARTIES.items()},
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings().parties == Parties(**PARTIES)
    monkeypatch.delenv(missing)
    with pytest.raises(ConfigError, match=f"{missing} required when ALLPAY_URL is set"):
        load_settings()


async def test_cashier_gets_the_pdf_for_the_client_with_the_fee(
    controlled: Any, telegram: FakeTelegram
) -> None:
    async with controlled(cashin_fee="150", **PARTIES) as h:
        user = h.user(language_code="kk")
        card = await h.top_up_card(user, "77000000002", "2500")
        assert "2\u202f650\u00a0₸" in card.text  # the cash to take: amount + fee
        await h.press(user, card, "Растау")
        done = await h.wait_status(CASHIER, card.message_id, "✅")
        mark = telegram.mark()
        await h.press(user, done, "Түбіртек")
        text = await telegram.wait_message(CASHIER, after=mark)
        assert "Қабылданған қолма-қол ақша: 2\u202f650\u00a0₸" in text.plain
        assert "Комиссия: 150\u00a0₸" in text.plain
        mark = telegram.mark()
        calls = len(telegram.calls)
        await h.press(user, text, "PDF")
        document = await telegram.wait_message(CASHIER, after=mark)
        assert document.document is not None
        # "Sending a file…" while it is made, before the document (aiogram's ChatActionSender).
        methods = [(m, p.get("action")) for m, p in telegram.calls[calls:]]
        action = methods.index(("sendChatAction", "upload_document"))
        assert action < methods.index(("sendDocument", None))
        name, pdf = document.document
        assert name == "receipt-000001.pdf"
        [payment] = (await h.journal.payments_page(None, 0, 10))[0]
        assert payment.fee == Decimal(150) and payment.amount == Decimal(2500)
        content, codes = read_back(pdf)
        assert codes == [payment.guid]
        for part in (
            "Қабылданған қолма-қол ақша 2 650 ₸",
            "Комиссия 150 ₸",
            "000001",
            "ТОО «Агент Тест»",
        ):
            assert part in content, part
        # Someone else's receipt, or a payment not completed: refused like a missing one.
        before = len(telegram.callback_answers)
        telegram.press(user, text, "rp:{00000000-0000-0000-0000-000000000000}")
        await telegram.wait_for(lambda: len(telegram.callback_answers) > before)
        answer = list(telegram.callback_answers.values())[-1]
        assert answer.get("show_alert")


def test_the_longest_names_still_fit_the_page_in_kazakh() -> None:
    """Legal names at their longest (ISSUER_NAME/AGENT_NAME keep 120 characters): every field
    and the QR code stay on the one page."""
    long_name = ("Жауапкершілігі шектеулі серіктестігі «Қазақстан Төлем Агенттігі» " * 3)[:120]
    parties = Parties(long_name, "111111111111", long_name, "222222222222")
    receipt = Receipt(_payment(), CASHIER_NAME + " " + CASHIER_NAME, parties)
    pdf = render_pdf(receipt, ALMATY, lambda message: I18N.gettext(message, locale="kk"))
    text, codes = read_back(pdf)
    assert codes == [GUID]
    assert _flat(long_name) in text and GUID in text and "222222222222" in text
