"""dlsync: keep folders of ML data and their annotations mirrored into Dataloop datasets."""

__version__ = "0.1.0"
