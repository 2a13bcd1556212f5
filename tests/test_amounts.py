"""Amounts as cashiers type them (issue 26, item 8): a zero fraction and an English thousands
comma are read; tiyn that are not zero keep their own answer; what cannot be read one way
only is refused rather than guessed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain.parsing import AmountError, AmountProblem, parse_amount
from tests.harness import CASHIER, Harness

MIN, MAX = Decimal(100), Decimal(500000)


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        # a zero fraction, after a comma (ru/kk) or a point (en, and phones' keypads)
        ("5 000,00", 5000),
        ("5000,00", 5000),
        ("5000.00", 5000),
        ("5000,0", 5000),
        ("5\u00a0000,00 ₸", 5000),
        ("5\u202f000.00", 5000),
        ("5000.000", 5000),  # a point with a thousands part before it: only a fraction
        # the English thousands comma: three digits after a comma are never tiyn
        ("1,000", 1000),
        ("12,500", 12500),
        ("250,000", 250000),
        ("1,000.00", 1000),
        ("12,500 ₸", 12500),
        # unchanged
        ("5000", 5000),
        ("5 000", 5000),
        ("5000 ₸", 5000),
    ],
)
def test_amounts_people_type_are_read(typed: str, amount: int) -> None:
    assert parse_amount(typed, MIN, MAX) == Decimal(amount)


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        # tiyn that are not zero keep their message
        ("5000,50", AmountProblem.NOT_WHOLE),
        ("5 000,5", AmountProblem.NOT_WHOLE),
        ("5000.50", AmountProblem.NOT_WHOLE),
        ("1,000.50", AmountProblem.NOT_WHOLE),
        ("1,5", AmountProblem.NOT_WHOLE),
        (",50", AmountProblem.NOT_WHOLE),
        # one way only, or refused: never a guess
        ("1.000", AmountProblem.NOT_A_NUMBER),  # one in English, a thousand to some
        ("5.000 ₸", AmountProblem.NOT_A_NUMBER),
        ("1,000,00", AmountProblem.NOT_A_NUMBER),  # a thousands comma and a decimal comma
        ("1,00,000", AmountProblem.NOT_A_NUMBER),  # lakh grouping
        ("10,00,0", AmountProblem.NOT_A_NUMBER),
        ("1 000,000", AmountProblem.NOT_A_NUMBER),  # spaces and commas as thousands at once
        ("1.000.000", AmountProblem.NOT_A_NUMBER),
        ("1,000 000", AmountProblem.NOT_A_NUMBER),
        # zero, negative, out of range
        ("0,00", AmountProblem.NOT_POSITIVE),
        ("-5 000,00", AmountProblem.NOT_POSITIVE),
        ("-1,000", AmountProblem.NOT_POSITIVE),
        ("99,00", AmountProblem.TOO_SMALL),
        ("500,001", AmountProblem.TOO_LARGE),
    ],
)
def test_amounts_not_read_one_way_are_refused(typed: str, problem: AmountProblem) -> None:
    with pytest.raises(AmountError) as info:
        parse_amount(typed, MIN, MAX)
    assert info.value.problem is problem, typed


async def test_a_cashier_typing_them_gets_the_card(harness: Harness) -> None:
    """Through the bot, in English and in Russian: the card, where "Whole tenge only" was."""
    for language, typed, shown in (
        ("en", "1,000", "1\u202f000\u00a0₸"),
        ("en", "5000.00", "5\u202f000\u00a0₸"),
        ("ru", "5 000,00", "5\u202f000\u00a0₸"),
        ("ru", "12,500", "12\u202f500\u00a0₸"),
    ):
        user = harness.user(CASHIER, language)
        card = await harness.top_up_card(user, "77000000002", typed)
        assert shown in card.text, (language, typed, card.text)
        await harness.say(user, "/cancel")
