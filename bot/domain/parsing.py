"""What cashiers type: client logins (phone numbers) and amounts. Pure functions."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

_SEPARATORS = re.compile(r"[\s\-().\u00a0\u202f]")
_CURRENCY = re.compile(r"\s*(?:₸|тг\.?|тенге|теңге|kzt|tg)\s*$", re.IGNORECASE)


def normalize_login(text: str) -> str | None:
    """``+7 701 000 00 01``, ``8 (701) 000-00-01``, ``77010000001`` → ``77010000001``.

    Kazakhstan numbers are +7 followed by ten digits; a leading 8 is the domestic trunk
    prefix. Anything else is not a login we accept (None).
    """
    if not isinstance(text, str) or len(text) > 40:
        return None
    compact = _SEPARATORS.sub("", text.strip())
    if compact.startswith("+"):
        if not compact.startswith("+7"):
            return None
        compact = compact[1:]
    if not compact.isascii() or not compact.isdigit():
        return None
    if len(compact) == 11 and compact[0] in "78":
        return "7" + compact[1:]
    if len(compact) == 10 and compact[0] == "7":
        return "7" + compact
    return None


def format_login(login: str) -> str:
    """``77010000001`` → ``+7 701 000 00 01``, as people write a Kazakh phone number;
    anything else (8 to 11 digits that are not one) as it is."""
    if len(login) == 11 and login.startswith("7") and login.isascii() and login.isdigit():
        return f"+7 {login[1:4]} {login[4:7]} {login[7:9]} {login[9:]}"
    return login


class AmountProblem(StrEnum):
    NOT_A_NUMBER = "not_a_number"
    NOT_WHOLE = "not_whole"
    NOT_POSITIVE = "not_positive"
    TOO_SMALL = "too_small"
    TOO_LARGE = "too_large"


@dataclass(frozen=True, slots=True)
class AmountError(Exception):
    problem: AmountProblem


#: Whole tenge as typed: plain digits, thousands set apart by spaces, or by commas (English);
#: then maybe a fraction after a point or a comma.
_AMOUNT = re.compile(
    r"(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+|[0-9]*)"
    r"(?:(?P<mark>[.,])(?P<fraction>[0-9]+))?"
)


def _read_amount(value: str) -> Decimal:
    """The tenge ``value`` says, read one way only (the rules: :func:`parse_amount`).
    Raises :class:`AmountError` (NOT_A_NUMBER, NOT_WHOLE, TOO_LARGE)."""
    match = _AMOUNT.fullmatch(value)
    if match is None or not (match["whole"] or match["fraction"]):
        raise AmountError(AmountProblem.NOT_A_NUMBER)
    whole, mark, fraction = match["whole"], match["mark"], match["fraction"]
    if fraction is not None:
        if mark == "," and ("," in whole or len(fraction) > 2):
            # Tiyn are two digits: ",000" is a thousands comma, which must then set apart
            # every thousand from the first ("1 000,000", "5000,000" are neither reading).
            raise AmountError(AmountProblem.NOT_A_NUMBER)
        if mark == "." and len(fraction) == 3 and whole.isdigit() and len(whole) <= 3:
            # "1.000": one in English, a thousand where a point sets thousands apart.
            raise AmountError(AmountProblem.NOT_A_NUMBER)
        if fraction.strip("0"):
            raise AmountError(AmountProblem.NOT_WHOLE)
    digits = re.sub(r"[^0-9]", "", whole)
    if len(digits) > 12:
        raise AmountError(AmountProblem.TOO_LARGE)
    return Decimal(digits or 0)


def parse_amount(text: str, minimum: Decimal, maximum: Decimal) -> Decimal:
    """Whole tenge as people type them: ``5000``, ``5 000``, ``5000 ₸``, a zero fraction
    (``5 000,00``, ``5000.00``) and the English thousands comma (``1,000``, ``1,000.00``).

    The same in every language: a comma followed by one or two digits is a decimal comma
    (tiyn, ru/kk: ``5000,50``), by three a thousands comma — tiyn are never three digits, so
    ``1,000`` is a thousand to a ru or kk reader too, and the card shows ``1 000 ₸`` before
    any cash is taken. What reads two ways is refused, never guessed: ``1.000`` (one, or a
    thousand set apart by a point), commas and spaces mixed, a thousands comma with a
    decimal comma. Tiyn that are not zero are NOT_WHOLE. Raises :class:`AmountError`."""
    if not isinstance(text, str) or len(text) > 40:
        raise AmountError(AmountProblem.NOT_A_NUMBER)
    value = _CURRENCY.sub("", text.strip())
    if value.startswith("-") or value.startswith("−"):
        try:
            _read_amount(value.lstrip("-−").strip())
        except AmountError as exc:
            if exc.problem is AmountProblem.NOT_A_NUMBER:
                raise
        raise AmountError(AmountProblem.NOT_POSITIVE)
    amount = _read_amount(value)
    if amount == 0:
        raise AmountError(AmountProblem.NOT_POSITIVE)
    if amount < minimum:
        raise AmountError(AmountProblem.TOO_SMALL)
    if amount > maximum:
        raise AmountError(AmountProblem.TOO_LARGE)
    return amount


_COUNT = re.compile(r"([0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+|[0-9]+)(?:[.,]([0-9]{1,2}))?")
#: The most a count of cash may say: well above any cashier's day.
COUNT_MAX = Decimal(10**10)


def parse_count(text: str) -> Decimal:
    """Cash counted: ``50000``, ``50 000``, ``1099,50`` (tiyn: a fee may have them), ``0``
    (nothing). Raises :class:`AmountError` (NOT_A_NUMBER, TOO_LARGE)."""
    if not isinstance(text, str) or len(text) > 40:
        raise AmountError(AmountProblem.NOT_A_NUMBER)
    value = _CURRENCY.sub("", text.strip())
    match = _COUNT.fullmatch(value)
    if match is None:
        raise AmountError(AmountProblem.NOT_A_NUMBER)
    whole = re.sub(r"\D", "", match[1])
    amount = Decimal(whole) + (Decimal(match[2].ljust(2, "0")) / 100 if match[2] else 0)
    if amount > COUNT_MAX:
        raise AmountError(AmountProblem.TOO_LARGE)
    return amount


def format_tenge(amount: Decimal) -> str:
    """``5000`` → ``5 000 ₸``: a narrow no-break space sets thousands apart and a no-break
    space keeps ₸ on the amount's line."""
    whole = int(amount)
    text = f"{whole:,}".replace(",", "\u202f")
    fraction = amount - whole
    if fraction:
        text += "," + f"{fraction:.2f}"[2:]
    return f"{text}\u00a0₸"


#: Control and format characters (bidi overrides and isolates, zero-width joiners and spaces,
#: the BOM, soft hyphens…) that would let one name pass for another in a list.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: Unicode's Default_Ignorable_Code_Point outside those categories, and blank "letters"
#: (Hangul fillers, the blank Braille pattern) that render as nothing.
_INVISIBLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\ufe00-\ufe0f\uffa0"
    "\U000e0100-\U000e01ef]"
)
NAME_MAX = 64


def clean_name(text: str, limit: int = NAME_MAX) -> str | None:
    """A person's or a client's name (or a typed reason) as it may be shown in lists:
    control, format and bidi characters removed, runs of spaces folded, at most ``limit``
    characters; None if nothing visible is left."""
    visible = "".join(
        " " if ch.isspace() else ch
        for ch in _INVISIBLE.sub("", text)
        if ch.isspace() or unicodedata.category(ch) not in _INVISIBLE_CATEGORIES
    )
    folded = " ".join(visible.split())[:limit].strip()
    return folded or None
