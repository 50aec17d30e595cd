"""What the fuzz harnesses share: the test keys, the modules of the loading path, the errors a
hostile file may raise, checksum repair, and the exercise of whatever a load returned.

The rule every harness checks: a file of any bytes either loads (and what it gives behaves:
its models predict or refuse the input) or is refused with an :class:`mle_runtime.MLEError`
(``FormatError``, ``PickleNotAllowedError``, ``DecryptionError``, ``SignatureError``,
``UnsupportedModelError``, ``InputError``). Anything else is a finding: another exception
type (``MemoryError``, ``RecursionError``, ``OSError``, ``KeyError`` ...), a crash, a hang or
memory growth past the fuzzer's ``-rss_limit_mb``.

This module needs no atheris: ``fuzz/replay.py`` runs the harnesses over files with plain
Python (under the sanitizer build, for instance).
"""

import importlib
import io
import os
import struct
import tempfile

# Imported before the harnesses instrument mle_runtime, so that they are not instrumented
# themselves and are not imported again for each input.
import numpy as np

try:  # optional: the value decoder imports them only for files that use them
    import pandas  # noqa: F401
    import zstandard  # noqa: F401
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
except ImportError:  # the harnesses still run; such files are refused as needing an extra
    Ed25519PrivateKey = None

#: The AES-256 key the seed corpus's encrypted files use; the harnesses load every encrypted
#: envelope with it so that a mutation of the ciphertext reaches AES-GCM's authentication.
AES_KEY = bytes(range(32))
#: The Ed25519 private key (raw seed) the seed corpus's signed files are signed with.
SIGNING_SEED = bytes(range(1, 33))

#: mle_runtime modules a load may reach; the harnesses import them inside
#: ``atheris.instrument_imports`` so that their Python code counts as coverage.
LOAD_PATH_MODULES = (
    "mle_runtime",
    "mle_runtime.api",
    "mle_runtime.cache",
    "mle_runtime.errors",
    "mle_runtime.format.quantization",
    "mle_runtime.format.budget",
    "mle_runtime.format.compression",
    "mle_runtime.format.container",
    "mle_runtime.format.crypto",
    "mle_runtime.format.envelope",
    "mle_runtime.format.layout",
    "mle_runtime.format.reader",
    "mle_runtime.format.values",
    "mle_runtime.format.values_pandas",
    "mle_runtime.format.writer",
    "mle_runtime.runtime.inputs",
    "mle_runtime.runtime.plan",
    "mle_runtime.runtime.proxies",
    "mle_runtime.compat.pickle_fallback",
)

METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
           "score_samples")
MAX_FEATURES = 1 << 16  # wider models are called with a wrong-width input only
MAX_WALK = 20000        # nodes of a decoded value visited after a load

_HEADER = struct.Struct("<8sHHIQII28sI")
_ENTRY = struct.Struct("<IIQQII")
_MODEL_SECTION = 8


def import_load_path():
    """Imports :data:`LOAD_PATH_MODULES` (call it inside ``atheris.instrument_imports``)."""
    for name in LOAD_PATH_MODULES:
        importlib.import_module(name)


def public_key():
    """The public key of :data:`SIGNING_SEED` (None without the ``cryptography`` package)."""
    if Ed25519PrivateKey is None:
        return None
    return Ed25519PrivateKey.from_private_bytes(SIGNING_SEED).public_key()


class Finding(Exception):
    """An outcome the harness does not accept that is not itself an exception (such as a
    method returning something other than an array)."""


# ------------------------------------------------------------------------------ checksums

def repair(data, nested=True):
    """``data`` with every checksum and the declared file size recomputed, as far as its
    header and section table can be read (otherwise ``data`` unchanged). Model sections of a
    value file (complete .mle files themselves) are repaired first, in place (one level). A
    mutation of the repaired bytes reaches the parsers behind the checksums instead of
    stopping there."""
    from mle_runtime import _native

    if len(data) < 64 or data[:8] != b"\x89MLE\r\n\x1a\n":
        return data
    out = bytearray(data)
    count = _HEADER.unpack_from(out, 0)[5]
    count = min(count, (len(out) - 64) // 32)
    for i in range(count):
        pos = 64 + 32 * i
        kind, _flags, offset, size, _crc, _res = _ENTRY.unpack_from(out, pos)
        if offset > len(out) or size > len(out) - offset:
            continue
        if kind == _MODEL_SECTION and nested:
            inner = repair(bytes(out[offset:offset + size]), nested=False)
            out[offset:offset + size] = inner
        struct.pack_into("<I", out, pos + 24, _native.crc32c(bytes(out[offset:offset + size])))
    struct.pack_into("<Q", out, 16, len(out))
    struct.pack_into("<I", out, 28, _native.crc32c(bytes(out[64:64 + 32 * count])))
    struct.pack_into("<I", out, 60, _native.crc32c(bytes(out[:60])))
    return bytes(out)


def load_options(data):
    """The keys to load ``data`` with: the corpus's AES key when it is an encrypted envelope,
    and its public key when it carries a signature section (so both get checked)."""
    kw = {}
    if b'"encryption"' in data:
        kw["encryption_key"] = AES_KEY
    if len(data) >= 64 and data[:8] == b"\x89MLE\r\n\x1a\n":
        count = min(_HEADER.unpack_from(data, 0)[5], (len(data) - 64) // 32, 64)
        kinds = [_ENTRY.unpack_from(data, 64 + 32 * i)[0] for i in range(count)]
        if 6 in kinds and Ed25519PrivateKey is not None:
            kw["public_key"] = public_key()
    return kw


# ------------------------------------------------------------------------------ temp files

def _temp_dir():
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        return shm
    return tempfile.gettempdir()


def load_from_path(data, **kw):
    """``mle.load`` of ``data`` written to a fresh temporary file (removed afterwards; a model
    still mapping it keeps the bytes, since an unlinked file stays readable)."""
    import mle_runtime as mle

    fd, path = tempfile.mkstemp(prefix="mle-fuzz-", suffix=".mle", dir=_temp_dir())
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return mle.load(path, cache=False, **kw)
    finally:
        os.unlink(path)


def load_from_bytes(data, **kw):
    import mle_runtime as mle

    return mle.load(io.BytesIO(data), **kw)


# ------------------------------------------------------------------------------ exercise

def exercise_model(model):
    """Calls every prediction method ``model`` has on valid rows (3 rows and 1 row, finite and
    NaN values) and on rows of the wrong width. Each call must return an array with one row
    per input row (a scipy.sparse matrix for the neighbour graphs) or raise an MLEError;
    ``repr`` must not raise at all."""
    from mle_runtime import MLEError

    repr(model)
    try:
        model.get_model_info()
        n = model.n_features_in_
    except MLEError:
        return
    except AttributeError:  # a text model (documents in; as scikit-learn's vectorizers)
        n = None
    if n is None:
        inputs = [["a b c", "", "zz top \u00e9t\u00e9"], [""], np.zeros((2, 3))]
    else:
        inputs = [np.zeros((2, n + 1))]
    if n is not None and n <= MAX_FEATURES:
        X = np.linspace(-3.0, 3.0, 3 * n).reshape(3, n) if n else np.zeros((3, 0))
        if n:
            X[1, ::2] = np.nan
        inputs += [X, X[:1].astype(np.float32)]
    for name in METHODS:
        try:  # binding a method reads the metadata it needs (class labels...)
            method = getattr(model, name, None)
        except MLEError:
            continue
        if method is None:
            continue
        for X in inputs:
            try:
                out = method(X)
            except MLEError:
                continue
            array = isinstance(out, np.ndarray) or hasattr(out, "tocsr")  # or scipy.sparse
            if not array or out.shape[:1] != np.shape(X)[:1]:
                raise Finding(f"{name} of {np.shape(X)} rows returned {type(out).__name__} "
                              f"{getattr(out, 'shape', '')}")


def exercise(value):
    """Walks a loaded value (up to :data:`MAX_WALK` nodes) and exercises every model in it."""
    from mle_runtime.runtime.proxies import MLEModel

    stack, seen, visited = [value], set(), 0
    while stack and visited < MAX_WALK:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        visited += 1
        if isinstance(obj, MLEModel):
            exercise_model(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif isinstance(obj, np.ndarray) and obj.dtype.hasobject:
            stack.extend(obj.reshape(-1)[:MAX_WALK])


def expect_refusal_or_value(load):
    """Runs ``load()``: an MLEError is a refusal (fine); a value is exercised."""
    from mle_runtime import MLEError

    try:
        value = load()
    except MLEError:
        return False
    exercise(value)
    return True
