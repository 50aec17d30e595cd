"""A module to use in place of ``import joblib``.

>>> from mle_runtime.compat import joblib            # instead of: import joblib
>>> joblib.dump(model, "model.mle")                  # doctest: +SKIP
>>> model = joblib.load("model.mle")                 # doctest: +SKIP
>>> joblib.Parallel(n_jobs=2)(joblib.delayed(f)(x) for x in xs)   # doctest: +SKIP

``dump`` and ``load`` are mle_runtime's (:func:`mle_runtime.dump`, :func:`mle_runtime.load`:
same signatures, no pickle). Every other name joblib offers (``Parallel``, ``delayed``,
``Memory``, ``cpu_count``, ``hash``, ``parallel_config``, ``__version__``, ...) is joblib's
own, imported from joblib the first time it is used: importing this module does not import
joblib, and without joblib installed only those names fail (with an ImportError saying to
install it).

One deliberate addition to :func:`mle_runtime.load`: ``load(path, allow_pickle=True)`` of a
joblib or pickle file (anything that is not an .mle file) loads it with ``joblib.load``, since
the caller has said the file may be unpickled. Without ``allow_pickle`` such a file raises
:class:`~mle_runtime.FormatError` saying how to convert it (``mle-export``,
:func:`mle_runtime.compat.migrate`).
"""

import io as _io
import os as _os

from mle_runtime import api as _api
from mle_runtime.compat import pickle_fallback as _pickle_fallback
from mle_runtime.errors import FormatError as _FormatError
from mle_runtime.format import layout as _layout

dump = _api.dump

# joblib's public names (joblib 1.2-1.6) other than dump and load, forwarded on first use.
_FORWARDED = (
    "Parallel", "delayed", "cpu_count", "effective_n_jobs", "parallel_backend",
    "parallel_config", "register_parallel_backend", "ParallelBackendBase",
    "wrap_non_picklable_objects", "Memory", "MemorizedResult", "expires_after",
    "register_store_backend", "StoreBackendBase", "register_compressor", "hash", "Logger",
    "PrintTime", "__version__",
)

__all__ = ["dump", "load"] + [n for n in _FORWARDED if n != "__version__"]

_MAGIC = _layout.MAGIC


def load(filename, mmap_mode=None, *, allow_pickle=False, n_threads=None, public_key=None,
         require_signature=None, encryption_key=None, cache=True, memory_limit=None):
    """Loads an .mle file like :func:`mle_runtime.load`; with ``allow_pickle=True``, also a
    joblib or pickle file, like ``joblib.load``.

    Parameters
    ----------
    filename, mmap_mode, n_threads, public_key, require_signature, encryption_key, cache, \
    memory_limit
        As :func:`mle_runtime.load`.
    allow_pickle : bool, default False
        Unpickle what the file holds in pickle form: an .mle file's pickle section, or, for a
        file that is not an .mle file at all, the whole file, with ``joblib.load(filename,
        mmap_mode)`` (``pickle.load`` where joblib is not installed). Unpickling can execute
        arbitrary code: only for files you trust. An .mle file that is damaged still raises
        :class:`~mle_runtime.FormatError` (it is never handed to joblib), and so does a
        non-.mle file when a signature or an encryption key is asked for.

    Returns
    -------
    MLEModel or value
        As :func:`mle_runtime.load`; for a joblib/pickle file, what ``joblib.load`` returns
        (the original objects).

    Raises
    ------
    FormatError
        Not an .mle file (joblib/pickle files are recognised, and the message says how to
        convert them), and ``allow_pickle`` is False.
    PickleNotAllowedError
        The .mle file has a pickle section and ``allow_pickle`` is False.
    """
    kwargs = dict(allow_pickle=allow_pickle, n_threads=n_threads, public_key=public_key,
                  require_signature=require_signature, encryption_key=encryption_key,
                  cache=cache, memory_limit=memory_limit)
    _api._check_allow_pickle(allow_pickle)
    if not allow_pickle or public_key is not None or require_signature or \
            encryption_key is not None:
        return _api.load(filename, mmap_mode, **kwargs)
    if isinstance(filename, (str, _os.PathLike)):
        try:
            return _api.load(filename, mmap_mode, **kwargs)
        except _FormatError:
            with open(filename, "rb") as f:
                if f.read(len(_MAGIC)) == _MAGIC:
                    raise
        return _pickle_fallback.load_trusted(filename, mmap_mode)
    if not hasattr(filename, "read") or isinstance(filename, _io.TextIOBase):
        return _api.load(filename, mmap_mode, **kwargs)  # raises the usual TypeError
    data = filename.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("the file object must return bytes from read(); open it in 'rb' mode")
    try:
        return _api.load(_io.BytesIO(data), mmap_mode, **kwargs)
    except _FormatError:
        if bytes(data[:len(_MAGIC)]) == _MAGIC:
            raise
    # joblib ignores mmap_mode for file objects (with a warning): not passed on
    return _pickle_fallback.load_trusted(_io.BytesIO(data))


def _joblib(name):
    try:
        import joblib
    except ImportError as e:
        raise ImportError(
            f"mle_runtime.compat.joblib.{name} is joblib's own {name}, and joblib is not "
            f"installed: install it (pip install joblib, or mle_runtime[sklearn]). dump and "
            f"load work without it.") from e
    return joblib


def __getattr__(name):
    if name in _FORWARDED:
        value = getattr(_joblib(name), name)
    elif not name.startswith("_"):
        # any other public name of joblib (such as a submodule: joblib.parallel)
        try:
            import joblib
        except ImportError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r} (and joblib, "
                                 f"whose names it forwards, is not installed)") from None
        try:
            value = getattr(joblib, name)
        except AttributeError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r} (joblib has "
                                 f"none either)") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_FORWARDED))
