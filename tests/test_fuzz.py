"""Property tests (hypothesis): what people type and what arrives from Allpay.

Bounded example counts keep CI fast; ``CASHIN_FUZZ_EXAMPLES`` raises them for a longer run.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.allpay.client import AllpayClient
from bot.allpay.protocol import PayStatus, parse_document
from bot.allpay.signing import SignatureError, Verifier
from bot.devtools.sandbox import RunningSandbox
from bot.domain.parsing import AmountError, normalize_login, parse_amount
from tests.fixtures import make_client
from tests.test_client_bad_answers import GUID, Start, signed_answer

EXAMPLES = int(os.environ.get("CASHIN_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MIN, MAX = Decimal(100), Decimal(500000)
SEPARATORS = st.sampled_from(["", " ", "-", "(", ")", ".", "\u00a0", "\u202f"])


# ---------------------------------------------------------------- logins


@FUZZ
@given(st.text(max_size=60))
def test_login_normaliser_never_crashes_and_only_yields_logins(text: str) -> None:
    login = normalize_login(text)
    if login is not None:
        assert re.fullmatch(r"7\d{10}", login)
        assert normalize_login(login) == login  # idempotent


@FUZZ
@given(
    st.from_regex(r"[0-9]{10}", fullmatch=True),
    st.sampled_from(["+7", "8", "7", ""]),
    st.lists(SEPARATORS, min_size=11, max_size=11),
)
def test_every_way_of_writing_a_number_gives_the_same_login(
    digits: str, prefix: str, seps: list[str]
) -> None:
    if prefix == "" and not digits.startswith("7"):
        return  # ten digits alone are read as 7XXXXXXXXX only when they start with 7
    written = prefix + "".join(sep + d for sep, d in zip(seps, digits, strict=False))
    assert normalize_login(written) == "7" + digits


# ---------------------------------------------------------------- amounts


@FUZZ
@given(st.text(max_size=40))
def test_amount_parser_never_crashes_and_only_accepts_whole_tenge_in_range(text: str) -> None:
    try:
        amount = parse_amount(text, MIN, MAX)
    except AmountError:
        return
    assert amount == amount.to_integral_value() and MIN <= amount <= MAX
    assert not re.search(
        r"[A-Za-zА-Яа-я]",
        text.replace("тг", "")
        .replace("тенге", "")
        .replace("теңге", "")
        .replace("kzt", "")
        .replace("KZT", "")
        .replace("tg", "")
        .replace("TG", "")
        .replace("Kzt", ""),
    ), text


@FUZZ
@given(st.integers(min_value=100, max_value=500000), st.sampled_from(["", " ₸", "₸", " тг"]))
def test_amounts_in_range_are_read_back_exactly(n: int, suffix: str) -> None:
    grouped = f"{n:,}".replace(",", " ")
    for written in (str(n), grouped, f"{n:,}".replace(",", "\u202f")):
        assert parse_amount(written + suffix, MIN, MAX) == Decimal(n)


@FUZZ
@given(st.decimals(allow_nan=True, allow_infinity=True, places=3))
def test_amounts_with_fractions_or_out_of_range_are_refused(value: Decimal) -> None:
    text = str(value)
    try:
        amount = parse_amount(text, MIN, MAX)
    except AmountError:
        return
    assert amount == value and MIN <= amount <= MAX


# ---------------------------------------------------------------- Allpay answers


class Scripted:
    """A fake Allpay whose next answer the property decides."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.mutate: Any = None
        self.raw: bytes | None = None
        self.sent: bytes = b""
        self.digest: str = ""

    async def respond(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        request_doc = parse_document(body)
        self.digest = Verifier.from_file(self.sandbox.keys.agent_public).verify(request_doc).digest
        answer = self.raw if self.raw is not None else signed_answer(self.sandbox, body)
        if self.mutate is not None:
            answer = self.mutate(answer)
        self.sent = answer
        return web.Response(body=answer, content_type="text/xml")


@pytest.fixture
async def scripted(
    sandbox: RunningSandbox, fake_allpay: Start
) -> AsyncIterator[tuple[Scripted, AllpayClient]]:
    fake = Scripted(sandbox)
    url = await fake_allpay(fake.respond)
    async with make_client(sandbox, url=url, timeout=2.0) as client:
        yield fake, client


@FUZZ
@given(st.binary(max_size=4096))
async def test_arbitrary_bytes_never_raise_out_of_pay(
    scripted: tuple[Scripted, AllpayClient], data: bytes
) -> None:
    fake, client = scripted
    fake.raw, fake.mutate = data, None
    result = await client.pay(GUID, "77010000001", Decimal(1000), "ru")
    assert result.status is PayStatus.PENDING and result.cause


def _verifies(document: bytes, sandbox: RunningSandbox, digest: str) -> bool:
    try:
        verified = Verifier.from_file(sandbox.keys.allpay_public).verify(parse_document(document))
    except (SignatureError, Exception):
        return False
    return verified.request_dsig == digest


@FUZZ
@given(
    st.sampled_from(["replace", "delete", "insert"]),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.binary(min_size=1, max_size=8),
)
async def test_mutated_real_answers_never_complete_unless_they_still_verify(
    scripted: tuple[Scripted, AllpayClient], op: str, where: float, chunk: bytes
) -> None:
    fake, client = scripted

    def mutate(answer: bytes) -> bytes:
        at = int(where * len(answer))
        if op == "replace":
            return answer[:at] + chunk + answer[at + len(chunk) :]
        if op == "delete":
            return answer[:at] + answer[at + len(chunk) :]
        return answer[:at] + chunk + answer[at:]

    fake.raw, fake.mutate = None, mutate
    result = await client.pay(GUID, "77010000001", Decimal(1000), "ru")
    if result.status is PayStatus.COMPLETED:
        # Only a change the signature does not cover (e.g. whitespace inside a tag) may pass.
        assert _verifies(fake.sent, fake.sandbox, fake.digest), fake.sent
