"""AI assist (ASSIST-1, ASSIST-2): live suggestions, entities, summaries, the self-service bot.
Not built yet (issue 5)."""
