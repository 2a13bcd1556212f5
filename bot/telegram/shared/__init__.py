"""What every feature uses: filters, callback data types, the main menu, the command registry,
common words, chat actions, callback answers and what outbox renderers are given."""
