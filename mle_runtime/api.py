"""``dump`` and ``load``: joblib's signatures and return values, without pickle."""

import io
import os

from mle_runtime.format import reader
from mle_runtime.runtime.proxies import MLEModel

_MMAP_MODES = (None, "r+", "r", "w+", "c")


def _check_compress(compress):
    # joblib accepts 0-9, a bool, a method name or a (method, level) tuple.
    level = compress
    if isinstance(compress, tuple) and len(compress) == 2:
        level = compress[1]
    elif isinstance(compress, str):
        level = 3
    if level in (0, False, None):
        return
    raise ValueError(
        f"compress={compress!r}: this version of mle_runtime writes uncompressed files only "
        "(they are memory-mapped at load and already much smaller than joblib's). "
        "Use compress=0."
    )


def dump(value, filename, compress=0, protocol=None):
    """Stores a fitted model in an .mle file, like ``joblib.dump``.

    Parameters
    ----------
    value : estimator
        A fitted model that mle_runtime can represent natively (see the README). Anything else
        raises :class:`~mle_runtime.UnsupportedModelError`; nothing is ever pickled.
    filename : str, os.PathLike or binary file object
        Where to write. Paths are written atomically: the bytes go to a temporary file in the
        same directory that replaces ``filename`` only once complete, so a failed dump leaves
        any previous file untouched.
    compress : int, bool or tuple, default 0
        Accepted for joblib compatibility; only no compression is available in this version.
    protocol : int, optional
        Accepted for joblib compatibility and ignored (no pickle is involved).

    Returns
    -------
    list of str or None
        ``[filename]`` for a path, ``None`` for a file object, as joblib returns.
    """
    from mle_runtime.exporters import export
    from mle_runtime.format import writer

    _check_compress(compress)
    is_path = isinstance(filename, (str, os.PathLike))
    if not is_path and not hasattr(filename, "write"):
        raise TypeError(
            f"filename must be a str, an os.PathLike or a binary file object, got "
            f"{type(filename).__name__}"
        )
    if not is_path and isinstance(filename, io.TextIOBase):
        raise TypeError("the file object is open in text mode; open it in binary mode ('wb')")
    graph, meta = export(value)
    data = writer.encode(meta, graph)
    if is_path:
        writer.write_atomic(filename, data)
        return [os.fspath(filename)]
    filename.write(data)
    return None


def load(filename, mmap_mode=None, *, n_threads=None):
    """Loads an .mle file, like ``joblib.load``; nothing in the file is executed.

    Parameters
    ----------
    filename : str, os.PathLike or binary file object
        The .mle file. Paths of large files are memory-mapped read-only (small ones are read);
        file objects are read into memory once.
    mmap_mode : {None, 'r+', 'r', 'w+', 'c'}, optional
        Accepted for joblib compatibility. Model data is always read-only and mapped when that
        is faster, whatever this says.
    n_threads : int, optional
        Default thread count for predictions (None: all cores; see
        :func:`mle_runtime.runtime.plan.resolve_n_threads`).

    Returns
    -------
    MLEModel
        A proxy with the original estimator's prediction methods and attributes.

    Raises
    ------
    FormatError
        The file is not a valid .mle file (with the reason; joblib/pickle files are recognised).
    OSError
        The file cannot be opened.
    """
    if mmap_mode not in _MMAP_MODES:
        raise ValueError(f"mmap_mode must be one of {_MMAP_MODES}, got {mmap_mode!r}")
    if isinstance(filename, (str, os.PathLike)):
        native = reader.open_path(filename)
    elif hasattr(filename, "read"):
        if isinstance(filename, io.TextIOBase):
            raise TypeError("the file object is open in text mode; open it in binary mode ('rb')")
        data = filename.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("the file object must return bytes from read(); open it in 'rb' mode")
        native = reader.open_bytes(data)
    else:
        raise TypeError(
            f"filename must be a str, an os.PathLike or a binary file object, got "
            f"{type(filename).__name__}"
        )
    return MLEModel(native, n_threads)
