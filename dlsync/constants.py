"""Every default and limit in one place, named."""

from __future__ import annotations

# Remote
PRODUCTION_REMOTE = "https://gate.dataloop.ai/api/v1"
LOCAL_REMOTE = "local"
PAGE_SIZE = 1000
ANNOTATION_BATCH = 100
TOKEN_REFRESH_AHEAD_S = 120.0
CONNECT_TIMEOUT_S = 10.0
STALL_TIMEOUT_S = 120.0         # a request fails when no byte moved either way for this long
BLIND_RETRY_MAX_BYTES = 64 << 20  # larger uploads are looked up before they are sent again
BANDWIDTH_BURST_S = 0.1         # --bwlimit: an idle budget lets this many seconds' bytes go at once
MAX_CONNECTIONS = 64

# Pacer
# The request-rate ceiling: Dataloop publishes no limit, so by default there is none until the
# server says otherwise: the first 429 sets the paced rate to half the rate observed then (and
# that observed rate becomes the ceiling), every further 429 halves it (AIMD), Retry-After is
# obeyed. Until then the adaptive concurrency limit (dlsync.remote.limiter) bounds a run. Set a
# remote's `rate` to share a known quota.
DEFAULT_RATE = float("inf")    # requests per second; inf: no ceiling until a 429
DEFAULT_BURST = 100
DEFAULT_CONCURRENCY = 64        # the hard cap on requests in flight; the adaptive limit stays below
START_CONCURRENCY = 16          # where the adaptive limit starts
CONCURRENCY_WINDOW_S = 0.5      # shortest window the adaptive limit decides over
CONCURRENCY_PLATEAU_S = 5.0     # after a step up that bought nothing, wait this long to probe
CONCURRENCY_QUEUE_TARGET_S = 0.1  # queueing delay over the fastest request seen that still counts
                                  # as cheap (LEDBAT's target): the limit grows through it
RATE_WINDOW_S = 1.0             # the window the observed request rate is measured over
MAX_ATTEMPTS = 8
MAX_TOTAL_WAIT_S = 300.0
BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 30.0
RATE_DECREASE_FACTOR = 0.5
RATE_INCREASE_STEP = 0.1        # share of the configured maximum added per success window
MIN_RATE = 0.5

# Sync
DEFAULT_WORKERS = 64             # items in flight; requests in flight are the pacer's to limit
DEFAULT_MAX_DELETE = 100
DEFAULT_MAX_DELETE_ANNOTATIONS = 1000
# up to this many planned annotation deletes, the half-of-owned rule is not applied
HALF_RULE_MIN_ANNOTATIONS = 100
BACKUP_DATE_FORMAT = "%Y-%m-%d"   # backup_dir's dated subfolder a run's deleted items move into
HASH_CHUNK = 1 << 20
UPLOAD_CHUNK = 1 << 18
STATE_BATCH = 500
STATE_FLUSH_S = 0.5
FINGERPRINT_KEY = "dlsync"
INLINE_ANNOTATION_BYTES = 64 << 10   # smaller annotation files are parsed on the event loop
HANDOFF_BATCH = 64              # planner jobs and writes per crossing into the event loop
HANDOFF_MAX_WAIT_S = 0.05       # a planned job waits at most this long for its batch to fill
HANDOFF_REFILL_POLL_S = 0.01    # how often a full job stream is checked for its refill mark
JOBS_PER_WORKER = 16            # planned jobs the job stream holds, per worker (push/handoff.py)

# Service
SETTLE_S = 1.0
DELETE_GRACE_S = 60.0
RECONCILE_S = 15 * 60.0
SHUTDOWN_TIMEOUT_S = 30.0
QUEUE_SIZE = 10_000
SETTLE_TICK_S = 0.1             # how often settling files are re-stat'ed (at most settle / 2)
SETTLE_RELOOK_S = 0.02          # shortest time between two looks at one settling file
MOVE_WINDOW_S = 10.0            # with deletes off, how long a gone file may still become a move
SERVICE_BATCH = 5_000           # settled paths planned together in one incremental batch
WATCH_DEBOUNCE_MS = 50          # watcher: longest wait grouping filesystem events
WATCH_STEP_MS = 10              # watcher: quiet time that ends a group of events
WATCH_TIMEOUT_MS = 500          # watcher: how often it looks at its stop flag
FALLBACK_SCAN_S = 30.0          # full-scan interval when the filesystem watcher is unavailable
CYCLE_RETRY_S = 30.0            # wait before a failed reconcile or batch is tried again
ITEM_RETRY_BASE_S = 2.0          # service: first wait before a failed file is tried again
ITEM_RETRY_CAP_S = 900.0        # service: longest wait between tries of a failed file
IDLE_WAKE_S = 1.0               # service: an idle pair looks at due retries this often
STATUS_EVERY_S = 2.0            # sd_notify STATUS= updates
HEARTBEAT_S = 5.0               # daemon heartbeat written to state for `dlsync status`

# Gate
GATE_HOST = "127.0.0.1"
GATE_PORT = 8765
GATE_TOKEN_TTL_S = 24 * 3600
GATE_REFRESH_TTL_S = 30 * 24 * 3600
GATE_MAX_PAGE_SIZE = 1000

# Local side: scan, ignore rules, annotation files
IGNORE_FILE = ".dlsyncignore"
ANNOTATION_MAX_BYTES = 64 << 20          # larger annotation files are refused, not read
ANNOTATION_MAX_DEPTH = 64                # deepest JSON nesting accepted in an annotation file
ANNOTATION_HASH_KEY = FINGERPRINT_KEY   # metadata.user key of the stamp {"hash", "op"}

# Remote client (dlsync/remote)
RATE_INCREASE_INTERVAL_S = 1.0  # at most one additive rate increase per this many seconds
RATE_DECREASE_WINDOW_S = 1.0    # minimum window between two rate cuts when no Retry-After is given
MAX_RETRY_AFTER_S = 600.0       # a larger Retry-After is clamped (and still bounded by total wait)
TOKEN_ENV = "DLSYNC_TOKEN"
TOKEN_FILE_ENV = "DLSYNC_TOKEN_FILE"
REFRESH_TOKEN_ENV = "DLSYNC_REFRESH_TOKEN"
REFRESH_TOKEN_FILE_ENV = "DLSYNC_REFRESH_TOKEN_FILE"
TOKEN_CREDENTIAL = "dlsync-token"
REFRESH_TOKEN_CREDENTIAL = "dlsync-refresh-token"
PASSWORD_CREDENTIAL = "dlsync-password"  # systemd credential `dlsync login` reads a password from
DTLPY_PATH_ENV = "DATALOOP_PATH"  # dtlpy's folder (default ~/.dataloop); its cookie.json is read
DTLPY_COOKIE = "cookie.json"
SMALL_FILE_BYTES = 1 << 18      # uploads up to this size are read in one call, larger streamed
CARRIED_FILE_BYTES = 1 << 16    # a file up to this size is read once: hashed, then sent as read
# (what it costs: the planned jobs waiting for a worker, at most JOBS_PER_WORKER per worker
# plus one handoff batch, each hold at most this many bytes; 64 workers hold at most 72 MiB,
# 18 MiB for files of 16 KiB)

# State store
STATE_QUEUE = 1000             # write operations buffered before senders wait for the writer

# Configuration
CONFIG_ENV = "DLSYNC_CONFIG"
CONFIG_FILE = "dlsync.toml"
SYSTEM_CONFIG = "/etc/dlsync/dlsync.toml"
METRICS_ADDRESS = "127.0.0.1:9464"

# Push: the remote listing (docs/operations.md, "Incremental remote listing")
LISTING_OVERLAP_S = 30.0        # an incremental listing looks this far behind its watermark
FULL_LISTING_INTERVAL_S = 24 * 3600.0   # a push lists the whole folder at least this often

# Operations: `dlsync status` and metrics
DAEMON_STALE_S = 30.0          # an older heartbeat (six HEARTBEAT_S) means the service hangs
STATUS_ERRORS = 5              # last per-file errors shown per pair by `dlsync status`
STATUS_RUNS = 10               # recent runs per pair that `dlsync status` averages throughput over
METRICS_PATH = "/metrics"

# Pull: platform annotations (and items) back into the local folder
PULL_OVERLAP_S = 30.0           # an incremental pull looks this far behind its watermark
PULL_BATCH = 500                # items whose annotations are fetched with one query
TASK_BATCH = 1000               # items added to a task with one addToTask call
TASK_DUE_S = 7 * 24 * 3600.0    # due date of a task dlsync creates: a week, as dtlpy's default
PART_SUFFIX = ".dlsync-part"    # a download in progress; resumed from its size
PULL_WRITE_BUFFER = 1 << 20     # bytes of a download held in memory between writes of its part
PULL_INLINE_WRITE = 1 << 18     # a pull writes at most this much at once on the loop, no thread
PULL_DURABLE_FILES = 256        # files a pull makes durable (fsync, rename) in one batch
PULL_DURABLE_LINGER_S = 0.05    # how long a batch waits for more files before its fsyncs
CONFLICT_MARK = ".conflict-"    # b.json -> b.conflict-20261127T101500Z.json
URL_FIELDS = ("url", "item", "dataset")  # annotation keys that only name the server's URLs

# Doctor: `dlsync doctor` and its --probe of the gate's guesses (docs/gate.md)
DOCTOR_MAX_SKEW_S = 30.0        # a larger gap between the local clock and the server's Date fails
DOCTOR_TICK_S = 1.1             # waited before a change whose updatedAt must differ (1 s stamps)
DOCTOR_COMMAND_WAIT_S = 60.0    # longest wait for the platform to finish the probe's task command
DOCTOR_MEASURE_WAIT_S = 30.0   # longest wait for the platform to measure the probe's image
DOCTOR_PROBE_PREFIX = "dlsync-probe-"  # scratch dataset name: dlsync-probe-20260101T120000Z
