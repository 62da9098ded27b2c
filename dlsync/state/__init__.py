"""Sync state in SQLite: schema, migrations, typed queries, the single writer."""
