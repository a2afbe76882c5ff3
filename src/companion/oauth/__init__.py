"""OAuth 2.1 account linking for AI assistants: clients, consent, codes and tokens."""
