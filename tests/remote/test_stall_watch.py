"""The stall watch: a request that keeps moving bytes is never cut; one that stops is cut
once ``timeout`` has passed since its last byte, never sooner."""

from __future__ import annotations

import anyio

from dlsync.remote.stall import StallWatch


async def test_moving_bytes_keep_the_request_alive_and_silence_cuts_it() -> None:
    timeout = 0.2
    watch = StallWatch(timeout)
    last_move = 0.0
    with watch:
        for _ in range(12):                 # 0.6 s of bytes moving, three timeouts' worth
            await anyio.sleep(0.05)
            watch.moved()
            last_move = anyio.current_time()
        await anyio.sleep(10)               # nothing moves: the watch cuts this
    cut = anyio.current_time()
    assert watch.stalled
    assert cut - last_move >= timeout


async def test_a_pause_does_not_count_and_the_deadline_runs_again_after_it() -> None:
    watch = StallWatch(0.1)
    with watch:
        with watch.paused():
            await anyio.sleep(0.3)          # three timeouts held back by dlsync itself
        resumed = anyio.current_time()
        await anyio.sleep(10)
    assert watch.stalled
    assert anyio.current_time() - resumed >= 0.1
