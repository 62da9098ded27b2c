"""The sync engine: pairing, decisions, plans, transfers."""
