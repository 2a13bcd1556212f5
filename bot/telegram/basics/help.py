"""``/help`` from the command registry: how a top-up goes and the commands a role may use,
grouped by purpose; ``/help <command>`` explains one (a higher role's command is refused as
using it would be)."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _

from bot.domain.model import Role
from bot.telegram.shared.commands import ABOUT, COMMANDS, available, description
from bot.telegram.shared.texts import N_

#: /help's groups, in order: a heading and its commands (listed in menu order). A command in
#: no group is listed in the last one.
HELP_GROUPS: tuple[tuple[str, frozenset[str]], ...] = (
    (N_("💵 Top-ups:"), frozenset({"cashin", "history", "find", "pending", "recheck"})),
    (N_("💰 Cash:"), frozenset({"cash", "handover"})),
    (N_("📊 Reports:"), frozenset({"today", "report", "digest", "export", "balance"})),
    (
        N_("👥 People:"),
        frozenset(
            {"cashiers", "add_cashier", "add_supervisor", "remove", "block", "unblock", "audit"}
        ),
    ),
    (N_("⚙️ Other:"), frozenset({"lang", "help", "cancel"})),
)


def help_groups(role: Role) -> list[tuple[str, list[str]]]:
    """(heading msgid, command names) of what ``role`` may use, in /help's order."""
    names = [spec.name for spec in available(role)]
    grouped = [(heading, [n for n in names if n in members]) for heading, members in HELP_GROUPS]
    placed = {n for _heading, members in grouped for n in members}
    grouped[-1][1].extend(n for n in names if n not in placed)
    return [(heading, members) for heading, members in grouped if members]


def help_text(role: Role) -> str:
    """How a top-up goes, then the commands this role may use grouped by purpose, whose
    top-ups /history shows, and how to learn about one command."""
    lines = [
        _(
            "How to top up a wallet:\n"
            "1. Tap «💵 Top up» (or /cashin).\n"
            "2. Enter the client's login — their phone number, e.g. +7 701 000 00 01 — or send "
            "the client's contact.\n"
            "3. Check the client's name, enter the amount in whole tenge.\n"
            "4. Check the top-up in the bot's message, take the cash from the client and tap "
            "«Confirm».\n\n"
            "✅ completed — the wallet is topped up; the cash stays with you.\n"
            "❌ declined — give the cash back to the client.\n"
            "⏳ pending — keep the cash and do not repeat the top-up; the answer will come in "
            "the same message."
        ),
        "",
    ]
    for heading, names in help_groups(role):
        lines.append(f"<b>{_(heading)}</b> " + ", ".join(f"/{name}" for name in names))
    lines.append("")
    if role.sees_everyone:
        lines.append(_("/history and /find show everyone's top-ups, each with its cashier."))
    else:
        lines.append(_("/history and /find show your own top-ups."))
    lines.append(_("What a command does: /help and the command, e.g. <code>/help find</code>."))
    return "\n".join(lines)


def command_help(role: Role, asked: str) -> str:
    """``/help <command>``: the command's line and what it does, for ``role``; a command of
    a higher role is refused as using it would be; an unknown one points to /help."""
    words = asked.split()
    name = words[0].lstrip("/").split("@")[0].lower() if words else "help"
    spec = next((spec for spec in COMMANDS if spec.name == name), None)
    if spec is None:
        return _("There is no command /{command}. Send /help for the list.").format(
            command=escape(name[:32])
        )
    if role.rank < spec.least.rank:
        return refusal(spec.least, spec.name)
    lines = [f"/{spec.name} — {description(spec, role)}"]
    about = ABOUT.get(spec.name)
    if about is not None:
        details = (
            about.staff_details if role.sees_everyone and about.staff_details else about.details
        )
        lines.append(_(details))
    return "\n".join(lines)


def refusal(least: Role, command: str) -> str:
    if least is Role.ADMIN:
        return _("Only admins can use /{command}.").format(command=command)
    return _("Only supervisors and admins can use /{command}.").format(command=command)
