"""What every feature uses: filters (roles, menu buttons, the pressed message), callback data
types, the main menu, the command registry, common words, the view of the settings words
need, chat actions, button answers, and what outbox renderers are given."""
