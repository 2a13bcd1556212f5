"""Work that one process does for all of them (polling Telegram): a named lease in the
journal, renewed while the work goes on, so a second process is refused at once and takes
over only once the first is gone (its lease runs out, or it lets go on stop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain.clock import utcnow
from bot.infra.outage import PartDown
from bot.store.db import Database, Tx
from bot.store.leases import Leases
from bot.store.outbox import Outbox
from bot.store.payments import Payments
from bot.store.updates import Updates

log = logging.getLogger(__name__)


class Singleton:
    def __init__(
        self,
        db: Database,
        name: str,
        owner: str,
        *,
        ttl: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.name = name
        self.owner = owner
        self.ttl = timedelta(seconds=ttl)
        self._clock = clock

    async def take(self) -> str | None:
        """Take (or renew) the lease: None if this process holds it now, else the holder."""
        now = self._clock()
        return await self.db.write(
            lambda tx: Leases.take(tx, now, self.name, self.owner, now + self.ttl),
            durable=False,
        )

    async def take_over(self, previous: str) -> bool:
        """Take the lease from ``previous``, known to be gone."""
        now = self._clock()
        return await self.db.write(
            lambda tx: Leases.take_over(tx, self.name, self.owner, now + self.ttl, previous)
        )

    async def keep(self, lost: asyncio.Event) -> None:
        """Renew at a third of the lease until cancelled; ``lost`` is set if another process
        took it meanwhile (this one stalled, or the journal was away past the lease and another
        instance reached it first). Failures to reach the journal are retried, never fatal."""
        failing = False
        while True:
            await asyncio.sleep(self.ttl.total_seconds() / (3 if not failing else 10))
            try:
                holder = await self.take()
            except Exception as exc:
                # A journal away for a while is no reason to stop: nobody else can take the
                # lease meanwhile either (one journal). Once it answers, whoever holds the
                # lease is known: this process again, or another that took over.
                if not failing:  # the journal away is said once by the journal itself
                    level = logging.INFO if isinstance(exc, PartDown) else logging.WARNING
                    log.log(level, "%s: could not renew the lease (%s); retrying", self.name, exc)
                failing = True
                continue
            failing = False
            if holder is not None:
                log.error("%s: %s took over; stopping here", self.name, holder)
                lost.set()
                return

    async def release(self) -> None:
        with contextlib.suppress(Exception):  # at shutdown: the lease runs out anyway
            await self.db.write(lambda tx: Leases.release(tx, self.name, self.owner))


class NameTaken(Exception):
    """Another live process runs under this instance name."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Identity:
    """This process among the instances sharing the journal.

    Its owner name — ``INSTANCE_NAME:host:pid:tag`` — is its own, so two processes never
    share a lease even under one ``INSTANCE_NAME``; the name itself is held by one live
    process at a time (an ``instance:NAME`` lease, renewed while it runs). At start a process
    takes its name — from a dead earlier life on this host at once, refused while a live
    process holds it — and takes back what its earlier lives held: send leases, outbox
    claims, named leases, unfinished updates. A restart after a crash resumes at once.
    """

    def __init__(
        self, db: Database, name: str, *, ttl: float = 30.0, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.name = name
        self.host = socket.gethostname()
        self.owner = f"{name}:{self.host}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lease = Singleton(db, f"instance:{name}", self.owner, ttl=ttl, clock=clock)
        self._clock = clock

    def _dead(self, holder: str) -> bool:
        """A holder on this host whose process is gone (a crash, a SIGKILL)."""
        parts = holder.rsplit(":", 3)
        if len(parts) != 4 or parts[1] != self.host or not parts[2].isdigit():
            return False
        return not _alive(int(parts[2]))

    async def claim(self) -> list[str]:
        """Take the name (raises :class:`NameTaken`) and what earlier lives held; returns
        the other instances running on this journal now."""
        holder = await self.lease.take()
        if holder is not None:
            if not self._dead(holder) or not await self.lease.take_over(holder):
                raise NameTaken(holder)
            log.warning("instance %s: took over from %s, which is gone", self.name, holder)
        prefix, now = f"{self.name}:", self._clock()

        def take_back(tx: Tx) -> list[str]:
            sends = Payments.release_all(tx, prefix, earlier_than=self.owner)
            chats = Outbox.release_all(tx, prefix, earlier_than=self.owner)
            updates = Updates.release(tx, prefix, earlier_than=self.owner)
            Leases.release_earlier(tx, prefix, self.owner)
            if sends or chats or updates:
                log.info(
                    "took back %d send lease(s), %d outbox claim(s), %d unfinished update(s)",
                    sends,
                    chats,
                    updates,
                )
            return [
                owner
                for name, owner in Leases.holders(tx, now, "instance:")
                if name != self.lease.name
            ]

        return await self.db.write(take_back)
