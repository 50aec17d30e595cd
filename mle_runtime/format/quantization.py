"""Quantisation of float weights at dump time: ``mle.dump(model, path, quantize="fp16")``.

Lossy and opt-in. What is quantised: the weight matrices of ``Linear`` ops and the leaf values
of ``TreeEnsemble`` ops (float64 tensors). What never is: tree node records (thresholds,
features, children: a split always goes the way the source model sends it), biases, base
scores, scaler/imputer parameters and category tables.

- ``"fp16"``: each value rounded to IEEE binary16 (2 bytes instead of 8). A tensor with a
  value binary16 cannot hold (beyond +-65504, or NaN/inf) is stored exactly instead.
- ``"int8"``: per-tensor affine codes, ``w ~= (q - zero_point) * scale`` with ``q`` in
  0..255 (1 byte instead of 8; 0.0 is represented exactly). Non-finite tensors are stored
  exactly.

The quantised file is an envelope (docs/FORMAT.md 16.2) whose inner file stores the codes as
``u1`` tensors; loading dequantises them once, in memory, into the float64 tensors the kernels
read. The metadata key ``"quantization"`` records the mode, the tensors quantised, the bytes
saved and, when ``calibration=`` rows are given, the measured error of every output on them
(reported by ``inspect_model``). The content hash is that of the dequantised model (what is
computed at load).

A codec of the envelope's inner file (format layer): it reads a graph's nodes and tensors
through their attributes only and imports nothing above ``mle_runtime.format``.
"""

import copy
import hashlib
import json
import math

import numpy as np

from mle_runtime import _native
from mle_runtime.errors import FormatError, UnsupportedModelError
from mle_runtime.format import container, writer
from mle_runtime.format import layout as L
from mle_runtime.format.budget import LoadBudget
from mle_runtime.format.writer import encode_json, pack_sections

MODES = ("fp16", "int8")
_TARGETS = {"Linear": ("weight",), "TreeEnsemble": ("leaves",)}


def _targets(graph):
    """Indices of the float64 tensors that may be quantised."""
    out = []
    for node in graph.nodes:
        for attr in _TARGETS.get(node.op, ()):
            idx = node.attrs.get(attr)
            if isinstance(idx, int) and graph.tensors[idx].dtype == np.dtype("<f8") and \
                    idx not in out:
                out.append(idx)
    return out


def _encode(w, mode):
    """``(codes as uint8 bytes array, params dict, dequantised float64 array)`` or None when
    the tensor must stay exact."""
    if w.size == 0 or not np.all(np.isfinite(w)):
        return None
    if mode == "fp16":
        if np.max(np.abs(w)) > 65504.0:
            return None
        h = w.astype("<f2")
        return np.frombuffer(h.tobytes(), dtype=np.uint8), {}, h.astype(np.float64)
    lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
    scale = (hi - lo) / 255.0
    if scale == 0.0:
        scale = 1.0
    zero_point = int(min(255, max(0, round(-lo / scale))))
    q = np.clip(np.round(w / scale) + zero_point, 0, 255).astype(np.uint8)
    return q.reshape(-1), {"scale": scale, "zero_point": zero_point}, \
        (q.astype(np.float64) - zero_point) * scale


def _decode_into(out, codes, scheme, params):
    """Restores the float64 values of ``codes`` (a memoryview) into ``out`` (a float64 view of
    the output buffer), without temporaries the size of the tensor; the arithmetic is that of
    :func:`_encode`'s restored values, so the content hash of the loaded model matches."""
    n = out.size
    if scheme == "fp16":
        out[...] = np.frombuffer(codes, dtype="<f2", count=n)
        return
    np.subtract(np.frombuffer(codes, dtype=np.uint8, count=n), params["zero_point"], out=out,
                dtype=np.float64)
    out *= params["scale"]


def quantize(graph, meta, mode, calibration=None):
    """Quantises ``graph``; returns ``(inner file bytes, envelope entry, metadata bytes)``.

    The inner file holds the codes; the envelope entry tells a reader how to restore the
    float64 tensors. ``meta`` gets ``"quantization"`` and ``"content_hash"`` keys.
    """
    if mode not in MODES:
        raise ValueError(f"quantize={mode!r}: expected one of {MODES}")
    deq = copy.copy(graph)
    deq.tensors = list(graph.tensors)
    stored = copy.copy(graph)
    stored.tensors = list(graph.tensors)
    entries, before, after, kept = [], 0, 0, 0
    for idx in _targets(graph):
        w = graph.tensors[idx]
        enc = _encode(w, mode)
        if enc is None:
            kept += 1
            continue
        codes, params, restored = enc
        deq.tensors[idx] = np.ascontiguousarray(restored, dtype="<f8")
        stored.tensors[idx] = np.ascontiguousarray(codes, dtype=np.uint8)
        entries.append({"index": idx, "scheme": mode, "shape": list(w.shape), **params})
        before += w.nbytes
        after += codes.nbytes
    if not entries:
        raise UnsupportedModelError(
            f"quantize={mode!r}: the model has no float weights that can be quantised "
            "(linear weights and tree leaf values are; thresholds never are). Save it without "
            "quantize=.")
    info = {"mode": mode, "tensors": len(entries), "kept_exact": kept,
            "weight_bytes": before, "quantized_bytes": after}
    meta = dict(meta)
    if calibration is not None:
        X = np.ascontiguousarray(np.asarray(calibration, dtype=np.float64))
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError("calibration must be a non-empty 2-D array of rows")
        exact = _native.load_buffer(writer.encode(meta, graph))
        approx = _native.load_buffer(writer.encode(meta, deq))
        info["calibration"] = {"rows": int(X.shape[0]),
                               "sha256": hashlib.sha256(X.tobytes()).hexdigest(),
                               "outputs": _errors(exact, approx, X)}
    meta["quantization"] = info
    full = writer.encode(meta, deq, hash_key="content_hash")
    c = container.parse(full, verify=())
    meta_bytes = bytes(c.payload(c.find(L.SECTION_META)))
    inner = writer.encode(json.loads(meta_bytes), stored)
    return inner, entries, meta_bytes


def _errors(exact, approx, X):
    out = {}
    for name, idx in exact.outputs.items():
        a = exact.run(X, idx, 0)
        b = approx.run(X, idx, 0)
        if a.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                same = (a == b) | (np.isnan(a) & np.isnan(b))  # equal infinities included
                d = np.where(same, 0.0, np.abs(a - b))
            finite = np.isfinite(d)
            out[name] = {"max_abs_error": float(np.max(d[finite])) if finite.any() else 0.0,
                         "mean_abs_error": float(np.mean(d[finite])) if finite.any() else 0.0,
                         "nonfinite_mismatches": int(np.sum(~finite))}
        else:
            out[name] = {"agreement": float(np.mean(a == b))}
    return out


def _entry(k, e, tensors, data_size):
    """``(index, scheme, params, shape, n, code offset, code bytes)`` of one quantisation
    entry (untrusted), checked against the inner file's tensor table and data section size."""
    try:
        idx, scheme, shape = e["index"], e["scheme"], e["shape"]
        ok = isinstance(idx, int) and not isinstance(idx, bool) and \
            0 <= idx < len(tensors) and scheme in MODES and \
            isinstance(shape, list) and len(shape) <= 4 and \
            all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 1 << 40
                for d in shape)
        n = math.prod(shape) if ok else 0
        params = {}
        if ok and scheme == "int8":
            params = {"scale": e["scale"], "zero_point": e["zero_point"]}
            ok = isinstance(params["scale"], (int, float)) and \
                not isinstance(params["scale"], bool) and math.isfinite(params["scale"]) and \
                isinstance(params["zero_point"], int) and \
                not isinstance(params["zero_point"], bool) and \
                0 <= params["zero_point"] <= 255
        entry = tensors[idx] if ok else None
        nbytes = n * (2 if scheme == "fp16" else 1)
        ok = ok and n <= 1 << 34 and isinstance(entry, list) and len(entry) == 3 and \
            entry[1] == "u1" and entry[2] == [nbytes] and isinstance(entry[0], int) and \
            not isinstance(entry[0], bool) and 0 <= entry[0] <= data_size - nbytes
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise FormatError(f"quantised envelope: quantisation entry {k} is malformed (expected "
                          "index, scheme, shape, and scale and zero_point for int8, matching a "
                          "u1 tensor of the inner file); the file is damaged or hostile")
    return idx, scheme, params, shape, n, entry[0], nbytes


def dequantize_inner(inner, entries, *, budget=None):
    """The loadable inner file: ``inner`` (untrusted bytes, codes stored as u1 tensors) with
    each listed tensor restored to float64, appended to the tensor data section.

    The entries must name distinct tensors whose code bytes do not overlap (each stored byte
    is dequantised at most once, so the restored data is at most 8 times the codes). Every
    byte of the result is charged to ``budget`` (the load's
    :class:`~mle_runtime.format.budget.LoadBudget`; None: the default budget for ``inner``'s
    size) before it is allocated.
    """
    budget = LoadBudget.of(budget, len(inner))
    c = container.parse(inner)
    graph = c.json(L.SECTION_GRAPH)
    data_s = c.find(L.SECTION_DATA)
    if graph is None or data_s is None or not isinstance(entries, list):
        raise FormatError("quantised envelope: the inner file lacks a graph or tensor data")
    tensors = graph.get("tensors")
    if not isinstance(tensors, list):
        raise FormatError("quantised envelope: malformed tensor table")
    data = c.payload(data_s)
    plan = [_entry(k, e, tensors, len(data)) for k, e in enumerate(entries)]
    if len({p[0] for p in plan}) != len(plan):
        raise FormatError("quantised envelope: a tensor is listed more than once")
    ranges = sorted((p[5], p[5] + p[6], p[0]) for p in plan if p[6])
    for (_, end, i), (start, _, j) in zip(ranges, ranges[1:]):
        if start < end:
            raise FormatError(f"quantised envelope: tensors {i} and {j} share code bytes "
                              f"(from byte {start} of the tensor data); each quantised "
                              "tensor must have codes of its own")
    positions, pos = [], len(data)
    for p in plan:
        pos = L.align_up(pos, L.DATA_ALIGN)
        positions.append(pos)
        pos += 8 * p[4]
    budget.charge(pos, "the dequantised tensor data")
    out = bytearray(pos)
    out[:len(data)] = data
    for (idx, scheme, params, shape, n, off, nbytes), at in zip(plan, positions):
        _decode_into(np.frombuffer(out, dtype="<f8", count=n, offset=at),
                     data[off:off + nbytes], scheme, params)
        tensors[idx] = [at, "f8", shape]
    meta = c.payload(c.find(L.SECTION_META))
    graph_bytes = encode_json(graph)
    # pack_sections lays the file out in a new buffer and returns a copy of it
    budget.charge(2 * (L.HEADER_SIZE + 3 * (L.SECTION_ENTRY_SIZE + L.DATA_ALIGN) + len(meta) +
                       len(graph_bytes) + len(out)), "the dequantised inner file")
    return pack_sections([(L.SECTION_META, meta), (L.SECTION_GRAPH, graph_bytes),
                          (L.SECTION_DATA, out, L.DATA_ALIGN)], minor=c.minor)
