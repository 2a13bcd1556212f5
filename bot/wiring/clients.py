"""The bot's outward clients, made from the settings: Telegram's ``Bot`` and the Allpay
client (or the embedded sandbox and a client of it), used by the wiring and by the pre-flight
check alike; and where conversations live (the journal, or Redis with ``REDIS_URL``)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import SimpleEventIsolation

from bot.allpay.client import AllpayClient
from bot.allpay.protocol import ApiVersion
from bot.allpay.signing import Signer, Verifier
from bot.config.settings import ConfigError, Settings
from bot.infra.redaction import register_secret
from bot.store.db import Database
from bot.telegram.runtime.storage import SQLiteStorage
from bot.wiring.metrics import Metrics

# The embedded sandbox is loaded only when it runs, redis and aiogram's RedisStorage with
# REDIS_URL only (tests/test_imports.py).
if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.devtools.sandbox import RunningSandbox


async def allpay_client(
    settings: Settings, metrics: Metrics
) -> tuple[AllpayClient, RunningSandbox | None]:
    if settings.uses_sandbox:
        from bot.devtools.sandbox import start_sandbox

        sandbox = await start_sandbox(
            settings.sandbox_folder, slow_delay=settings.allpay_timeout + 1
        )
        keys = sandbox.keys
        url, tm_url = sandbox.urls(ApiVersion(settings.allpay_api_version))
        client = AllpayClient(
            url,
            requester=settings.allpay_requester or "sandbox-agent",
            signer=Signer.from_file(keys.agent_private, keys.certificate_number),
            verifier=Verifier.from_file(keys.allpay_public),
            timeout=settings.allpay_timeout,
            tm_url=settings.allpay_tm_url or tm_url,
            tz=settings.tz,
            observer=metrics.observe_allpay,
            version=ApiVersion(settings.allpay_api_version),
        )
        register_secret(keys.agent_private.read_text())
        return client, sandbox
    # Settings validated these together with ALLPAY_URL.
    assert settings.allpay_url is not None
    assert settings.allpay_requester is not None
    assert settings.allpay_private_key is not None
    assert settings.allpay_public_key is not None
    client = AllpayClient(
        settings.allpay_url,
        requester=settings.allpay_requester,
        signer=Signer.from_file(settings.allpay_private_key, settings.allpay_certificate_number),
        verifier=Verifier.from_file(settings.allpay_public_key),
        timeout=settings.allpay_timeout,
        token=settings.allpay_token.get_secret_value() if settings.allpay_token else None,
        tm_url=settings.allpay_tm_url,
        tz=settings.tz,
        observer=metrics.observe_allpay,
        version=ApiVersion(settings.allpay_api_version),
    )
    return client, None


class BotApiSession(AiohttpSession):
    """aiogram's session, closed without its 250 ms wait for TLS connections to shut down
    where there are none: a Bot API server reached over plain HTTP (a local ``telegram-bot-api``
    beside the bot, the stand-in). Over https:// it waits as aiogram does."""

    async def close(self) -> None:
        if self.api.base.startswith("https://"):
            await super().close()
        elif self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(settings: Settings) -> Bot:
    if settings.bot_token is None:
        raise ConfigError("configuration error: BOT_TOKEN: required to run the bot")
    session = BotApiSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def conversation_storage(
    settings: Settings, db: Database
) -> tuple[BaseStorage, BaseEventIsolation, Redis | None]:
    """Where conversations live and how one person's updates are kept in order: in the
    journal and in this process (one instance), or in Redis for every instance
    (``REDIS_URL``: a conversation continues on whichever instance takes its next update).
    The third: the Redis client, where there is one."""
    if settings.redis_url is None:
        return SQLiteStorage(db), SimpleEventIsolation(), None
    from aiogram.fsm.storage.redis import RedisStorage

    from bot.telegram.runtime.isolation import RenewedRedisIsolation

    keys = DefaultKeyBuilder(prefix=settings.redis_prefix, with_bot_id=True, with_destiny=True)
    # Idle conversations go after PRUNE_AFTER_DAYS, as in the journal (0: kept).
    ttl = timedelta(days=settings.prune_after_days) if settings.prune_after_days else None
    storage = RedisStorage.from_url(
        settings.redis_url.get_secret_value(),
        # A Redis that stops answering fails a call in seconds (and /healthz), never hangs it.
        connection_kwargs={"socket_timeout": 5, "socket_connect_timeout": 5},
        key_builder=keys,
        state_ttl=ttl,
        data_ttl=ttl,
    )
    return storage, RenewedRedisIsolation(storage.redis, key_builder=keys), storage.redis
