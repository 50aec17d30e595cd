"""Thread-count resolution shared by load() and every predict call."""

import operator
import os

import numpy as np

from mle_runtime import _native

_MAX = None


def resolve_n_threads(n_threads):
    """Effective thread count for a native run.

    ``None`` or ``0``: every core this process may run on (its CPU affinity), or
    ``OMP_NUM_THREADS`` when that is set to a positive number; a positive number: at most that
    many; a negative number ``-k``: all cores but ``k - 1`` (joblib's convention, so ``-1``
    means all). Single-row and small batches never use threads whatever this says: the plan runs
    them on the calling thread. Batches run on the native core's own thread pool, which survives
    ``fork()``: a forked child (gunicorn ``--preload``, ``multiprocessing`` with the fork start
    method) starts a fresh pool on its first batch and predicts multi-threaded like its parent.

    Parameters
    ----------
    n_threads : int or None
        The requested count, as passed to ``load`` or a predict method.

    Returns
    -------
    int
        ``0`` for "the default count" (resolved natively), otherwise the count to use (>= 1).
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
