"""The Dataloop REST client and its pacer."""
