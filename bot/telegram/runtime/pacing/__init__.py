"""One pacing layer for every Bot API call the bot makes: handlers, the outbox, start-up.

Telegram refuses with ``429 Too Many Requests`` and ``retry_after`` past about 30 messages a
second per bot, about one a second per private chat (short bursts pass) and 20 a minute per
group, edits included; a bot that calls a chat again inside the window it was told to wait
out is made to wait longer. aiogram neither paces nor retries, so this request middleware on
the bot's session does, and handlers stay plain ``message.answer(...)``:

* **Proactive**: a token bucket for the whole bot and one for each chat, set stricter than
  Telegram's limits, so 429s are rare rather than the control signal. Waiting calls are
  served by priority (:class:`Lane`): a cashier's own status before a handler's reply, both
  before supervisor news; within a lane, in order.
* **Reactive**: a 429 closes that chat for ``retry_after`` seconds — no call reaches the chat
  inside the window — and the call is retried after it. Telegram does not say whether a 429
  is the chat's or the bot's: it is taken as the chat's, and when several chats are refused
  close together the bot-wide budget is lowered for a while.
* **Edits coalesce**: while an edit of a message waits, a newer edit of the same message takes
  its place, and both callers get the newer result (a ⏳ still waiting when ✅ is known is
  never sent).
* ``answerCallbackQuery`` and the other calls Telegram does not count pass straight through.

A call that cannot be delivered within its lane's bound is logged with the update it
belongs to and raises: nothing disappears silently. The buckets and wait windows live
behind :class:`BudgetStore` (:mod:`.budget`): in this process (:class:`LocalBudgetStore`),
or with ``REDIS_URL`` in Redis (:class:`RedisBudgetStore`), shared by every instance —
Telegram's limits are the bot's, not a process's, so three instances together keep to one
budget, and a window Telegram announced to one of them holds for all. The request
middleware itself, its lanes and the coalescing of edits are :mod:`.pacer`.
"""

from __future__ import annotations

from bot.telegram.runtime.pacing.budget import (
    Budget,
    BudgetStore,
    LocalBudgetStore,
    RedisBudgetStore,
)
from bot.telegram.runtime.pacing.pacer import (
    COALESCED,
    COUNTED,
    Lane,
    Pacer,
    PacingObserver,
    current_lane,
)

__all__ = [
    "COALESCED",
    "COUNTED",
    "Budget",
    "BudgetStore",
    "Lane",
    "LocalBudgetStore",
    "Pacer",
    "PacingObserver",
    "RedisBudgetStore",
    "current_lane",
]
