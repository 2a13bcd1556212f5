"""The sandbox's keys: its own pair (it signs its answers with it) and the agent's pair it
trusts (the bot's, in sandbox mode), generated on first run and reused afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.allpay.signing import generate_key_pair

SANDBOX_CERTIFICATE_NUMBER = "SANDBOX-0001"


@dataclass(frozen=True, slots=True)
class SandboxKeys:
    """The sandbox's own key pair and the agent key pair it trusts (the bot's, in sandbox mode)."""

    allpay_private: Path
    allpay_public: Path
    agent_private: Path
    agent_public: Path
    certificate_number: str = SANDBOX_CERTIFICATE_NUMBER


def ensure_sandbox_keys(folder: Path) -> SandboxKeys:
    """Generate both key pairs on first run into ``folder``; reuse them afterwards."""
    keys = SandboxKeys(
        allpay_private=folder / "allpay.key.pem",
        allpay_public=folder / "allpay.pub.pem",
        agent_private=folder / "agent.key.pem",
        agent_public=folder / "agent.pub.pem",
    )
    for private, public in (
        (keys.allpay_private, keys.allpay_public),
        (keys.agent_private, keys.agent_public),
    ):
        if not (private.is_file() and public.is_file()):
            generate_key_pair(private, public)
    return keys
