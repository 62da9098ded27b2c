"""Scenarios of `dlsync pull`: platform annotations and items into the local folder."""
