"""Admins' roster commands, the audit trail and per-role command menus, over real HTTP."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from bot.allpay.answers import CheckResult
from bot.wiring.app import announce
from tests.harness import (
    ADMIN,
    CASHIER,
    STRANGER,
    SUPERVISOR,
    SUPERVISOR_CHAT,
    Harness,
)

NEWCOMER = 555
CASHIER_MENU = [
    "cashin",
    "history",
    "find",
    "today",
    "cash",
    "handover",
    "lang",
    "help",
    "cancel",
]
SUPERVISOR_MENU = [
    "cashin",
    "history",
    "find",
    "today",
    "cash",
    "handover",
    "report",
    "digest",
    "export",
    "pending",
    "balance",
    "recheck",
    "lang",
    "help",
    "cancel",
]


async def _roles(h: Harness) -> dict[int, str]:
    return {u.user_id: u.role.value for u in await h.journal.roster()}


async def test_admin_adds_promotes_and_removes_with_audit_and_menus(harness: Harness) -> None:
    admin = harness.user(ADMIN)
    newcomer = harness.user(NEWCOMER)
    refused = await harness.say(newcomer, "/start")
    assert str(NEWCOMER) in refused.text and "only for the agent's cashiers" in refused.text

    reply = await harness.say(admin, f"/add_cashier {NEWCOMER} Aigerim Sadykova")
    assert reply.text == f"Added {NEWCOMER} as cashier."
    assert (await _roles(harness))[NEWCOMER] == "cashier"
    assert "Hello" in (await harness.say(newcomer, "/start")).text
    assert harness.tg.menu(NEWCOMER, "en") == []  # cashiers use the default menu

    reply = await harness.say(admin, f"/add_cashier {NEWCOMER}")
    assert "already cashier; nothing changed" in reply.text

    reply = await harness.say(admin, f"/add_supervisor {NEWCOMER}")
    assert reply.text == f"{NEWCOMER} is now supervisor."
    assert harness.tg.menu(NEWCOMER, "en") == SUPERVISOR_MENU
    report = await harness.say(newcomer, "/report")
    assert "Top-ups on" in report.text
    await harness.chart_after(report)  # no desk: the day's chart follows

    roster = await harness.say(admin, "/cashiers")
    assert f"<code>{NEWCOMER}</code> Aigerim Sadykova · supervisor" in roster.text
    assert f"<code>{ADMIN}</code>" in roster.text and "admin" in roster.text

    reply = await harness.say(admin, f"/remove {NEWCOMER}")
    assert reply.text == f"Removed {NEWCOMER}: they can no longer use the bot."
    assert NEWCOMER not in await _roles(harness)
    assert harness.tg.menu(NEWCOMER, "en") == []
    assert "only for the agent's cashiers" in (await harness.say(newcomer, "/report")).text
    assert "not on the roster" in (await harness.say(admin, f"/remove {NEWCOMER}")).text

    audit = await harness.say(admin, "/audit 4")
    lines = audit.text.split("\n")[2:]
    assert len(lines) == 4
    assert "removed from the roster" in lines[0] and f"<code>{NEWCOMER}</code>" in lines[0]
    assert "role changed" in lines[1] and "cashier → supervisor" in lines[1]
    assert "added to the roster" in lines[2]
    assert all(f"({ADMIN})" in line for line in lines[:3])  # who did it


async def test_roster_commands_refuse_bad_input_and_change_nothing(harness: Harness) -> None:
    admin = harness.user(ADMIN)
    before = await _roles(harness)
    cases = {
        "/add_cashier": "Usage: /add_cashier <Telegram id> [name]",
        "/add_supervisor": "Usage: /add_supervisor <Telegram id> [name]",
        "/add_cashier abc": "«abc» is not a Telegram id",
        "/add_cashier -5": "«-5» is not a Telegram id",
        "/add_cashier 12.5 Bob": "«12.5» is not a Telegram id",
        "/remove": "Usage: /remove <Telegram id>",
        "/remove x1": "«x1» is not a Telegram id",
        f"/remove {ADMIN}": "admin from the ADMIN_IDS setting",
        f"/add_cashier {ADMIN}": "admin from the ADMIN_IDS setting",
        "/audit 0": "Usage: /audit [count]",
        "/audit many": "Usage: /audit [count]",
    }
    for command, expected in cases.items():
        reply = await harness.say(admin, command)
        assert expected in reply.plain, (command, reply.text)
    assert await _roles(harness) == before
    entries = await harness.journal.audit_log(100)
    assert not [e for e in entries if e.actor_id == ADMIN]


async def test_the_last_admin_cannot_be_removed_or_demoted(controlled: Any) -> None:
    """The operator cleared ADMIN_IDS after the first start: the roster keeps its one admin."""
    async with controlled():
        pass
    async with controlled(admin_ids=[]) as h:
        admin = h.user(ADMIN)
        for command in (f"/remove {ADMIN}", f"/add_cashier {ADMIN}", f"/add_supervisor {ADMIN}"):
            reply = await h.say(admin, command)
            assert "last admin" in reply.text and "Nothing changed" in reply.text
        assert (await _roles(h))[ADMIN] == "admin"


async def test_cashiers_and_supervisors_cannot_manage_the_roster(harness: Harness) -> None:
    before = await _roles(harness)
    for user_id in (CASHIER, SUPERVISOR):
        user = harness.user(user_id)
        for command in ("cashiers", "add_cashier 777", "add_supervisor 777", "remove 200", "audit"):
            reply = await harness.say(user, f"/{command}")
            assert reply.text == f"Only admins can use /{command.split()[0]}."
    assert await _roles(harness) == before
    # A stranger is refused before any of that, with their id.
    assert str(STRANGER) in (await harness.say(harness.user(STRANGER), "/cashiers")).text


async def test_command_menus_per_language_and_role(harness: Harness) -> None:
    await announce(harness.app)
    tg = harness.tg
    assert tg.menu(None, "en") == CASHIER_MENU
    assert tg.menu(CASHIER, "en") == CASHIER_MENU  # no chat scope: the default menu
    assert tg.menu(SUPERVISOR, "en") == SUPERVISOR_MENU
    assert tg.menu(SUPERVISOR_CHAT, "en") == SUPERVISOR_MENU
    admin_menu = tg.menu(ADMIN, "en")
    assert admin_menu[:9] == SUPERVISOR_MENU[:9]
    assert {"cashiers", "add_cashier", "add_supervisor", "remove", "audit"} <= set(admin_menu)
    descriptions = {
        lang: {c["command"]: c["description"] for c in tg.commands['{"type": "default"}|' + lang]}
        for lang in ("ru", "kk", "en")
    }
    assert descriptions["en"]["find"] == "Find a top-up by GUID or login"
    assert descriptions["ru"]["find"] == "Найти пополнение по GUID или логину"
    assert descriptions["kk"]["find"] == "Толтыруды GUID немесе логин бойынша табу"
    # The menu without a language is the default language's (en in these tests).
    assert tg.menu(None, "") == CASHIER_MENU


async def test_help_lists_the_commands_of_each_role_from_the_one_registry(
    harness: Harness,
) -> None:
    """/help, the menus and the refusals all come from one registry: an admin's /help lists
    the admin's commands, a cashier's only the cashier's — grouped by purpose (issue 26, item
    12), so the same commands as the menu, in the groups' order."""
    listed: dict[int, list[str]] = {}
    for user_id in (CASHIER, SUPERVISOR, ADMIN):
        text = (await harness.say(harness.user(user_id), "/help")).plain
        assert text.startswith("How to top up a wallet:")
        groups = [line for line in text.splitlines() if GROUP_LINE.fullmatch(line)]
        listed[user_id] = re.findall(r"/([a-z_]+)", " ".join(groups))
    assert sorted(listed[CASHIER]) == sorted(CASHIER_MENU)
    assert set(SUPERVISOR_MENU) <= set(listed[SUPERVISOR])
    assert not {"cashiers", "audit"} & set(listed[SUPERVISOR])
    assert {"cashiers", "add_cashier", "remove", "block", "unblock", "audit"} <= set(listed[ADMIN])
    await announce(harness.app)
    for user_id in (SUPERVISOR, ADMIN):
        assert sorted(harness.tg.menu(user_id, "en")) == sorted(listed[user_id])
    reply = await harness.say(harness.user(SUPERVISOR), "/audit")
    assert reply.text == "Only admins can use /audit."


#: A /help line of one group: "💵 Top-ups: /cashin, /history, /find".
GROUP_LINE = re.compile(r"\S+ [^:/]+: /[a-z_]+(, /[a-z_]+)*")


async def test_a_cashier_blocked_during_the_client_check_gets_no_new_draft(
    harness: Harness,
) -> None:
    """/block ends all of a person's work: also a top-up whose client check was on its way
    to Allpay when the block came — no draft is made from Allpay's answer."""
    user, admin = harness.user(), harness.user(ADMIN)
    await harness.say(user, "/cashin")
    asked, gate = asyncio.Event(), asyncio.Event()
    directory = harness.app.cashin.directory

    class Held:
        async def check_user(self, login: str, lang: str) -> CheckResult:
            asked.set()
            await gate.wait()  # Allpay "thinks" until the block is done
            return await directory.check_user(login, lang)

    harness.app.cashin.directory = Held()
    mark = harness.tg.mark()
    harness.tg.send_text(user, "+7 700 000 00 02")
    async with asyncio.timeout(10):
        await asked.wait()
    assert "Blocked" in (await harness.say(admin, f"/block {CASHIER}")).text
    gate.set()
    reply = await harness.tg.wait_message(CASHIER, lambda m: True, after=mark)
    assert "start again" in reply.text
    rows = await harness.app.db.query(
        "SELECT id FROM drafts WHERE cashier_id = ? AND state IN ('LOGIN', 'CLIENT', 'OPEN')",
        (CASHIER,),
    )
    assert rows == []


async def test_a_new_name_over_an_old_one_is_said_and_audited(harness: Harness) -> None:
    """Issue 26, item 10: `/add_cashier 777 Second` over `777 First` renamed them, answered
    "nothing changed" and audited nothing."""
    admin = harness.user(ADMIN)
    reply = await harness.say(admin, f"/add_cashier {NEWCOMER} First")
    assert reply.text == f"Added {NEWCOMER} as cashier."
    entries = len(await harness.journal.audit_log(100))

    reply = await harness.say(admin, f"/add_cashier {NEWCOMER} Second")
    assert reply.text == f"{NEWCOMER} is already cashier; name changed: «First» → «Second»."
    roster = await harness.say(admin, "/cashiers")
    assert f"<code>{NEWCOMER}</code> Second · cashier" in roster.text
    audit = await harness.say(admin, "/audit 1")
    [line] = audit.text.split("\n")[2:]
    assert f"({ADMIN})" in line and "name changed" in line and f"<code>{NEWCOMER}</code>" in line
    assert "«First» → «Second»" in line
    assert len(await harness.journal.audit_log(100)) == entries + 1

    # The same name again, or none: nothing changed, and nothing is audited.
    for command in (f"/add_cashier {NEWCOMER} Second", f"/add_cashier {NEWCOMER}"):
        reply = await harness.say(admin, command)
        assert reply.text == f"{NEWCOMER} is already cashier; nothing changed.", command
    assert len(await harness.journal.audit_log(100)) == entries + 1

    # A new role and a new name at once: both said, both audited.
    reply = await harness.say(admin, f"/add_supervisor {NEWCOMER} Third <b>")
    assert reply.text == (
        f"{NEWCOMER} is now supervisor.\nName changed: «Second» → «Third &lt;b&gt;»."
    )
    audit = await harness.say(admin, "/audit 2")
    lines = audit.text.split("\n")[2:]
    assert "name changed" in lines[0] and "«Second» → «Third &lt;b&gt;»" in lines[0]
    assert "role changed" in lines[1] and "cashier → supervisor" in lines[1]

    # Someone added without a name gets one.
    other = NEWCOMER + 1
    await harness.say(admin, f"/add_cashier {other}")
    reply = await harness.say(admin, f"/add_cashier {other} Aigerim")
    assert reply.text == f"{other} is already cashier; name set: «Aigerim»."
    audit = await harness.say(admin, "/audit 1")
    assert "name changed" in audit.text and "→ «Aigerim»" in audit.text

    # In Russian too.
    reply = await harness.say(harness.user(ADMIN, "ru"), f"/add_cashier {other} Айгерим")
    assert reply.text == f"{other} уже кассир; имя изменено: «Aigerim» → «Айгерим»."
