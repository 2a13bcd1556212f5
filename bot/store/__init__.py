"""Persistence: the database (:mod:`bot.store.db`) and one repository per table family.

Each table is written by exactly one module here; a repository's methods are parts of a
transaction (functions of a :class:`~bot.store.db.Tx`), composed by the use cases into one
trip to the database. Nothing here knows Telegram or Allpay.
"""
