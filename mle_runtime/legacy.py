"""The names users of the older MLE API know, as thin layers over ``dump``/``load``.

Nothing here is a second implementation: exporting is :func:`mle_runtime.dump`, loading is
:func:`mle_runtime.load`, running is the proxy's methods, security and compression are the
container's own functions.
"""

import os
import time

import numpy as np

from mle_runtime import _native, api
from mle_runtime._version import __version__
from mle_runtime.api import inspect_model, sign_file, verify_file
from mle_runtime.errors import MLEError, UnsupportedModelError
from mle_runtime.exporters import framework_of
from mle_runtime.format import compression as _compression
from mle_runtime.format import crypto
from mle_runtime.format import layout as _L
from mle_runtime.ir.ops import OPS


class MLEFormat:
    """Constants of the .mle container (docs/FORMAT.md)."""

    MAGIC = _L.MAGIC
    VERSION_MAJOR = _L.MAJOR
    VERSION_MINOR = _L.MINOR
    VERSION_MINOR_EXTENDED = _L.MINOR_EXTENDED
    VERSION = f"{_L.MAJOR}.{_L.MINOR}"
    HEADER_SIZE = _L.HEADER_SIZE
    SECTION_ENTRY_SIZE = _L.SECTION_ENTRY_SIZE
    SECTION_ALIGNMENT = _L.SECTION_ALIGN
    DATA_ALIGNMENT = _L.DATA_ALIGN
    SECTION_METADATA = _L.SECTION_META
    SECTION_GRAPH = _L.SECTION_GRAPH
    SECTION_TENSOR_DATA = _L.SECTION_DATA
    SECTION_ENVELOPE = _L.SECTION_ENVELOPE
    SECTION_PAYLOAD = _L.SECTION_PAYLOAD
    SECTION_SIGNATURE = _L.SECTION_SIGNATURE
    SECTION_FLAG_OPTIONAL = _L.SECTION_OPTIONAL
    COMPRESSION_NONE = "none"
    COMPRESSION_ZSTD = "zstd"
    COMPRESSION_ZLIB = "zlib"
    COMPRESSION_TYPES = ("none", "zstd", "zlib", "gzip", "bz2", "lzma", "xz")
    SIGNATURE_ALGORITHM = "ed25519"
    ENCRYPTION_CIPHER = "AES-256-GCM"
    FILE_EXTENSION = ".mle"


def _compress_arg(compression):
    if compression in (None, False, "none", 0):
        return 0
    if compression is True:
        return 3
    return compression


def export_model(model, path, input_shape=None, compression=None, quantization=None,
                 metadata=None, *, raise_on_error=True, **kwargs):
    """Exports a fitted model to ``path``; the older API's name for :func:`mle_runtime.dump`.

    Parameters
    ----------
    model : estimator
    path : str or os.PathLike
    input_shape : tuple, optional
        Checked against the model's feature count (its last element). For models captured
        by tracing (PyTorch modules), the shape of the example input they are captured on
        (its first element is the batch size, kept dynamic).
    compression : bool, int, str or tuple, optional
        Anything ``dump``'s ``compress`` accepts; True means zstd level 3.
    quantization : {"fp16", "int8"}, optional
        ``dump``'s ``quantize``.
    metadata : dict, optional
        ``dump``'s ``metadata``.
    raise_on_error : bool, default True
        Failures raise, as :func:`mle_runtime.dump` raises them: a model that cannot be
        represented (:class:`~mle_runtime.UnsupportedModelError`), an invalid argument
        (``ValueError``/``TypeError``), a missing optional package
        (:class:`~mle_runtime.MissingDependencyError`, naming the extra to install), an I/O
        error. ``False`` keeps the older API's behaviour: they are reported in the returned
        dict instead (``success`` False, ``error``, ``error_type``).
    **kwargs
        Passed to :func:`mle_runtime.dump` (``sign_with``, ``encryption_key``, ...).

    Returns
    -------
    dict
        ``success``, ``path``, ``file_size_bytes``, ``export_time_ms``, ``compression_ratio``
        (uncompressed size / file size), ``model_class``, ``content_hash``; with
        ``raise_on_error=False`` and a failure, ``success`` False, ``path``, ``error`` and
        ``error_type``.
    """
    if type(raise_on_error) is not bool:
        raise TypeError(f"raise_on_error must be True or False, got {raise_on_error!r}")
    t0 = time.perf_counter()
    try:
        fw = framework_of(model)
        example = getattr(fw.exporter(), "example_from_shape", None) if fw else None
        if example is not None and input_shape is not None and "example_inputs" not in kwargs:
            kwargs["example_inputs"] = example(input_shape)
            input_shape = None  # the capture itself checked it
        api.dump(model, path, compress=_compress_arg(compression), quantize=quantization,
                 metadata=metadata, **kwargs)
        info = inspect_model(path, encryption_key=kwargs.get("encryption_key"))
        n_features = (info.get("graph") or {}).get("n_features")
        if input_shape is not None and n_features is not None and \
                tuple(input_shape)[-1] != n_features:
            os.unlink(path)
            raise ValueError(f"input_shape {tuple(input_shape)} does not match the model's "
                             f"{n_features} features")
    except (MLEError, ValueError, TypeError, OSError, ImportError) as e:
        if raise_on_error:
            raise
        return {"success": False, "path": os.fspath(path), "error": str(e),
                "error_type": type(e).__name__}
    size = info["file_size"]
    inner = info.get("uncompressed_size") or size
    return {"success": True, "path": os.fspath(path), "file_size_bytes": size,
            "export_time_ms": (time.perf_counter() - t0) * 1e3,
            "compression_ratio": inner / size, "model_class": info.get("model_class"),
            "content_hash": info.get("content_hash")}


def _export_for(framework):
    def export(model, path, **kwargs):
        found = framework_of(model)
        if found is None or found.name != framework:
            cls = type(model)
            raise UnsupportedModelError(
                f"export_{framework}_model() got {cls.__module__}.{cls.__qualname__}, which is "
                f"not a {framework} model; use export_model(), which dispatches by framework")
        return export_model(model, path, **kwargs)

    export.__name__ = f"export_{framework}_model"
    export.__doc__ = (f"Exports a {framework} model: :func:`export_model` after checking the "
                      f"model comes from {framework}.")
    return export


export_sklearn_model = _export_for("sklearn")
export_xgboost_model = _export_for("xgboost")
export_lightgbm_model = _export_for("lightgbm")
export_catboost_model = _export_for("catboost")


class MLERuntime:
    """A loaded model with the older API: ``run([X]) -> [outputs]``, ``get_model_info()``,
    ``benchmark()``. ``model`` is the scikit-learn-style proxy it wraps."""

    def __init__(self, model, device="cpu"):
        self.model = model
        self.device = device

    @property
    def output_names(self):
        """The graph outputs ``run`` returns, in order (e.g. ``["predict", "predict_proba"]``)."""
        return list(self.model._outputs)

    def get_outputs(self):
        """The names of the outputs :meth:`run` returns, in the order it returns them: the
        model's prediction methods, e.g. ``["predict", "predict_proba"]`` for a classifier
        (``outputs = dict(zip(rt.get_outputs(), rt.run([X])))``)."""
        return self.output_names

    def run(self, inputs, output_names=None):
        """Runs the model on one input.

        Parameters
        ----------
        inputs : list of one array-like, or the array-like itself
            The rows to predict (2-D; a DataFrame works as with the proxy).
        output_names : list of str, optional
            Which outputs, in which order (names from :meth:`get_outputs`). Default: every
            output, in the order of :meth:`get_outputs`.

        Returns
        -------
        list of numpy.ndarray
            One array per output, each what the proxy method of that name returns
            (``predict``: class labels, ``predict_proba``: probabilities, ...), in the order
            of :meth:`get_outputs`: a logistic regression's are ``decision_function``,
            ``predict``, ``predict_proba``, ``predict_log_proba``, so ``run([X])[0]`` is not
            the probabilities. Name them with ``dict(zip(rt.get_outputs(), rt.run([X])))``
            or ask for them: ``rt.run([X], output_names=["predict_proba"])``.
        """
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise ValueError(f"run() takes one input array, got {len(inputs)}")
            X = inputs[0]
        else:
            X = inputs
        names = self.output_names if output_names is None else list(output_names)
        return [getattr(self.model, n)(X) for n in names]

    def get_model_info(self):
        """The model's description (see :func:`mle_runtime.inspect_model`)."""
        info = self.model.get_model_info()
        info["device"] = self.device
        return info

    def benchmark(self, inputs, num_runs=100, warmup=5):
        """Times ``run(inputs)``: ``{"mean_time_ms", "std_time_ms", "min_time_ms",
        "max_time_ms", "num_runs", "rows", "throughput_rows_per_s"}``."""
        import statistics

        if not isinstance(num_runs, int) or num_runs < 1:
            raise ValueError("num_runs must be a positive int")
        for _ in range(warmup):
            self.run(inputs)
        times = []
        for _ in range(num_runs):
            t0 = time.perf_counter()
            self.run(inputs)
            times.append((time.perf_counter() - t0) * 1e3)
        X = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        rows = len(X) if hasattr(X, "__len__") else 1
        mean = statistics.fmean(times)
        return {"mean_time_ms": mean, "std_time_ms": statistics.pstdev(times),
                "min_time_ms": min(times), "max_time_ms": max(times),
                "median_time_ms": statistics.median(times), "num_runs": num_runs,
                "rows": rows, "throughput_rows_per_s": rows / (mean / 1e3) if mean else None}

    def __repr__(self):
        return f"MLERuntime({self.model!r}, device={self.device!r})"


def load_model(path, device="cpu", verify_signature=None, public_key=None,
               encryption_key=None, **kwargs):
    """Loads an .mle file into an :class:`MLERuntime`; the older API's name for
    :func:`mle_runtime.load`.

    ``device``: ``"cpu"`` (``"auto"`` also means the CPU in this build). ``verify_signature``:
    require a signature by ``public_key`` (True needs ``public_key``; the default verifies
    whenever a key is given).
    """
    if device not in ("cpu", "auto"):
        raise ValueError(f"device={device!r} is not available: this build of mle_runtime runs "
                         "on the CPU (device='cpu')")
    if verify_signature and public_key is None:
        raise ValueError("verify_signature=True needs public_key=")
    model = api.load(path, public_key=public_key, require_signature=verify_signature,
                     encryption_key=encryption_key, **kwargs)
    return MLERuntime(model, "cpu")


def benchmark_model(path, inputs, num_runs=100):
    """``load_model(path).benchmark(inputs, num_runs)``."""
    return load_model(path).benchmark(inputs, num_runs)


def get_version_info():
    """Versions of the runtime and the format, and the native build's features."""
    return {"version": __version__, "mle_runtime_version": __version__,
            "format_version": f"{_L.MAJOR}.{_L.MINOR_EXTENDED}",
            "supported_format_versions": [f"{_L.MAJOR}.x"],
            "build": _native.build_info()}


def get_supported_operators():
    """Sorted names of the graph ops this runtime executes."""
    return sorted(OPS)


class SecurityUtils:
    """Signing, verification and hashing helpers of the older API."""

    @staticmethod
    def generate_keypair():
        """A new Ed25519 pair as PEM bytes, **public key first**: ``(public_key_pem,
        private_key_pem)``, the older API's order. :func:`mle_runtime.generate_keys` returns
        the reverse, ``(private_key, public_key)`` (key objects): do not mix the two
        unpacking orders: handing the public key to :meth:`sign_model` raises a
        ``ValueError`` ("cannot read an Ed25519 private key").
        :class:`~mle_runtime.MissingDependencyError` (``pip install
        'mle_runtime[security]'``) without the ``cryptography`` package."""
        key = crypto.generate_private_key()
        return crypto.public_pem(key.public_key()), crypto.private_pem(key)

    @staticmethod
    def sign_model(path, private_key):
        """Signs the .mle file at ``path`` in place; returns the key's fingerprint."""
        return sign_file(path, private_key)

    @staticmethod
    def verify_model(path, public_key):
        """True when ``path`` is signed by ``public_key`` and unmodified, else False."""
        try:
            verify_file(path, public_key)
        except MLEError:
            return False
        return True

    @staticmethod
    def compute_checksum(data):
        """CRC-32C of ``data`` (the checksum every .mle section carries), as an int."""
        return _native.crc32c(data)

    @staticmethod
    def compute_hash(data):
        """SHA-256 of ``data`` as a hex string."""
        import hashlib

        return hashlib.sha256(bytes(data)).hexdigest()


class CompressionUtils:
    """Weight quantisation and byte compression helpers of the older API."""

    @staticmethod
    def quantize_weights_int8(weights):
        """Affine int8 quantisation: ``(q, scale, zero_point)`` with
        ``weights ~= (q.astype(float) - zero_point) * scale``."""
        w = np.asarray(weights, dtype=np.float64)
        if w.size == 0:
            return w.astype(np.int8), 1.0, 0
        if not np.all(np.isfinite(w)):
            raise ValueError("int8 quantisation needs finite weights")
        lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
        scale = (hi - lo) / 255.0 or 1.0
        zero_point = int(round(-128 - lo / scale))
        q = np.clip(np.round(w / scale) + zero_point, -128, 127).astype(np.int8)
        return q, scale, zero_point

    @staticmethod
    def dequantize_weights_int8(q, scale, zero_point):
        """Inverse of :meth:`quantize_weights_int8` (float32)."""
        return ((np.asarray(q, dtype=np.float64) - zero_point) * scale).astype(np.float32)

    @staticmethod
    def quantize_weights_fp16(weights):
        """``weights`` rounded to float16."""
        return np.asarray(weights).astype(np.float16)

    @staticmethod
    def compress_data(data, compression_type="zstd", level=3):
        """``data`` compressed with one of ``MLEFormat.COMPRESSION_TYPES``."""
        if compression_type in (None, "none"):
            return bytes(data)
        return _compression.compress(bytes(data), compression_type, level)

    @staticmethod
    def decompress_data(data, compression_type, size):
        """Inverse of :meth:`compress_data`; ``size`` is the exact uncompressed size (the
        bound that makes decompression of untrusted data safe)."""
        if compression_type in (None, "none"):
            return bytes(data)
        return bytes(_compression.decompress(data, compression_type, size))
