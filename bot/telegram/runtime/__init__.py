"""The update and outgoing paths every feature runs on: the intake of updates, aiogram's
middlewares (access, parts, reruns, isolation, locale, the view, log context, the Bot API
watch), the conversation storage, the outbox's delivery loop and the pacing of every Bot API
call."""
