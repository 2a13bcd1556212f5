"""The routers, composed in priority order by :func:`build_router`.

Each feature module exposes ``make_router()``, building a fresh ``Router`` with its role
filter set at router level (aiogram's idiom: a router attaches to one parent only, so every
Dispatcher gets its own). Commands a role may not use fall through their router's filter to
the refusals built from the one command registry (:mod:`bot.telegram.commands`).
"""

from __future__ import annotations

from aiogram import Router

from bot.telegram.commands import make_refusals_router
from bot.telegram.handlers import (
    approvals,
    cash,
    cashin,
    common,
    history,
    language,
    privacy,
    reports,
    roster,
)


def build_router() -> Router:
    root = Router(name="root")
    # common first: /start, /cancel and the error handlers apply at every step. The
    # conversation's steps come next (found fast: most updates are steps); they never take
    # a command or a menu button, so /history or /find work in the middle of a top-up. A
    # role's commands come before the refusals for everyone else. Clients' personal data is
    # answered in private chats only: privacy comes before every router that shows it.
    root.include_routers(
        common.make_router(),
        privacy.make_router(),
        cashin.make_router(),
        language.make_router(),
        history.make_router(),
        reports.make_router(),
        roster.make_router(),
        approvals.make_router(),
        cash.make_router(),
        make_refusals_router(),
        common.make_fallback_router(),
    )
    return root
