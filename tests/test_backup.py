"""Backups of the journal: ``python -m bot backup DEST`` while the bot runs, verified; and a
restore — a copy taken in the middle of a burst of payments, started as the bot's database,
finishes every pending payment with its own GUID at the same Allpay."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.devtools.sandbox import RunningSandbox
from bot.devtools.telegram import FakeTelegram
from bot.domain.model import OutboxKind, Status
from bot.store.backup import TABLES, backup
from bot.store.conversations import Conversations
from bot.store.db import Tx, ts
from bot.store.outbox import Outbox
from bot.usecases.housekeeping import Housekeeping, Pruned
from tests.childstart import spawn
from tests.harness import (
    CASHIER,
    PARTIES,
    SUPERVISOR_CHAT,
    Harness,
    child_env,
    running_bot,
    seed_payment,
    settings_for,
)

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends

ROOT = Path(__file__).resolve().parents[1]


def _real_allpay(sandbox: RunningSandbox) -> dict[str, object]:
    """The bot against an Allpay of its own (the sandbox fixture): both lives see one ledger."""
    keys = sandbox.keys
    return {
        "allpay_url": sandbox.url,
        "allpay_requester": "agent-backup",
        "allpay_certificate_number": keys.certificate_number,
        "allpay_private_key": keys.agent_private,
        "allpay_public_key": keys.allpay_public,
        **PARTIES,
    }


async def test_backup_command_copies_a_running_bots_journal(
    tmp_path: Path, sandbox: RunningSandbox, telegram: FakeTelegram
) -> None:
    settings = settings_for(tmp_path / "live", telegram.base_url, **_real_allpay(sandbox))
    async with running_bot(settings, telegram) as h:
        for amount in ("1000", "2000", "3000"):
            await seed_payment(h.journal, amount=amount)
        env = {
            **child_env(),
            "DATABASE_URL": settings.database_url,
        }
        dest = tmp_path / "backups"
        dest.mkdir()

        async def run(target: Path) -> tuple[int, str]:
            process = await spawn.start(
                ["backup", str(target)], cwd=tmp_path, env=env,
                stdout=spawn.PIPE, stderr=spawn.STDOUT,
            )  # fmt: skip
            out, _ = await asyncio.wait_for(process.communicate(), 60)
            return int(process.returncode or 0), out.decode()

        code, out = await run(dest)
        assert code == 0 and out.startswith("✅ backup: "), out
        [copy] = dest.glob("cashin-*.sqlite3")
        assert "payments 3" in out and str(copy) in out
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        assert not list(dest.glob("*.partial")) and not list(dest.glob("*-wal"))
        with sqlite3.connect(copy) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("SELECT COUNT(*) FROM payments").fetchone()[0] == 3
        code, out = await run(copy)  # never over an existing backup
        assert code == 1 and "exists" in out


async def test_a_copy_taken_in_a_burst_restores_and_finishes_every_payment(
    tmp_path: Path, sandbox: RunningSandbox, telegram: FakeTelegram
) -> None:
    allpay = _real_allpay(sandbox)
    # First life: Allpay answers ⏳ and the resend is far away, so the burst stays pending.
    first = settings_for(
        tmp_path / "first", telegram.base_url,
        pending_retry_min=600.0, pending_retry_max=600.0, **allpay,
    )  # fmt: skip
    async with running_bot(first, telegram) as h:
        user = h.user()
        cards = []
        for n in range(1, 6):
            cards.append(await h.top_up_card(user, "77000000001", str(1000 * n)))
            await h.press(user, cards[-1], "Confirm")
        for card in cards:
            status = await h.wait_status(CASHIER, card.message_id, "⏳")
            await telegram.wait_for(lambda s=status: "processing" in s.plain)  # type: ignore[misc]
        pending = await h.journal.open_payments()
        assert len(pending) == 5
        report = await asyncio.to_thread(
            backup, first.database_path, tmp_path / "copy.sqlite3", datetime.now(UTC)
        )
        assert report.ok and report.counts["payments"] == 5
        assert set(report.counts) == set(TABLES)
    guids = {p.guid for p in pending}
    assert set(sandbox.sandbox.stats.pay_guids) == guids  # each sent once so far

    # The machine is lost; the copy becomes the database of a new one.
    restored = tmp_path / "second" / "cashin.sqlite3"
    restored.parent.mkdir()
    shutil.copyfile(report.path, restored)
    with sqlite3.connect(restored) as conn:  # the resends planned in the first life fall due
        conn.execute("UPDATE payments SET next_attempt_at = ?", (ts(datetime.now(UTC)),))
    second = settings_for(tmp_path / "second", telegram.base_url, **allpay)
    async with running_bot(second, telegram) as h:
        # The resolver resends what the copy has pending; each card turns ✅.
        for card in cards:
            await h.wait_status(CASHIER, card.message_id, "✅", timeout=20)
        payments = (await h.journal.payments_page(None, 0, 10))[0]
        assert {p.guid for p in payments} == guids  # the same history
        assert {p.status for p in payments} == {Status.COMPLETED}
    # Each pending payment resumed with its own GUID, one ledger row each: sent once in the
    # first life, at least once more in the second (a send slower than ALLPAY_TIMEOUT on a
    # busy machine is resent with the same GUID).
    sent = sandbox.sandbox.stats.pay_guids
    assert set(sent) == guids and all(sent[guid] >= 2 for guid in guids), sent
    assert len(await sandbox.sandbox.ledger.all()) == 5


async def test_pruning_removes_only_what_is_done_and_old(harness: Harness, tmp_path: Path) -> None:
    journal, db = harness.journal, harness.app.db
    now = datetime.now(UTC)
    old = now - timedelta(days=120)
    for amount in ("1000", "2000"):
        await seed_payment(journal, amount=amount)  # their outbox rows: delivered
    # Two drafts: the first is cancelled by the second (which stays open).
    await journal.create_draft(
        cashier_id=CASHIER, chat_id=CASHIER, login="77000000002", client_name="A",
        identified=False, amount=Decimal(100), lang="en",
    )  # fmt: skip
    await journal.create_draft(
        cashier_id=CASHIER, chat_id=CASHIER, login="77000000002", client_name="A",
        identified=False, amount=Decimal(200), lang="en",
    )  # fmt: skip

    def age_everything(tx: Tx) -> None:
        tx.run(
            "UPDATE outbox SET done_at = ?, created_at = ? WHERE done_at IS NOT NULL",
            (ts(old), ts(old)),
        )
        tx.run("UPDATE drafts SET updated_at = ?", (ts(old),))
        Conversations.save(tx, "idle-key", "CashIn:amount", "{}", old)
        Conversations.save(tx, "recent-key", "CashIn:amount", "{}", now)

    await db.write(age_everything)
    await db.write(
        lambda tx: Outbox.enqueue(tx, now, OutboxKind.DIGEST, SUPERVISOR_CHAT, ref="2026-11-27")
    )

    async def counts() -> dict[str, int]:
        return await db.read(
            lambda tx: {t: int(tx.value(f"SELECT COUNT(*) FROM {t}") or 0) for t in TABLES}
        )

    before = await counts()
    pruned = await harness.app.housekeeping.prune(now)
    after = await counts()
    delivered = before["outbox"] - 1  # all but the digest just queued (or just delivered)
    assert (pruned.outbox, pruned.drafts, pruned.conversations) == (delivered, 1, 1)
    assert after == {
        **before,
        "outbox": 1,
        "drafts": before["drafts"] - 1,  # the cancelled one; the open one and paid ones stay
        "fsm": before["fsm"] - 1,
    }
    for kept in ("payments", "approvals", "audit", "users"):
        assert after[kept] == before[kept]
    # A second pass finds nothing more.
    assert await harness.app.housekeeping.prune(now) == Pruned(0, 0, 0)

    on_file = db.path is not None  # backups copy SQLite; PostgreSQL's are pg_dump's
    if on_file:  # the daily backup keeps the newest copies only
        daily = tmp_path / "daily"
        keeper = Housekeeping(db, UTC, prune_after=None, backup_dir=daily, backup_keep=2)
        made = [await keeper.daily_backup(now + timedelta(seconds=n)) for n in range(3)]
        assert sorted(daily.iterdir()) == made[1:]

    # Two instances on one journal: the day's work is done once, by one of them (the bot,
    # which did it at its start, holds the day; a restart of it does it again).
    shared = tmp_path / "shared" if on_file else None
    one, two = (
        Housekeeping(db, UTC, prune_after=timedelta(days=90), backup_dir=shared, instance=name)
        for name in (harness.app.sender.instance, "two")
    )
    assert await one.run_once() == 1
    assert await two.run_once() == 0
    if shared is not None:
        assert len(list(shared.iterdir())) == 1
    assert await one.run_once() == 0  # once a day, also for the one that did it
