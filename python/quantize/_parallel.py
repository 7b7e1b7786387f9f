"""Splitting one call into block-aligned chunks run on a thread pool.

The C library never starts a thread: every function does its work on the calling thread. This
module is the binding's own parallelism. A call with ``threads=k`` (or ``threads=None`` on an
input of at least ``THREAD_THRESHOLD`` values) is cut into at most k chunks on block, group or row
boundaries; each chunk is one C call on its own slice of the input and output buffers, made on a
``concurrent.futures.ThreadPoolExecutor`` worker (ctypes releases the GIL for the duration of a
call, so the chunks run at the same time). Every chunk computes exactly what the single call
would compute for its slice, so the result is identical; on bad data the first failing chunk, in
order, is reported, which is the failure the single call reports.
"""

from __future__ import annotations

import operator
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional, Sequence, Tuple

__all__ = ["THREAD_THRESHOLD", "default_threads", "chunk_count", "split", "run"]

THREAD_THRESHOLD = 1 << 20
"""``threads=None`` runs one C call below this many values (1 Mi) and ``default_threads()``
chunks from it on; below it the pool's hand-off costs more than it saves."""


def default_threads() -> int:
    """The number of CPUs this process may run on (what ``threads=None`` uses)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def chunk_count(threads: Optional[int], values: int, units: int) -> int:
    """How many chunks to cut ``units`` indivisible units (blocks, groups, rows) holding
    ``values`` values into, for the ``threads`` argument of a public function."""
    if threads is None:
        wanted = default_threads() if values >= THREAD_THRESHOLD else 1
    else:
        try:
            wanted = operator.index(threads)
        except TypeError:
            raise TypeError("threads must be None or a positive integer, got %r" % (threads,)) from None
        if wanted < 1:
            raise ValueError("threads must be None or a positive integer, got %d" % wanted)
    return max(1, min(wanted, units))


def split(units: int, chunks: int) -> List[Tuple[int, int]]:
    """``chunks`` consecutive ``[start, stop)`` ranges of units covering ``0..units``, as even
    as possible."""
    chunks = max(1, min(chunks, units)) if units else 1
    return [(units * i // chunks, units * (i + 1) // chunks) for i in range(chunks)]


_lock = threading.Lock()
_pool: Optional[ThreadPoolExecutor] = None
_pool_size = 0


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < workers:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quantize")
            _pool_size = workers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def run(calls: Sequence[Callable[[], int]]) -> int:
    """Run every zero-argument call (each returns a C status), the first on this thread and the
    others on the pool; return the first non-zero status in order, or 0."""
    if len(calls) == 1:
        return calls[0]()
    pool = _executor(len(calls) - 1)
    futures = [pool.submit(call) for call in calls[1:]]
    statuses = [calls[0]()] + [f.result() for f in futures]
    for status in statuses:
        if status != 0:
            return status
    return 0
