"""The official Dataloop SDK (dtlpy 1.126.5) driven against the dlsync gate."""
