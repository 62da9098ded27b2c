"""How the gate answers where the Dataloop contract is uncertain: switchable guesses.

Each field is one row of "Choices where the contract is uncertain" in ``docs/gate.md``; the
default is the gate's guess about production, and tests can run the other way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateBehaviour:
    """Guesses about production that tests may flip."""

    # Does a change to an item's task refs (added to or removed from a task, a status set or
    # cleared) move the item's updatedAt? Guess: yes, the item document changed.
    refs_move_updated_at: bool = True
