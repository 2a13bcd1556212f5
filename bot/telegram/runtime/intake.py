"""Telegram's updates in: kept in the journal before Telegram is told they arrived, handled,
and marked done only once their handler has finished.

* **Webhook**: one write (the update, claimed by this process) before the 200. Telegram
  sends an update again only until it gets its 200; one sent again while kept is not
  handled twice.
* **Polling**: a batch from ``getUpdates`` is written before the next ``getUpdates``
  confirms it (its ``offset``).
* **Done**: marked after the handler, many at once (one write per batch, not per update).
* **Unfinished** (the process was killed mid-handler): its claim is let go at the restart
  (an instance takes back what its earlier lives held) or runs out for the others; the
  intake loop then hands it to the Dispatcher again. A rerun repeats nothing already
  committed: drafts, the confirm's claim and GUIDs are the journal's own idempotency.
* **The journal away**: an update that cannot be kept is answered at once, in the
  person's language, "temporarily unavailable — nothing was sent" (never silence), and
  Telegram is told it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import GetUpdates
from aiogram.types import Update
from aiogram.utils.i18n import I18n
from pydantic import ValidationError

from bot.config.languages import normalize_language
from bot.domain.clock import utcnow
from bot.infra.logs import one_line
from bot.infra.loops import BackgroundLoop
from bot.infra.outage import PartDown
from bot.telegram.runtime.rerun import RERUN
from bot.telegram.shared.texts import temporarily_unavailable
from bot.usecases.inbox import Inbox, KeptUpdate

log = logging.getLogger(__name__)

#: An update whose handling was started this many times without finishing (the process
#: died each time: a poison update) is given up, with one log line.
MAX_ATTEMPTS = 3
#: Done-marks wait this long for company before they are written (one write for many).
DONE_BATCH_WAIT = 0.2
#: getUpdates' long poll, in seconds, and the waits after a failed one.
POLL_TIMEOUT = 10
POLL_BACKOFF = (0.5, 5.0)
#: Handled updates are kept this long (a webhook delivery Telegram repeats is recognised).
KEEP_DONE = timedelta(days=1)


class Intake(BackgroundLoop):
    """Keeps and hands updates to the Dispatcher; as a loop, takes over unfinished ones."""

    name = "intake"

    def __init__(
        self,
        inbox: Inbox,
        dispatcher: Dispatcher,
        bot: Bot,
        i18n: I18n,
        *,
        clock: Callable[[], datetime] = utcnow,
        idle: float = 60.0,
    ) -> None:
        super().__init__(clock=clock, idle=idle)
        self.inbox = inbox
        self.dispatcher = dispatcher
        self.bot = bot
        self.i18n = i18n
        self._handling: set[asyncio.Task[None]] = set()
        #: The updates this process is handling now: their claims are renewed, and the loop
        #: never takes them as lapsed.
        self._live: set[int] = set()
        self._done: list[int] = []
        self._flusher: asyncio.Task[None] | None = None
        #: Set by :meth:`drain`: the marks waiting for their batch are written at once.
        self._flush_now = asyncio.Event()
        self._pruned_at: datetime | None = None
        self.kept = 0  # updates kept (and handled from the journal) since start

    # ------------------------------------------------------------------ in

    async def accept(self, updates: Sequence[Update]) -> None:
        """Keep ``updates`` (one write), then handle them in the background. Returns once
        each is kept or answered: the caller may then tell Telegram they arrived."""
        if not updates:
            return
        pairs = [(u.update_id, _sender(u), u.model_dump_json(exclude_unset=True)) for u in updates]
        try:
            fresh = await self.inbox.keep(pairs)
        except Exception as exc:
            if not isinstance(exc, PartDown):  # the journal's part says its own once
                log.error("updates not kept: %s", type(exc).__name__)
            # Told "nothing was sent": should the write have landed all the same (its answer
            # lost), the done-marks make sure they are never handled after all.
            for update in updates:
                self._spawn(self._unavailable(update), update.update_id)
                self._mark_done(update.update_id)
            return
        self.kept += len(fresh)
        for update in updates:
            if update.update_id in fresh:
                self._spawn(self._handle(update), update.update_id)

    def _spawn(self, work: Coroutine[Any, Any, None], update_id: int) -> None:
        task = asyncio.create_task(work, name=f"update {update_id}")
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _handle(self, update: Update, attempt: int = 1) -> None:
        self._live.add(update.update_id)
        try:
            if attempt > 1:
                await self.dispatcher.feed_update(self.bot, update, **{RERUN: attempt})
            else:
                await self.dispatcher.feed_update(self.bot, update)
        except asyncio.CancelledError:
            raise  # shutdown: left claimed, let go, handled after the restart
        except Exception as exc:  # the errors handlers answered what they could
            log.error("update %d: handling failed: %s", update.update_id, type(exc).__name__)
        finally:
            self._live.discard(update.update_id)
        self._mark_done(update.update_id)

    async def _in_order(self, updates: list[tuple[Update, int]]) -> None:
        for update, attempt in updates:
            await self._handle(update, attempt)

    async def _unavailable(self, update: Update) -> None:
        """Answer an update that could not be kept: nothing of it is handled."""
        with contextlib.suppress(Exception):
            user = getattr(update.event, "from_user", None) if _sender(update) else None
            lang = normalize_language(getattr(user, "language_code", None) or "")
            with self.i18n.context(), self.i18n.use_locale(lang or self.i18n.default_locale):
                text = temporarily_unavailable()
            if update.callback_query is not None:
                await self.bot.answer_callback_query(
                    update.callback_query.id, text=text, show_alert=True
                )
            elif update.message is not None and update.message.chat.type == "private":
                # Not in groups: there every message of every member would get one.
                await self.bot.send_message(update.message.chat.id, text)

    # ------------------------------------------------------------------ done

    def _mark_done(self, update_id: int) -> None:
        self._done.append(update_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="updates done")

    async def _flush(self) -> None:
        """Write the done-marks, many per write; a journal away is waited out."""
        delay = POLL_BACKOFF[0]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DONE_BATCH_WAIT):
                await self._flush_now.wait()
        while self._done:
            batch = list(self._done)
            try:
                await self.inbox.done(batch)
            except Exception:
                await asyncio.sleep(delay)  # the journal's part said so; marks wait
                delay = min(delay * 2, POLL_BACKOFF[1])
                continue
            del self._done[: len(batch)]

    # ------------------------------------------------------------------ the loop

    async def next_due(self) -> datetime | None:
        lapse = await self.inbox.next_lapse()
        if self._live:  # their claims are renewed at a third of a claim
            renew = self._clock() + self.inbox.claim / 3
            lapse = renew if lapse is None else min(lapse, renew)
        return lapse

    async def run_once(self) -> int:
        """Hand every unfinished update nobody holds to the Dispatcher again."""
        now = self._clock()
        if self._done:  # marks first: what finished here is not taken as lapsed (the
            await self.inbox.done(list(self._done))  # flusher writes them too: harmless)
        if self._live:  # handlers still running (a reply waiting in the pacer, an export)
            await self.inbox.renew(sorted(self._live))
        taken = [u for u in await self.inbox.take_lapsed(50) if u.update_id not in self._live]
        given_up = [kept.update_id for kept in taken if kept.attempts > MAX_ATTEMPTS]
        # One person's updates again in their order, one after another (the isolation
        # lock alone keeps them apart, not in order).
        people: dict[int, list[tuple[Update, int]]] = {}
        for kept in taken:
            if kept.update_id in given_up:
                log.error(
                    "update %d: not finished after %d attempts; given up",
                    kept.update_id,
                    MAX_ATTEMPTS,
                )
                continue
            update = self._parse(kept)
            if update is None:
                given_up.append(kept.update_id)
                continue
            log.info("update %d: handled again (attempt %d)", kept.update_id, kept.attempts)
            people.setdefault(_sender(update) or -kept.update_id, []).append(
                (update, kept.attempts)
            )
        for person in people.values():
            self._spawn(self._in_order(person), person[0][0].update_id)
        if given_up:
            await self.inbox.done(given_up)
        if self._pruned_at is None or now - self._pruned_at > timedelta(hours=1):
            await self.inbox.prune(now - KEEP_DONE)
            self._pruned_at = now
        return len(taken)

    def _parse(self, kept: KeptUpdate) -> Update | None:
        try:
            return Update.model_validate(json.loads(kept.body), context={"bot": self.bot})
        except (ValueError, ValidationError):
            log.error("update %d: kept in a form that no longer parses", kept.update_id)
            return None

    # ------------------------------------------------------------------ polling

    async def poll(self, *, timeout: int = POLL_TIMEOUT) -> None:
        """getUpdates for ever (cancel to stop): each batch kept before the next call
        confirms it to Telegram."""
        allowed = self.dispatcher.resolve_used_update_types()
        request = GetUpdates(timeout=timeout, allowed_updates=allowed)
        session_timeout = self.bot.session.timeout
        request_timeout = int((session_timeout or 60) + timeout)
        delay, failing = POLL_BACKOFF[0], False
        while True:
            try:
                updates = await self.bot(request, request_timeout=request_timeout)
            except Exception as exc:
                if not failing:
                    log.warning("getUpdates failed: %s; retrying", one_line(exc))
                failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, POLL_BACKOFF[1])
                continue
            if failing:
                log.info("getUpdates answers again")
            failing, delay = False, POLL_BACKOFF[0]
            if updates:
                await self.accept(updates)
                request.offset = updates[-1].update_id + 1

    # ------------------------------------------------------------------ shutdown

    async def drain(self, timeout: float) -> None:
        """Let running handlers finish, write their done-marks, and let go of the rest:
        what is unfinished is handled after a restart, or by another instance at once."""
        await self.stop()
        if self._handling:
            _done, pending = await asyncio.wait(set(self._handling), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
                log.warning("%d update(s) unfinished at shutdown; handled later", len(pending))
        if self._flusher is not None:
            self._flush_now.set()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout):
                    await self._flusher
        with contextlib.suppress(Exception):
            await self.inbox.release()

    async def wait_idle(self, timeout: float) -> None:
        """Until every update being handled now has finished (tests; a drain's first half)."""
        async with asyncio.timeout(timeout):
            while self._handling:
                await asyncio.wait(set(self._handling))


def _sender(update: Update) -> int:
    """Who sent ``update`` (0: nobody known, or a kind of update this bot does not read)."""
    try:
        user = getattr(update.event, "from_user", None)
    except Exception:
        return 0
    return int(getattr(user, "id", 0) or 0)
