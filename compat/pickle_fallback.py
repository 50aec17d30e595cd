"""The opt-in pickle fallback: the only place mle_runtime pickles or unpickles anything.

``mle_runtime.dump(value, path, allow_pickle=True)`` stores the objects it cannot represent
natively (arbitrary classes, lambdas, unsupported estimators) in a pickle section, and
``mle_runtime.load(path, allow_pickle=True)`` unpickles them. Unpickling can execute arbitrary
code, so both directions are off by default; a file with a pickle section is refused unless the
caller passes ``allow_pickle=True`` (the pickle bytes are then never looked at).
"""

import io
import pickle
import sys

# The .mle magic (mle_runtime.format.layout.MAGIC; this codec imports nothing of the package)
MLE_MAGIC = b"\x89MLE\r\n\x1a\n"


def dumps(objects, protocol=None, persistent_id=None):
    """The pickle of the list ``objects`` (``protocol``: as ``joblib.dump``'s; default the
    highest). ``persistent_id(obj)``: the pickler's persistent ids (the value codec stores
    numpy arrays out of band this way), or None. Objects that pickle cannot handle raise
    ``TypeError`` with the reason."""
    if protocol is None:
        protocol = pickle.HIGHEST_PROTOCOL
    buf = io.BytesIO()
    cls = _pickler_class()
    if persistent_id is not None:
        class _Pickler(cls):
            def persistent_id(self, obj):
                return persistent_id(obj)

        cls = _Pickler
    pickler = cls(buf, protocol=protocol)
    try:
        pickler.dump(list(objects))
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise TypeError(f"allow_pickle=True, but pickle cannot store the object either: "
                        f"{type(e).__name__}: {e}") from None
    return buf.getvalue()


def _pickler_class():
    """cloudpickle's pickler where available (joblib ships one), which also stores lambdas
    and locally defined functions, as joblib's process workers do; else pickle's."""
    try:
        from joblib.externals.cloudpickle import CloudPickler
    except ImportError:
        try:
            from cloudpickle import CloudPickler
        except ImportError:
            return pickle.Pickler
    return CloudPickler


def loads(data, persistent_load=None):
    """Unpickles a pickle section (``persistent_load(pid)``: the objects its persistent ids
    name). Only called when the caller passed ``allow_pickle=True``."""
    unpickler = pickle.Unpickler(io.BytesIO(data))
    if persistent_load is not None:
        unpickler.persistent_load = persistent_load
    return unpickler.load()


def load_trusted(source, mmap_mode=None):
    """Loads a joblib or pickle file (a path or a binary file object) the caller has said it
    trusts: ``joblib.load`` where joblib is installed (it reads every format joblib writes,
    compressed ones included), else ``pickle.load`` for plain pickle files. Used by
    ``mle-export``, :func:`mle_runtime.compat.migrate` and
    ``mle_runtime.compat.joblib.load(..., allow_pickle=True)``; this runs whatever code the
    file contains."""
    try:
        import joblib
    except ImportError:
        if hasattr(source, "read"):
            return _pickle_load(source)
        with open(source, "rb") as f:
            return _pickle_load(f)
    if mmap_mode is not None:
        return joblib.load(source, mmap_mode=mmap_mode)
    return joblib.load(source)


def _pickle_load(f):
    head = f.peek(2)[:2] if hasattr(f, "peek") else b""
    if head and not (head[:1] == b"\x80" and 2 <= head[1] <= 5):
        raise ImportError("this file is not a plain pickle (it looks compressed, as joblib "
                          "writes with compress=...); install joblib (pip install joblib) to "
                          "read it")
    return pickle.load(f)


NOT_FOR_JOBLIB = (
    "this is an .mle file (written by mle_runtime.dump), not a joblib/pickle file: load it "
    "with mle_runtime.load(path), or with mle_runtime.compat.joblib.load(path), which reads "
    "both kinds of file")


def guard_joblib():
    """Registers with joblib (when it is imported already; joblib's public
    ``register_compressor``) a "compressor" that recognises the .mle magic, so that
    ``joblib.load`` of an .mle file raises a ``ValueError`` saying what the file is and how
    to load it, instead of an error from unpickling its bytes. It never matches a file
    name, so ``joblib.dump`` is unchanged. Does nothing where joblib is not imported or has
    no such API."""
    joblib = sys.modules.get("joblib")
    if joblib is None:
        return
    try:
        from joblib.compressor import _COMPRESSORS, CompressorWrapper
    except ImportError:
        return
    if "mle_runtime" in _COMPRESSORS:
        return

    class _MLEFile(io.BufferedIOBase):
        def __init__(self, *args, **kwargs):
            raise ValueError(NOT_FOR_JOBLIB)

    class _MLEGuard(CompressorWrapper):
        def __init__(self):
            # a NUL ends no file name: joblib.dump never picks this "compressor"
            CompressorWrapper.__init__(self, obj=_MLEFile, prefix=MLE_MAGIC,
                                       extension="\0.mle")

    try:
        joblib.register_compressor("mle_runtime", _MLEGuard())
    except (ValueError, TypeError, AttributeError):
        pass
