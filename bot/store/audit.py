"""The audit trail (table ``audit``): who did what, when. Append-only.

A detail is stored as named fields (``detail_json``, a JSON object: ``{"kind": "amount",
"amount_tiyn": 500000}``), read back into its type (:mod:`bot.domain.audit`) and rendered
from that; nothing reads words back out of a sentence. Before schema 12 details were
sentences (the ``detail`` column: ``amount 5000``, ``PENDING->COMPLETED``…): the migration to
12 turns each into its fields once (:func:`convert_legacy`, with :func:`legacy_detail`, the
one parser of those sentences), and leaves the sentences as they were written.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Any, assert_never

from bot.domain.audit import (
    AuditAmount,
    AuditCount,
    AuditDetail,
    AuditEntry,
    AuditLimit,
    AuditRename,
    AuditRole,
    AuditRoleChange,
    AuditStatus,
    AuditText,
)
from bot.domain.limits import LimitKind, LimitRefusal
from bot.domain.model import Role, Status
from bot.domain.money import from_tiyn, to_tiyn
from bot.infra.redaction import redact_error
from bot.store.db import Tx, parse_ts, ts


class AuditLog:
    @staticmethod
    def add(
        tx: Tx,
        now: datetime,
        actor_id: int | None,
        action: str,
        subject: str | None,
        detail: AuditDetail | None = None,
    ) -> None:
        tx.run(
            "INSERT INTO audit (at, actor_id, action, subject, detail_json) VALUES (?, ?, ?, ?, ?)",
            (ts(now), actor_id, action, subject, encode(detail)),
        )

    @staticmethod
    def latest(tx: Tx, limit: int) -> list[AuditEntry]:
        """The latest entries, newest first."""
        rows = tx.all(
            "SELECT at, actor_id, action, subject, detail, detail_json FROM audit "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            AuditEntry(
                at=parse_ts(r["at"]),
                actor_id=r["actor_id"],
                action=r["action"],
                subject=r["subject"],
                detail=_detail(r["detail_json"], r["detail"]),
            )
            for r in rows
        ]


def _detail(stored: str | None, sentence: str | None) -> AuditDetail | None:
    if stored is not None:
        try:
            return decode(stored)
        except (ValueError, KeyError, TypeError, ArithmeticError):
            # Fields this bot does not know (a newer one wrote them): the sentence, if any.
            return AuditText(sentence) if sentence else None
    # A sentence without fields: written by an older bot still running beside this one
    # after the upgrade (several instances on PostgreSQL). Shown as written.
    return AuditText(sentence) if sentence else None


# ------------------------------------------------------------------ the stored form


def _money(amount: Decimal) -> int:
    return to_tiyn(amount)


def _free(text: str) -> str:
    """Words people typed (names), redacted as every stored text is."""
    return redact_error(text) or ""


def encode(detail: AuditDetail | None) -> str | None:
    """``detail`` as a JSON object of named fields (money in tiyn), or None."""
    if detail is None:
        return None
    fields: dict[str, Any]
    match detail:
        case AuditAmount(amount):
            fields = {"kind": "amount", "amount_tiyn": _money(amount)}
        case AuditLimit(amount, refusal):
            fields = {"kind": "limit", "limit": refusal.kind.value, "amount_tiyn": _money(amount)}
            if refusal.kind is LimitKind.CASHIER_COUNT:  # top-ups, not tenge
                fields |= {"limit_count": int(refusal.limit), "left_count": int(refusal.left)}
            else:
                fields |= {"limit_tiyn": _money(refusal.limit), "left_tiyn": _money(refusal.left)}
        case AuditCount(received, expected):
            fields = {
                "kind": "count",
                "received_tiyn": _money(received),
                "expected_tiyn": _money(expected),
            }
        case AuditStatus(before, after, gave_up):
            fields = {
                "kind": "status",
                "before": before.value if before is not None else None,
                "after": after.value,
                "gave_up": gave_up,
            }
        case AuditRole(role):
            fields = {"kind": "role", "role": role.value}
        case AuditRoleChange(before, after):
            fields = {"kind": "role_change", "before": before.value, "after": after.value}
        case AuditRename(before, after):
            fields = {
                "kind": "rename",
                "before": _free(before) if before else None,
                "after": _free(after),
            }
        case AuditText(text):
            fields = {"kind": "text", "text": _free(text)}
        case _:
            assert_never(detail)
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def decode(stored: str) -> AuditDetail:
    """What :func:`encode` wrote."""
    fields: dict[str, Any] = json.loads(stored)
    kind = fields["kind"]
    if kind == "amount":
        return AuditAmount(from_tiyn(fields["amount_tiyn"]))
    if kind == "limit":
        limit = LimitKind(fields["limit"])
        if limit is LimitKind.CASHIER_COUNT:
            bounds = Decimal(fields["limit_count"]), Decimal(fields["left_count"])
        else:
            bounds = from_tiyn(fields["limit_tiyn"]), from_tiyn(fields["left_tiyn"])
        return AuditLimit(from_tiyn(fields["amount_tiyn"]), LimitRefusal(limit, *bounds))
    if kind == "count":
        return AuditCount(from_tiyn(fields["received_tiyn"]), from_tiyn(fields["expected_tiyn"]))
    if kind == "status":
        before = Status(fields["before"]) if fields["before"] is not None else None
        return AuditStatus(before, Status(fields["after"]), bool(fields["gave_up"]))
    if kind == "role":
        return AuditRole(Role(fields["role"]))
    if kind == "role_change":
        return AuditRoleChange(Role(fields["before"]), Role(fields["after"]))
    if kind == "rename":
        return AuditRename(fields["before"], fields["after"])
    if kind == "text":
        return AuditText(fields["text"])
    raise ValueError(f"unknown audit detail kind {kind!r}")


# ------------------------------------------------------------------ before schema 12

_NUMBER = r"-?\d+(?:\.\d+)?"
_AMOUNTS = re.compile(
    rf"^amount (?P<amount>{_NUMBER})(?:, limit (?P<limit>{_NUMBER}), left (?P<left>{_NUMBER}))?$"
)
_COUNTED = re.compile(rf"^received (?P<received>{_NUMBER}), expected (?P<expected>{_NUMBER})$")
_CHANGE = re.compile(r"^(?P<before>\w*)->(?P<after>\w+)(?P<gave_up> \(gave up\))?$")
_RENAME = re.compile(r"^(?:«(?P<before>.*)» )?→ «(?P<after>.*)»$")


def _status(word: str) -> Status | None:
    try:
        return Status(word)
    except ValueError:
        return None


def _role(word: str) -> Role | None:
    try:
        return Role(word)
    except ValueError:
        return None


def legacy_detail(action: str, sentence: str) -> AuditDetail:
    """The fields of a detail an older bot wrote as a sentence (``amount 5000``, ``amount
    5000, limit 100000, left 3000``, ``received 7000, expected 7200``, ``PENDING->COMPLETED``,
    ``->UNKNOWN (gave up)``, ``cashier``, ``cashier->supervisor``, ``«Old» → «New»``). The
    only reader of those sentences: used once, by the migration to schema 12. What reads as
    none of them is kept as it was written (:class:`AuditText`)."""
    try:
        detail = _legacy(action, sentence) or AuditText(sentence)
        encode(detail)  # its fields must be storable too (whole tiyn, a sane size)
    except (ValueError, ArithmeticError):  # a number the journal never wrote
        return AuditText(sentence)
    return detail


def _legacy(action: str, sentence: str) -> AuditDetail | None:
    if action == "roster.renamed":
        renamed = _RENAME.match(sentence)
        return AuditRename(renamed["before"], renamed["after"]) if renamed else None
    amounts = _AMOUNTS.match(sentence)
    if amounts is not None:
        amount = from_tiyn(to_tiyn(Decimal(amounts["amount"])))
        if amounts["limit"] is None:
            return AuditAmount(amount)
        if not action.startswith("limit."):
            return None
        kind = LimitKind(action.removeprefix("limit."))
        limit, left = Decimal(amounts["limit"]), Decimal(amounts["left"])
        if kind is LimitKind.CASHIER_COUNT and (limit % 1 or left % 1):
            return None  # a count of top-ups is whole
        return AuditLimit(amount, LimitRefusal(kind, limit, left))
    counted = _COUNTED.match(sentence)
    if counted is not None:
        return AuditCount(
            from_tiyn(to_tiyn(Decimal(counted["received"]))),
            from_tiyn(to_tiyn(Decimal(counted["expected"]))),
        )
    change = _CHANGE.match(sentence)
    if change is not None:
        before, after, gave_up = change["before"], change["after"], change["gave_up"] is not None
        status, was = _status(after), _status(before)
        if status is not None and (was is not None or not before):
            return AuditStatus(was, status, gave_up=gave_up)
        role, had = _role(after), _role(before)
        if role is not None and had is not None and not gave_up:
            return AuditRoleChange(had, role)
        return None
    role = _role(sentence)
    return AuditRole(role) if role is not None else None


def convert_legacy(tx: Tx) -> int:
    """Part of the migration to schema 12: every detail written as a sentence gets its
    fields (the sentence stays in ``detail``, as written). Returns how many."""
    rows = tx.all(
        "SELECT id, action, detail FROM audit "
        "WHERE detail IS NOT NULL AND detail != '' AND detail_json IS NULL"
    )
    if rows:
        tx.many(
            "UPDATE audit SET detail_json = ? WHERE id = ?",
            [(encode(legacy_detail(r["action"], r["detail"])), r["id"]) for r in rows],
        )
    return len(rows)
