"""The sandbox's scripted clients (README lists them) and what Allpay decides for each:

=============  ==========================================================
``77000000001``  identified; first pay answer PENDING, then COMPLETED
``77000000002``  found, not identified; COMPLETED at once
``77000000003``  identified; DECLINED with a userMessage
``77000000004``  identified; the first pay answer is slower than the timeout
``77000000005``  identified; the first pay answer is HTTP 500
anything else    not found
=============  ==========================================================

A client who is not identified is declined above :data:`UNIDENTIFIED_LIMIT`; a payment the
agent's balance cannot cover stays PENDING.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from bot.allpay.protocol import PayStatus
from bot.devtools.sandbox.ledger import Decider, LedgerRow

UNIDENTIFIED_LIMIT = Decimal(100_000)

Flow = Literal["pending_then_completed", "completed", "declined", "slow_first", "http500_first"]


@dataclass(frozen=True, slots=True)
class ScriptedClient:
    identified: bool
    first_name: str
    last_name: str
    patronymic: str | None
    iin: str | None
    flow: Flow


SCRIPT: dict[str, ScriptedClient] = {
    "77000000001": ScriptedClient(
        True, "Айгерім", "Нұрланова", "Серікқызы", "900101400011", "pending_then_completed"
    ),
    "77000000002": ScriptedClient(False, "Данияр", "Ахметов", None, None, "completed"),
    "77000000003": ScriptedClient(True, "Ерлан", "Сапаров", "Болатұлы", "850505300033", "declined"),
    "77000000004": ScriptedClient(
        True, "Мария", "Иванова", "Петровна", "920202400044", "slow_first"
    ),
    "77000000005": ScriptedClient(True, "Асель", "Касымова", None, "950303400055", "http500_first"),
}


def decider(client: ScriptedClient | None, amount: Decimal) -> Decider:
    """How the ledger decides a payment of ``amount`` to ``client`` (None: not found)."""

    def decide(row: LedgerRow, created: bool, balance: Decimal) -> PayStatus:
        if client is None or client.flow == "declined":
            return PayStatus.DECLINED
        if not client.identified and amount > UNIDENTIFIED_LIMIT:
            return PayStatus.DECLINED
        if created and client.flow != "completed":
            return PayStatus.PENDING
        if balance < amount:  # the agent's float ran out: stays pending
            return PayStatus.PENDING
        return PayStatus.COMPLETED

    return decide
