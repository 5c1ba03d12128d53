"""Warehouse writes on one worker thread, in order, while the caller goes on reading the next input.

Reading (parsing, Arrow) and writing (the engine) both let go of Python's lock, so a load that hands its writes
here uses two cores instead of taking turns on one. A few writes may queue, so neither side waits long on the
other's slow batch (staging 5M FHIR resources: 24 s -> 22 s with four queued). A write that fails raises in the
caller at its next `submit` or `wait`, never silently.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

__all__ = ["BackgroundWrites"]


class BackgroundWrites:
    """A queue of at most `queued` writes (the running one included), run one at a time in submission order."""

    def __init__(self, queued: int = 4, *, name: str = "carelake-write") -> None:
        if queued < 1:
            raise ValueError("queued must be at least 1")
        self.queued = queued
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: deque[Future[None]] = deque()

    def submit(self, work: Callable[[], None]) -> None:
        """Queue `work`, first waiting until there is room; an earlier write that failed raises here."""
        self._settle(self.queued - 1)
        self._pending.append(self._pool.submit(work))

    def wait(self) -> None:
        """Block until every queued write is done; a write that failed raises here."""
        self._settle(0)

    @property
    def pending(self) -> int:
        """Writes queued and not yet collected by `submit` or `wait`."""
        return len(self._pending)

    def drain(self) -> None:
        """Let the queued writes finish, whatever their outcome (before a rollback: nothing may still be writing)."""
        wait(self._pending)
        self._pending.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _settle(self, left: int) -> None:
        """Wait for the oldest writes until at most `left` are queued."""
        while len(self._pending) > left:
            self._pending[0].result()  # taken off only once done, so `drain` still sees it if this is interrupted
            self._pending.popleft()
