"""How the sandbox runs: :func:`start_sandbox` opens its ledger, loads its keys (made on
first run) and serves it on ``host:port``; :class:`RunningSandbox` is what the bot, the demo
and the tests hold while it runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.allpay.protocol import ApiVersion
from bot.allpay.signing import Signer, Verifier
from bot.devtools.sandbox.keys import SandboxKeys, ensure_sandbox_keys
from bot.devtools.sandbox.ledger import Ledger
from bot.devtools.sandbox.server import Sandbox
from bot.devtools.sandbox.wsdl import PATHS, SANDBOX_PATH, TM_PATH

log = logging.getLogger(__name__)


@dataclass
class RunningSandbox:
    sandbox: Sandbox
    runner: web.AppRunner
    url: str
    keys: SandboxKeys

    @property
    def tm_url(self) -> str:
        """The TransactionManagement/1.1 service (``availableBalance``) beside the Cash-In one."""
        return self.url.removesuffix(SANDBOX_PATH) + TM_PATH

    def urls(self, version: ApiVersion) -> tuple[str, str]:
        """The Cash-In and TransactionManagement endpoints of ``version``."""
        base = self.url.removesuffix(SANDBOX_PATH)
        cashin, tm = PATHS[version]
        return base + cashin, base + tm

    async def close(self) -> None:
        await self.runner.cleanup()
        await self.sandbox.ledger.close()


async def start_sandbox(
    folder: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    slow_delay: float = 35.0,
    extra_agents: dict[str, Path] | None = None,
) -> RunningSandbox:
    """Start the sandbox on ``host:port`` (0: any free port); keys and ledger in ``folder``."""
    keys = ensure_sandbox_keys(folder)
    agents = {keys.certificate_number: Verifier.from_file(keys.agent_public)}
    for number, public in (extra_agents or {}).items():
        agents[number] = Verifier.from_file(public)
    ledger = Ledger(folder / "ledger.sqlite3")
    sandbox = Sandbox(
        ledger,
        signer=Signer.from_file(keys.allpay_private, None),
        agents=agents,
        slow_delay=slow_delay,
    )
    runner = web.AppRunner(sandbox.app(), access_log=None, shutdown_timeout=1.0)
    await ledger.open()
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        await ledger.close()
        raise
    bound_port = runner.addresses[0][1]
    url = f"http://{host}:{bound_port}{SANDBOX_PATH}"
    log.warning(
        "*** ALLPAY SANDBOX *** at %s — no real money moves; scripted clients 77000000001-5",
        url,
    )
    return RunningSandbox(sandbox, runner, url, keys)
