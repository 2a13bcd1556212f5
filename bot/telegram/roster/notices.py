"""A person's menu button, as the outbox delivers it: the desk (a Telegram Mini App at
WEBAPP_URL) for an active supervisor or admin, Telegram's default (the command list) for
anyone else — read from the roster when it is delivered, so items queued by changes in quick
succession all end in the last one's button."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import MenuButtonDefault, MenuButtonWebApp, WebAppInfo
from aiogram.utils.i18n import gettext as _

from bot.domain.model import OutboxItem, OutboxKind
from bot.telegram.shared.delivery import Delivery
from bot.usecases.deliveries import Due

log = logging.getLogger(__name__)


async def deliver_menu_button(delivery: Delivery, batch: Sequence[OutboxItem], due: Due) -> bool:
    """One call for every menu button item due in the chat (each would set the same). A
    refusal Telegram keeps giving (a person who never opened the bot has no chat yet) is
    recorded as failed; the next start tries again. 429s, 5xx and outages are retried by
    the outbox."""
    chat_id = batch[0].chat_id
    ids = [i.id for i in due.items if i.kind is OutboxKind.MENU_BUTTON]
    person = await delivery.people.who(chat_id)
    button: MenuButtonWebApp | MenuButtonDefault
    if delivery.desk_url is not None and person is not None and person.has_desk:
        with delivery.speaking(await delivery.language(chat_id)):
            label = _("📊 Desk")
        button = MenuButtonWebApp(text=label, web_app=WebAppInfo(url=delivery.desk_url))
    else:
        button = MenuButtonDefault()
    try:
        await delivery.bot.set_chat_menu_button(chat_id=chat_id, menu_button=button)
    except TelegramBadRequest as exc:
        log.info("menu button of chat %d not set: %s", chat_id, exc.message)
        await delivery.deliveries.done(ids, failed=exc.message)
        return True
    log.debug("menu button of chat %d: %s", chat_id, button.type)
    await delivery.deliveries.done(ids)
    return True
