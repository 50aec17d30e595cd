"""The opt-in pickle fallback: the only place mle_runtime pickles or unpickles anything.

``mle_runtime.dump(value, path, allow_pickle=True)`` stores the objects it cannot represent
natively (arbitrary classes, lambdas, unsupported estimators) in a pickle section, and
``mle_runtime.load(path, allow_pickle=True)`` unpickles them. Unpickling can execute arbitrary
code, so both directions are off by default; a file with a pickle section is refused unless the
caller passes ``allow_pickle=True`` (the pickle bytes are then never looked at).
"""

import io
import pickle


def dumps(objects, protocol=None):
    """The pickle of the list ``objects`` (``protocol``: as ``joblib.dump``'s; default the
    highest). Objects that pickle cannot handle raise ``pickle.PicklingError``/``TypeError``
    with the reason."""
    if protocol is None:
        protocol = pickle.HIGHEST_PROTOCOL
    buf = io.BytesIO()
    pickler = _pickler_class()(buf, protocol=protocol)
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


def loads(data):
    """Unpickles a pickle section. Only called when the caller passed ``allow_pickle=True``."""
    return pickle.loads(data)


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
