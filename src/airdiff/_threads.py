"""Independent steps of one comparison run side by side on threads.

The heavy steps (ndimage filters, rank filters, resampling) release the GIL, so the two dates
of a comparison, or two tiles of a large one, proceed in parallel on a multi-core machine.
Results do not depend on the number of threads: each step computes what it would alone.

The number of threads is ``AIRDIFF_THREADS`` when set (``1`` runs everything in order, on
the calling thread), else the CPUs this process may use, at most :data:`MAX_THREADS`.
"""

from __future__ import annotations

import ctypes
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# rasterio's polygoniser, run on two threads at once, warns that a scratch dataset of its own
# has no georeference; the polygons are still placed by the transform given (checked against
# a serial run), so the warning says nothing about the caller's data
warnings.filterwarnings("ignore", message="Dataset has no geotransform", module="rasterio.features")

#: more threads than this gain nothing: a comparison has two dates, and tiles are memory-bound
MAX_THREADS = 2


_local = threading.local()


def threads() -> int:
    """How many threads a comparison may use (see the module docstring)."""
    env = os.environ.get("AIRDIFF_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            return 1
    return max(1, min(MAX_THREADS, cpus()))


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def both(f: Callable[[], T], g: Callable[[], R]) -> tuple[T, R]:
    """``(f(), g())``, the two run concurrently when more than one thread is allowed.

    Inside :func:`ordered_map`'s work the two run in order: the threads are already busy.
    """
    if threads() < 2 or getattr(_local, "busy", False):
        return f(), g()
    with ThreadPoolExecutor(max_workers=1) as ex:
        fut = ex.submit(g)
        a = f()
        return a, fut.result()


def ordered_map(fn: Callable[[T], R], items: Iterable[T], *, ahead: int | None = None) -> Iterator[R]:
    """``fn`` over ``items``, yielded in order, with up to ``ahead`` calls running at once.

    Used where each call holds a lot of memory (a tile): at most ``ahead`` results exist
    beyond the one being consumed. ``ahead`` defaults to :func:`threads`.
    """
    n = threads() if ahead is None else max(1, ahead)
    if n < 2:
        for it in items:
            yield fn(it)
        return

    def run(it):
        _local.busy = True  # a thread of this pool: no further threads from within
        return fn(it)

    with ThreadPoolExecutor(max_workers=n) as ex:
        pending = []
        for it in items:
            pending.append(ex.submit(run, it))
            if len(pending) >= n:
                yield pending.pop(0).result()
        while pending:
            yield pending.pop(0).result()


def one_heap() -> bool:
    """Let all threads of this process allocate from one glibc heap ("arena").

    By default glibc gives each thread its own arena; the large arrays of tiles worked on
    two threads at a time then leave freed memory behind in several arenas, and the peak
    RSS of a tiled comparison grows with the number of tiles (16 Mpx: 1.7 GB, against
    1.4 GB with one arena, at the same speed). Called by the command-line tool before any
    thread starts; a library user can set ``MALLOC_ARENA_MAX=1`` instead. Returns whether it
    took effect (False off glibc).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-8, 1))  # M_ARENA_MAX
    except (OSError, AttributeError):
        return False
