"""The background service: watch hints, a bounded coalescing queue, settling, incremental sync.

``dlsync.service.daemon`` wires these parts together for every sync pair of a config.
"""
