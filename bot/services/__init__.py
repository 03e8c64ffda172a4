"""Domain services: the rules, in plain Python. They take ids and values, never Telegram objects."""
