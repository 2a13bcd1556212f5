"""Top-ups being prepared (table ``drafts``): from the typed login to the confirm tap.

A draft moves LOGIN → CLIENT → OPEN → CONFIRMED, or to CANCELLED from any unfinished state.
An open card is never changed: a new amount cancels it and starts a new draft (its buttons
die with it).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.domain.model import Draft, DraftState
from bot.domain.money import new_id, to_tiyn
from bot.store.db import Tx, ts
from bot.store.rows import build, columns

_COLUMNS = columns(Draft)
#: A draft the cashier is still working on: typed login, known client, or an open card.
_UNFINISHED = "('LOGIN', 'CLIENT', 'OPEN')"


class Drafts:
    @staticmethod
    def get(tx: Tx, draft_id: str) -> Draft | None:
        row = tx.one(f"SELECT {_COLUMNS} FROM drafts WHERE id = ?", (draft_id,))
        return build(Draft, row) if row else None

    @staticmethod
    def start(
        tx: Tx,
        now: datetime,
        *,
        cashier_id: int,
        chat_id: int,
        login: str,
        lang: str,
        client: tuple[str, bool, str | None] | None = None,
    ) -> Draft:
        """A new draft: LOGIN, or CLIENT when the client (name, identified, masked IIN) is
        known. The caller cancels the cashier's other unfinished drafts in the same
        transaction."""
        draft_id = new_id()
        name, identified, masked_iin = client or ("", False, None)
        state = DraftState.CLIENT if client else DraftState.LOGIN
        stamp = ts(now)
        tx.run(
            "INSERT INTO drafts (id, cashier_id, chat_id, login, client_name, identified, lang, "
            "state, created_at, updated_at, masked_iin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                draft_id,
                cashier_id,
                chat_id,
                login,
                name,
                int(identified),
                lang,
                state,
                stamp,
                stamp,
                masked_iin,
            ),
        )
        return Draft(
            draft_id,
            cashier_id,
            chat_id,
            login,
            name,
            identified,
            None,
            lang,
            state,
            None,
            masked_iin=masked_iin,
        )

    @staticmethod
    def set_client(
        tx: Tx, now: datetime, draft: Draft, name: str, identified: bool, masked_iin: str | None
    ) -> bool:
        """Allpay found the client: LOGIN (or CLIENT again) → CLIENT."""
        return (
            tx.run(
                "UPDATE drafts SET client_name = ?, identified = ?, masked_iin = ?, "
                "state = 'CLIENT', updated_at = ? "
                "WHERE id = ? AND cashier_id = ? AND state IN ('LOGIN', 'CLIENT')",
                (name, int(identified), masked_iin, ts(now), draft.id, draft.cashier_id),
            )
            == 1
        )

    @staticmethod
    def open_card(tx: Tx, now: datetime, draft_id: str, cashier_id: int, amount: Decimal) -> bool:
        """The amount is typed: CLIENT → OPEN, the confirmation card's state."""
        return (
            tx.run(
                "UPDATE drafts SET amount_tiyn = ?, state = 'OPEN', updated_at = ? "
                "WHERE id = ? AND cashier_id = ? AND state = 'CLIENT'",
                (to_tiyn(amount), ts(now), draft_id, cashier_id),
            )
            == 1
        )

    @staticmethod
    def set_card(tx: Tx, draft_id: str, message_id: int) -> None:
        """The card now shown for an open draft: its buttons act on no other message."""
        tx.run(
            "UPDATE drafts SET card_message_id = ? WHERE id = ? AND state = 'OPEN'",
            (message_id, draft_id),
        )

    @staticmethod
    def reopen(tx: Tx, now: datetime, draft_id: str, cashier_id: int) -> str | None:
        """The open card is cancelled and a new draft for the same client waits for the
        amount; its id, or None if the card was not open."""
        stamp = ts(now)
        if (
            tx.run(
                "UPDATE drafts SET state = 'CANCELLED', updated_at = ? "
                "WHERE id = ? AND cashier_id = ? AND state = 'OPEN'",
                (stamp, draft_id, cashier_id),
            )
            != 1
        ):
            return None
        new = new_id()
        tx.run(
            "INSERT INTO drafts (id, cashier_id, chat_id, login, client_name, identified, "
            "masked_iin, lang, state, created_at, updated_at) SELECT ?, cashier_id, chat_id, "
            "login, client_name, identified, masked_iin, lang, 'CLIENT', ?, ? "
            "FROM drafts WHERE id = ?",
            (new, stamp, stamp, draft_id),
        )
        return new

    @staticmethod
    def other_card(tx: Tx, chat_id: int, message_id: int, draft_id: str) -> bool:
        """Whether the message is (or was) the card of another draft than ``draft_id``."""
        row = tx.one(
            "SELECT 1 FROM drafts WHERE chat_id = ? AND card_message_id = ? AND id != ?",
            (chat_id, message_id, draft_id),
        )
        return row is not None

    @staticmethod
    def prune(tx: Tx, before: datetime) -> int:
        """Cancelled drafts older than ``before`` that nothing refers to (a payment or an
        approval request keeps its draft: they are history)."""
        return tx.run(
            "DELETE FROM drafts WHERE state = 'CANCELLED' AND updated_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.draft_id = drafts.id) "
            "AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.draft_id = drafts.id)",
            (ts(before),),
        )

    @staticmethod
    def unfinished(tx: Tx, cashier_id: int) -> list[Draft]:
        """The cashier's drafts not confirmed nor cancelled (what /cancel would close)."""
        rows = tx.all(
            f"SELECT {_COLUMNS} FROM drafts WHERE cashier_id = ? AND state IN {_UNFINISHED}",
            (cashier_id,),
        )
        return [build(Draft, r) for r in rows]

    @staticmethod
    def cancel_unfinished(tx: Tx, now: datetime, cashier_id: int) -> int:
        """Close every unfinished draft of the cashier; how many were."""
        return tx.run(
            "UPDATE drafts SET state = 'CANCELLED', updated_at = ? "
            f"WHERE cashier_id = ? AND state IN {_UNFINISHED}",
            (ts(now), cashier_id),
        )

    @staticmethod
    def take(tx: Tx, now: datetime, draft_id: str, cashier_id: int) -> bool:
        """OPEN → CONFIRMED; False if it was not open (tapped before, cancelled, another's)."""
        return (
            tx.run(
                "UPDATE drafts SET state = 'CONFIRMED', updated_at = ? "
                "WHERE id = ? AND cashier_id = ? AND state = 'OPEN'",
                (ts(now), draft_id, cashier_id),
            )
            == 1
        )

    @staticmethod
    def set_guid(tx: Tx, draft_id: str, guid: str) -> None:
        tx.run("UPDATE drafts SET guid = ? WHERE id = ?", (guid, draft_id))
