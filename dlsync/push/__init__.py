"""Push: the local folder to the platform.

source (scan) -> march -> decide -> plan -> executor -> tally. The rules (``march``, ``decide``,
``plan``) do no I/O; ``cycle`` runs one cycle of one pair, ``command`` is ``dlsync mirror``.
"""
