"""Background writes: in order, bounded, and a failed write is never lost (it raises in the caller)."""

from __future__ import annotations

import threading
import time

import pytest

from carelake.warehouse.background import BackgroundWrites


def test_writes_run_in_order_on_one_thread() -> None:
    done: list[int] = []
    threads: set[str] = set()
    writes = BackgroundWrites(queued=3)

    def write(i: int) -> None:
        time.sleep(0.001 * (i % 3))  # uneven work must not reorder them
        threads.add(threading.current_thread().name)
        done.append(i)

    for i in range(30):
        writes.submit(lambda i=i: write(i))
        assert writes.pending <= 3
    writes.wait()
    writes.close()
    assert done == list(range(30))
    assert len(threads) == 1 and threading.current_thread().name not in threads


def _fail(error: Exception) -> None:
    raise error


def test_a_failed_write_raises_at_the_next_wait() -> None:
    writes = BackgroundWrites(queued=2)
    writes.submit(lambda: None)
    writes.submit(lambda: _fail(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        writes.wait()
    writes.close()


def test_drain_lets_every_write_finish_whatever_its_outcome() -> None:
    release = threading.Event()
    done: list[str] = []
    writes = BackgroundWrites(queued=4)

    def slow() -> None:
        release.wait(5)
        done.append("slow")

    writes.submit(slow)
    writes.submit(lambda: _fail(ValueError("bad batch")))
    writes.submit(lambda: done.append("last"))
    assert writes.pending == 3
    release.set()
    writes.drain()  # no raise: a rollback follows, and nothing may still be writing when it does
    assert done == ["slow", "last"] and writes.pending == 0
    writes.close()


def test_queue_size_is_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BackgroundWrites(queued=0)
