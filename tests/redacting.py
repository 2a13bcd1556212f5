"""Registered secrets (:mod:`bot.infra.redaction`) put aside for one test: the bot keeps every
secret it is told for the life of its process, a test of redaction starts with none."""

from __future__ import annotations

import pytest

from bot.infra import redaction


def without_registered_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test starts with no registered secret; ``monkeypatch`` puts back what was
    registered before once it ends."""
    monkeypatch.setattr(redaction, "_secrets", ())
    monkeypatch.setattr(redaction, "_short_words", frozenset())
    monkeypatch.setattr(redaction, "_short", None)
