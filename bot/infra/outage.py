"""The parts the bot depends on (the journal, Redis, Allpay, Telegram): whether each is
answering now, told in one log line when it goes and one when it returns — never one per
update or per pass while it stays away."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.domain.clock import utcnow

log = logging.getLogger(__name__)


class PartDown(Exception):
    """A part the bot needs did not answer: nothing this step would have changed was
    changed by it — except, for a write, possibly its COMMIT (the answer may have been
    lost): money steps read the journal back before they say anything."""

    def __init__(self, part: str, reason: str) -> None:
        super().__init__(f"{part} unavailable: {reason}")
        self.part = part
        self.reason = reason


class Part:
    """One part's state. ``failed`` and ``answered`` are cheap: call them on every use."""

    def __init__(self, name: str, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.name = name
        self._clock = clock
        #: When it stopped answering (None: it answers).
        self.down_since: datetime | None = None
        self.last_error: str | None = None

    @property
    def up(self) -> bool:
        return self.down_since is None

    def failed(self, reason: str) -> bool:
        """It did not answer; True (and one log line) if that is news."""
        self.last_error = reason
        if self.down_since is not None:
            return False
        self.down_since = self._clock()
        log.warning("%s is unavailable: %s", self.name, reason)
        return True

    def answered(self) -> bool:
        """It answered; True (and one log line) if it was down until now."""
        since = self.down_since
        if since is None:
            return False
        self.down_since = None
        seconds = (self._clock() - since).total_seconds()
        log.info("%s is back after %.0f s", self.name, seconds)
        return True
