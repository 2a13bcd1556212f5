"""One person's updates in order across instances (Redis), with a lock that outlives no
process: short, and renewed while its holder runs. aiogram's own lock lasts 60 s, so a
killed instance's lock made that person wait a minute for any answer. Imported only with
``REDIS_URL`` (redis is not loaded otherwise)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

log = logging.getLogger(__name__)

#: Seconds a lock lasts without renewal: how long a dead holder keeps a person waiting.
LOCK_TTL = 8.0


class RenewedRedisIsolation(RedisEventIsolation):
    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        name = self.key_builder.build(key, "lock")
        lock = self.redis.lock(name=name, timeout=LOCK_TTL, sleep=0.05, lock_class=Lock)
        await lock.acquire()
        keeper = asyncio.create_task(_keep(lock), name="isolation lock")
        try:
            yield None
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            try:
                await lock.release()
            except (LockError, RedisError, OSError) as exc:
                # Lapsed meanwhile (Redis away past its time): the step itself went through,
                # and the lock is gone either way.
                log.info("isolation lock already gone at release: %s", type(exc).__name__)


async def _keep(lock: Lock) -> None:
    """Renew at a third of its time while the handler runs; a renewal that fails (Redis
    away a moment) is tried again at the next third. If the lock lapsed meanwhile, another
    instance may take this person's next update: the journal's own rules keep money right."""
    failing = False
    while True:
        await asyncio.sleep(LOCK_TTL / 3)
        try:
            await lock.reacquire()
        except (LockError, RedisError, OSError) as exc:
            if not failing:
                log.info("isolation lock not renewed: %s; trying again", type(exc).__name__)
            failing = True
        else:
            failing = False
