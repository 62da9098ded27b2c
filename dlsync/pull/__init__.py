"""Pull: the platform to the local folder.

source (listing) -> rules -> plan -> executor -> tally. The rules and the plan do no I/O;
``puller`` runs one pull of one pair, ``command`` is ``dlsync pull``.
"""
