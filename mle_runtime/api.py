"""``dump`` and ``load``: joblib's signatures and return values, without pickle."""

import io
import os

from mle_runtime import cache as _cache
from mle_runtime._version import __version__
from mle_runtime.errors import FormatError
from mle_runtime.format import layout as L
from mle_runtime.format.budget import LoadBudget
from mle_runtime.format import reader
from mle_runtime.runtime.proxies import MLEModel

_CACHED = _cache._entries  # the cache's dict (never rebound): empty means nothing to look up
_CACHE_MIN_SIZE = _cache.MIN_SIZE

_MMAP_MODES = (None, "r+", "r", "w+", "c")


def dump(value, filename, compress=0, protocol=None, *, allow_pickle=False, metadata=None,
         model_version=None, parent=None, sign_with=None, encryption_key=None, quantize=None,
         calibration=None):
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
        any previous file untouched.
    compress : int, bool, str or tuple, default 0
        As in joblib: 0-9 (0: none), a bool (True: level 3), a method name (level 3) or a
        ``(method, level)`` tuple. The default method is zstd (joblib's is zlib); ``"zlib"``,
        ``"gzip"``, ``"bz2"``, ``"lzma"`` and ``"xz"`` are also accepted. A compressed file is
        decompressed once, into memory, when loaded (so ``mmap_mode`` has no effect on it, as
        with joblib).
    protocol : int, optional
        The pickle protocol of the pickle section (with ``allow_pickle=True``; default the
        highest); otherwise unused.
    allow_pickle : bool, default False
        Store the objects that cannot be represented natively (arbitrary classes, lambdas,
        unsupported estimators) in a pickle section. Loading such a file then needs
        ``load(..., allow_pickle=True)``, because unpickling can execute arbitrary code.
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

    Returns
    -------
    list of str or None
        ``[filename]`` for a path, ``None`` for a file object, as joblib returns.

    Raises
    ------
    UnsupportedModelError
        Part of ``value`` cannot be stored natively and ``allow_pickle`` is False; the message
        names its path in the value and why.
    ValueError
        The value has a reference cycle, nests more than 200 levels deep, or an option is
        invalid.
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
    from mle_runtime.errors import UnsupportedModelError
    from mle_runtime.exporters import export, framework_of
    from mle_runtime.format import compression, writer

    _check_allow_pickle(allow_pickle)
    codec = compression.normalize(compress)
    if codec is not None:
        compression.require(codec[0])  # a missing codec says which extra to install, up front
    is_path = isinstance(filename, (str, os.PathLike))
    if not is_path and not hasattr(filename, "write"):
        raise TypeError(
            f"filename must be a str, an os.PathLike or a binary file object, got "
            f"{type(filename).__name__}"
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
        from mle_runtime.format import crypto

        crypto.require_cryptography("encryption")
    if quantize is not None and quantize not in ("fp16", "int8"):
        raise ValueError(f"quantize={quantize!r}: expected 'fp16' or 'int8'")
    extra = _dump_metadata(metadata, model_version, parent)
    if sign_with is not None:
        from mle_runtime.format import crypto

        sign_with = crypto.load_private_key(sign_with)
    graph = None
    if isinstance(value, MLEModel):
        if quantize is not None:
            raise ValueError("quantize= needs the original estimator; this model was loaded "
                             "from an .mle file")
        data = _resaved(value, extra, metadata is not None or model_version is not None or
                        parent is not None)
    else:
        if framework_of(value) is not None:
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
        from mle_runtime import quantization
        from mle_runtime.format import envelope

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
            from mle_runtime.format import container, envelope

            inner = container.parse(data, verify=())
            meta_bytes = bytes(inner.payload(inner.find(L.SECTION_META)))
            data = envelope.seal(data, meta_bytes, codec, encryption_key)
    return _write(data, filename, is_path, sign_with)


def _check_allow_pickle(allow_pickle):
    """allow_pickle must be a real bool: a truthy string such as "False" must never unpickle."""
    if type(allow_pickle) is not bool:
        raise TypeError(f"allow_pickle must be True or False, got {allow_pickle!r} "
                        f"({type(allow_pickle).__name__})")


def _write(data, filename, is_path, sign_with):
    if sign_with is not None:
        from mle_runtime.format import crypto

        data = crypto.sign_file_bytes(data, sign_with)
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
    from mle_runtime.format import values, writer

    sections, contents, digest = values.encode(value, allow_pickle, protocol)
    meta = {"kind": "value", "summary": values.summary(contents),
            "mle_runtime_version": __version__, "content_hash": digest, "contents": contents}
    meta.update(extra)
    meta_bytes = writer.encode_json(meta)
    if len(meta_bytes) > L.MAX_META_JSON:
        raise ValueError(f"metadata JSON is {len(meta_bytes)} bytes; the cap is "
                         f"{L.MAX_META_JSON}")
    return writer.pack_sections([(L.SECTION_META, meta_bytes)] + sections,
                                minor=L.MINOR_VALUES)


def _resaved(model, extra, changed):
    """The file of a loaded model, again: its own bytes, with the metadata updated when the
    caller gave metadata, a version or a parent."""
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
         require_signature=None, encryption_key=None, cache=True, memory_limit=None):
    """Loads an .mle file, like ``joblib.load``; nothing in the file is executed (unless
    ``allow_pickle=True`` and the file has a pickle section).

    Parameters
    ----------
    filename : str, os.PathLike or binary file object
        The .mle file. Paths of large files are memory-mapped read-only (small ones are read);
        file objects are read into memory once.
    mmap_mode : {None, 'r', 'c', 'r+', 'w+'}, optional
        For numpy arrays inside a stored value, as joblib: None gives ordinary in-memory
        arrays; 'r' gives read-only arrays mapped from the file (``numpy.memmap``); 'c' gives
        copy-on-write maps (writable; the file never changes). 'r+' and 'w+' are refused for
        files holding arrays: writing into the file would break its checksums. Model data is
        always read-only and mapped when that is faster, whatever this says. It has no effect
        on file objects, nor on compressed or encrypted files, which are restored into memory
        once (as joblib does for compressed files).
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
    if memory_limit is not None:
        LoadBudget(0, memory_limit)  # the argument's type, before anything is read
    if public_key is None and encryption_key is None and not require_signature and \
            isinstance(filename, (str, os.PathLike)):
        # The plain path: one native call. The cache costs a dict lookup while it is empty.
        if _CACHED and cache and os.fspath(filename) in _CACHED:
            native = _cache.lookup(os.fspath(filename))
            if native is not None:
                return MLEModel(native, n_threads)
        native = reader.open_path_or_kind(filename)
        if type(native) is str:
            # An envelope (1.1) or a value file (1.2): its sections are this layer's to read.
            from mle_runtime.format import values

            data = values.open_file(filename, mmap_mode)
            out, meta = _load_other(data, None, mmap_mode, n_threads, allow_pickle,
                                    LoadBudget(len(data), memory_limit), os.fspath(filename))
            if cache and meta is not None:
                _cache.store(os.fspath(filename), meta, out._native)
            return out
        if cache and native.file_size >= _CACHE_MIN_SIZE:
            _cache.store(os.fspath(filename), native.meta_bytes(), native)
        return MLEModel(native, n_threads)
    is_path = isinstance(filename, (str, os.PathLike))
    if public_key is None and require_signature:
        raise ValueError("require_signature=True needs public_key= (the key the file must be "
                         "signed with)")
    if is_path:
        with open(filename, "rb") as f:
            data = f.read()
    elif hasattr(filename, "read"):
        if isinstance(filename, io.TextIOBase):
            raise TypeError("the file object is open in text mode; open it in binary mode ('rb')")
        data = filename.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("the file object must return bytes from read(); open it in 'rb' mode")
    else:
        raise TypeError(
            f"filename must be a str, an os.PathLike or a binary file object, got "
            f"{type(filename).__name__}"
        )
    if public_key is not None:
        from mle_runtime.format import container, crypto

        c = container.parse(data, verify=(L.SECTION_META, L.SECTION_ENVELOPE,
                                           L.SECTION_SIGNATURE))
        if require_signature is not False or c.find(L.SECTION_SIGNATURE) is not None:
            crypto.verify(c, public_key)
    budget = LoadBudget(len(data), memory_limit)
    if encryption_key is not None:
        return _load_other(data, encryption_key, mmap_mode, n_threads, allow_pickle,
                           budget)[0]
    native = reader.open_bytes_or_kind(data)
    if type(native) is str:
        return _load_other(data, None, mmap_mode, n_threads, allow_pickle, budget)[0]
    return MLEModel(native, n_threads)


def _load_other(data, encryption_key, mmap_mode, n_threads, allow_pickle, budget,
                filename=None):
    """What an envelope or a value file holds: ``(value or MLEModel, outer metadata bytes or
    None)``. The file kind comes from the container parser, which verifies every checksum
    here. A model file is loaded as such (the file was replaced since the native loader saw
    it), unless ``encryption_key`` was given for it. ``budget``: the load's
    :class:`~mle_runtime.format.budget.LoadBudget`."""
    from mle_runtime.errors import DecryptionError
    from mle_runtime.format import container, envelope

    c = container.parse(data)  # every checksum
    if c.kind != "envelope":
        if encryption_key is not None:
            raise DecryptionError("encryption_key was given, but the file is not encrypted; "
                                  "refusing to load it as if it were authenticated by the key")
        if c.kind == "value":
            return _load_value(c, mmap_mode, n_threads, allow_pickle, filename, budget), None
        return MLEModel(reader.open_bytes(data), n_threads), None
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
                           budget), None
    return MLEModel(native, n_threads), meta


def _load_value(c, mmap_mode, n_threads, allow_pickle, filename, budget):
    """The value held by the value file ``c`` (a parsed container, checksums verified)."""
    from mle_runtime.format import values

    if filename is None:
        mmap_mode = None  # file objects and restored envelopes: in memory, as joblib does
    if mmap_mode in ("r+", "w+") and c.find(L.SECTION_DATA) is not None:
        raise ValueError(f"mmap_mode={mmap_mode!r} would let writes change the .mle file "
                         "behind its checksums; use mmap_mode='c' for writable "
                         "copy-on-write arrays, 'r' for read-only maps or None for arrays "
                         "in memory")
    return values.decode(c, mmap_mode=mmap_mode, n_threads=n_threads,
                         allow_pickle=allow_pickle, filename=filename, budget=budget)


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
    out.update(_described(meta))
    out["compression"] = env.get("compression") if env else None
    out["encryption"] = env.get("encryption") if env else None
    if env:
        out["uncompressed_size"] = env.get("inner_size")
    out["signature"] = sig
    out["quantization"] = meta.get("quantization")
    contents = meta.get("contents") if meta.get("kind") == "value" else None
    out["contents"] = contents if isinstance(contents, dict) else None
    graph = inner.json(L.SECTION_GRAPH) if inner.find(L.SECTION_GRAPH) else None
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
            values.decode(inner)  # rebuilt as load rebuilds it, then dropped
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


def _described(meta):
    """The descriptive metadata keys (values of unexpected types as None), the parent's
    content hash and the user's metadata."""
    out = {}
    for key in ("mle_runtime_version", "framework", "framework_version", "model_class",
                "estimator_type", "summary", "created", "content_hash", "model_version"):
        v = meta.get(key)
        out[key] = v if isinstance(v, (str, int, float)) else None
    lineage = meta.get("lineage")
    out["parent"] = lineage.get("parent") if isinstance(lineage, dict) else None
    out["user_metadata"] = meta.get("user")
    return out


def model_info(model):
    """:meth:`MLEModel.get_model_info`: the description of a loaded model."""
    meta = model.metadata
    out = {}
    out.update(_described(meta))
    out["quantization"] = meta.get("quantization")
    native = model._native
    out["n_features"] = int(native.n_features)
    out["outputs"] = list(model._outputs)
    out["memory_mapped"] = bool(native.mapped)
    out["file_size"] = int(native.file_size)
    out["metadata"] = meta
    return out


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
    from mle_runtime.format import container, crypto

    with open(filename, "rb") as f:
        data = f.read()
    return crypto.verify(container.parse(data), public_key)


def generate_keys():
    """A new Ed25519 key pair ``(private_key, public_key)`` (``cryptography`` key objects;
    :func:`save_keys` writes them as PEM)."""
    from mle_runtime.format import crypto

    private = crypto.generate_private_key()
    return private, private.public_key()


def save_keys(private_key, private_path, public_path=None):
    """Writes an Ed25519 private key (PKCS#8 PEM, mode 0600) and optionally its public key
    (SubjectPublicKeyInfo PEM). Returns the key's fingerprint."""
    from mle_runtime.format import crypto

    key = crypto.load_private_key(private_key)
    fd = os.open(os.fspath(private_path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(crypto.private_pem(key))
    if public_path is not None:
        with open(public_path, "wb") as f:
            f.write(crypto.public_pem(key.public_key()))
    return crypto.fingerprint(key.public_key())
