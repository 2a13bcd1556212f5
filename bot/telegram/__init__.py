"""The Telegram side: aiogram, over the use cases. One package per feature (its router,
texts, keyboards, callback data, conversation states and outbox notices), the pieces they
share (:mod:`.shared`), and the paths updates and Bot API calls take (:mod:`.runtime`);
:mod:`.routers` composes the features' routers."""
