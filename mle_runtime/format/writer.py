"""Serialising a graph and its metadata to .mle bytes, and writing files atomically."""

import hashlib
import json
import os
import stat
import tempfile
import zlib

import numpy as np

from mle_runtime import _native
from mle_runtime._version import __version__
from mle_runtime.errors import MLEError
from mle_runtime.format import layout as L


def encode_json(obj):
    """Canonical JSON bytes: compact, UTF-8, no NaN/Infinity (they are not JSON)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode()


def pack_tensors(arrays):
    """Packs arrays into one tensor data blob; returns (blob, offsets, alignment).

    Each array starts at a multiple of 8 bytes; arrays of BIG_TENSOR bytes or more
    start at a multiple of 64 (cache lines, SIMD loads), and then the blob itself must be placed
    at a multiple of 64 (``alignment``). Small arrays are packed tightly, so tiny models stay
    smaller than their joblib files.
    """
    offsets = []
    pos = 0
    for a in arrays:
        # 8 covers every element and packed record type (tree nodes are uint8 tensors)
        align = L.DATA_ALIGN if a.nbytes >= L.BIG_TENSOR else 8
        pos = L.align_up(pos, align)
        offsets.append(pos)
        pos += a.nbytes
    blob = bytearray(pos)
    for off, a in zip(offsets, arrays):
        if a.nbytes:
            blob[off:off + a.nbytes] = np.ascontiguousarray(a).tobytes()
    big = any(a.nbytes >= L.BIG_TENSOR for a in arrays)
    return bytes(blob), offsets, L.DATA_ALIGN if big else L.SECTION_ALIGN


def content_hash(graph_bytes, blob):
    """The model's content hash: ``"sha256:"`` and the hex SHA-256 of the graph section's
    bytes followed by the tensor data section's bytes (everything that affects predictions)."""
    h = hashlib.sha256(graph_bytes)
    h.update(blob)
    return "sha256:" + h.hexdigest()


def encode(meta, graph, hash_key=None):
    """Returns the bytes of a .mle file holding ``meta`` (dict) and ``graph`` (ir.Graph).

    Section order: metadata JSON, graph JSON, the tensor data section (when the graph has
    tensors), then the estimator record and its data (when the graph carries one,
    ``graph.estimator`` and ``graph.estimator_arrays``; written with the optional flag, and
    the file as format 1.4). With ``hash_key``, the metadata gets that key set to
    :func:`content_hash`, which covers the graph and tensor data sections only.
    """
    blob, offsets, data_align = pack_tensors(graph.tensors)
    graph_bytes = encode_json(graph.to_json(offsets))
    if hash_key is not None:
        meta = dict(meta)
        meta[hash_key] = content_hash(graph_bytes, blob)
    meta_bytes = encode_json(meta)
    if len(meta_bytes) > L.MAX_META_JSON:
        raise ValueError(f"metadata JSON is {len(meta_bytes)} bytes; the cap is {L.MAX_META_JSON}")
    if len(graph_bytes) > L.MAX_GRAPH_JSON:
        raise ValueError(f"graph JSON is {len(graph_bytes)} bytes; the cap is {L.MAX_GRAPH_JSON}")
    payloads = [(L.SECTION_META, meta_bytes), (L.SECTION_GRAPH, graph_bytes)]
    if graph.tensors:
        payloads.append((L.SECTION_DATA, blob, data_align))
    record = getattr(graph, "estimator", None)
    # format 1.7: the inverse's input, or an output returned as bool
    inverse = getattr(graph, "inverse", None) or any(
        o["opts"].get("dtype") == "bool" for o in graph.outputs)
    if not record:
        return pack_sections(payloads, minor=L.MINOR_INVERSE if inverse else L.MINOR_RULES)
    arrays = getattr(graph, "estimator_arrays", [])
    ablob, aoffsets, aalign = pack_tensors(arrays)
    codes = {v: k for k, v in L.TENSOR_DTYPES.items()}
    placed = [[int(off), codes[a.dtype], list(a.shape)] for off, a in zip(aoffsets, arrays)]
    record_bytes = encode_json(_placed(record, placed))
    if len(record_bytes) > L.MAX_ESTIMATOR_JSON:
        raise ValueError(f"estimator record JSON is {len(record_bytes)} bytes; the cap is "
                         f"{L.MAX_ESTIMATOR_JSON}")
    packed = zlib.compress(record_bytes, 9)
    # the record is read only on first use, so its size matters more than inflating it
    kind, minor = L.SECTION_ESTIMATOR, L.MINOR_ESTIMATOR
    if len(packed) < len(record_bytes):
        record_bytes, kind, minor = packed, L.SECTION_ESTIMATOR_ZLIB, L.MINOR_ESTIMATOR_ZLIB
    payloads.append((kind, record_bytes, L.SECTION_ALIGN, L.SECTION_OPTIONAL))
    if arrays:
        payloads.append((L.SECTION_ESTIMATOR_DATA, ablob, aalign, L.SECTION_OPTIONAL))
    if not graph.outputs:  # a model that predicts nothing (format 1.6)
        minor = L.MINOR_FIT_ONLY
    if inverse:
        minor = L.MINOR_INVERSE
    return pack_sections(payloads, minor=minor)


def model_minor(kinds):
    """The minor version the writer gives a plain model file with sections of these kinds
    (and a graph with outputs): 1.5 with a compressed estimator record, 1.4 with a plain one,
    else 1.3."""
    kinds = set(kinds)
    if L.SECTION_ESTIMATOR_ZLIB in kinds:
        return L.MINOR_ESTIMATOR_ZLIB
    return L.MINOR_ESTIMATOR if L.SECTION_ESTIMATOR in kinds else L.MINOR_RULES


def _placed(v, placed):
    """The record with each ``{"data": j}`` (an array of ``graph.estimator_arrays``) written as
    ``{"data": [offset, dtype code, shape]}`` in the estimator data section."""
    if isinstance(v, list):
        return [_placed(x, placed) for x in v]
    if isinstance(v, dict):
        if type(v.get("data")) is int:
            return dict(v, data=placed[v["data"]])
        return {k: _placed(x, placed) for k, x in v.items()}
    return v


def model_file(graph, meta, extra=None):
    """The bytes of a plain .mle file of an exported model: the exporter's metadata ``meta``
    with ``extra`` keys, the writing version and the content hash. The bytes are loaded with
    the native loader before they are returned (:func:`verify_model`), so no exporter can
    have a file written that does not load."""
    meta = dict(meta, **(extra or {}))
    meta.setdefault("mle_runtime_version", __version__)
    data = encode(meta, graph, hash_key="content_hash")
    verify_model(data, meta)
    return data


def verify_model(data, meta):
    """Loads the bytes of a model file about to be written with the native loader, which
    validates everything a later ``load`` validates (container, checksums, every node against
    its op's schema and the kernels' own checks).

    Parameters
    ----------
    data : bytes
        The model file.
    meta : dict
        Its metadata (``framework`` and ``model_class`` name the exporter in the error).

    Raises
    ------
    MLEError
        The bytes do not load: a bug in the exporter named in the message. Nothing has been
        written at that point, so any previous file is unchanged.
    """
    try:
        _native.load_buffer(data)
    except (MLEError, MemoryError) as e:
        framework = meta.get("framework") or "the"
        model = meta.get("model_class") or "the model"
        raise MLEError(
            f"internal error in mle_runtime: the {framework} exporter produced a file for "
            f"{model} that does not load ({type(e).__name__}: {e}). Nothing was written and "
            "any previous file is unchanged. This is a bug: please report it with the model's "
            "class and the versions of mle_runtime and the framework.") from e


def pack_sections(payloads, flags=0, minor=L.MINOR_RULES):
    """Lays out ``[(kind, bytes-like[, alignment[, section flags]])]`` after the header and
    section table (8-byte aligned unless an alignment is given) and fills in every checksum.
    ``minor`` is the format minor version written in the header (by default that of plain
    model files, whose graph carries the prediction rules)."""
    count = len(payloads)
    table = np.zeros(count, dtype=L.SECTION_DTYPE)
    offset = L.HEADER_SIZE + count * L.SECTION_ENTRY_SIZE
    for i, (kind, data, *rest) in enumerate(payloads):
        offset = L.align_up(offset, rest[0] if rest else L.SECTION_ALIGN)
        sflags = rest[1] if len(rest) > 1 else 0
        table[i] = (kind, sflags, offset, len(data), _native.crc32c(data), 0)
        offset += len(data)
    out = bytearray(offset)
    for (kind, data, *_), entry in zip(payloads, table):
        start = int(entry["offset"])
        out[start:start + len(data)] = data
    table_bytes = table.tobytes()
    out[L.HEADER_SIZE:L.HEADER_SIZE + len(table_bytes)] = table_bytes
    header = np.zeros((), dtype=L.HEADER_DTYPE)
    header["magic"] = np.void(L.MAGIC)
    header["major"] = L.MAJOR
    header["minor"] = minor
    header["flags"] = flags
    header["file_size"] = len(out)
    header["section_count"] = count
    header["table_crc"] = _native.crc32c(table_bytes)
    hb = bytearray(header.tobytes())
    hb[L.HEADER_CRC:] = _native.crc32c(hb[:L.HEADER_CRC]).to_bytes(L.CRC_SIZE, "little")
    out[:L.HEADER_SIZE] = hb
    return bytes(out)


def _default_mode():
    # The mode open(path, "wb") would give a new file: 0o666 minus the process umask.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


# Temporary files of write_atomic: ".<name>.<random>.tmp" next to <name>.
_TEMP_SUFFIX = ".tmp"
_STALE_AFTER = 60.0  # seconds: an unlocked temporary file this old is left from a killed writer


def _temp_prefix(path):
    return "." + os.path.basename(path) + "."


def write_atomic(path, data):
    """Writes ``data`` to ``path`` so that readers see either the old file or the new one.

    The bytes go to a temporary file in the same directory (``.<name>.<random>.tmp``), which
    is flushed, fsynced and then renamed over ``path``. On any failure the temporary file is
    removed and an existing file at ``path`` is untouched. A writer killed before the rename
    (SIGKILL, power loss) cannot remove its temporary file: the writer holds an exclusive
    ``flock`` on it while it works, and the next write to the same ``path`` removes such files
    once they are unlocked and over a minute old (a live writer's are always locked).
    """
    import fcntl

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = _default_mode()
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=_temp_prefix(path), suffix=_TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released when closed, after the rename
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), mode)
            os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    _remove_stale_temps(directory, path)


def _remove_stale_temps(directory, path):
    """Removes the temporary files of earlier writes to ``path`` that were killed before
    their rename: unlocked (their writer is gone) and older than ``_STALE_AFTER`` (so a
    writer that has created its file but not yet locked it is never disturbed)."""
    import fcntl
    import time

    prefix = _temp_prefix(path)
    try:
        names = [n for n in os.listdir(directory)
                 if n.startswith(prefix) and n.endswith(_TEMP_SUFFIX)
                 and len(n) == len(prefix) + 8 + len(_TEMP_SUFFIX)]  # mkstemp: 8 characters
    except OSError:
        return
    now = time.time()
    for name in names:
        full = os.path.join(directory, name)
        try:
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or now - st.st_mtime < _STALE_AFTER:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live writer holds it
            os.unlink(full)
        except OSError:
            pass
        finally:
            os.close(fd)
