"""Use cases: the money steps and everything people ask of the bot, with no Telegram in them.

Each use case composes repositories into transactions (one trip to the database each),
decides when a payment is sent and when the outbox is woken, and returns an outcome the
Telegram layer renders. Everything is wired once in :mod:`bot.wiring.app`.
"""
