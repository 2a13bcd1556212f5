"""Send leases in the journal: exactly one process sends a GUID at a time, whatever the
number of processes sharing the journal; a dead one's lease runs out and another takes the
GUID over; a stopping one hands its sends over at once. Two "instances" here are two
Database connections, Senders and Resolvers on one SQLite file, against the real sandbox,
which counts a GUID in flight twice at once."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from bot.devtools.sandbox import RunningSandbox
from bot.domain.clock import utcnow
from bot.domain.model import Payment, RetryPolicy, Status
from bot.store.db import Database, Tx, ts
from bot.store.payments import Payments
from bot.usecases.notices import Notices
from bot.usecases.resolver import Resolver
from bot.usecases.sending import Sender
from bot.usecases.singleton import Identity, NameTaken
from tests.fixtures import Connect, make_client
from tests.harness import CASHIER
from tests.journal import Journal

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends

POLICY = RetryPolicy(0.02, 0.05, alert_after=600, give_up_after=3600)


async def _seed(journal: Journal, count: int, login: str = "77000000001") -> list[Payment]:
    """NEW payments, due now, leased to nobody (as a bot that journaled them and died)."""
    payments = []
    for _ in range(count):
        draft = await journal.create_draft(
            cashier_id=CASHIER,
            chat_id=CASHIER,
            login=login,
            client_name="X",
            identified=True,
            amount=Decimal(100),
            lang="ru",
        )
        payment = await journal.claim_draft(draft.id, CASHIER)
        assert payment is not None
        payments.append(payment)
    past = ts(utcnow() - timedelta(seconds=1))

    def due_now(tx: Tx) -> None:
        tx.run(
            "UPDATE payments SET next_attempt_at = ?, lease_owner = NULL, lease_until = NULL",
            (past,),
        )

    await journal.db.write(due_now)
    return payments


def _sender(
    db: Database, sandbox: RunningSandbox, name: str, clock: Callable[[], datetime] = utcnow
) -> Sender:
    return Sender(
        db,
        make_client(sandbox, timeout=2.0),
        POLICY,
        Notices([]),
        requester="agent-test",
        instance=name,
        lease=5.0,
        clock=clock,
    )


async def test_two_instances_never_send_one_guid_at_once(
    connect: Connect, sandbox: RunningSandbox
) -> None:
    first, second = await connect(), await connect()
    senders = [_sender(first, sandbox, "a"), _sender(second, sandbox, "b")]
    resolvers = [Resolver(sender, concurrency=4) for sender in senders]
    try:
        payments = await _seed(Journal(first), 24)
        guids = {p.guid for p in payments}

        async def slow(guid: str) -> None:
            await asyncio.sleep(0.02)  # a window for a second send of the same GUID

        sandbox.sandbox.after_ledger = slow
        changed = asyncio.Event()  # set by every status change either instance records
        for sender in senders:
            sender.notices.wake = changed.set
        for resolver in resolvers:
            resolver.start()

        async def all_completed() -> bool:
            rows = await first.read(lambda tx: Payments.many(tx, list(guids)))
            return all(p.status is Status.COMPLETED for p in rows.values())

        async with asyncio.timeout(30):
            while not await all_completed():
                await changed.wait()
                changed.clear()
        stats = sandbox.sandbox.stats
        assert not stats.overlaps  # never one GUID in flight twice at once
        # Each GUID exactly twice: ⏳ the first time, ✅ the second — no extra send.
        assert {stats.pay_guids[g] for g in guids} == {2}
        # Both instances did the work: it is shared, not one standing idle.
        owners = await first.read(
            lambda tx: tx.all("SELECT action, actor_id FROM audit WHERE action = 'payment.status'")
        )
        assert len(owners) == 2 * len(guids)
        leases = await first.read(
            lambda tx: tx.value("SELECT COUNT(*) FROM payments WHERE lease_owner IS NOT NULL")
        )
        assert leases == 0  # every send recorded released its lease
    finally:
        for resolver in resolvers:
            await resolver.stop()
        for sender in senders:
            await sender.gateway.close()  # type: ignore[attr-defined]
        await first.close()
        await second.close()


async def test_a_dead_instances_lease_runs_out_and_another_takes_the_guid_over(
    connect: Connect, sandbox: RunningSandbox
) -> None:
    first, second = await connect(), await connect()
    now = [utcnow()]
    dead = _sender(first, sandbox, "dead", clock=lambda: now[0])
    alive = _sender(second, sandbox, "alive", clock=lambda: now[0])
    resolver = Resolver(alive, clock=lambda: now[0])
    try:
        [payment, other] = await _seed(Journal(first), 2, login="77000000002")
        held, claimed = await dead.claim(payment.guid)  # … and dies before it sends
        assert claimed and held is not None
        assert await resolver.run_once() == 1  # only the other one
        # The resolver next looks when the dead one's lease ends, not at its planned resend.
        assert await resolver.next_due() == now[0] + dead.lease
        assert sandbox.sandbox.stats.pay_guids == {other.guid: 1}
        busy = await alive.recheck(payment.guid, 300)
        assert busy.outcome.value == "busy"  # a supervisor's /recheck waits for it too
        assert payment.guid not in sandbox.sandbox.stats.pay_guids

        now[0] += dead.lease + timedelta(seconds=1)  # the dead one's lease ran out
        assert await resolver.run_once() == 1
        after = await second.read(lambda tx: Payments.get(tx, payment.guid))
        assert after is not None and after.status is Status.COMPLETED
        assert sandbox.sandbox.stats.pay_guids[payment.guid] == 1
    finally:
        await resolver.stop()
        for sender in (dead, alive):
            await sender.gateway.close()  # type: ignore[attr-defined]
        await first.close()
        await second.close()


async def test_a_stopping_instance_hands_its_sends_over_at_once(
    connect: Connect, sandbox: RunningSandbox
) -> None:
    db = await connect()
    stopping = _sender(db, sandbox, "stopping")
    staying = _sender(db, sandbox, "staying")
    try:
        [payment] = await _seed(Journal(db), 1, login="77000000002")
        assert (await stopping.claim(payment.guid))[1]
        assert not (await staying.claim(payment.guid))[1]
        assert await stopping.release_leases() == 1  # what drain() does at shutdown
        assert (await staying.claim(payment.guid))[1]
        sent = await staying.send(payment.guid)
        assert sent is not None and sent.status is Status.COMPLETED
    finally:
        for sender in (stopping, staying):
            await sender.gateway.close()  # type: ignore[attr-defined]
        await db.close()


async def test_giving_up_leaves_a_guid_another_instance_is_sending(
    connect: Connect, sandbox: RunningSandbox
) -> None:
    """The resolver never marks UNKNOWN a payment whose send another process holds: its
    answer is on the way and may be ✅ (found in review: a COMPLETED thrown away)."""
    db = await connect()
    now = [utcnow()]
    sending = _sender(db, sandbox, "sending", clock=lambda: now[0])
    resolving = _sender(db, sandbox, "resolving", clock=lambda: now[0])
    try:
        [payment] = await _seed(Journal(db), 1, login="77000000002")
        assert (await sending.claim(payment.guid))[1]
        assert await resolving.send(payment.guid) is None  # left to the holder
        assert not await resolving.give_up(payment.guid)
        now[0] += sending.lease + timedelta(seconds=1)  # the holder died
        assert await resolving.give_up(payment.guid)
    finally:
        for sender in (sending, resolving):
            await sender.gateway.close()  # type: ignore[attr-defined]
        await db.close()


async def test_one_live_process_per_instance_name_and_a_dead_ones_work_taken_back(
    connect: Connect,
) -> None:
    db = await connect()
    try:
        [payment] = await _seed(Journal(db), 1, login="77000000002")
        first = Identity(db, "cashin-1")
        assert await first.claim() == []
        with pytest.raises(NameTaken):  # a second live process under the same name
            await Identity(db, "cashin-1").claim()
        other = Identity(db, "cashin-2")
        assert await other.claim() == [first.owner]  # the instances running now
        await first.lease.release()

        # A life of cashin-1 that died (SIGKILL) holding a send and the name.
        gone = await asyncio.create_subprocess_exec("true")
        await gone.wait()  # a process of this host that is no more
        dead = f"cashin-1:{socket.gethostname()}:{gone.pid}:dead00"

        def died_holding(tx: Tx) -> None:
            tx.run(
                "UPDATE payments SET lease_owner = ?, lease_until = ?",
                (dead, ts(utcnow() + timedelta(hours=1))),
            )
            tx.run(
                "INSERT INTO leases (name, owner, until) VALUES ('instance:cashin-1', ?, ?)",
                (dead, ts(utcnow() + timedelta(hours=1))),
            )

        await db.write(died_holding)
        restarted = Identity(db, "cashin-1")
        await restarted.claim()  # the name at once, and the dead life's send
        row = await db.read(lambda tx: Payments.get(tx, payment.guid))
        assert row is not None
        owner = await db.read(
            lambda tx: tx.value("SELECT lease_owner FROM payments WHERE guid = ?", (row.guid,))
        )
        assert owner is None
    finally:
        await db.close()


async def test_the_resolver_does_not_wait_on_its_own_leases(
    connect: Connect, sandbox: RunningSandbox
) -> None:
    """A send of this process that never got recorded (an error mid-send) keeps its lease;
    the resolver resends it when planned, not when the lease runs out (found by the
    catch-up benchmark)."""
    db = await connect()
    sender = _sender(db, sandbox, "me")
    try:
        [payment] = await _seed(Journal(db), 1, login="77000000002")
        assert (await sender.claim(payment.guid))[1]  # held by this very process
        planned = await db.read(lambda tx: Payments.get(tx, payment.guid))
        assert planned is not None
        assert await Resolver(sender).next_due() == planned.next_attempt_at
    finally:
        await sender.gateway.close()  # type: ignore[attr-defined]
        await db.close()
