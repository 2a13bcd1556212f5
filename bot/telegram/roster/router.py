"""Admins manage who may use the bot: /cashiers, /add_cashier, /add_supervisor, /remove, /audit.

Every change is audited with who made it; the changed person's command menu follows.
The bot never ends up without an admin, and ``ADMIN_IDS`` admins are changed only there.
"""

from __future__ import annotations

from html import escape

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from bot.domain.model import Role, RosterChange, StaffUser
from bot.domain.parsing import clean_name
from bot.telegram.roster import texts
from bot.telegram.shared.commands import refresh_user_commands
from bot.telegram.shared.filters import HasRole
from bot.telegram.shared.texts import chunks, role_label
from bot.telegram.shared.view import View
from bot.usecases.people import People, RoleChange
from bot.usecases.reports import Reports

AUDIT_DEFAULT = 20
AUDIT_MAX = 100
MAX_NAME = 64


def make_router() -> Router:
    """Admins only: anyone else gets the registry's refusal."""
    router = Router(name="roster")
    router.message.filter(HasRole(Role.ADMIN))
    router.message.register(roster, Command("cashiers"))
    router.message.register(add_person, Command("add_cashier", "add_supervisor"))
    router.message.register(remove, Command("remove"))
    router.message.register(block, Command("block", "unblock"))
    router.message.register(audit, Command("audit"))
    return router


def _parse_target(args: str | None) -> tuple[int | None, str | None, str | None]:
    """(user id, name, problem) from ``<id> [name]``."""
    parts = (args or "").split(maxsplit=1)
    if not parts:
        return None, None, "missing"
    raw = parts[0]
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**53:
        return None, None, raw
    # Bidi and zero-width characters are dropped: a name must not pass for another in lists.
    name = clean_name(parts[1]) if len(parts) > 1 else None
    return int(raw), name[:MAX_NAME] if name else None, None


async def _target(message: Message, command: CommandObject) -> tuple[int, str | None] | None:
    """``<id> [name]`` from the command, or None after telling the admin what is wrong."""
    user_id, name, problem = _parse_target(command.args)
    if problem is not None or user_id is None:
        await message.answer(_target_problem(command.command, problem or "missing"))
        return None
    return user_id, name


def _target_problem(command: str, problem: str) -> str:
    if problem == "missing":
        return _(
            "Usage: /{command} &lt;Telegram id&gt; [name]\n"
            "The person sees their id when they write to the bot without access."
        ).format(command=command)
    return _("«{value}» is not a Telegram id: an id is a positive number, e.g. 123456789.").format(
        value=escape(problem[:40])
    )


def _change_text(change: RosterChange, user_id: int, role: Role | None) -> str:
    if change is RosterChange.ADDED and role is not None:
        return _("Added {user_id} as {role}.").format(user_id=user_id, role=role_label(role))
    if change is RosterChange.CHANGED and role is not None:
        return _("{user_id} is now {role}.").format(user_id=user_id, role=role_label(role))
    if change is RosterChange.UNCHANGED and role is not None:
        return _("{user_id} is already {role}; nothing changed.").format(
            user_id=user_id, role=role_label(role)
        )
    if change is RosterChange.BLOCKED:
        return _(
            "Blocked {user_id}: their next message is refused; their open cards and approval "
            "requests are cancelled. Top-ups already sent still reach a final status."
        ).format(user_id=user_id)
    if change is RosterChange.UNBLOCKED:
        return _("Unblocked {user_id}: they can use the bot again.").format(user_id=user_id)
    if change is RosterChange.REMOVED:
        return _("Removed {user_id}: they can no longer use the bot.").format(user_id=user_id)
    if change is RosterChange.NOT_FOUND:
        return _("{user_id} is not on the roster; nothing changed.").format(user_id=user_id)
    if change is RosterChange.LAST_ADMIN:
        return _("{user_id} is the last admin: add another admin first. Nothing changed.").format(
            user_id=user_id
        )
    return _(
        "{user_id} is an admin from the ADMIN_IDS setting: change that setting instead. "
        "Nothing changed."
    ).format(user_id=user_id)


def _role_change_text(result: RoleChange, user_id: int, role: Role) -> str:
    """What /add_cashier or /add_supervisor did: to the role, and to the name if it changed."""
    rename = result.rename
    if rename is None:
        return _change_text(result.change, user_id, role)
    before, after = escape(rename.before or ""), escape(rename.after)
    if result.change is RosterChange.RENAMED:
        if rename.before is None:
            text = _("{user_id} is already {role}; name set: «{after}».")
        else:
            text = _("{user_id} is already {role}; name changed: «{before}» → «{after}».")
        return text.format(user_id=user_id, role=role_label(role), before=before, after=after)
    if rename.before is None:
        named = _("Name set: «{after}».").format(after=after)
    else:
        named = _("Name changed: «{before}» → «{after}».").format(before=before, after=after)
    return _change_text(result.change, user_id, role) + "\n" + named


async def roster(message: Message, people: People) -> None:
    listing = await people.listing()
    lines = [_("The roster ({count}):").format(count=len(listing)), ""]
    lines += [texts.staff_line(user) for user in listing]
    lines += ["", _("/add_cashier id [name], /add_supervisor id [name], /remove id")]
    for text in chunks(lines):
        await message.answer(text)


async def add_person(
    message: Message,
    command: CommandObject,
    staff: StaffUser,
    people: People,
    bot: Bot,
    i18n: I18n,
) -> None:
    role = Role.CASHIER if command.command == "add_cashier" else Role.SUPERVISOR
    target = await _target(message, command)
    if target is None:
        return
    user_id, name = target
    result = await people.set_role(staff.user_id, user_id, role, name)
    if result.change in (RosterChange.ADDED, RosterChange.CHANGED):
        await refresh_user_commands(bot, i18n, user_id, role)
    await message.answer(_role_change_text(result, user_id, role))


async def remove(
    message: Message,
    command: CommandObject,
    staff: StaffUser,
    people: People,
    bot: Bot,
    i18n: I18n,
) -> None:
    target = await _target(message, command)
    if target is None:
        return
    user_id = target[0]
    change = await people.remove(staff.user_id, user_id)
    if change is RosterChange.REMOVED:
        await refresh_user_commands(bot, i18n, user_id, None)
    await message.answer(_change_text(change, user_id, None))


async def block(message: Message, command: CommandObject, staff: StaffUser, people: People) -> None:
    target = await _target(message, command)
    if target is None:
        return
    user_id = target[0]
    blocking = command.command == "block"
    if blocking and user_id == staff.user_id:
        await message.answer(_("You cannot block yourself. Nothing changed."))
        return
    change = await people.set_blocked(staff.user_id, user_id, blocking)
    if change is RosterChange.UNCHANGED:
        already = (
            _("{user_id} is already blocked; nothing changed.")
            if blocking
            else _("{user_id} is not blocked; nothing changed.")
        )
        await message.answer(already.format(user_id=user_id))
        return
    await message.answer(_change_text(change, user_id, None))


async def audit(message: Message, command: CommandObject, reports: Reports, view: View) -> None:
    raw = (command.args or "").strip()
    limit = AUDIT_DEFAULT
    if raw:
        if not raw.isdigit() or not 0 < int(raw) <= AUDIT_MAX:
            await message.answer(
                _("Usage: /audit [count], count from 1 to {max}.").format(max=AUDIT_MAX)
            )
            return
        limit = int(raw)
    entries, names = await reports.audit(limit)
    if not entries:
        await message.answer(_("The audit trail is empty."))
        return
    lines = [
        ngettext(
            "The latest {count} audit entry:",
            "The latest {count} audit entries, newest first:",
            len(entries),
        ).format(count=len(entries)),
        "",
    ]
    lines += [texts.audit_entry_line(entry, view.tz, names) for entry in entries]
    for text in chunks(lines):
        await message.answer(text)
