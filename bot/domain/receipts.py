"""A receipt: what the client keeps of a completed top-up, and who it names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.domain.model import Payment


@dataclass(frozen=True, slots=True)
class Parties:
    """The e-money issuer and the agent taking the cash (``ISSUER_*``, ``AGENT_*``).

    Required for a real Allpay; on the sandbox any may be unset and the receipt then prints
    example values marked as examples: no legal identifier is ever invented.
    """

    issuer_name: str | None = None
    issuer_bin: str | None = None
    agent_name: str | None = None
    agent_bin: str | None = None

    @property
    def complete(self) -> bool:
        return all((self.issuer_name, self.issuer_bin, self.agent_name, self.agent_bin))


#: What the sandbox prints where a party is not configured; always beside an "example" mark.
EXAMPLE_BIN = "000000000000"


@dataclass(frozen=True, slots=True)
class Receipt:
    """A completed payment as its receipt shows it."""

    payment: Payment
    cashier: str  # the cashier's name as the roster has it (their id when unnamed)
    parties: Parties
    #: Made on the embedded sandbox: no real money moved, and the receipt says so.
    sandbox: bool = False

    @property
    def number(self) -> str:
        return f"{self.payment.receipt_no or 0:06d}"

    @property
    def when(self) -> datetime:
        return self.payment.final_at or self.payment.created_at

    @property
    def cash(self) -> Decimal:
        return self.payment.cash

    @property
    def example(self) -> bool:
        return not self.parties.complete
