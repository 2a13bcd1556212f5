"""``python -m bot demo``: the real bot in a terminal, no token and no internet needed.

Everything real runs: the Dispatcher and handlers, the journal, resolver and outbox, the
Allpay client against the embedded signed sandbox, all over HTTP on loopback. Only Telegram is
played by the Bot API stand-in (:mod:`bot.devtools.telegram`); this package is its screen and
keyboard. You play three people in turn — an admin, a supervisor and a cashier (``/as``) —
each in their own chat with the bot or in the supervisors' group (``/as group``), so an
approval, a report and an export can be tried end to end. Every top-up of 100 000 ₸ or more
waits for a supervisor's approval.

What a person would see is shown (:mod:`.screen`): every chat's messages and edits, the
pop-ups a button press gets (Telegram's callback answers), the daily digest (``/digest``, the
bot's command; and ``/daily_digest``, the group's digest as at DIGEST_TIME). The screen speaks
the demo's language (``--lang``); its times and the log lines' are TIMEZONE's.

Each line typed (or piped in: ``printf '/help\\n/quit\\n' | python -m bot demo``) is taken
after the bot has answered the one before (:mod:`.session`): its update handled, the outbox's
due messages delivered, no top-up being sent. Input that is not a terminal also waits at its
end for the top-ups still waiting for Allpay's final answer (at most
:data:`.session.FINAL_WAIT` seconds).
"""

from __future__ import annotations

from bot.devtools.demo.session import demo_settings, run_demo

__all__ = ["demo_settings", "run_demo"]
