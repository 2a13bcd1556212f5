"""The embedded Allpay sandbox: Allpay's Cash-In service as far as the bot can tell, on
loopback, with real signatures and its own ledger.

- :mod:`.wsdl`: its paths per API version, the WSDLs it serves and their schema;
- :mod:`.keys`: its key pair and the agent's it trusts;
- :mod:`.ledger`: its books (SQLite, GUID+requester unique);
- :mod:`.clients`: the scripted clients and what Allpay decides for each;
- :mod:`.answers`: the SOAP answers and Faults as Allpay words and signs them;
- :mod:`.server`: :class:`Sandbox`, the SOAP service with its injected faults;
- :mod:`.running`: :func:`start_sandbox` and :class:`RunningSandbox`.

Loaded only when it runs (``python -m bot sandbox``, the embedded sandbox, the demo, tests):
a bot that talks to the real Allpay never imports it.
"""

from __future__ import annotations

from bot.devtools.sandbox.clients import SCRIPT, ScriptedClient
from bot.devtools.sandbox.keys import SANDBOX_CERTIFICATE_NUMBER, SandboxKeys, ensure_sandbox_keys
from bot.devtools.sandbox.ledger import DEFAULT_BALANCE, Ledger, LedgerRow
from bot.devtools.sandbox.running import RunningSandbox, start_sandbox
from bot.devtools.sandbox.server import Sandbox, SandboxStats
from bot.devtools.sandbox.wsdl import PATHS, SANDBOX_PATH, TM_PATH, wsdl_schema, wsdl_text

__all__ = [
    "DEFAULT_BALANCE",
    "PATHS",
    "SANDBOX_CERTIFICATE_NUMBER",
    "SANDBOX_PATH",
    "SCRIPT",
    "TM_PATH",
    "Ledger",
    "LedgerRow",
    "RunningSandbox",
    "Sandbox",
    "SandboxKeys",
    "SandboxStats",
    "ScriptedClient",
    "ensure_sandbox_keys",
    "start_sandbox",
    "wsdl_schema",
    "wsdl_text",
]
