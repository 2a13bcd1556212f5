"""The desk's JSON API, under ``<prefix>api/``: every call proves who makes it
(``Authorization: tma <initData>``, :mod:`bot.telegram.desk.auth`) and is refused unless that
person is an active supervisor or admin now, read from the roster on every call. Reads come
from the use cases' figures; actions go through the same use cases as the chat's buttons
(:class:`~bot.usecases.approvals.ApprovalDesk`, :class:`~bot.usecases.cash.CashDesk`), so the
rules, the audit trail and the cards in chats are the chat's own."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n
from aiogram.utils.web_app import parse_webapp_init_data
from aiohttp import web

from bot.config.languages import normalize_language
from bot.domain.cash import HandoverOutcome
from bot.domain.model import Decision, StaffUser, Status
from bot.domain.parsing import AmountError, parse_count
from bot.domain.reports import PeriodError, parse_day, parse_lookup
from bot.infra.outage import PartDown
from bot.telegram.approvals.callbacks import RejectReasonCode
from bot.telegram.approvals.texts import REJECT_REASONS, preset_reason
from bot.telegram.desk import auth, shapes
from bot.telegram.desk.texts import TEXTS, desk_texts
from bot.telegram.history import texts as history_texts
from bot.telegram.history.keyboards import receipt_pdf_keyboard
from bot.telegram.reports.exports import send_export
from bot.usecases.approvals import ApprovalDesk
from bot.usecases.cash import CashDesk
from bot.usecases.dashboard import Dashboard
from bot.usecases.people import People
from bot.usecases.reports import BalanceAnswer, Reports

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class DeskParts:
    """What the desk's API is given (the wiring builds it once)."""

    token: str
    max_age: float
    dashboard: Dashboard
    approvals: ApprovalDesk
    cash: CashDesk
    reports: Reports
    people: People
    bot: Bot
    i18n: I18n
    tz: tzinfo
    sandbox: bool


#: The most ⏳/⚠️ top-ups Now lists (a phone's screenful or two; /export has them all).
NOW_LIMIT = 100

PARTS: web.AppKey[DeskParts] = web.AppKey("desk_parts")
#: The caller's language, set by the guard for the handler.
LOCALE: web.RequestKey[str] = web.RequestKey("desk_locale")


def _refused(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def _refusal(parts: DeskParts, header: str | None, status: int, reason: str) -> web.Response:
    """A refused call's answer, with the words the page shows (it has no others yet): in
    the language the launch data names, if it parses at all (a language is no secret)."""
    locale = parts.i18n.default_locale
    if header is not None and header.startswith(auth.SCHEME):
        # Unproven launch data: whatever it holds (deeply nested JSON raises RecursionError)
        # costs the caller only the default language.
        with contextlib.suppress(Exception):
            user = parse_webapp_init_data(header[len(auth.SCHEME) :]).user
            locale = normalize_language((user.language_code if user else None) or "") or locale
    key = "forbidden" if status == 403 else "reopen"
    message = parts.i18n.gettext(TEXTS[key], locale=locale)
    return web.json_response({"error": reason, "message": message}, status=status)


def guarded(
    handler: Callable[[web.Request, DeskParts, StaffUser], Awaitable[web.Response]],
) -> Handler:
    """The call's proof, then the roster now: 401 ``{"error": "reopen"|…}`` for launch data
    that proves nothing (forged, another bot's, expired), 403 ``{"error": "forbidden"}`` for
    someone who is not an active supervisor or admin at this moment."""

    async def guard(request: web.Request) -> web.Response:
        parts = request.app[PARTS]
        header = request.headers.get("Authorization")
        proof = auth.check(
            header,
            parts.token,
            parts.dashboard.now(),
            parts.max_age,
        )
        if isinstance(proof, auth.Refusal):
            return _refusal(parts, header, 401, proof.value)
        try:
            viewer = await parts.dashboard.viewer(proof.user.id)
            if viewer is None or viewer.blocked or not viewer.role.sees_everyone:
                return _refusal(parts, header, 403, "forbidden")
            stored = await parts.people.language(viewer.user_id)
            guessed = normalize_language(proof.user.language_code or "")
            request[LOCALE] = stored or guessed or parts.i18n.default_locale
            return await handler(request, parts, viewer)
        except PartDown:
            # The journal away (said once by its part): the page shows itself out of date and
            # asks again; an action's outcome is read back from the journal then, never
            # claimed here. No traceback at every poll of every open desk.
            return _refused(503, "unavailable")

    return guard


# ---------------------------------------------------------------- reads


async def me(request: web.Request, parts: DeskParts, viewer: StaffUser) -> web.Response:
    locale = request[LOCALE]
    return web.json_response(
        {
            "user_id": viewer.user_id,
            "name": viewer.name,
            "role": viewer.role.value,
            "locale": locale,
            "today": parts.dashboard.today().isoformat(),
            "timezone": str(parts.tz),
            "sandbox": parts.sandbox,
            "texts": desk_texts(parts.i18n, locale),
            "reasons": list(REJECT_REASONS),
        }
    )


def _day(request: web.Request, parts: DeskParts) -> date | None:
    text = request.query.get("day", "").strip()
    if not text:
        return None
    try:
        return parse_day(text)
    except PeriodError:
        raise web.HTTPBadRequest(
            text='{"error": "bad_day"}', content_type="application/json"
        ) from None


async def today(request: web.Request, parts: DeskParts, viewer: StaffUser) -> web.Response:
    day = _day(request, parts) or parts.dashboard.today()
    return web.json_response(shapes.day(await parts.dashboard.day(day)))


async def now(request: web.Request, parts: DeskParts, viewer: StaffUser) -> web.Response:
    waiting = await parts.dashboard.waiting()
    moment = parts.dashboard.now()
    names = waiting.names
    return web.json_response(
        {
            "time": shapes.moment(moment),
            # The oldest first (they need attention most); the count says how many in all.
            "unresolved": [
                shapes.payment(p, names, moment) for p in waiting.unresolved[:NOW_LIMIT]
            ],
            "unresolved_count": len(waiting.unresolved),
            "approvals": [shapes.approval(a, names, viewer.user_id) for a in waiting.approvals],
            "handovers": [shapes.handover(h, names, viewer.user_id) for h in waiting.handovers],
            "cash": [shapes.position(p, waiting.book.names) for p in waiting.book.positions],
            "cash_total": shapes.money(waiting.book.total),
        }
    )


#: Ids the journal can hold (a signed 64-bit integer); past them a call names nothing.
ID_LIMIT = 2**63


def _int(text: str | None) -> int | None:
    try:
        number = int(text) if text else None
    except ValueError:
        return None
    return number if number is not None and -ID_LIMIT <= number < ID_LIMIT else None


async def find(request: web.Request, parts: DeskParts, viewer: StaffUser) -> web.Response:
    query = request.query.get("q", "").strip()
    lookup = parse_lookup(query) if query else None
    if query and lookup is None:
        return web.json_response({"payments": []})
    try:
        status = Status(request.query["status"].upper()) if request.query.get("status") else None
    except ValueError:
        status = None
    payments, names = await parts.dashboard.find(
        lookup, _day(request, parts), _int(request.query.get("cashier")), status
    )
    moment = parts.dashboard.now()
    return web.json_response({"payments": [shapes.payment(p, names, moment) for p in payments]})


async def payment(request: web.Request, parts: DeskParts, viewer: StaffUser) -> web.Response:
    listing = await parts.reports.detail(_guid(request), None)
    if not listing.payments:
        return _refused(404, "not_found")
    return web.json_response(
        shapes.payment(listing.payments[0], listing.names, parts.dashboard.now(), full_login=True)
    )


async def balance(request: web.Request, parts: DeskParts, viewer: StaffUser) -> web.Response:
    forecast = await parts.dashboard.balance(request[LOCALE])
    result = forecast.balance.result
    known = forecast.balance.answer is BalanceAnswer.KNOWN and result is not None
    return web.json_response(
        {
            "answer": forecast.balance.answer.value,
            "amount": shapes.money(result.amount) if known and result else None,
            "raw": result.raw if known and result else None,
            "as_of": shapes.moment(result.as_of) if known and result else None,
            "spent_today": shapes.money(forecast.spent_today),
            "since": shapes.moment(forecast.since),
            "runs_out": shapes.moment(forecast.runs_out),
        }
    )


def _guid(request: web.Request) -> str:
    guid = request.match_info["guid"].strip().lower()
    return guid if guid.startswith("{") else "{" + guid + "}"


# ---------------------------------------------------------------- actions


async def decide(request: web.Request, parts: DeskParts, viewer: StaffUser) -> web.Response:
    """✅ or ❌ on a request: :meth:`ApprovalDesk.decide`, exactly as the chat's button."""
    action = request.match_info["action"]
    result = await parts.approvals.decide(
        request.match_info["id"], viewer.user_id, approve=action == "approve"
    )
    status = 404 if result.decision is Decision.NOT_FOUND else 200
    body: dict[str, Any] = {"outcome": result.decision.value}
    if result.approval is not None:
        body["state"] = result.approval.state.value.lower()
    return web.json_response(body, status=status)


async def reason(request: web.Request, parts: DeskParts, viewer: StaffUser) -> web.Response:
    """A preset rejection reason after ❌ (the chat's buttons' codes), told to the cashier."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str) or code not in REJECT_REASONS:
        return _refused(400, "bad_reason")
    chosen: RejectReasonCode = code
    told = await parts.approvals.set_reason(
        request.match_info["id"], viewer.user_id, preset_reason(chosen)
    )
    return web.json_response({"outcome": "reason" if told else "already"})


async def _received(request: web.Request) -> tuple[bool, Decimal | None]:
    """Whether the body is good, and the count it gives (None: what was declared)."""
    if not request.can_read_body:
        return True, None
    try:
        body = await request.json()
    except ValueError:
        return False, None
    text = body.get("received") if isinstance(body, dict) else None
    if text is None:
        return True, None
    try:
        amount = parse_count(str(text))
    except AmountError:
        return False, None
    return amount > 0, amount


async def handover(request: web.Request, parts: DeskParts, viewer: StaffUser) -> web.Response:
    """Received (what was declared) or not received: :class:`CashDesk`, as the chat's card."""
    handover_id = _int(request.match_info["id"])
    if handover_id is None:
        return _refused(404, "not_found")
    if request.match_info["action"] == "confirm":
        # Another amount than declared, as the chat's "✏️ Another amount": {"received": "…"}.
        good, received = await _received(request)
        if not good:
            return _refused(400, "bad_amount")
        result = await parts.cash.confirm(handover_id, viewer.user_id, received)
    else:
        result = await parts.cash.dispute(handover_id, viewer.user_id)
    status = 404 if result.outcome is HandoverOutcome.NOT_FOUND else 200
    return web.json_response({"outcome": result.outcome.value}, status=status)


async def export(request: web.Request, parts: DeskParts, viewer: StaffUser) -> web.Response:
    """The day's export (``?day=``, today by default), sent to the person's private chat as
    /export sends it: CSV and XLSX, and the handovers' CSV."""
    day = _day(request, parts) or parts.dashboard.today()
    try:
        with parts.i18n.context(), parts.i18n.use_locale(request[LOCALE]):
            count = await send_export(parts.bot, viewer.user_id, parts.reports, day, day, parts.tz)
    except TelegramAPIError as exc:
        log.warning("desk: an export could not be sent: %s", type(exc).__name__)
        return _refused(409, "not_sent")  # the bot cannot write to them
    return web.json_response({"outcome": "sent", "count": count})


async def receipt(request: web.Request, parts: DeskParts, viewer: StaffUser) -> web.Response:
    """A completed top-up's receipt, sent to the person's private chat with the bot (as the
    chat's receipt button sends it, with the PDF button under it)."""
    found = await parts.reports.receipt(_guid(request), None)
    if found is None:
        return _refused(404, "no_receipt")
    with parts.i18n.context(), parts.i18n.use_locale(request[LOCALE]):
        text = history_texts.receipt(found, parts.tz)
        keyboard = receipt_pdf_keyboard(found.payment.guid)
    try:
        await parts.bot.send_message(viewer.user_id, text, reply_markup=keyboard)
    except TelegramAPIError as exc:
        log.warning("desk: a receipt could not be sent: %s", type(exc).__name__)
        return _refused(409, "not_sent")  # the bot cannot write to them
    return web.json_response({"outcome": "sent"})
