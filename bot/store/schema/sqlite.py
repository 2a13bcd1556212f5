"""The schema on SQLite: every migration, in order, in SQLite's words.

Migration ``n`` (from 1) takes a database from version ``n - 1`` to ``n`` (``PRAGMA
user_version``). A migration once released never changes: a new one is added at the end, here
and in :mod:`bot.store.schema.postgres` under the same number.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE users (
        user_id     INTEGER PRIMARY KEY,
        role        TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'cashier')),
        name        TEXT,
        blocked     INTEGER NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE user_prefs (
        user_id   INTEGER PRIMARY KEY,
        language  TEXT NOT NULL
    );
    CREATE TABLE drafts (
        id           TEXT PRIMARY KEY,
        cashier_id   INTEGER NOT NULL,
        chat_id      INTEGER NOT NULL,
        login        TEXT NOT NULL,
        client_name  TEXT NOT NULL,
        identified   INTEGER NOT NULL,
        amount_tiyn  INTEGER NOT NULL CHECK (amount_tiyn > 0),
        lang         TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('OPEN', 'CONFIRMED', 'CANCELLED')),
        guid         TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
    );
    CREATE TABLE payments (
        guid               TEXT PRIMARY KEY,
        draft_id           TEXT UNIQUE REFERENCES drafts (id),
        requester          TEXT NOT NULL,
        cashier_id         INTEGER NOT NULL,
        chat_id            INTEGER NOT NULL,
        message_id         INTEGER,
        login              TEXT NOT NULL,
        client_name        TEXT NOT NULL,
        amount_tiyn        INTEGER NOT NULL CHECK (amount_tiyn > 0),
        lang               TEXT NOT NULL,
        status             TEXT NOT NULL
                           CHECK (status IN ('NEW', 'PENDING', 'COMPLETED', 'DECLINED', 'UNKNOWN')),
        attempts           INTEGER NOT NULL DEFAULT 0,
        last_error         TEXT,
        user_message       TEXT,
        developer_message  TEXT,
        reason             TEXT,
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL,
        next_attempt_at    TEXT NOT NULL,
        last_attempt_at    TEXT,
        final_at           TEXT,
        alerted_at         TEXT
    );
    CREATE INDEX payments_open ON payments (next_attempt_at)
        WHERE status IN ('NEW', 'PENDING');
    CREATE INDEX payments_cashier ON payments (cashier_id, created_at);
    CREATE INDEX payments_created ON payments (created_at);
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        kind        TEXT NOT NULL,
        chat_id     INTEGER NOT NULL,
        guid        TEXT REFERENCES payments (guid),
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     TEXT NOT NULL,
        last_error  TEXT,
        created_at  TEXT NOT NULL,
        done_at     TEXT,
        failed      INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_due ON outbox (next_at) WHERE done_at IS NULL;
    CREATE TABLE audit (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        at        TEXT NOT NULL,
        actor_id  INTEGER,
        action    TEXT NOT NULL,
        subject   TEXT,
        detail    TEXT
    );
    CREATE TABLE fsm (
        key    TEXT PRIMARY KEY,
        state  TEXT,
        data   TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2: roster removals, receipt numbers, the daily digest, look-up by login
    """
    ALTER TABLE users ADD COLUMN removed_at TEXT;
    ALTER TABLE payments ADD COLUMN receipt_no INTEGER;
    CREATE UNIQUE INDEX payments_receipt ON payments (receipt_no) WHERE receipt_no IS NOT NULL;
    CREATE INDEX payments_login ON payments (login, created_at);
    ALTER TABLE outbox ADD COLUMN ref TEXT;
    CREATE TABLE digests (
        day         TEXT PRIMARY KEY,
        created_at  TEXT NOT NULL
    );
    """,
    # 3: supervisor approval above a threshold
    """
    CREATE TABLE approvals (
        id           TEXT PRIMARY KEY,
        draft_id     TEXT NOT NULL UNIQUE REFERENCES drafts (id),
        cashier_id   INTEGER NOT NULL,
        chat_id      INTEGER NOT NULL,
        message_id   INTEGER,
        login        TEXT NOT NULL,
        client_name  TEXT NOT NULL,
        amount_tiyn  INTEGER NOT NULL CHECK (amount_tiyn > 0),
        state        TEXT NOT NULL
                     CHECK (state IN ('WAITING', 'APPROVED', 'REJECTED', 'EXPIRED', 'CANCELLED')),
        decided_by   INTEGER,
        decided_at   TEXT,
        reason       TEXT,
        guid         TEXT,
        created_at   TEXT NOT NULL,
        expires_at   TEXT NOT NULL
    );
    CREATE INDEX approvals_waiting ON approvals (expires_at) WHERE state = 'WAITING';
    CREATE INDEX approvals_cashier ON approvals (cashier_id, created_at);
    CREATE TABLE approval_cards (
        approval_id  TEXT NOT NULL REFERENCES approvals (id),
        chat_id      INTEGER NOT NULL,
        message_id   INTEGER NOT NULL,
        PRIMARY KEY (approval_id, chat_id)
    );
    """,
    # 4: a draft from the first step (the typed login lives in the draft, never in the
    # conversation state), and the card a draft's buttons belong to. SQLite cannot relax a
    # CHECK in place: the table is rebuilt (foreign keys are off during migrations).
    """
    CREATE TABLE drafts_new (
        id               TEXT PRIMARY KEY,
        cashier_id       INTEGER NOT NULL,
        chat_id          INTEGER NOT NULL,
        login            TEXT NOT NULL,
        client_name      TEXT NOT NULL DEFAULT '',
        identified       INTEGER NOT NULL DEFAULT 0,
        amount_tiyn      INTEGER CHECK (amount_tiyn IS NULL OR amount_tiyn > 0),
        lang             TEXT NOT NULL,
        state            TEXT NOT NULL
                         CHECK (state IN ('LOGIN', 'CLIENT', 'OPEN', 'CONFIRMED', 'CANCELLED')),
        guid             TEXT,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        card_message_id  INTEGER,
        CHECK (state IN ('LOGIN', 'CLIENT', 'CANCELLED') OR amount_tiyn IS NOT NULL)
    );
    INSERT INTO drafts_new (id, cashier_id, chat_id, login, client_name, identified,
                            amount_tiyn, lang, state, guid, created_at, updated_at)
        SELECT id, cashier_id, chat_id, login, client_name, identified, amount_tiyn, lang,
               state, guid, created_at, updated_at FROM drafts;
    DROP TABLE drafts;
    ALTER TABLE drafts_new RENAME TO drafts;
    CREATE INDEX drafts_cashier_open ON drafts (cashier_id)
        WHERE state IN ('LOGIN', 'CLIENT', 'OPEN');
    -- parts of a multi-part message already delivered (a digest resumes after them)
    ALTER TABLE outbox ADD COLUMN progress INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX outbox_chat_due ON outbox (chat_id, next_at) WHERE done_at IS NULL;
    """,
    # 5: the agent's fee, fixed per payment when it is journaled (the receipt's "cash
    # accepted"); the client's masked IIN on the draft
    """
    ALTER TABLE payments ADD COLUMN fee_tiyn INTEGER NOT NULL DEFAULT 0 CHECK (fee_tiyn >= 0);
    -- the confirm card repeats what the client card showed (Allpay's masked IIN, never the IIN)
    ALTER TABLE drafts ADD COLUMN masked_iin TEXT;
    """,
    # 6: /recheck puts an UNKNOWN payment back with the resolver under a fresh horizon
    """
    ALTER TABLE payments ADD COLUMN rechecked_at TEXT;
    """,
    # 7: when a conversation was last written, so idle ones can be pruned; message owners
    """
    ALTER TABLE fsm ADD COLUMN updated_at TEXT;
    UPDATE fsm SET updated_at = strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now');
    CREATE INDEX fsm_updated ON fsm (updated_at);
    CREATE INDEX outbox_done ON outbox (done_at) WHERE done_at IS NOT NULL;
    -- which draft, payment or request a chat message belongs to (a stale button's check)
    CREATE INDEX drafts_card ON drafts (chat_id, card_message_id);
    CREATE INDEX payments_message ON payments (chat_id, message_id);
    CREATE INDEX approvals_message ON approvals (chat_id, message_id);
    """,
    # 8: the paper money: handovers of cash from cashiers to supervisors, write-offs of their
    # variances, the cards that ask supervisors to confirm; a confirmed handover is immutable
    """
    CREATE TABLE handovers (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        cashier_id     INTEGER NOT NULL,
        chat_id        INTEGER,
        message_id     INTEGER,
        receiver_id    INTEGER,
        state          TEXT NOT NULL
                       CHECK (state IN ('DECLARED', 'CONFIRMED', 'DISPUTED', 'WITHDRAWN')),
        kind           TEXT NOT NULL DEFAULT 'HANDOVER' CHECK (kind IN ('HANDOVER', 'OPENING')),
        upto_receipt   INTEGER NOT NULL CHECK (upto_receipt >= 0),
        expected_tiyn  INTEGER NOT NULL CHECK (expected_tiyn >= 0),
        -- cash the cashier kept for top-ups without Allpay's final answer when declaring
        pending_tiyn   INTEGER NOT NULL DEFAULT 0 CHECK (pending_tiyn >= 0),
        declared_tiyn  INTEGER CHECK (declared_tiyn >= 0),
        received_tiyn  INTEGER CHECK (received_tiyn >= 0),
        decided_by     INTEGER,
        created_at     TEXT NOT NULL,
        decided_at     TEXT,
        CHECK (state != 'CONFIRMED' OR kind = 'OPENING'
               OR (received_tiyn IS NOT NULL AND decided_by IS NOT NULL)),
        -- nobody receives their own cash
        CHECK (state NOT IN ('CONFIRMED', 'DISPUTED') OR decided_by != cashier_id)
    );
    -- one handover of a cashier waits for a supervisor at a time
    CREATE UNIQUE INDEX handovers_waiting ON handovers (cashier_id) WHERE state = 'DECLARED';
    CREATE INDEX handovers_cashier ON handovers (cashier_id, state, upto_receipt);
    CREATE INDEX handovers_decided ON handovers (decided_at);
    CREATE TABLE handover_write_offs (
        handover_id  INTEGER PRIMARY KEY REFERENCES handovers (id),
        amount_tiyn  INTEGER NOT NULL CHECK (amount_tiyn != 0),
        actor_id     INTEGER NOT NULL,
        reason       TEXT NOT NULL CHECK (length(reason) > 0),
        at           TEXT NOT NULL
    );
    CREATE INDEX handover_write_offs_at ON handover_write_offs (at);
    CREATE TABLE handover_cards (
        handover_id  INTEGER NOT NULL REFERENCES handovers (id),
        chat_id      INTEGER NOT NULL,
        message_id   INTEGER NOT NULL,
        PRIMARY KEY (handover_id, chat_id)
    );
    -- answered is answered: a correction is a new entry, never an edit
    CREATE TRIGGER handovers_answered_immutable BEFORE UPDATE ON handovers
        WHEN OLD.state != 'DECLARED'
        BEGIN SELECT RAISE(ABORT, 'an answered handover is immutable'); END;
    CREATE TRIGGER handovers_kept BEFORE DELETE ON handovers
        BEGIN SELECT RAISE(ABORT, 'handovers are kept'); END;
    CREATE TRIGGER handover_write_offs_immutable BEFORE UPDATE ON handover_write_offs
        BEGIN SELECT RAISE(ABORT, 'a write-off is immutable'); END;
    CREATE TRIGGER handover_write_offs_kept BEFORE DELETE ON handover_write_offs
        BEGIN SELECT RAISE(ABORT, 'write-offs are kept'); END;
    -- cash on hand: a cashier's completed top-ups by receipt number
    CREATE INDEX payments_completed ON payments (cashier_id, receipt_no)
        WHERE status = 'COMPLETED';
    -- Cash is counted from this version on: what was collected before it was settled the way
    -- the agent settled it then, so each cashier's count opens after their last receipt.
    INSERT INTO handovers (cashier_id, state, kind, upto_receipt, expected_tiyn,
                           received_tiyn, created_at, decided_at)
        SELECT cashier_id, 'CONFIRMED', 'OPENING', MAX(COALESCE(receipt_no, 0)), 0, 0,
               strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now'),
               strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now')
        FROM payments WHERE status = 'COMPLETED' GROUP BY cashier_id;
    """,
    # 9: who is sending a payment's GUID, and who is delivering a chat's messages, right now:
    # leases longer than the work, so exactly one process does it at a time and a dead
    # one's work is taken over
    """
    ALTER TABLE payments ADD COLUMN lease_owner TEXT;
    ALTER TABLE payments ADD COLUMN lease_until TEXT;
    ALTER TABLE outbox ADD COLUMN claim_owner TEXT;
    ALTER TABLE outbox ADD COLUMN claim_until TEXT;
    CREATE INDEX outbox_claimed ON outbox (chat_id) WHERE claim_owner IS NOT NULL;
    -- work only one process may do at a time (polling Telegram): held by name until it ends
    CREATE TABLE leases (
        name   TEXT PRIMARY KEY,
        owner  TEXT NOT NULL,
        until  TEXT NOT NULL
    );
    """,
    # 10: every update Telegram hands over, kept before Telegram is told it arrived, until
    # its handler has finished: one that a process took and did not finish (a crash, a kill)
    # is handled after its restart, or by another instance once its claim runs out
    """
    CREATE TABLE updates (
        update_id    INTEGER PRIMARY KEY,
        sender_id    INTEGER NOT NULL,
        body         TEXT NOT NULL,
        received_at  TEXT NOT NULL,
        claim_owner  TEXT,
        claim_until  TEXT,
        attempts     INTEGER NOT NULL DEFAULT 0,
        done_at      TEXT
    );
    CREATE INDEX updates_open ON updates (claim_until) WHERE done_at IS NULL;
    CREATE INDEX updates_sender ON updates (sender_id, update_id);
    """,
    # 11: what a supervisor decides on, kept with the request when it is made: the fee (the
    # cash to give back is amount + fee), whether the wallet is identified, the cashier's
    # and the client's day so far; and when the deciders were reminded that it expires.
    # The fee of a request made before is unknown here (NULL): the first start fills it in
    # (``Approvals.fill_fee``: CASHIN_FEE then, what its approval would have paid).
    """
    ALTER TABLE approvals ADD COLUMN fee_tiyn INTEGER CHECK (fee_tiyn >= 0);
    ALTER TABLE approvals ADD COLUMN identified INTEGER;
    ALTER TABLE approvals ADD COLUMN cashier_day_amount_tiyn INTEGER;
    ALTER TABLE approvals ADD COLUMN cashier_day_count INTEGER;
    ALTER TABLE approvals ADD COLUMN client_day_amount_tiyn INTEGER;
    ALTER TABLE approvals ADD COLUMN client_day_count INTEGER;
    ALTER TABLE approvals ADD COLUMN reminded_at TEXT;
    """,
    # 12: an audit entry's detail as named fields (a JSON object), rendered from them rather
    # than read back out of a sentence; the sentences written before are given their fields
    # in the same step (bot.store.schema.CONVERSIONS) and stay as they were written
    """
    ALTER TABLE audit ADD COLUMN detail_json TEXT;
    """,
    # 13: the agent's Allpay balance as last seen (BALANCE_ALERT_BELOW), shared by every
    # instance: whether it is below the mark and since when, so that supervisors are told
    # once when it falls below and once when it is back, however many instances ask
    """
    CREATE TABLE balance_watch (
        agent         TEXT PRIMARY KEY,
        below         INTEGER NOT NULL CHECK (below IN (0, 1)),
        since         TEXT NOT NULL,
        balance_tiyn  INTEGER NOT NULL,
        checked_at    TEXT NOT NULL
    );
    """,
]
