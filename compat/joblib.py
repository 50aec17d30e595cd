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
from mle_runtime.format import compression as _compression
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
         require_signature=None, encryption_key=None, cache=True, memory_limit=None,
         ensure_native_byte_order="auto"):
    """Loads an .mle file like :func:`mle_runtime.load`; with ``allow_pickle=True``, also a
    joblib or pickle file, like ``joblib.load``.

    Parameters
    ----------
    filename, mmap_mode, n_threads, public_key, require_signature, encryption_key, cache, \
    memory_limit, ensure_native_byte_order
        As :func:`mle_runtime.load`.
    allow_pickle : bool, default False
        Unpickle what the file holds in pickle form: an .mle file's pickle section, or, for a
        file that is not an .mle file at all (nor a compressed stream of one), the whole
        file, with ``joblib.load(filename, mmap_mode)`` (``pickle.load`` where joblib is not
        installed). Unpickling can execute arbitrary code: only for files you trust. An .mle
        file that is damaged still raises :class:`~mle_runtime.FormatError` (it is never
        handed to joblib), and so does a non-.mle file when a signature or an encryption key
        is asked for.

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
                  cache=cache, memory_limit=memory_limit,
                  ensure_native_byte_order=ensure_native_byte_order)
    _api._check_allow_pickle(allow_pickle)
    if ensure_native_byte_order != "auto":
        _api._native_order(ensure_native_byte_order, mmap_mode)  # joblib's checks, first
    if not allow_pickle or public_key is not None or require_signature or \
            encryption_key is not None:
        return _api.load(filename, mmap_mode, **kwargs)
    if isinstance(filename, (str, _os.PathLike)):
        try:
            return _api.load(filename, mmap_mode, **kwargs)
        except _FormatError:
            with open(filename, "rb") as f:
                if _holds_mle(f.read):
                    raise
        return _joblib_load(filename, mmap_mode, ensure_native_byte_order)
    if not hasattr(filename, "read") or isinstance(filename, _io.TextIOBase):
        return _api.load(filename, mmap_mode, **kwargs)  # raises the usual TypeError
    f = filename
    if hasattr(f, "peek"):
        head = bytes(f.peek(8)[:8])
    else:
        head = f.read(8)
        if not isinstance(head, (bytes, bytearray, memoryview)):
            raise TypeError("the file object must return bytes from read(); open it in 'rb' "
                            "mode")
        try:
            f.seek(0)  # as joblib: a file object that cannot peek is read from its start
        except (AttributeError, OSError, ValueError):
            f = _Prefixed(bytes(head), f)
        else:
            if len(head) < 8:  # read at the end (a buffer just written): its start decides
                head = f.read(8)
                f.seek(0)
    if bytes(head[:len(_MAGIC)]) == _MAGIC:
        return _api.load(f, mmap_mode, **kwargs)
    if _compression.detect(head) is not None:
        # a compressed stream: of an .mle file (mle_runtime's) or of a pickle (joblib's)
        try:
            pos = f.tell()
            if not _holds_mle(f.read):
                f.seek(pos)
                return _joblib_load(f, mmap_mode, ensure_native_byte_order)
            f.seek(pos)
        except (AttributeError, OSError, ValueError):
            data = f.read()  # cannot seek back: read it whole
            if _holds_mle(_io.BytesIO(data).read):
                return _api.load(_io.BytesIO(data), mmap_mode, **kwargs)
            return _joblib_load(_io.BytesIO(data), mmap_mode, ensure_native_byte_order)
        return _api.load(f, mmap_mode, **kwargs)
    return _joblib_load(f, mmap_mode, ensure_native_byte_order)


class _Prefixed(_io.RawIOBase):
    """A file object whose first bytes were read already (it cannot seek back)."""

    def __init__(self, head, f):
        self._head, self._f = head, f
        self.name = getattr(f, "name", "")

    def readable(self):
        return True

    def readinto(self, b):
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._f.read(len(b))
        b[:len(data)] = data
        return len(data)


def _holds_mle(read):
    """Whether the bytes ``read`` returns start an .mle file, or a joblib-layout compressed
    stream of one (its first bytes are decompressed to see)."""
    head = bytes(read(8))
    if head.startswith(_MAGIC):
        return True
    method = _compression.detect(head)
    if method is None:
        return False
    return _compression.peek_inner(head, read, method, len(_MAGIC)) == _MAGIC


def _joblib_load(source, mmap_mode, ensure_native_byte_order):
    """``joblib.load`` of a file the caller trusts (``allow_pickle=True``)."""
    if ensure_native_byte_order != "auto":
        import joblib

        return joblib.load(source, mmap_mode=mmap_mode,
                           ensure_native_byte_order=ensure_native_byte_order)
    return _pickle_fallback.load_trusted(source, mmap_mode)


def _joblib(name):
    try:
        import joblib
    except ImportError as e:
        raise ImportError(
            f"mle_runtime.compat.joblib.{name} is joblib's own {name}, and joblib is not "
            f"installed: install it (pip install joblib, or mle_runtime[sklearn]). dump and "
            f"load work without it.") from e
    _pickle_fallback.guard_joblib()
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
