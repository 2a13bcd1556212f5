"""/history, /find, /today, a top-up's details and its receipt (in the chat and as a PDF)."""
