"""Thread-count resolution shared by load() and every predict call."""

import os

from mle_runtime import _native

_MAX = None


def resolve_n_threads(n_threads):
    """Effective thread count for a native run.

    ``None`` or ``0``: every core OpenMP may use (``OMP_NUM_THREADS`` honoured); a positive
    number: at most that many; a negative number ``-k``: all cores but ``k - 1`` (joblib's
    convention, so ``-1`` means all). Single-row and small batches never start threads whatever
    this says: the plan runs them on the calling thread.
    """
    global _MAX
    if n_threads is None or n_threads == 0:
        return 0
    if not isinstance(n_threads, int) or isinstance(n_threads, bool):
        raise TypeError(f"n_threads must be an int or None, got {type(n_threads).__name__}")
    if n_threads > 0:
        return n_threads
    if _MAX is None:
        _MAX = _native.build_info()["max_threads"] or os.cpu_count() or 1
    return max(1, _MAX + 1 + n_threads)
