"""Telegram's Mini App launch data (``initData``), signed as Telegram signs it — for the
desk's API tests and its browser tests.

The algorithm (core.telegram.org/bots/webapps, "Validating data received via the Mini
App"): the fields but ``hash``, sorted by name, as ``name=value`` lines joined by ``\\n``;
HMAC-SHA256 of that text keyed by HMAC-SHA256("WebAppData", bot token); hex."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

from tests.harness import TOKEN


def sign_init_data(
    user_id: int | None,
    *,
    token: str = TOKEN,
    auth_date: int | None = None,
    first_name: str = "Test",
    language_code: str | None = "en",
    extra: dict[str, str] | None = None,
) -> str:
    """The query string Telegram hands a Mini App as ``Telegram.WebApp.initData`` (``user_id``
    None: launch data that names nobody)."""
    fields = {
        "auth_date": str(int(time.time()) if auth_date is None else auth_date),
        "query_id": f"AAQ{user_id}",
        **(extra or {}),
    }
    if user_id is not None:
        user: dict[str, Any] = {"id": user_id, "first_name": first_name}
        if language_code is not None:
            user["language_code"] = language_code
        fields["user"] = json.dumps(user, separators=(",", ":"), ensure_ascii=False)
    check = "\n".join(f"{name}={value}" for name, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def authorization(init_data: str) -> dict[str, str]:
    """The header every desk API call carries."""
    return {"Authorization": f"tma {init_data}"}
