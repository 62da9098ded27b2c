"""``dlsync doctor``: checks of the way to a remote, and a probe of the gate's guesses."""
