"""The agent's Allpay balance as last seen (table ``balance_watch``): one row per agent,
shared by every instance, so that whether supervisors were told it is below the mark is the
journal's to say, not one process's memory."""

from __future__ import annotations

from bot.domain.balance import BalanceState
from bot.domain.money import from_tiyn, to_tiyn
from bot.store.db import Tx, parse_ts, ts


class BalanceStates:
    @staticmethod
    def get(tx: Tx, agent: str) -> BalanceState | None:
        row = tx.one(
            "SELECT below, since, balance_tiyn, checked_at FROM balance_watch WHERE agent = ?",
            (agent,),
        )
        if row is None:
            return None
        return BalanceState(
            bool(row["below"]),
            parse_ts(row["since"]),
            from_tiyn(int(row["balance_tiyn"])),
            parse_ts(row["checked_at"]),
        )

    @staticmethod
    def put(tx: Tx, agent: str, state: BalanceState) -> None:
        tx.run(
            "INSERT INTO balance_watch (agent, below, since, balance_tiyn, checked_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (agent) DO UPDATE SET below = excluded.below, "
            "since = excluded.since, balance_tiyn = excluded.balance_tiyn, "
            "checked_at = excluded.checked_at",
            (
                agent,
                1 if state.below else 0,
                ts(state.since),
                to_tiyn(state.balance),
                ts(state.checked_at),
            ),
        )
