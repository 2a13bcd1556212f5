"""The Telegram side: aiogram routers, texts, keyboards, the intake of updates, the outbox's
delivery and the pacing of every Bot API call, over the use cases."""
