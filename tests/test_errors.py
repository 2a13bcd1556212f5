"""A button whose handler fails is answered all the same (bot/telegram/basics/router.py):
an unexpected error with "something went wrong", a part that is away with "temporarily
unavailable" — as an alert on the press or, the press answered already (Confirm answers
it first), in the chat; never silence. (A part that is away is the intake's and the parts'
tests': tests/test_parts.py, tests/test_blips.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import CASHIER, Harness


async def test_a_failing_button_is_answered_in_the_chat(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    failure, said = RuntimeError("a bug"), "Something went wrong on our side"
    user = harness.user()
    card = await harness.top_up_card(user, "77000000002", "1000")

    async def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise failure

    monkeypatch.setattr(harness.app.cashin, "button", fail)
    mark = harness.tg.mark()
    await harness.press(user, card, "Confirm")
    told = await harness.tg.wait_message(CASHIER, lambda m: said in m.text, after=mark)
    assert told.text
    assert await harness.journal.payments_page(None, 0, 5) == ([], 0)  # nothing paid
