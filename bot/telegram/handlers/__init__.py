"""One Router per feature; :func:`build_router` composes them in priority order.

Each feature module declares its handlers on a module-level ``Router`` (aiogram's idiom).
A router can be attached to one parent only, so every Dispatcher gets fresh routers carrying
the same handlers: several bots (the tests, a restart in-process) can be built in one process.
"""

from __future__ import annotations

from aiogram import Router

from bot.telegram.handlers import (
    approvals,
    cashin,
    common,
    history,
    language,
    reports,
    roster,
)


def _fresh(template: Router) -> Router:
    router = Router(name=template.name)
    for event, observer in template.observers.items():
        router.observers[event].handlers.extend(observer.handlers)
    return router


def build_router() -> Router:
    root = Router(name="root")
    # common first: /start, /cancel and the error handlers apply at every step. Commands
    # come before the conversation's steps, so /history or /find work in the middle of a
    # top-up; a role's commands come before their refusals ("denied").
    for template in (
        common.router,
        language.router,
        history.router,
        reports.router,
        reports.denied,
        roster.router,
        roster.denied,
        approvals.router,
        cashin.router,
        common.fallback,
    ):
        root.include_router(_fresh(template))
    return root
