"""What every layer may use and none owns: background loops that cannot die quietly
(``loops``), the parts' state — answering or away (``outage``), redaction of secrets and
personal data (``redaction``), private files (``files``) and log lines (``logs``). Imports
nothing of the store, Allpay, the use cases or Telegram."""
