"""Payment logic: journal, service, resolver. Knows nothing of aiogram or Telegram."""
