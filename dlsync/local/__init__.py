"""The local side: streaming scan, ignore rules, annotation files, the watcher."""
