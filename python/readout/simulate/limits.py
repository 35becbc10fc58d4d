"""What ``readout simulate`` accepts, and what a run needs: argument ranges, disk space, signal handling.

- ``--seed``: 0 to 2**63 - 1. numpy's SeedSequence takes any non-negative integer, but the seed is also
  written to manifest.json, whose readers (pandas, DuckDB BIGINT) keep signed 64-bit integers exactly.
- ``--events``: at most one billion (about 80 GB of Parquet and several hours on a 2-core machine).
- ``--chunk-events``: at most ten million rows held in memory at once (about 0.75 GB per million rows).
- Disk: a run needs about ``BYTES_PER_EVENT`` bytes per requested event on the output's file system
  (measured from the writer: 65-68 bytes with all faults planted, 40k to 1M events; a test keeps the
  constant an upper bound).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from .landing import LandingError

MAX_SEED = 2**63 - 1
MAX_EVENTS = 1_000_000_000
MAX_CHUNK_EVENTS = 10_000_000
BYTES_PER_EVENT = 80  #: Parquet bytes written per requested event, rounded up from the measured 65-68


def human_bytes(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def estimated_bytes(events: int) -> int:
    return events * BYTES_PER_EVENT


def check_free_space(out: Path, events: int) -> None:
    """Raise LandingError unless the file system ``out`` is (or will be) on has room for the run."""
    probe = Path(out).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    needed = estimated_bytes(events)
    if needed > free:
        raise LandingError(
            f"--events {events:,} needs about {human_bytes(needed)} in {out} ({BYTES_PER_EVENT} bytes per event), "
            f"but only {human_bytes(free)} is free there; choose fewer --events or another --out"
        )


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


#: the signals received under terminate_as_interrupt (see check_interrupted)
_received: list[str] = []


def _raise_interrupt(signum, frame):
    _received.append(signal.Signals(signum).name)
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (as Ctrl-C does), so ``finally`` blocks clean up a killed run; SIGINT
    gets the same handler, which also records the signal (check_interrupted), and stops the run even when the
    process started with SIGINT ignored. Only in the main thread (the only one Python signal handlers run in);
    elsewhere a no-op."""
    if not _in_main_thread():
        yield
        return
    _received.clear()
    wanted = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, _raise_interrupt) for signum in wanted}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _received.clear()


def check_interrupted() -> None:
    """KeyboardInterrupt if a signal came under terminate_as_interrupt. Its handler raised one already, but
    Python drops an exception raised where a signal can land in a finalizer (a ``__del__`` the garbage collector
    runs), and the run would go on to the end and publish: the simulator checks between chunks and before it
    publishes."""
    if _received:
        raise KeyboardInterrupt(_received[0])


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (moving finished output into place must not stop
    halfway), then raise KeyboardInterrupt. Only in the main thread; elsewhere a no-op."""
    if not _in_main_thread():
        yield
        return
    received: list[int] = []
    wanted = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, lambda signum, frame: received.append(signum)) for signum in wanted}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        raise KeyboardInterrupt(signal.Signals(received[0]).name)
