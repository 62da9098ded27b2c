"""The local Dataloop-compatible gate: routes, store, DQL, auth and faults."""
