"""What callback data may carry, bounded by type. Short ids only: callback_data is at most
64 bytes.

Every field is bounded by its type: callback data is typed by whoever sends the update, and a
forged value must fail to unpack (the button is then "no longer active"), never reach a
handler as an overflowing number or an unexpected word. Each feature's ``callbacks.py``
builds its buttons' data from these; a prefix once used never changes (buttons already in
chats keep working)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

#: ``secrets.token_urlsafe(9)``: 12 URL-safe characters.
ShortId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{12}$")]
#: A braced GUID as the journal stores it.
BracedGuid = Annotated[
    str, StringConstraints(pattern=r"^\{[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}$")
]
#: Epoch milliseconds between 2020 and 2100.
EpochMs = Annotated[int, Field(ge=1_577_836_800_000, le=4_102_444_800_000)]


#: A Telegram user id.
UserId = Annotated[int, Field(ge=1, le=10**13)]
