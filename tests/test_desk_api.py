"""The supervisor's desk's API (issue 28, items 1 and 2), with real parts: the bot built
in-process on a real journal, the Bot API stand-in and the embedded sandbox; the desk served
by the bot's own aiohttp application on 127.0.0.1; initData signed as Telegram signs it
(tests/webapp.py)."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from bot.allpay.protocol import OP_AVAILABLE_BALANCE
from bot.devtools.telegram import ChatMessage
from bot.infra.outage import PartDown
from bot.wiring.serving import _start_web
from bot.wiring.web import build_web_app
from tests.harness import (
    ADMIN,
    CASHIER,
    CASHIER_2,
    SUPERVISOR,
    SUPERVISOR_CHAT,
    Harness,
    free_port,
    seed_payment,
)
from tests.webapp import authorization, sign_init_data

DESK = "https://bot.example/desk/"


@asynccontextmanager
async def desk_of(h: Harness) -> AsyncIterator[TestClient[Any, Any]]:
    """The bot's main listener's application (the desk under /desk/), on loopback."""
    server = TestServer(build_web_app(h.app, status=False), host="127.0.0.1")
    async with TestClient(server) as client:
        yield client


def signed(user_id: int, **kwargs: Any) -> dict[str, str]:
    return authorization(sign_init_data(user_id, **kwargs))


async def _get(client: TestClient[Any, Any], path: str, user_id: int = SUPERVISOR) -> Any:
    response = await client.get("/desk/api/" + path, headers=signed(user_id))
    assert response.status == 200, await response.text()
    return await response.json()


# ---------------------------------------------------------------- who may call


async def test_only_active_supervisors_and_admins_with_fresh_signed_launch_data(
    controlled: Any,
) -> None:
    async with controlled(webapp_url=DESK) as h, desk_of(h) as client:

        async def status(headers: dict[str, str]) -> tuple[int, str]:
            response = await client.get("/desk/api/me", headers=headers)
            return response.status, (await response.json())["error"]

        good = sign_init_data(SUPERVISOR)
        # A forged hash: one character of it changed.
        forged = good[:-1] + ("0" if good[-1] != "0" else "1")
        assert await status(authorization(forged)) == (401, "forged")
        # Fields changed under the hash (someone else's id).
        assert await status(authorization(good.replace(str(SUPERVISOR), str(ADMIN)))) == (
            401,
            "forged",
        )
        # Another bot's launch data, however well signed.
        other = "654321:OTHER-token-abcdefghijklmnopqrstuvwxyz"
        assert await status(signed(SUPERVISOR, token=other)) == (401, "forged")
        # Older than WEBAPP_MAX_AGE (an hour by default).
        old = int(time.time()) - 3600 - 5
        assert await status(signed(SUPERVISOR, auth_date=old)) == (401, "expired")
        # No header, another scheme, initData in the URL instead.
        assert await status({}) == (401, "missing")
        assert await status({"Authorization": f"Bearer {good}"}) == (401, "missing")
        response = await client.get(f"/desk/api/me?{good}")
        assert response.status == 401
        # A cashier, a stranger: signed by Telegram, but not the desk's people.
        assert await status(signed(CASHIER)) == (403, "forbidden")
        assert await status(signed(999)) == (403, "forbidden")
        # The refusal carries the words the page shows, in the person's language.
        response = await client.get("/desk/api/me", headers=signed(CASHIER, language_code="ru"))
        assert "супервайзер" in (await response.json())["message"]
        # Supervisors and admins are in.
        me = await _get(client, "me", SUPERVISOR)
        assert me["role"] == "supervisor" and me["texts"]["tab_today"] == "Today"
        assert (await _get(client, "me", ADMIN))["role"] == "admin"


async def test_a_removed_or_blocked_supervisor_loses_the_desk_at_once(controlled: Any) -> None:
    settings = {"webapp_url": DESK, "supervisor_ids": [SUPERVISOR, 301]}
    async with controlled(**settings) as h, desk_of(h) as client:
        header = signed(SUPERVISOR)
        assert (await client.get("/desk/api/today", headers=header)).status == 200
        # /block in the chat; the same request replayed is refused.
        reply = await h.say(h.user(ADMIN), f"/block {SUPERVISOR}")
        assert "Blocked" in reply.plain or "blocked" in reply.plain
        replay = await client.get("/desk/api/today", headers=header)
        assert replay.status == 403
        assert (await client.post("/desk/api/approval/x/approve", headers=header)).status == 403
        # /remove: the other supervisor's desk closes as well.
        other = signed(301)
        assert (await client.get("/desk/api/now", headers=other)).status == 200
        reply = await h.say(h.user(ADMIN), "/remove 301")
        assert (await client.get("/desk/api/now", headers=other)).status == 403


async def test_the_page_is_served_with_a_strict_csp_and_no_status_pages(
    controlled: Any,
) -> None:
    async with controlled(webapp_url=DESK) as h, desk_of(h) as client:
        page = await client.get("/desk/")
        assert page.status == 200
        html = await page.text()
        assert '<script src="https://telegram.org/js/telegram-web-app.js"></script>' in html
        csp = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        assert "script-src 'self' https://telegram.org/js/telegram-web-app.js;" in csp
        assert "frame-ancestors https://web.telegram.org https://*.telegram.org" in csp
        assert "unsafe" not in csp
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        for asset in ("desk.js", "desk.css"):
            response = await client.get("/desk/" + asset)
            assert response.status == 200 and "Content-Security-Policy" in response.headers
        api = await client.get("/desk/api/me", headers=signed(SUPERVISOR))
        assert api.headers["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in api.headers
        # The public listener of a webhook deployment: no /healthz, no /metrics there.
        assert (await client.get("/healthz")).status == 404
        assert (await client.get("/metrics")).status == 404
    # The listeners the bot really starts: with the desk its web port faces the internet,
    # in polling mode too, so /healthz and /metrics move to METRICS_PORT, which never serves
    # the desk; in webhook mode the public one serves the webhook as well.
    for mode in ({}, {"webhook_url": "https://bot.example/hook", "webhook_secret": "s" * 20}):
        web_port, metrics_port = free_port(), free_port()
        async with controlled(
            webapp_url=DESK, web_port=web_port, metrics_port=metrics_port, **mode
        ) as h:
            runners = await _start_web(h.app)
            try:
                assert len(runners) == 2, mode
                async with aiohttp.ClientSession() as http:
                    public, inside = (
                        f"http://127.0.0.1:{web_port}",
                        f"http://127.0.0.1:{metrics_port}",
                    )
                    assert (await http.get(public + "/desk/")).status == 200
                    for path in ("/healthz", "/metrics"):
                        assert (await http.get(public + path)).status == 404, (mode, path)
                    if mode:
                        assert (await http.post(public + "/hook", json={})).status == 401
                    assert (await http.get(inside + "/desk/")).status == 404
                    assert (await http.get(inside + "/healthz")).status in {200, 503}
                    assert (await http.get(inside + "/metrics")).status == 200
            finally:
                for runner in runners:
                    await runner.cleanup()


# ---------------------------------------------------------------- approvals


def _cards(h: Harness, chat_id: int) -> list[ChatMessage]:
    return [m for m in h.tg.messages(chat_id) if "Cashier: " in m.plain]


def _live(message: ChatMessage) -> bool:
    return any(data.startswith(("ap:y", "ap:n")) for _label, data in message.callback_buttons)


async def _request(h: Harness, user_id: int = CASHIER) -> tuple[ChatMessage, str]:
    """A top-up above the threshold, confirmed: the cashier's card, the request's id; every
    decider's card delivered."""
    user = h.user(user_id)
    card = await h.top_up_card(user, "77000000001", "150000")
    await h.press(user, card, "Confirm")
    await h.tg.wait_for(lambda: card.text.startswith("🛂"))
    for chat in (SUPERVISOR, ADMIN, SUPERVISOR_CHAT):
        if chat != user_id:
            await h.tg.wait_for(lambda chat=chat: any(_live(m) for m in _cards(h, chat)))
    rows = await h.app.db.query("SELECT id FROM approvals WHERE state = 'WAITING'")
    return card, str(rows[-1]["id"])


async def test_an_approval_through_the_desk_pays_once_and_changes_every_card(
    controlled: Any,
) -> None:
    async with controlled(webapp_url=DESK, approval_threshold=100000) as h, desk_of(h) as client:
        card, approval_id = await _request(h)
        now = await _get(client, "now")
        [shown] = now["approvals"]
        assert shown["id"] == approval_id and shown["own"] is False
        assert shown["amount"] == "150000.00" and shown["client"]
        response = await client.post(
            f"/desk/api/approval/{approval_id}/approve", headers=signed(SUPERVISOR)
        )
        assert (await response.json())["outcome"] == "approved"
        # The cashier's card becomes the top-up's ✅ status, as after a chat approval.
        await h.wait_status(CASHIER, card.message_id, "✅")
        # Every decider's card loses its buttons and says who approved it.
        for chat in (SUPERVISOR, ADMIN, SUPERVISOR_CHAT):
            await h.tg.wait_for(lambda chat=chat: not any(_live(m) for m in _cards(h, chat)))
            assert any(m.plain.startswith("✔️ Approved by") for m in _cards(h, chat))
        # Paid exactly once, and a second press anywhere changes nothing.
        again = await client.post(
            f"/desk/api/approval/{approval_id}/approve", headers=signed(ADMIN)
        )
        assert (await again.json())["outcome"] == "already"
        assert len(await h.sandbox_ledger()) == 1
        audit = await h.app.db.query(
            "SELECT actor_id FROM audit WHERE action = 'approval.approved' AND subject = ?",
            (approval_id,),
        )
        assert [row["actor_id"] for row in audit] == [SUPERVISOR]
        assert (await _get(client, "now"))["approvals"] == []


async def test_desk_and_chat_approving_at_once_one_wins(controlled: Any) -> None:
    async with controlled(webapp_url=DESK, approval_threshold=100000) as h, desk_of(h) as client:
        card, approval_id = await _request(h)
        [admin_card] = [m for m in _cards(h, ADMIN) if _live(m)]
        desk_press = client.post(
            f"/desk/api/approval/{approval_id}/approve", headers=signed(SUPERVISOR)
        )
        chat_press = h.press(h.user(ADMIN), admin_card, "Approve")
        response, _ = await asyncio.gather(desk_press, chat_press)
        outcome = (await response.json())["outcome"]
        assert outcome in {"approved", "already"}
        await h.wait_status(CASHIER, card.message_id, "✅")
        assert len(await h.sandbox_ledger()) == 1
        decided = await h.app.db.query(
            "SELECT actor_id FROM audit WHERE action = 'approval.approved' AND subject = ?",
            (approval_id,),
        )
        assert len(decided) == 1
        assert decided[0]["actor_id"] == (SUPERVISOR if outcome == "approved" else ADMIN)


async def test_a_rejection_with_a_reason_and_ones_own_request_without_buttons(
    controlled: Any,
) -> None:
    async with controlled(webapp_url=DESK, approval_threshold=100000) as h, desk_of(h) as client:
        _card, approval_id = await _request(h, SUPERVISOR)  # the supervisor's own request
        [own] = (await _get(client, "now", SUPERVISOR))["approvals"]
        assert own["own"] is True
        refused = await client.post(
            f"/desk/api/approval/{approval_id}/approve", headers=signed(SUPERVISOR)
        )
        assert (await refused.json())["outcome"] == "self"
        [theirs] = (await _get(client, "now", ADMIN))["approvals"]
        assert theirs["own"] is False
        rejected = await client.post(
            f"/desk/api/approval/{approval_id}/reject", headers=signed(ADMIN)
        )
        assert (await rejected.json())["outcome"] == "rejected"
        reason = await client.post(
            f"/desk/api/approval/{approval_id}/reason",
            headers=signed(ADMIN),
            json={"code": "too_large"},
        )
        assert (await reason.json())["outcome"] == "reason"
        await h.tg.wait_for(
            lambda: any("Amount too large" in m.plain for m in h.tg.messages(SUPERVISOR))
        )
        assert await h.sandbox_ledger() == []


# ---------------------------------------------------------------- figures


async def test_todays_totals_equal_the_journals(controlled: Any) -> None:
    async with controlled(webapp_url=DESK) as h, desk_of(h) as client:
        from bot.allpay.protocol import PayStatus

        await seed_payment(h.journal, amount="1000")
        await seed_payment(h.journal, amount="2500.50", cashier_id=CASHIER_2)
        await seed_payment(h.journal, amount="700", status=PayStatus.DECLINED)
        await seed_payment(h.journal, amount="300", status=PayStatus.PENDING)
        today = await _get(client, "today")
        rows = await h.app.db.query(
            "SELECT status, COUNT(*) AS n, SUM(amount_tiyn) AS tiyn FROM payments GROUP BY status"
        )
        journal = {r["status"].lower(): (r["n"], Decimal(r["tiyn"]) / 100) for r in rows}
        assert today["count"] == sum(n for n, _ in journal.values()) == 4
        assert Decimal(today["amount"]) == sum(a for _, a in journal.values())
        for status, (count, amount) in journal.items():
            assert today["by_status"][status]["count"] == count
            assert Decimal(today["by_status"][status]["amount"]) == amount
        assert today["cash_accepted"] == "3500.50"
        assert sum(today["hourly"]) == 4 and len(today["hourly_average"]) == 24
        assert [c["id"] for c in today["cashiers"]] == [CASHIER_2, CASHIER]
        # A past day: empty, not an error; a day that is not one: refused.
        past = await _get(client, "today?day=2020-01-01")
        assert past["count"] == 0 and past["day"] == "2020-01-01"
        bad = await client.get("/desk/api/today?day=nonsense", headers=signed(SUPERVISOR))
        assert bad.status == 400
        # Now: the ⏳ one with its age and attempts; Find: by status, by login, by GUID.
        [waiting] = (await _get(client, "now"))["unresolved"]
        assert waiting["status"] == "pending" and waiting["attempts"] >= 1
        found = await _get(client, "find?status=declined")
        assert [p["amount"] for p in found["payments"]] == ["700.00"]
        by_guid = await _get(client, "find?q=" + waiting["guid"].strip("{}")[:8])
        assert [p["guid"] for p in by_guid["payments"]] == [waiting["guid"]]
        detail = await _get(client, "payment/" + waiting["guid"].strip("{}"))
        assert detail["icon"] == "⏳"


async def test_a_receipt_asked_for_in_the_desk_arrives_in_the_persons_chat(
    controlled: Any,
) -> None:
    async with controlled(webapp_url=DESK) as h, desk_of(h) as client:
        payment = await seed_payment(h.journal, amount="1000")
        mark = h.tg.mark()
        response = await client.post(
            f"/desk/api/payment/{payment.guid.strip('{}')}/receipt", headers=signed(SUPERVISOR)
        )
        assert (await response.json())["outcome"] == "sent"
        message = await h.tg.wait_message(SUPERVISOR, after=mark)
        assert message.plain.startswith("🧾")
        # Someone the bot cannot write to (they blocked it): told so, nothing else happens.
        h.tg.blocked_by.add(ADMIN)
        refused = await client.post(
            f"/desk/api/payment/{payment.guid.strip('{}')}/receipt", headers=signed(ADMIN)
        )
        assert refused.status == 409 and (await refused.json())["error"] == "not_sent"
        assert any(
            label.startswith("📄") or "PDF" in label for label, _ in message.callback_buttons
        )


# ---------------------------------------------------------------- the way in


def _desk_buttons(message: ChatMessage) -> list[str]:
    return [b["web_app"]["url"] for row in message.buttons for b in row if "web_app" in b]


async def test_report_pending_and_cash_offer_the_desk_in_private_chats_only(
    controlled: Any,
) -> None:
    async with controlled(webapp_url=DESK) as h:
        supervisor = h.user(SUPERVISOR)
        for command in ("/report", "/pending", "/cash"):
            reply = await h.say(supervisor, command)
            assert _desk_buttons(reply) == [DESK], command
        # A cashier's own /cash: no desk.
        assert _desk_buttons(await h.say(h.user(CASHIER), "/cash")) == []
        # In the supervisors' group: no web_app button (Telegram refuses them there).
        mark = h.tg.mark()
        h.tg.send_text(supervisor, "/report", chat_id=SUPERVISOR_CHAT)
        reply = await h.tg.wait_message(SUPERVISOR_CHAT, after=mark)
        assert _desk_buttons(reply) == []
    async with controlled() as h:  # no WEBAPP_URL: no button
        assert _desk_buttons(await h.say(h.user(SUPERVISOR), "/report")) == []


async def test_a_handover_received_in_the_desk_is_the_chats_own_answer(
    controlled: Any,
) -> None:
    async with controlled(webapp_url=DESK) as h, desk_of(h) as client:
        cashier = h.user()
        card = await h.top_up_card(cashier, "77000000002", "5000")  # completed at once
        await h.press(cashier, card, "Confirm")
        await h.wait_status(CASHIER, card.message_id, "✅")
        await h.say(cashier, "/handover")
        choose = await h.say(cashier, "5000")
        await h.press(cashier, choose, "Any supervisor")
        declared = await h.tg.wait_message(
            CASHIER, lambda m: m.message_id == choose.message_id and "Handover #1" in m.text
        )
        boss_card = await h.tg.wait_message(SUPERVISOR, lambda m: "Cash handover #1" in m.text)
        now = await _get(client, "now")
        [waiting] = now["handovers"]
        assert waiting["id"] == 1 and waiting["declared"] == "5000.00"
        assert waiting["own"] is False and waiting["for_someone_else"] is False
        [cash] = now["cash"]
        assert cash["cashier_id"] == CASHIER and cash["collected"] == "5000.00"
        confirm, header = "/desk/api/handover/1/confirm", signed(SUPERVISOR)
        for bad in ("abc", "0", "-5"):
            refused = await client.post(confirm, headers=header, json={"received": bad})
            assert refused.status == 400 and (await refused.json())["error"] == "bad_amount"
        # Another amount than declared, as the chat's "✏️ Another amount".
        response = await client.post(confirm, headers=header, json={"received": "4 900"})
        assert (await response.json())["outcome"] == "confirmed"
        # The cashier's declaration and the supervisor's card say so, as after the button.
        await h.tg.wait_for(lambda: "confirmed by" in declared.plain)
        await h.tg.wait_for(lambda: "received" in boss_card.plain and not boss_card.buttons)
        assert "Shortage: 100" in boss_card.plain.replace("\u202f", "").replace("\u00a0", " ")
        again = await client.post("/desk/api/handover/1/dispute", headers=signed(ADMIN))
        assert (await again.json())["outcome"] == "already"
        assert (await _get(client, "now"))["handovers"] == []


async def test_the_page_weighs_at_most_150_kb_compressed(controlled: Any) -> None:
    async with controlled(webapp_url=DESK) as h, desk_of(h) as client:
        total = 0
        for asset in ("", "desk.js", "desk.css"):
            response = await client.get("/desk/" + asset)
            total += len(gzip.compress(await response.read()))
        assert total <= 150 * 1024, total


async def test_the_days_export_asked_for_in_the_desk_arrives_in_the_persons_chat(
    controlled: Any,
) -> None:
    async with controlled(webapp_url=DESK) as h, desk_of(h) as client:
        await seed_payment(h.journal, amount="1000")
        await seed_payment(h.journal, amount="2000")
        response = await client.post("/desk/api/export", headers=signed(SUPERVISOR))
        assert await response.json() == {"outcome": "sent", "count": 2}
        await h.tg.wait_for(
            lambda: any(
                m.document is not None and m.document[0].endswith(".xlsx")
                for m in h.tg.messages(SUPERVISOR)
            )
        )
        names = [m.document[0] for m in h.tg.messages(SUPERVISOR) if m.document is not None]
        assert [name.rsplit(".", 1)[1] for name in names] == ["csv", "xlsx"]


def test_the_launch_data_check_itself() -> None:
    """bot.telegram.desk.auth over the real algorithm's output (tests/webapp.py)."""
    from datetime import UTC, datetime

    from bot.telegram.desk.auth import Caller, Refusal, check
    from tests.harness import TOKEN

    now = datetime.now(UTC)
    good = "tma " + sign_init_data(SUPERVISOR, auth_date=int(now.timestamp()) - 10)
    caller = check(good, TOKEN, now, 3600)
    assert isinstance(caller, Caller) and caller.user.id == SUPERVISOR
    assert check(good, TOKEN, now, 5) is Refusal.EXPIRED
    future = "tma " + sign_init_data(SUPERVISOR, auth_date=int(now.timestamp()) + 600)
    assert check(future, TOKEN, now, 3600) is Refusal.EXPIRED
    assert check(None, TOKEN, now, 3600) is Refusal.MISSING
    assert check("tma ", TOKEN, now, 3600) is Refusal.MISSING
    assert check("tma not-a-query-string", TOKEN, now, 3600) is Refusal.FORGED
    # Fields changed under the hash; signed but naming nobody.
    fields = sign_init_data(SUPERVISOR).split("&")
    unsigned = "&".join(f for f in fields if not f.startswith("user="))
    assert check("tma " + unsigned, TOKEN, now, 3600) is Refusal.FORGED
    assert check("tma " + sign_init_data(None), TOKEN, now, 3600) is Refusal.NO_USER


async def test_hostile_calls_get_a_clear_refusal_never_a_500(controlled: Any) -> None:
    """Launch data nested past Python's recursion limit (parsed only to pick the refusal's
    language), a reason that is not a string, ids past what the journal holds."""
    async with controlled(webapp_url=DESK) as h, desk_of(h) as client:
        nested = "tma user=" + "[" * 1200 + "]" * 1200 + "&hash=00"
        response = await client.get("/desk/api/me", headers={"Authorization": nested})
        assert response.status == 401 and (await response.json())["error"] == "forged"
        reason = await client.post(
            "/desk/api/approval/x/reason", json={"code": []}, headers=signed(SUPERVISOR)
        )
        assert reason.status == 400 and (await reason.json())["error"] == "bad_reason"
        huge = "9" * 20
        handover = await client.post(f"/desk/api/handover/{huge}/confirm", headers=signed(ADMIN))
        assert handover.status == 404
        found = await client.get(f"/desk/api/find?cashier={huge}", headers=signed(ADMIN))
        assert found.status == 200


async def test_lists_mask_the_login_and_the_balance_is_asked_once_for_many_desks(
    controlled: Any,
) -> None:
    async with controlled(webapp_url=DESK) as h, desk_of(h) as client:
        from bot.allpay.protocol import PayStatus

        await seed_payment(h.journal, login="77012345678", status=PayStatus.PENDING)
        [listed] = (await _get(client, "now"))["unresolved"]
        assert listed["login"] == "7701***5678"  # as the chat's lists
        detail = await _get(client, "payment/" + listed["guid"].strip("{}"))
        assert detail["login"] == "77012345678"  # one top-up's detail, as /find's card

        asked = h.sandbox.stats.requests
        before = asked[OP_AVAILABLE_BALANCE]
        answers = await asyncio.gather(*(_get(client, "balance") for _ in range(5)))
        answers.append(await _get(client, "balance", ADMIN))
        assert {a["answer"] for a in answers} == {"known"}
        assert asked[OP_AVAILABLE_BALANCE] - before == 1  # one ask for six desks


async def test_the_journal_away_is_a_503_the_page_shows_never_a_500(
    controlled: Any, monkeypatch: Any, caplog: Any
) -> None:
    """Every call of every open desk reads the journal: while it is away each gets 503
    ``unavailable`` (the page then says it is out of date), with no traceback logged."""
    async with controlled(webapp_url=DESK) as h, desk_of(h) as client:
        assert (await _get(client, "today"))["count"] == 0

        async def away(*_: Any, **__: Any) -> Any:
            raise PartDown("the journal", "connection refused")

        monkeypatch.setattr(h.app.db, "read", away)
        for path in ("me", "today", "now"):
            response = await client.get("/desk/api/" + path, headers=signed(SUPERVISOR))
            assert response.status == 503, path
            assert (await response.json())["error"] == "unavailable"
        assert not [r for r in caplog.records if r.exc_info], caplog.text
        monkeypatch.undo()
        assert (await _get(client, "today"))["count"] == 0  # back: answered again
