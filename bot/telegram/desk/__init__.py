"""The supervisor's desk: a Telegram Mini App served by the bot's own web server under
``WEBAPP_URL``'s path — the page (``page.py``, ``static/``), its JSON API (``api.py``) and who
may call it (``auth.py``). Imported only when ``WEBAPP_URL`` is set (tests/test_imports.py)."""
