"""dlsync: keep folders of ML data and their annotations mirrored into Dataloop datasets."""

from dlsync import deferred_trust

__version__ = "0.1.0"

deferred_trust.install()   # before anything imports aiohttp
