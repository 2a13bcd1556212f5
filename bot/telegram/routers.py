"""The feature routers, composed in priority order by :func:`build_router`.

Each feature package's ``router.py`` exposes ``make_router()``, building a fresh ``Router``
with its role filter set at router level (aiogram's idiom: a router attaches to one parent
only, so every Dispatcher gets its own). Commands a role may not use fall through their
router's filter to the refusals built from the one command registry
(:mod:`bot.telegram.shared.commands`, :mod:`bot.telegram.basics.refusals`).
"""

from __future__ import annotations

from aiogram import Router

from bot.telegram.approvals import router as approvals
from bot.telegram.basics import language, privacy, refusals
from bot.telegram.basics import router as common
from bot.telegram.cash import router as cash
from bot.telegram.cashin import router as cashin
from bot.telegram.history import router as history
from bot.telegram.reports import router as reports
from bot.telegram.roster import router as roster
from bot.telegram.shared.answers import AnswerPresses


def build_router() -> Router:
    root = Router(name="root")
    # Every button press a handler takes is answered (by the handler's callback_answer).
    root.callback_query.middleware(AnswerPresses())
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
        refusals.make_refusals_router(),
        common.make_fallback_router(),
    )
    return root
