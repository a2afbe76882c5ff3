"""The freemium gate: who may open which chapter, quiz or feature."""
