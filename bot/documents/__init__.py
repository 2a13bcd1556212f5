"""Documents people keep outside the chat: the client's PDF receipt, the XLSX export.

Knows the domain and the file formats; never Telegram. Words come through the ``_`` it is
given (the caller's gettext, already in the reader's language).
"""
