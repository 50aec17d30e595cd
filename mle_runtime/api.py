"""``dump`` and ``load``: joblib's signatures and return values, without pickle."""

import io
import os
import sys

from mle_runtime import cache as _cache
from mle_runtime._version import __version__
from mle_runtime.errors import DecryptionError, FormatError, UnsupportedModelError
from mle_runtime.format import layout as L
from mle_runtime.format.budget import LoadBudget
from mle_runtime.format import reader
from mle_runtime.runtime.info import described
from mle_runtime.runtime.proxies import MLEModel

# Cold start: ``import mle_runtime; mle.load(path)`` of a plain model file imports only the
# modules above. The rest of the format layer (the writer, containers, envelopes, the value
# codec; hashlib's OpenSSL with them), the exporters and the pickle codec serve dump, value
# files, envelopes, signatures and inspection, and are imported by the functions that use
# them: at module level they would add several milliseconds to every cold start.

_CACHED = _cache._entries  # the cache's dict (never rebound): empty means nothing to look up
_CACHE_MIN_SIZE = _cache.MIN_SIZE

_MMAP_MODES = (None, "r+", "r", "w+", "c")


def dump(value, filename, compress=0, protocol=None, *, allow_pickle=False, metadata=None,
         model_version=None, parent=None, sign_with=None, encryption_key=None, quantize=None,
         calibration=None, example_inputs=None):
    """Stores a fitted model, or any value holding models, in an .mle file, like
    ``joblib.dump``.

    Parameters
    ----------
    value : estimator or value
        A fitted model that mle_runtime can represent natively (see the README), a model
        loaded by :func:`load`, or a value made of dicts, lists, tuples, sets, str, bytes,
        numbers, None, numpy arrays and scalars (any dtype but object; object arrays element
        by element), pandas DataFrame/Series/Index/Categorical, datetime types and such
        models, nested freely. Anything else raises
        :class:`~mle_runtime.UnsupportedModelError` naming where it sits in the value (such
        as ``value['model'].steps[2]``), unless ``allow_pickle`` is True.
    filename : str, os.PathLike or binary file object
        Where to write. Paths are written atomically: the bytes go to a temporary file in the
        same directory that replaces ``filename`` only once complete, so a failed dump leaves
        any previous file untouched. A file object is written at its current position (also
        ``gzip.GzipFile``, ``bz2.BZ2File``, ``lzma.LZMAFile``), as joblib does.
    compress : int, bool, str or tuple, default 0
        As in joblib: 0-9 (0: none), a bool (True: the method's default level), a method name
        (its default level) or a ``(method, level)`` tuple; invalid values raise joblib's
        ``ValueError``. As in joblib, when ``compress`` is not a tuple or a name, a file name
        ending in ``.z``, ``.gz``, ``.bz2``, ``.lzma`` or ``.xz`` picks that compressor. The
        default method is zstd (joblib's is zlib), written as an envelope
        (docs/FORMAT.md, 16.2); joblib's methods (``"zlib"``, ``"gzip"``, ``"bz2"``,
        ``"lzma"``, ``"xz"``) write joblib's layout, the compressor's stream of the whole
        file (16.4), except for encrypted or quantised files (an envelope). A compressed file
        is decompressed once, into memory, when loaded (so ``mmap_mode`` has no effect on it,
        as with joblib).
    protocol : int, optional
        The pickle protocol of the pickle section (with ``allow_pickle=True``; default the
        highest); otherwise unused.
    allow_pickle : bool, default False
        Store the objects that cannot be represented natively (arbitrary classes, lambdas,
        unsupported estimators) in a pickle section. Loading such a file then needs
        ``load(..., allow_pickle=True)``, because unpickling can execute arbitrary code.
        Of a scikit-learn Pipeline, only the steps that cannot be stored natively are
        pickled: every run of the other steps stays one native model, and loading gives a
        :class:`~mle_runtime.runtime.chain.PipelineChain` that runs the parts in order
        (docs/FORMAT.md, 17.6). A step holding such an estimator (a ColumnTransformer, say)
        is pickled whole.
    metadata : dict, optional
        Your own JSON-serialisable description (stored under the metadata key ``"user"``).
    model_version : str, optional
        The model's semantic version (``"MAJOR.MINOR.PATCH"``, as semver.org).
    parent : str, os.PathLike or MLEModel, optional
        The model this one derives from (lineage): its content hash (``"sha256:..."``), its
        .mle file, or the loaded model; recorded as ``{"parent": "sha256:..."}``.
    sign_with : Ed25519 private key, optional
        Signs the file (a key object, PEM/DER/raw bytes, or a key file path); see
        :func:`mle_runtime.generate_keys`.
    encryption_key : bytes or str, optional
        Encrypts the model with AES-256-GCM: a 32-byte key, or a passphrase (str, stretched
        with scrypt). Only the writer's version and the creation time stay readable.
    quantize : {"fp16", "int8"}, optional
        Lossy storage of float weights (linear coefficients and tree leaf values; never tree
        thresholds), dequantised at load. Recorded in the metadata.
    calibration : array-like, optional
        Rows on which the quantisation error is measured and recorded (with ``quantize``).
    example_inputs : tuple of tensors, optional
        For models captured by tracing (PyTorch modules): an example input (any batch size;
        the batch dimension is kept dynamic).

    Returns
    -------
    list of str or None
        ``[filename]`` for a path, ``None`` for a file object, as joblib returns.

    Raises
    ------
    UnsupportedModelError
        Part of ``value`` cannot be stored natively and ``allow_pickle`` is False; the message
        names its path in the value (the first fitted step or member that is the cause, such
        as ``value.steps[0][1].transformers_[1][1]``), its class and why.
    TypeError
        ``filename`` is neither a path nor a binary file object (also a ``ValueError``, as
        ``joblib.dump`` raises for swapped arguments).
    ValueError
        The value has a reference cycle, nests more than 200 levels deep, or an option is
        invalid (``compress``: with joblib's messages; ``.lz4`` names and lz4 compression,
        which mle_runtime does not have).
    MissingDependencyError
        ``compress`` asks for zstd without the ``zstandard`` package, or ``sign_with`` /
        ``encryption_key`` are given without ``cryptography``; the message names the extra to
        install (``mle_runtime[compression]``, ``mle_runtime[security]``). Nothing is written.
    MLEError
        Internal: the bytes made for a model do not load with this version's loader (dump
        loads every model file before writing it). The message names the exporter; nothing
        is written.
    OSError
        The file cannot be written (``FileNotFoundError`` for a missing directory,
        ``PermissionError`` for a read-only one, ``ENOSPC`` for a full disk, ...); the error
        names ``filename``, and any previous file there is unchanged.

    Notes
    -----
    The metadata records the creation time (UTC; ``SOURCE_DATE_EPOCH`` overrides it, for
    reproducible files) and the model's SHA-256 content hash.
    """
    # dump side (cold start: see the imports above)
    from mle_runtime.exporters import export, framework_of
    from mle_runtime.format import compression, container, crypto, envelope, quantization, writer

    _check_allow_pickle(allow_pickle)
    is_path = isinstance(filename, (str, os.PathLike))
    chosen = compression.choose(compress, os.fspath(filename) if is_path else None)
    # joblib's methods write joblib's layout (the whole file as the compressor's stream),
    # unless the file is encrypted or quantised: those need the envelope (zstd always does)
    stream = None
    if chosen is not None and chosen[2] == "stream" and encryption_key is None and \
            quantize is None:
        stream = chosen[:2]
    codec = chosen[:2] if chosen is not None and stream is None else None
    if codec is not None:
        compression.require(codec[0])  # a missing codec says which extra to install, up front
    if not is_path and not hasattr(filename, "write"):
        raise _NotAFile(
            f"filename must be a str, an os.PathLike or a binary file object, got "
            f"{type(filename).__name__} ({filename!r:.100}); the value comes first, as in "
            "joblib.dump(value, filename)"
        )
    if not is_path and isinstance(filename, io.TextIOBase):
        raise TypeError("the file object is open in text mode; open it in binary mode ('wb')")
    if encryption_key is not None and not isinstance(encryption_key, (str, bytes, bytearray)):
        raise TypeError("encryption_key must be 32 bytes or a passphrase str, got "
                        f"{type(encryption_key).__name__}")
    if isinstance(encryption_key, (bytes, bytearray)) and len(encryption_key) != 32:
        raise ValueError(f"an encryption key must be 32 bytes (got {len(encryption_key)}); "
                         "pass a passphrase as a str")
    if encryption_key is not None:
        crypto.require_cryptography("encryption")
    if quantize is not None and quantize not in ("fp16", "int8"):
        raise ValueError(f"quantize={quantize!r}: expected 'fp16' or 'int8'")
    extra = _dump_metadata(metadata, model_version, parent)
    if sign_with is not None:
        sign_with = crypto.load_private_key(sign_with)
    graph = None
    if isinstance(value, MLEModel):
        if quantize is not None:
            raise ValueError("quantize= needs the original estimator; this model was loaded "
                             "from an .mle file")
        data = _resaved(value, extra, metadata is not None or model_version is not None or
                        parent is not None)
    else:
        if example_inputs is not None:  # only single models take an example input
            graph, meta = export(value, example_inputs=example_inputs)
        elif framework_of(value) is not None:
            try:
                graph, meta = export(value)
            except UnsupportedModelError:
                pass  # stored as a value below: pickled, or refused naming the part
        if graph is None:
            if quantize is not None:
                raise ValueError("quantize= applies to a single supported model, not to "
                                 f"{type(value).__name__} values")
            data = _encode_value(value, allow_pickle, protocol, extra)
    if calibration is not None and quantize is None:
        raise ValueError("calibration= is only used with quantize=")
    if quantize is not None:
        meta = dict(meta, **extra)
        meta.setdefault("mle_runtime_version", __version__)
        inner, entries, meta_bytes = quantization.quantize(graph, meta, quantize, calibration)
        # the inner file holds codes; what load builds from it is the dequantised file
        writer.verify_model(quantization.dequantize_inner(inner, entries), meta)
        data = envelope.seal(inner, meta_bytes, codec, encryption_key, quantization=entries)
    else:
        if graph is not None:
            data = writer.model_file(graph, meta, extra)
        if codec is not None or encryption_key is not None:
            inner = container.parse(data, verify=())
            meta_bytes = bytes(inner.payload(inner.find(L.SECTION_META)))
            data = envelope.seal(data, meta_bytes, codec, encryption_key)
    out = _write(data, filename, is_path, sign_with, stream)
    if "joblib" in sys.modules:
        # joblib is imported already (a joblib user): joblib.load of this file is to say what
        # it is (compat's codec imports nothing of this package)
        from mle_runtime.compat import pickle_fallback

        pickle_fallback.guard_joblib()
    return out


class _NotAFile(TypeError, ValueError):
    """``dump``'s ``filename`` is neither a path nor a file object: a ``TypeError``, and the
    ``ValueError`` ``joblib.dump`` raises for it."""


def _loaded_file(obj):
    """:attr:`~mle_runtime.format.values.Hooks.loaded`: a loaded model's file bytes and
    metadata."""
    if type(obj) is MLEModel:
        return obj._native.file_bytes(), obj._metadata()
    return None


def _is_model(obj):
    # dump side: the exporter registry (cold start: see the imports at the top)
    from mle_runtime.exporters import framework_of

    return framework_of(obj) is not None


def _export(obj):
    # dump side: the exporter registry (cold start: see the imports at the top)
    from mle_runtime.exporters import export

    return export(obj)


def _pickle_dumps(objects, protocol, persistent_id=None):
    # opt-in pickle (allow_pickle=True) only; compat's codec imports nothing of this package
    from mle_runtime.compat import pickle_fallback

    return pickle_fallback.dumps(objects, protocol, persistent_id)


def _pickle_loads(data, persistent_load=None):
    # opt-in pickle (allow_pickle=True) only; compat's codec imports nothing of this package
    from mle_runtime.compat import pickle_fallback

    return pickle_fallback.loads(data, persistent_load)


def _chain(parts):
    # value files with a Pipeline stored in parts (docs/FORMAT.md, 17.6) only
    from mle_runtime.runtime.chain import PipelineChain

    return PipelineChain(parts)


_value_hooks = None


def value_hooks():
    """The :class:`mle_runtime.format.values.Hooks` that ``dump`` and ``load`` give the value
    codec (which imports nothing above the format layer): loaded models are stored as their
    own files, other models through the exporters, model sections load as
    :class:`~mle_runtime.runtime.proxies.MLEModel`, and pickling uses
    :mod:`mle_runtime.compat.pickle_fallback`."""
    global _value_hooks
    if _value_hooks is None:
        # value files only (cold start: see the imports at the top)
        from mle_runtime.format import values

        _value_hooks = values.Hooks(
            loaded=_loaded_file, is_model=_is_model, export=_export, wrap_model=MLEModel,
            pickle_dumps=_pickle_dumps, pickle_loads=_pickle_loads, wrap_chain=_chain)
    return _value_hooks


def _check_allow_pickle(allow_pickle):
    """allow_pickle must be a real bool: a truthy string such as "False" must never unpickle."""
    if type(allow_pickle) is not bool:
        raise TypeError(f"allow_pickle must be True or False, got {allow_pickle!r} "
                        f"({type(allow_pickle).__name__})")


def _write(data, filename, is_path, sign_with, stream=None):
    if sign_with is not None:
        # dump side (cold start: see the imports at the top)
        from mle_runtime.format import crypto

        data = crypto.sign_file_bytes(data, sign_with)
    if stream is not None:
        # dump side (cold start: see the imports at the top)
        from mle_runtime.format import compression

        data = compression.compress_stream(data, *stream)
    if is_path:
        _write_path(os.fspath(filename), data)
        return [os.fspath(filename)]
    filename.write(data)
    return None


def _write_path(path, data):
    """``writer.write_atomic`` with errors that name ``path`` (not the temporary file next to
    it) and say what to do; the exception keeps its class (FileNotFoundError, PermissionError,
    ...) and errno, and chains the original."""
    import errno

    # dump side (cold start: see the imports at the top)
    from mle_runtime.format import writer

    try:
        writer.write_atomic(path, data)
    except OSError as e:
        if e.errno is None:
            raise
        directory = os.path.dirname(os.path.abspath(path))
        reason = (e.strerror or os.strerror(e.errno)).lower()
        if e.errno == errno.ENOENT and not os.path.isdir(directory):
            why = (f"cannot write the file: the directory {directory} does not exist; "
                   "create it first (os.makedirs)")
        elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            why = (f"cannot write the file: {reason} in {directory} (dump "
                   "writes a temporary file there and renames it over the file, so the "
                   "directory must be writable); any previous file is unchanged")
        elif e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            why = (f"cannot write the file ({len(data)} bytes): {reason}; "
                   "any previous file is unchanged and no partial file is left")
        else:
            why = f"cannot write the file: {reason}; any previous file is unchanged"
        raise type(e)(e.errno, why, path) from e


def _encode_value(value, allow_pickle, protocol, extra):
    """The bytes of a value file (docs/FORMAT.md, section 17) holding ``value``."""
    # dump side (cold start: see the imports at the top)
    from mle_runtime.format import values, writer

    sections, contents, digest = values.encode(value, allow_pickle, protocol,
                                               hooks=value_hooks())
    meta = {"kind": "value", "summary": values.summary(contents),
            "mle_runtime_version": __version__, "content_hash": digest, "contents": contents}
    meta.update(extra)
    meta_bytes = writer.encode_json(meta)
    if len(meta_bytes) > L.MAX_META_JSON:
        raise ValueError(f"metadata JSON is {len(meta_bytes)} bytes; the cap is "
                         f"{L.MAX_META_JSON}")
    minor = L.MINOR_CHAIN if contents.get("chains") else \
        L.MINOR_PICKLED_ARRAYS if contents.get("pickled_arrays") else L.MINOR_VALUES
    return writer.pack_sections([(L.SECTION_META, meta_bytes)] + sections, minor=minor)


def _resaved(model, extra, changed):
    """The file of a loaded model, again: its own bytes, with the metadata updated when the
    caller gave metadata, a version or a parent."""
    # dump side (cold start: see the imports at the top)
    from mle_runtime.format import container, writer

    data = model._native.file_bytes()
    if not changed:
        return data
    c = container.parse(data, verify=())
    meta = c.json(L.SECTION_META)
    meta.update(extra)
    return container.repack(c, replace={L.SECTION_META: writer.encode_json(meta)})


_PRE_ID = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
_SEMVER = (  # semver.org 2.0.0
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?")
_HASH = r"sha256:[0-9a-f]{64}"


def _matches(pattern, text):
    import re

    return isinstance(text, str) and re.fullmatch(pattern, text) is not None


def _created():
    import datetime

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    t = datetime.datetime.now(datetime.timezone.utc) if not epoch else \
        datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _dump_metadata(metadata, model_version, parent):
    """The metadata keys ``dump`` adds to the exporter's: creation time, user dict, version,
    lineage (validated before any work is done)."""
    # dump side (cold start: see the imports at the top)
    from mle_runtime.format import writer

    out = {"created": _created()}
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
            raise TypeError("metadata must be a dict with str keys")
        try:
            writer.encode_json(metadata)
        except (TypeError, ValueError) as e:
            raise TypeError(f"metadata must be JSON-serialisable (str, numbers, bools, None, "
                            f"lists and dicts; no NaN): {e}") from None
        out["user"] = metadata
    if model_version is not None:
        if not isinstance(model_version, str) or not _matches(_SEMVER, model_version):
            raise ValueError(f"model_version={model_version!r} is not a semantic version "
                             "(MAJOR.MINOR.PATCH, optionally -prerelease and +build)")
        out["model_version"] = model_version
    if parent is not None:
        out["lineage"] = {"parent": _content_hash_of(parent)}
    return out


def _content_hash_of(parent):
    if _matches(_HASH, parent):
        return parent
    if isinstance(parent, MLEModel):
        h = parent._metadata().get("content_hash")
    elif isinstance(parent, (str, os.PathLike)):
        h = inspect_model(parent).get("content_hash")
    else:
        raise TypeError("parent must be a content hash ('sha256:<64 hex digits>'), an .mle "
                        f"file path or a loaded model, got {type(parent).__name__}")
    if not _matches(_HASH, h):
        raise ValueError("the parent model has no content hash (it was saved by an older "
                         "mle_runtime); pass its hash or re-save it")
    return h


def load(filename, mmap_mode=None, *, allow_pickle=False, n_threads=None, public_key=None,
         require_signature=None, encryption_key=None, cache=True, memory_limit=None,
         ensure_native_byte_order="auto"):
    """Loads an .mle file, like ``joblib.load``; nothing in the file is executed (unless
    ``allow_pickle=True`` and the file has a pickle section).

    Parameters
    ----------
    filename : str, os.PathLike or binary file object
        The .mle file, or a zlib/gzip/bz2/lzma/xz stream of one (docs/FORMAT.md, 16.4: what
        ``dump`` writes for joblib's methods). Paths of large files are memory-mapped
        read-only (small ones are read). File objects are read into memory once, as joblib
        reads them: from the current position where the object can peek, from its start
        otherwise (a ``BytesIO`` just written to loads as it is); exactly the size the file's
        header declares is read, so a pipe or a socket is never read past the file.
    mmap_mode : {None, 'r', 'c', 'r+', 'w+'}, optional
        For numpy arrays inside a stored value, as joblib: None gives ordinary in-memory
        arrays; 'r' gives read-only arrays mapped from the file (``numpy.memmap``); 'c' gives
        copy-on-write maps (writable; the file never changes). 'r+' and 'w+' are refused for
        files holding arrays: writing into the file would break its checksums. Model data is
        always read-only and mapped when that is faster, whatever this says. It has no effect
        on file objects, nor on compressed or encrypted files, which are restored into memory
        once; as with joblib, a ``UserWarning`` says so for compressed files, in-memory
        buffers and file objects that are not raw files.
    allow_pickle : bool, default False
        Unpickle the file's pickle section, if it has one (see ``dump``). Unpickling can
        execute arbitrary code: only for files you trust. Without it such a file raises
        :class:`~mle_runtime.PickleNotAllowedError` and its pickle bytes are never read.
    n_threads : int, optional
        Default thread count for predictions (None: all cores; see
        :func:`mle_runtime.runtime.plan.resolve_n_threads`).
    public_key : Ed25519 public key, optional
        Verifies the file's signature with this key (a key object, PEM/DER/OpenSSH/raw bytes
        or a key file path) before anything else is read; the model is then built from the
        very bytes that were verified.
    require_signature : bool, optional
        Refuse a file that is not signed by ``public_key``. Defaults to True when
        ``public_key`` is given; with False, an unsigned file is accepted but a signed one is
        still verified.
    encryption_key : bytes or str, optional
        The 32-byte key or the passphrase an encrypted file was saved with. Giving one for a
        file that is not encrypted raises :class:`~mle_runtime.DecryptionError`.
    cache : bool, default True
        Return the already-loaded model when the same unchanged file was loaded before (see
        :mod:`mle_runtime.cache`: large and compressed files only). False always reloads.
        Loads that verify a signature or decrypt never use the cache.
    memory_limit : int, optional
        Bytes that restoring the file may allocate beyond the file itself (decompression,
        decryption, dequantisation, decoding a stored value). None: the default budget,
        32 x the file's size + 64 MiB (docs/FORMAT.md, section 18); a file that needs more is
        refused as damaged or hostile. Raise it only for a file you trust.
    ensure_native_byte_order : bool or "auto", default "auto"
        joblib's keyword: True returns the arrays of a stored value in the machine's byte
        order (values kept; big-endian arrays are converted), False in the order they were
        stored; "auto" is True when ``mmap_mode`` is None (mapped arrays keep the file's
        order). True with an ``mmap_mode`` raises joblib's ``ValueError``.

    Returns
    -------
    MLEModel or value
        For a model, a proxy with the original estimator's prediction methods and attributes;
        for a stored value, the value, with such proxies where it held models.

    Raises
    ------
    PickleNotAllowedError
        The file has a pickle section and ``allow_pickle`` is False.
    FormatError
        The file is not a valid .mle file (with the reason; joblib/pickle files are recognised).
    SignatureError
        A signature is required and missing, made by another key, or the file was modified.
    DecryptionError
        The file is encrypted and no key, a wrong key, or modified data was given.
    OSError
        The file cannot be opened.
    """
    if mmap_mode not in _MMAP_MODES:
        raise ValueError(f"mmap_mode must be one of {_MMAP_MODES}, got {mmap_mode!r}")
    _check_allow_pickle(allow_pickle)
    if ensure_native_byte_order is not _AUTO:
        native_order = _native_order(ensure_native_byte_order, mmap_mode)
    else:
        native_order = mmap_mode is None
    if memory_limit is not None:
        LoadBudget(0, memory_limit)  # the argument's type, before anything is read
    if public_key is None and encryption_key is None and not require_signature and \
            isinstance(filename, (str, os.PathLike)):
        # The plain path: one native call. The cache costs a dict lookup while it is empty.
        if _CACHED and cache and os.fspath(filename) in _CACHED:
            native = _cache.lookup(os.fspath(filename))
            if native is not None:
                return MLEModel(native, n_threads)
        try:
            native = reader.open_path_or_kind(filename)
        except FormatError:
            if _stream_method(filename) is None:
                raise
            native = None  # joblib's layout: a compressed stream of an .mle file (below)
        if native is None:
            pass
        elif type(native) is str:
            # An envelope (1.1) or a value file (1.2): its sections are this layer's to read.
            # (Not a plain model: cold start, see the imports at the top.)
            from mle_runtime.format import values

            data = values.open_file(filename, mmap_mode)
            out, meta = _load_other(data, None, mmap_mode, n_threads, allow_pickle,
                                    LoadBudget(len(data), memory_limit), os.fspath(filename),
                                    native_order=native_order)
            if cache and meta is not None:
                _cache.store(os.fspath(filename), meta, out._native)
            return out
        else:
            if cache and native.file_size >= _CACHE_MIN_SIZE:
                _cache.store(os.fspath(filename), native.meta_bytes(), native)
            return MLEModel(native, n_threads)
    is_path = isinstance(filename, (str, os.PathLike))
    if public_key is None and require_signature:
        raise ValueError("require_signature=True needs public_key= (the key the file must be "
                         "signed with)")
    budget = None
    if is_path:
        with open(filename, "rb") as f:
            data = f.read()
        method = _stream_method_of(data)
        if method is not None:
            # joblib's layout (docs/FORMAT.md, 16.4): restored into memory once
            # (compressed files only; cold start, see the imports at the top)
            from mle_runtime.format import compression

            if mmap_mode is not None:
                _warn_compressed(mmap_mode, os.fspath(filename))
            budget = LoadBudget(len(data), memory_limit)
            view = memoryview(data)
            data, unused = compression.restore_stream(_reader_of(view), method, budget,
                                                      compressed_size=len(view))
            if unused:
                raise FormatError(f"the {method}-compressed file has {len(unused)} bytes after "
                                  "the end of its stream; it holds exactly one stream")
            _charge_restored(data, budget)
    elif hasattr(filename, "read"):
        if isinstance(filename, io.TextIOBase):
            raise TypeError("the file object is open in text mode; open it in binary mode ('rb')")
        data, budget = _read_file_object(filename, mmap_mode, memory_limit)
    else:
        raise TypeError(
            f"filename must be a str, an os.PathLike or a binary file object, got "
            f"{type(filename).__name__}"
        )
    if public_key is not None:
        # signatures (cold start: see the imports at the top)
        from mle_runtime.format import container, crypto

        c = container.parse(data, verify=(L.SECTION_META, L.SECTION_ENVELOPE,
                                           L.SECTION_SIGNATURE))
        if require_signature is not False or c.find(L.SECTION_SIGNATURE) is not None:
            crypto.verify(c, public_key)
    if budget is None:
        budget = LoadBudget(len(data), memory_limit)
    if encryption_key is not None:
        return _load_other(data, encryption_key, mmap_mode, n_threads, allow_pickle,
                           budget, native_order=native_order)[0]
    native = reader.open_bytes_or_kind(data)
    if type(native) is str:
        return _load_other(data, None, mmap_mode, n_threads, allow_pickle, budget,
                           native_order=native_order)[0]
    return MLEModel(native, n_threads)


_AUTO = "auto"


def _native_order(ensure_native_byte_order, mmap_mode):
    """``load``'s ``ensure_native_byte_order`` as a bool, checked as joblib checks it."""
    if ensure_native_byte_order == _AUTO:
        return mmap_mode is None
    if type(ensure_native_byte_order) is not bool:
        raise TypeError("ensure_native_byte_order must be True, False or 'auto', got "
                        f"{ensure_native_byte_order!r}")
    if ensure_native_byte_order and mmap_mode is not None:
        raise ValueError(
            "Native byte ordering can only be enforced if 'mmap_mode' parameter "
            f"is set to None, but got 'mmap_mode={mmap_mode}' instead.")
    return ensure_native_byte_order


def _stream_method_of(head):
    """The joblib compressor whose stream the bytes ``head`` start with (None for an .mle
    file or anything else)."""
    head = bytes(head[:8])
    if head.startswith(L.MAGIC):
        return None
    # compressed files only (cold start: see the imports at the top)
    from mle_runtime.format import compression

    return compression.detect(head)


def _stream_method(path):
    """:func:`_stream_method_of` the first bytes of the file at ``path``."""
    try:
        with open(path, "rb") as f:
            return _stream_method_of(f.read(8))
    except OSError:
        return None


def _reader_of(view):
    """``read(n)`` over a memoryview, for :func:`~mle_runtime.format.compression.restore_stream`."""
    pos = [0]

    def read(n):
        start = pos[0]
        pos[0] = min(len(view), start + n)
        return view[start:pos[0]]

    return read


def _charge_restored(data, budget):
    """Charges what loading the restored file ``data`` (a decompressed joblib-layout file)
    costs beyond its bytes: for a model, the native loader's aligned copy and its parsed
    graph (as for an envelope's inner file, docs/FORMAT.md, 18)."""
    # compressed files only (cold start: see the imports at the top)
    from mle_runtime.format import container, envelope

    c = container.parse(data, verify=())
    if c.kind == "model":
        budget.charge(len(data), "the model loader's aligned copy of the restored file")
        graph = c.find(L.SECTION_GRAPH)
        if graph is not None:
            budget.charge(envelope.JSON_TREE_FACTOR * graph.size,
                          "parsing the restored model's graph")


def _warn_compressed(mmap_mode, name):
    import warnings

    warnings.warn(f'mmap_mode "{mmap_mode}" is not compatible with compressed file {name}. '
                  f'"{mmap_mode}" flag will be ignored.', stacklevel=4)


_READ_CHUNK = 1 << 20
_FILE_SIZE = L.HEADER_DTYPE.fields["file_size"][1]  # the header's u64 file size


def _read_exact(read, n, have=b""):
    """``have`` followed by exactly ``n - len(have)`` more bytes from ``read`` (fewer only at
    the end of the stream), in chunks: memory follows the bytes that really arrive."""
    out = bytearray(have)
    while len(out) < n:
        chunk = read(min(_READ_CHUNK, n - len(out)))
        if not chunk:
            break
        out += chunk
    return out


def _read_file_object(f, mmap_mode, memory_limit):
    """The .mle file read from the binary file object ``f``, as joblib reads one: ``(bytes,
    LoadBudget or None)``.

    Like ``joblib.load``, the format is recognised from the first bytes: peeked where ``f``
    can peek (the file is then read from its current position), else read and followed by
    ``f.seek(0)`` (the file is read from its start; a BytesIO just written to loads without
    seeking back). An .mle file is read to exactly the size its header declares, so a
    socket or a pipe is never read past it; a joblib-layout compressed file
    (docs/FORMAT.md, 16.4) is decompressed as it is read and the bytes read past its stream
    are given back where ``f`` can seek. ``mmap_mode`` is ignored, with joblib's warnings
    (an in-memory buffer, a compressed file, a file object that is not a raw file)."""
    import warnings

    consumed = b""
    if hasattr(f, "peek"):
        head = bytes(f.peek(8)[:8])
    else:
        head = f.read(8)
        if not isinstance(head, (bytes, bytearray, memoryview)):
            raise TypeError("the file object must return bytes from read(); open it in "
                            "'rb' mode")
        head = bytes(head)
        try:
            f.seek(0)
        except (AttributeError, OSError, ValueError):
            consumed = head  # not seekable: what was read stays read
        else:
            if len(head) < 8:  # read at the end (a buffer just written): its start decides
                head = bytes(f.read(8))
                f.seek(0)
    if not isinstance(head, bytes):
        raise TypeError("the file object must return bytes from read(); open it in 'rb' mode")
    method = _stream_method_of(head)
    if mmap_mode is not None:
        raw = getattr(f, "raw", f)
        if method is not None:
            msg = (f'mmap_mode "{mmap_mode}" is not compatible with compressed file '
                   f'{getattr(f, "name", "")}. "{mmap_mode}" flag will be ignored.')
        elif isinstance(f, io.BytesIO):
            msg = ("In memory persistence is not compatible with mmap_mode "
                   f'"{mmap_mode}" flag passed. mmap_mode option will be ignored.')
        elif not isinstance(raw, io.FileIO):
            msg = f'"{f!r}" is not a raw file, mmap_mode "{mmap_mode}" flag will be ignored.'
        else:
            msg = None  # a raw file: read into memory, as joblib does, without a warning
        if msg is not None:
            warnings.warn(msg, stacklevel=3)
    if method is None:
        data = _read_exact(f.read, L.HEADER_SIZE, consumed)
        if bytes(data[:len(L.MAGIC)]) != L.MAGIC or len(data) < L.HEADER_SIZE:
            return bytes(data), None  # the native loader says what it is
        size = int.from_bytes(data[_FILE_SIZE:_FILE_SIZE + 8], "little")
        if size > L.HEADER_SIZE:
            data = _read_exact(f.read, size, data)
        return bytes(data), None
    # compressed files only (cold start: see the imports at the top)
    from mle_runtime.format import compression

    read1 = getattr(f, "read1", None) or f.read
    pending = [consumed]

    def read(n):
        if pending[0]:
            out, pending[0] = pending[0], b""
            return out
        return read1(n)

    budget = LoadBudget(0, memory_limit)
    data, unused = compression.restore_stream(read, method, budget,
                                              grow=memory_limit is None)
    if unused:
        try:
            f.seek(-len(unused), io.SEEK_CUR)  # the position right after the stream
        except (AttributeError, OSError, ValueError):
            pass  # not seekable: read past the stream, as any decompressor would
    _charge_restored(data, budget)
    return bytes(data), budget


def _load_other(data, encryption_key, mmap_mode, n_threads, allow_pickle, budget,
                filename=None, native_order=None):
    """What an envelope or a value file holds: ``(value or MLEModel, outer metadata bytes or
    None)``. The file kind comes from the container parser, which verifies every checksum
    here. A model file is loaded as such (the file was replaced since the native loader saw
    it), unless ``encryption_key`` was given for it. ``budget``: the load's
    :class:`~mle_runtime.format.budget.LoadBudget`; ``native_order``: whether arrays come back
    in the machine's byte order (``load``'s ``ensure_native_byte_order``; None: when
    ``mmap_mode`` is None)."""
    # value files and envelopes (cold start: see the imports at the top)
    from mle_runtime.format import container, envelope

    if native_order is None:
        native_order = mmap_mode is None
    c = container.parse(data)  # every checksum
    if c.kind != "envelope":
        if encryption_key is not None:
            raise DecryptionError("encryption_key was given, but the file is not encrypted; "
                                  "refusing to load it as if it were authenticated by the key")
        if c.kind == "value":
            return _load_value(c, mmap_mode, n_threads, allow_pickle, filename, budget,
                               native_order), None
        return MLEModel(reader.open_bytes(data), n_threads), None
    if filename is not None and mmap_mode is not None:
        env = c.json(L.SECTION_ENVELOPE)
        if isinstance(env, dict) and env.get("compression") is not None:
            _warn_compressed(mmap_mode, filename)
    inner = envelope.open_inner(c, encryption_key, budget=budget)
    meta = c.payload(c.find(L.SECTION_META))
    try:
        native = reader.open_bytes_or_kind(inner)
    except FormatError as e:
        raise FormatError(f"the model inside the envelope is invalid: {e}") from None
    if type(native) is str:
        if native != "value":  # refused by envelope.open_inner already
            raise FormatError("the file inside the envelope is itself an envelope; an "
                              "envelope's inner file must be a plain model or value file")
        # restored into memory: ordinary arrays, as joblib gives for compressed files
        return _load_value(container.parse(inner), None, n_threads, allow_pickle, None,
                           budget, native_order), None
    return MLEModel(native, n_threads), meta


def _load_value(c, mmap_mode, n_threads, allow_pickle, filename, budget, native_order=None):
    """The value held by the value file ``c`` (a parsed container, checksums verified)."""
    # value files (cold start: see the imports at the top)
    from mle_runtime.format import values

    if native_order is None:
        native_order = mmap_mode is None
    if filename is None:
        mmap_mode = None  # file objects and restored envelopes: in memory, as joblib does
    if mmap_mode in ("r+", "w+") and c.find(L.SECTION_DATA) is not None:
        raise ValueError(f"mmap_mode={mmap_mode!r} would let writes change the .mle file "
                         "behind its checksums; use mmap_mode='c' for writable "
                         "copy-on-write arrays, 'r' for read-only maps or None for arrays "
                         "in memory")
    return values.decode(c, hooks=value_hooks(), mmap_mode=mmap_mode, n_threads=n_threads,
                         allow_pickle=allow_pickle, filename=filename, budget=budget,
                         native_byte_order=native_order)


def inspect_model(filename, *, public_key=None, encryption_key=None, verify=False):
    """Describes an .mle file without building its execution plan (unless ``verify``).

    A file is described as what :func:`load` makes of it: a file that :func:`load` refuses
    (such as a model file that also carries envelope or value-file sections) raises
    :class:`~mle_runtime.FormatError` here too.

    Parameters
    ----------
    filename : str, os.PathLike, bytes-like or binary file object
    public_key : Ed25519 public key, optional
        Verify the signature (``signature["verified"]`` is then True, or a
        :class:`~mle_runtime.SignatureError` is raised).
    encryption_key : bytes or str, optional
        Decrypt an encrypted file to report its full metadata.
    verify : bool, default False
        Also check every byte as :func:`load` would: every section's checksum (by default
        only the described sections' are checked, and large files are mapped so that tensor
        data is not read), the restored inner file of an envelope, and each model's graph
        against the native loader's rules (the plan is built, then released). A failure
        raises :class:`~mle_runtime.FormatError`. A stored value is decoded as
        :func:`load` decodes it (within the same budget), unless it holds pickled objects.
        What could not be checked is listed in ``verified["unchecked"]``: a signature
        without ``public_key``, an encrypted payload without ``encryption_key``, a value
        with pickled objects.

    Returns
    -------
    dict
        ``format_version``, ``file_size``, ``sections`` (each ``{"kind", "size"}``, with
        ``kind`` the section's name; a section of a kind this version does not know, which
        readers skip, is ``{"kind": <number>, "size", "unknown": True, "optional": True}``),
        ``mle_runtime_version``, ``framework``, ``framework_version``, ``model_class``,
        ``estimator_type``, ``created``, ``content_hash``, ``model_version``, ``parent``,
        ``user_metadata``, ``compression``, ``encryption``, ``signature``, ``quantization``,
        ``graph`` (number of features, outputs, op counts, tensor bytes; None while
        encrypted or for a stored value), ``contents`` (for a stored value: its type, number
        of arrays, and the path and class of each model and pickled object inside; None
        otherwise), ``verified`` (None unless ``verify``; then ``{"checksums": True,
        "models": <number of model graphs validated>, "signature": True | None,
        "value": True | None, "unchecked": [<what could not be checked, and why>]}``) and the full ``metadata``
        dict. Keys without a value are None.
    """
    # inspection (cold start: see the imports at the top)
    from mle_runtime.format import container, crypto, envelope

    if isinstance(filename, (str, os.PathLike)):
        with open(filename, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > (1 << 20):  # map big files: only the sections described are read
                import mmap

                data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            else:
                data = f.read()
    elif isinstance(filename, (bytes, bytearray, memoryview)):
        data = filename
    elif hasattr(filename, "read"):
        data = filename.read()
    else:
        raise TypeError(f"expected a path, bytes or a binary file object, got "
                        f"{type(filename).__name__}")
    stream = _stream_method_of(data)
    stored_size = len(data)
    if stream is not None:
        # joblib's layout (docs/FORMAT.md, 16.4): described as the file it holds
        from mle_runtime.format import compression  # compressed files only (cold start)

        view = memoryview(data)
        data, unused = compression.restore_stream(_reader_of(view), stream,
                                                  LoadBudget(len(view)),
                                                  compressed_size=len(view))
        if unused:
            raise FormatError(f"the {stream}-compressed file has {len(unused)} bytes after "
                              "the end of its stream; it holds exactly one stream")
    c = container.parse(data, verify=True if verify else (
        L.SECTION_META, L.SECTION_GRAPH, L.SECTION_ENVELOPE, L.SECTION_SIGNATURE))
    sig = crypto.signature_info(c)
    if sig is not None:
        sig["verified"] = False
        if public_key is not None:
            crypto.verify(c, public_key)
            sig["verified"] = True
    elif public_key is not None:
        crypto.verify(c, public_key)  # raises: unsigned
    env = envelope.describe(c)
    meta = c.json(L.SECTION_META)
    inner = c
    if env is not None and ("encryption" not in env or encryption_key is not None):
        inner = container.parse(envelope.open_inner(c, encryption_key))
        meta = inner.json(L.SECTION_META)
    out = {
        "format_version": c.version,
        "file_size": len(data),
        "sections": [_section_summary(s) for s in c.sections],
    }
    graph = inner.json(L.SECTION_GRAPH) if inner.find(L.SECTION_GRAPH) else None
    et = graph.get("estimator_type") if graph is not None and inner.minor >= L.MINOR_RULES \
        else None
    out.update(described(meta, et if isinstance(et, str) else None))
    out["compression"] = env.get("compression") if env else None
    out["encryption"] = env.get("encryption") if env else None
    if env:
        out["uncompressed_size"] = env.get("inner_size")
    if stream is not None:
        out["file_size"] = stored_size
        out["compression"] = {"method": stream, "layout": "stream"}
        out["uncompressed_size"] = len(data)
    out["signature"] = sig
    out["quantization"] = meta.get("quantization")
    contents = meta.get("contents") if meta.get("kind") == "value" else None
    out["contents"] = contents if isinstance(contents, dict) else None
    out["graph"] = _graph_summary(graph, inner) if graph is not None else None
    out["verified"] = _verified(c, inner, sig) if verify else None
    out["metadata"] = meta
    return out


def _section_summary(s):
    if s.name() != "unknown":
        return {"kind": s.name(), "size": s.size}
    # container.parse refuses unknown kinds without the optional flag
    return {"kind": s.kind, "size": s.size, "unknown": True, "optional": True}


def _verified(c, inner, sig):
    """``inspect_model(verify=True)``'s report on the parsed file ``c`` (every checksum
    verified) and ``inner`` (``c``, or the envelope's restored inner file): validates each
    model's graph with the native loader; raises FormatError on the first failure."""
    # inspection (cold start: see the imports at the top)
    from mle_runtime.format import values

    signature = True if sig is not None and sig["verified"] else None
    unchecked = []
    if sig is not None and not sig["verified"]:
        unchecked.append("signature: no public key given (the signer cannot be verified)")
    if inner is c and c.find(L.SECTION_ENVELOPE) is not None:
        unchecked.append("payload: encrypted, no key given (its authentication tag and the "
                         "inner file are checked only with the key)")
        return {"checksums": True, "models": 0, "signature": signature,
                "value": None, "unchecked": unchecked}
    models = 0
    value = None
    if values.is_value_file(inner):
        for s in inner.sections:
            if s.kind == L.SECTION_MODEL:
                try:
                    reader.open_bytes(inner.payload(s))  # a plain file: checksums and graph
                except FormatError as e:
                    raise FormatError(f"model section {s.index}: {e}") from None
                models += 1
        if inner.find(L.SECTION_PICKLE) is not None:
            unchecked.append("value: it holds pickled objects, which only "
                             "load(..., allow_pickle=True) rebuilds")
        else:
            values.decode(inner, hooks=value_hooks())  # rebuilt as load would, then dropped
            value = True
    else:
        try:
            reader.open_bytes(inner.data)
        except FormatError as e:
            where = "the model inside the envelope" if inner is not c else "the model"
            raise FormatError(f"{where} is invalid: {e}") from None
        models = 1
    return {"checksums": True, "models": models, "signature": signature, "value": value,
            "unchecked": unchecked}


def _graph_summary(graph, c):
    """What inspect_model says of a graph section; it reads an unverified file, so every
    record that is not what the format says is left out rather than trusted."""
    def records(key):
        value = graph.get(key)
        return [r for r in value if isinstance(r, list) and r and isinstance(r[0], str)] \
            if isinstance(value, list) else []

    ops = {}
    for node in records("nodes"):
        ops[node[0]] = ops.get(node[0], 0) + 1
    tensors = graph.get("tensors")
    data = c.find(L.SECTION_DATA)
    return {"name": graph.get("name"), "n_features": graph.get("n_features"),
            "outputs": [o[0] for o in records("outputs")], "ops": ops,
            "tensors": len(tensors) if isinstance(tensors, list) else 0,
            "tensor_bytes": data.size if data is not None else 0}


def sign_file(filename, private_key, output=None):
    """Signs an existing .mle file (plain, compressed or encrypted) with an Ed25519 key.

    The signed file replaces ``filename`` atomically (or is written to ``output``); an
    existing signature is replaced. Returns the key's fingerprint (``"sha256:..."``).
    """
    # signatures and keys (cold start: see the imports at the top)
    from mle_runtime.format import crypto

    key = crypto.load_private_key(private_key)
    with open(filename, "rb") as f:
        data = f.read()
    _write_path(os.fspath(output if output is not None else filename),
                crypto.sign_file_bytes(data, key))
    return crypto.fingerprint(key.public_key())


def verify_file(filename, public_key):
    """Verifies the signature of an .mle file; returns ``{"algorithm", "key_fingerprint"}``
    or raises :class:`~mle_runtime.SignatureError` (or ``FormatError`` for a damaged file).
    Every section's checksum is verified too."""
    # signatures and keys (cold start: see the imports at the top)
    from mle_runtime.format import container, crypto

    with open(filename, "rb") as f:
        data = f.read()
    return crypto.verify(container.parse(data), public_key)


def generate_keys():
    """A new Ed25519 key pair ``(private_key, public_key)`` (``cryptography`` key objects;
    :func:`save_keys` writes them as PEM)."""
    # signatures and keys (cold start: see the imports at the top)
    from mle_runtime.format import crypto

    private = crypto.generate_private_key()
    return private, private.public_key()


def save_keys(private_key, private_path, public_path=None):
    """Writes an Ed25519 private key (PKCS#8 PEM, mode 0600) and optionally its public key
    (SubjectPublicKeyInfo PEM). Returns the key's fingerprint."""
    # signatures and keys (cold start: see the imports at the top)
    from mle_runtime.format import crypto

    key = crypto.load_private_key(private_key)
    fd = os.open(os.fspath(private_path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(crypto.private_pem(key))
    if public_path is not None:
        with open(public_path, "wb") as f:
            f.write(crypto.public_pem(key.public_key()))
    return crypto.fingerprint(key.public_key())
