"""What every person meets: /start, /help, /cancel, the language, privacy in groups, the refusals
of other roles' commands, and the errors handlers."""
