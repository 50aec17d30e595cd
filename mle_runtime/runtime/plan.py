"""Thread-count resolution shared by load() and every predict call."""

import operator
import os

import numpy as np

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
    if n_threads is None:
        return 0
    if isinstance(n_threads, (bool, np.bool_)):
        raise TypeError(f"n_threads must be an int or None, got {type(n_threads).__name__}")
    try:
        n_threads = operator.index(n_threads)  # int, numpy integers (as joblib's n_jobs)
    except TypeError:
        raise TypeError(
            f"n_threads must be an int or None, got {type(n_threads).__name__}") from None
    if n_threads == 0:
        return 0
    if n_threads > 0:
        return min(n_threads, 1 << 16)  # the native call takes a C int; more is pointless
    if _MAX is None:
        _MAX = _native.build_info()["max_threads"] or os.cpu_count() or 1
    return max(1, _MAX + 1 + n_threads)
