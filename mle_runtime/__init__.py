"""mle_runtime: a safe, fast, drop-in replacement for ``joblib.dump`` / ``joblib.load`` for
trained models.

>>> import mle_runtime as mle
>>> mle.dump(pipeline, "model.mle")       # doctest: +SKIP
>>> model = mle.load("model.mle")         # doctest: +SKIP
>>> model.predict_proba(X)                # doctest: +SKIP
"""

from mle_runtime._version import __version__


def _load_native():
    """Imports the native core. Its BLAS (OpenBLAS, linked into it) starts a pool of one
    thread per further CPU when it is loaded, unless OPENBLAS_NUM_THREADS says otherwise; the
    core runs it single-threaded (its own pool parallelises over row blocks), so that pool
    would only idle. The variable is set for that load alone, after numpy (whose own BLAS reads
    it too) is loaded, and then restored: neither numpy nor child processes see it."""
    import os

    import numpy  # noqa: F401  (its BLAS initialises first, with the caller's settings)

    key = "OPENBLAS_NUM_THREADS"
    old = os.environ.get(key)
    os.environ[key] = "1"
    try:
        try:
            from mle_runtime import _native  # noqa: F401
        except ImportError as e:
            # an in-place (editable) build: the rpath to the installed scipy-openblas32 is
            # relative to an installed extension, so the library is loaded by its path first
            if "libscipy_openblas" not in str(e):
                raise
            _preload_openblas()
            from mle_runtime import _native  # noqa: F401
    finally:
        if old is None:
            del os.environ[key]
        else:
            os.environ[key] = old


def _preload_openblas():
    import ctypes
    import glob
    import os

    try:
        import scipy_openblas32
    except ImportError:
        raise ImportError("mle_runtime's native core needs the scipy-openblas32 package: "
                          "pip install scipy-openblas32") from None
    pattern = os.path.join(scipy_openblas32.get_lib_dir(),
                           f"lib{scipy_openblas32.get_library()}.*")
    for path in sorted(glob.glob(pattern)):
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            return
        except OSError:
            continue
    raise ImportError(f"mle_runtime's native core needs {pattern}, which cannot be loaded; "
                      "reinstall scipy-openblas32")


_load_native()
from mle_runtime.api import (dump, generate_keys, inspect_model, load, save_keys,  # noqa: E402
                             sign_file, verify_file)
from mle_runtime.errors import (DecryptionError, FormatError, InputError, MLEError,  # noqa: E402
                                MissingDependencyError, PickleNotAllowedError,
                                ReadOnlyModelError, SignatureError, UnsupportedModelError)

# The older MLE API's names (mle_runtime.legacy), imported on first use so that importing
# mle_runtime stays as light as it was.
_LEGACY = ("CompressionUtils", "MLEFormat", "MLERuntime", "SecurityUtils", "benchmark_model",
           "export_catboost_model", "export_lightgbm_model", "export_model",
           "export_sklearn_model", "export_xgboost_model", "get_supported_operators",
           "get_version_info", "load_model")


def __getattr__(name):
    if name in _LEGACY:
        # cold start: legacy imports the exporters and the whole format layer
        from mle_runtime import legacy

        value = getattr(legacy, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mle_runtime' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LEGACY))

__all__ = [
    "__version__",
    "dump",
    "load",
    "MLEError",
    "FormatError",
    "InputError",
    "UnsupportedModelError",
    "SignatureError",
    "DecryptionError",
    "PickleNotAllowedError",
    "MissingDependencyError",
    "ReadOnlyModelError",
    "inspect_model",
    "sign_file",
    "verify_file",
    "generate_keys",
    "save_keys",
    # the names of the older MLE API (mle_runtime.legacy)
    "export_model",
    "export_sklearn_model",
    "export_xgboost_model",
    "export_lightgbm_model",
    "export_catboost_model",
    "load_model",
    "MLERuntime",
    "benchmark_model",
    "get_version_info",
    "get_supported_operators",
    "SecurityUtils",
    "CompressionUtils",
    "MLEFormat",
]
