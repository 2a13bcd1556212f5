"""The domain model: what a payment, a draft, an approval and a person are. No I/O.

Everything here is plain data and pure functions: texts, filters and keyboards import it
instead of the database layer, and the repositories (:mod:`bot.store`) and use cases
(:mod:`bot.usecases`) speak it.
"""
