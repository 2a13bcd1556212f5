"""The desk's HTTP router: its API's paths under the desk's prefix (no aiogram router: the
desk takes no updates; its page and assets are :mod:`bot.telegram.desk.page`'s)."""

from __future__ import annotations

from aiohttp import web

from bot.telegram.desk.api import (
    balance,
    decide,
    export,
    find,
    guarded,
    handover,
    me,
    now,
    payment,
    reason,
    receipt,
    today,
)


def make_router(prefix: str) -> list[web.RouteDef]:
    """Every API path under ``<prefix>api/``, each behind the launch data and roster check."""
    api = prefix + "api/"
    return [
        web.get(api + "me", guarded(me)),
        web.get(api + "today", guarded(today)),
        web.get(api + "now", guarded(now)),
        web.get(api + "find", guarded(find)),
        web.get(api + "balance", guarded(balance)),
        web.get(api + "payment/{guid}", guarded(payment)),
        web.post(api + "payment/{guid}/receipt", guarded(receipt)),
        web.post(api + "export", guarded(export)),
        web.post(api + "approval/{id}/{action:approve|reject}", guarded(decide)),
        web.post(api + "approval/{id}/reason", guarded(reason)),
        web.post(api + "handover/{id}/{action:confirm|dispute}", guarded(handover)),
    ]
