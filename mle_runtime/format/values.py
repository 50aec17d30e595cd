"""Python values stored natively: containers, scalars, arrays and models, without pickle.

A *value file* (docs/FORMAT.md, section 17) holds what ``joblib.dump`` is given besides a bare
model: dicts of models and thresholds, lists of column names, numpy arrays, pandas objects,
tuples of (model, scaler), nested freely. Its sections:

- metadata (JSON): ``"kind": "value"``, what the value holds (``contents``), the usual keys;
- value (JSON): the value's tree, every node a JSON scalar or a tagged array (see ``_decode``);
- tensor data: the bytes of arrays, ``bytes`` and numpy scalars (arrays at 64-byte
  boundaries when large, so they can be memory-mapped in place);
- one model section per model inside the value: a complete plain .mle file, 64-byte aligned,
  loaded without a copy from the file's mapping;
- a pickle section, only when the caller asked for it (``allow_pickle=True``): the objects
  that cannot be stored natively, unpickled on load only with ``allow_pickle=True``.

Everything read from a file is untrusted: every node's shape is checked before use and any
violation raises ``FormatError``; nothing but the opt-in pickle section can run code.

This codec sits in the format layer: what it needs from the layers above it (exporting a
model, wrapping a loaded one, pickling) it receives as :class:`Hooks`, which ``api.dump`` and
``api.load`` pass in (``mle_runtime.api.value_hooks()``).
"""

import array as _array
import datetime
import hashlib
import itertools
import json
import math
import mmap as _mmap_module
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mle_runtime import _native
from mle_runtime.errors import (FormatError, MLEError, PickleNotAllowedError,
                                UnsupportedModelError)
from mle_runtime.format import container, values_pandas, writer
from mle_runtime.format import layout as L
from mle_runtime.format.budget import LoadBudget

MAX_DEPTH = 200  # nesting depth of a value (both ways: dump refuses deeper values)
_INT64 = 1 << 63
# Tags whose nodes can be referred to again by ["ref", k] (k counts them in the order they
# are completed), so that an object stored twice is one object after loading.
MEMO_TAGS = frozenset(("list", "tuple", "dict", "dictk", "odict", "odictk", "counter",
                       "defaultdict", "set", "frozenset", "bytes", "bytearray", "array",
                       "objarray", "model", "pickle", "chain"))


class _Problem(Exception):
    """An object that cannot be stored natively (internal: becomes UnsupportedModelError or
    goes to the pickle section)."""

    def __init__(self, reason, path=None, part=None):
        super().__init__(reason)
        self.reason = reason
        self.path = path   # where the problem is, when deeper than the object itself
        self.part = part   # the object at that path


@dataclass(frozen=True)
class Hooks:
    """What the value codec needs from the layers above the format layer.

    Attributes
    ----------
    loaded : callable
        ``loaded(obj)``: ``(file bytes, metadata dict)`` when ``obj`` is a model loaded from an
        .mle file (stored as those bytes), else None.
    is_model : callable
        ``is_model(obj)``: whether an exporter handles ``obj``'s class.
    export : callable
        ``export(obj)``: ``(graph, metadata)`` of a model; raises ``UnsupportedModelError``
        for a model (or a part of one) that cannot be represented.
    wrap_model : callable
        ``wrap_model(native, n_threads)``: what a model section loads as, given its
        ``NativeModel``.
    pickle_dumps : callable
        ``pickle_dumps(objects, protocol, persistent_id)``: the pickle section's bytes
        (``allow_pickle``); ``persistent_id(obj)`` is the pickler's: an int for the numpy
        arrays the codec stores natively (out of band, 17.4), None for everything else.
    pickle_loads : callable
        ``pickle_loads(data, persistent_load)``: the objects of a pickle section (only with
        ``allow_pickle``); ``persistent_load(k)`` returns the k-th array stored out of band.
    wrap_chain : callable, optional
        ``wrap_chain(parts)``: what a ``chain`` node (17.6) loads as, given its
        ``[(step names, part)]``; None: such nodes are refused.
    """

    loaded: Callable
    is_model: Callable
    export: Callable
    wrap_model: Callable
    pickle_dumps: Callable
    pickle_loads: Callable
    wrap_chain: Callable = None


def _type_name(obj):
    t = type(obj)
    mod = t.__module__
    return t.__qualname__ if mod == "builtins" else f"{mod}.{t.__qualname__}"


# --------------------------------------------------------------------------- dtypes ----------

def dtype_to_json(dt):
    """The JSON form of a non-object dtype: numpy's ``descr`` (``np.lib.format``), lists for
    tuples."""
    if dt.hasobject:
        raise _Problem(f"numpy dtype {dt} holds Python objects")
    try:
        descr = np.lib.format.dtype_to_descr(dt)
    except ValueError as e:  # e.g. overlapping or out-of-order fields
        raise _Problem(f"numpy dtype {dt} cannot be described: {e}") from None

    def conv(d):
        if isinstance(d, str):
            return d
        if isinstance(d, tuple):
            return [conv(x) for x in d]
        if isinstance(d, list):
            return [conv(x) for x in d]
        if isinstance(d, int):
            return d
        raise _Problem(f"numpy dtype {dt} cannot be described")

    return conv(descr)


def dtype_from_json(spec):
    """The dtype of a JSON descr (untrusted): a type string, or a list of
    ``[name, descr]`` / ``[name, descr, shape]`` fields."""
    def conv(d, depth):
        if depth > 16:
            raise ValueError("dtype nests too deeply")
        if isinstance(d, str):
            return d
        if not isinstance(d, list):
            raise ValueError(f"unexpected dtype description {d!r}")
        fields = []
        for f in d:
            if not isinstance(f, list) or len(f) not in (2, 3) or not (
                    isinstance(f[0], str) or isinstance(f[0], list) and len(f[0]) == 2 and
                    all(isinstance(x, str) for x in f[0])):
                raise ValueError("a structured dtype field must be [name, type(, shape)] "
                                 "(name: a str or [title, name])")
            name = f[0] if isinstance(f[0], str) else tuple(f[0])
            item = (name, conv(f[1], depth + 1))
            if len(f) == 3:
                if not isinstance(f[2], list) or len(f[2]) > 32 or \
                        not all(type(n) is int and 0 <= n < (1 << 31) for n in f[2]):
                    raise ValueError("a field shape must be a list of small integers")
                item += (tuple(f[2]),)
            fields.append(item)
        return fields

    try:
        with warnings.catch_warnings():
            # deprecated aliases ('a', ...) are never written: refuse them, quietly
            warnings.simplefilter("error", DeprecationWarning)
            dt = np.lib.format.descr_to_dtype(conv(spec, 0))
    except (TypeError, ValueError, KeyError, SyntaxError, OverflowError, RecursionError,
            DeprecationWarning) as e:
        raise FormatError(f"value section: invalid dtype {spec!r}: {e}") from None
    if dt.hasobject:
        raise FormatError(f"value section: dtype {spec!r} holds Python objects; files store "
                          "object arrays element by element")
    return dt


# --------------------------------------------------------------------------- encoding --------

class Encoder:
    """Turns a value into the JSON tree, the data blob, model files and pickled objects."""

    def __init__(self, hooks, allow_pickle=False):
        self.hooks = hooks
        self.allow_pickle = allow_pickle is True
        self.chunks = []        # (offset, contiguous ndarray or bytes)
        self.size = 0
        self.models = []        # bytes of each embedded .mle file
        self.models_info = []
        self.pickled = []       # objects for the pickle section
        self.pickled_info = []
        self.chains = []        # what contents says of each chain node (17.6)
        self.problems = []      # (path, type name, reason) when pickle is not allowed
        self.memo = {}          # id(obj) -> ref index
        self.n_memo = 0
        self.keep = []          # keeps memoised objects alive (ids stay unique)
        self.active = set()     # ids of containers being encoded (cycle detection)
        self.n_arrays = 0
        self.pickled_arrays = []   # array nodes of the arrays inside pickled objects
        self.pickled_array_ids = {}
        # Nesting as the reader counts it (Decoder.decode): the deepest position reached
        # below the node being encoded, and the height of every memoised node, so that an
        # object stored once and referred to again is as deep at each place it appears.
        self.reach = 0
        self.heights = []       # ref index -> height of that node

    # -- the data blob --
    def add_bytes(self, buf, nbytes, align=8):
        """Places ``nbytes`` of ``buf`` (bytes or a contiguous array) in the blob; returns
        the offset."""
        if nbytes >= L.BIG_TENSOR:
            align = L.DATA_ALIGN
        off = L.align_up(self.size, align)
        if nbytes:
            self.chunks.append((off, buf))
        self.size = off + nbytes
        return off

    def blob(self):
        out = bytearray(self.size)
        mv = memoryview(out)
        for off, buf in self.chunks:
            if isinstance(buf, np.ndarray):
                src = buf.reshape(-1).view(np.uint8)
                mv[off:off + src.size] = src.data
            else:
                mv[off:off + len(buf)] = buf
        return out

    def remember(self, obj, node, height):
        if isinstance(node, list) and node and node[0] in MEMO_TAGS or \
                isinstance(node, list) and node and isinstance(node[0], str) and \
                node[0].startswith("pd."):
            self.memo[id(obj)] = self.n_memo
            self.keep.append(obj)
            self.heights.append(height)
            self.n_memo += 1
        return node

    # -- dispatch --
    def encode(self, obj, path, depth=0):
        if depth > MAX_DEPTH:
            raise ValueError(f"{path}: the value nests more than {MAX_DEPTH} levels deep; "
                             "flatten it before dumping")
        if depth > self.reach:
            self.reach = depth
        t = type(obj)
        if obj is None or t is bool or t is str:
            return obj
        if t is int:
            return obj if -_INT64 <= obj < _INT64 else ["int", format(obj, "x")]
        if t is float:
            return obj if math.isfinite(obj) else ["float", repr(obj)]
        ref = self.memo.get(id(obj))
        if ref is not None:
            reach = depth + self.heights[ref]
            if reach > MAX_DEPTH:
                raise ValueError(f"{path}: the value nests more than {MAX_DEPTH} levels deep "
                                 "(an object that appears more than once counts at each place "
                                 "it appears); flatten it before dumping")
            if reach > self.reach:
                self.reach = reach
            return ["ref", ref]
        key = id(obj)
        if key in self.active:
            raise ValueError(f"{path} refers back to a container that holds it (a reference "
                             "cycle); values with cycles cannot be stored natively")
        self.active.add(key)
        mark = self._mark()  # a refused object's parts are not stored
        outer, self.reach = self.reach, depth
        try:
            node = self._encode(obj, t, path, depth)
        except _Problem as p:
            self._rollback(mark)
            self.reach = depth  # a pickle node, or nothing: no parts below it
            node = self._fallback(obj, path, p)
        finally:
            self.active.discard(key)
        height = self.reach - depth
        self.reach = max(outer, self.reach)
        return self.remember(obj, node, height)

    def _mark(self):
        return (self.n_memo, len(self.keep), len(self.chunks), self.size, len(self.models),
                len(self.pickled), len(self.problems), self.n_arrays, len(self.chains))

    def _rollback(self, mark):
        n_memo, n_keep, n_chunks, size, n_models, n_pickled, n_problems, n_arrays, n_chains = \
            mark
        del self.chains[n_chains:]
        for obj in self.keep[n_keep:]:
            del self.memo[id(obj)]
        del self.keep[n_keep:]
        del self.heights[n_memo:]
        self.n_memo = n_memo
        del self.chunks[n_chunks:]
        self.size = size
        del self.models[n_models:], self.models_info[n_models:]
        del self.pickled[n_pickled:], self.pickled_info[n_pickled:]
        del self.problems[n_problems:]
        self.n_arrays = n_arrays

    def _fallback(self, obj, path, problem):
        where = problem.path or path
        part = problem.part if problem.part is not None else obj
        if self.allow_pickle:
            self.pickled.append(obj)
            info = {"path": path, "type": _type_name(obj)}
            if where != path:
                info["because"] = f"{where} ({_type_name(part)})"
            self.pickled_info.append(info)
            return ["pickle", len(self.pickled) - 1]
        self.problems.append((where, _type_name(part), problem.reason))
        return None

    def _encode(self, obj, t, path, depth):
        d = depth + 1
        if t is list:
            return ["list"] + [self.encode(v, f"{path}[{i}]", d) for i, v in enumerate(obj)]
        if t is tuple:
            return ["tuple"] + [self.encode(v, f"{path}[{i}]", d) for i, v in enumerate(obj)]
        if t is dict:
            return self._dict(obj, path, d, "dict")
        if t.__module__ == "collections" and t.__name__ in _COLLECTIONS:
            return self._collection(obj, t.__name__, path, d)
        if t is set or t is frozenset:
            items = [self.encode(v, f"{path}{{element {i}}}", d)
                     for i, v in enumerate(_stable_order(obj))]
            return ["set" if t is set else "frozenset"] + items
        if t is bytes or t is bytearray:
            off = self.add_bytes(bytes(obj), len(obj))
            return ["bytes" if t is bytes else "bytearray", off, len(obj)]
        if t is complex:
            return ["complex", self.encode(obj.real, path, d), self.encode(obj.imag, path, d)]
        if t is np.ndarray or t is np.memmap:
            return self._array(obj, path, d)
        if isinstance(obj, np.generic):
            return self._scalar(obj, path)
        if isinstance(obj, np.dtype):
            if obj.hasobject:
                return ["dtype", "O"] if obj == np.dtype(object) else \
                    self._problem_dtype(obj, path)
            return ["dtype", dtype_to_json(obj)]
        if t in (datetime.datetime, datetime.date, datetime.time, datetime.timedelta,
                 datetime.timezone) or _is_zone(obj):
            return self._datetime(obj, path)
        mod = t.__module__ or ""
        if mod == "decimal" and t.__name__ == "Decimal":
            return ["decimal", str(obj)]
        if t is range:
            return ["range", obj.start, obj.stop, obj.step]
        loaded = self.hooks.loaded(obj)
        if loaded is not None:
            return self._model_bytes(*loaded, path)
        if mod == "mle_runtime.runtime.chain" and t.__name__ == "PipelineChain":
            return self._stored_chain(obj, path, d)
        if mod.split(".")[0] == "pandas":
            return values_pandas.encode(self, obj, path, d)
        return self._model(obj, path, d)

    def _dict(self, obj, path, d, tag):
        if all(type(k) is str for k in obj):
            return [tag, {k: self.encode(v, f"{path}[{k!r}]", d) for k, v in obj.items()}]
        pairs = []
        for k, v in obj.items():
            kp = f"{path}[{k!r}]"
            pairs.append([self.encode(k, kp + " (key)", d), self.encode(v, kp, d)])
        return ["dictk" if tag == "dict" else "odictk", pairs]

    @staticmethod
    def _problem_dtype(dt, path):
        raise _Problem(f"numpy dtype {dt} holds Python objects (only the plain object dtype "
                       "is stored)", path)

    def _collection(self, obj, name, path, d):
        """OrderedDict, Counter, and defaultdict with a builtin type as default_factory."""
        node = self._dict(obj, path, d, "dict")
        if name == "OrderedDict":
            return ["odict" if node[0] == "dict" else "odictk", node[1]]
        if name == "Counter":
            return ["counter", node]
        factory = obj.default_factory
        if factory is not None and factory not in _FACTORIES.values():
            raise _Problem(f"defaultdict with default_factory {factory!r} (supported: None, "
                           f"{', '.join(_FACTORIES)})", path)
        return ["defaultdict", None if factory is None else factory.__name__, node]

    def _array(self, a, path, d):
        if a.dtype.hasobject:
            if a.dtype.kind == "T":
                raise _Problem(f"numpy variable-width string dtype {a.dtype} (supported: "
                               "fixed-width str/bytes dtypes and object arrays of str); convert "
                               "it with .astype(str) or .astype(object)")
            if a.dtype != np.dtype(object):
                raise _Problem(f"numpy structured dtype {a.dtype} holds Python objects")
            order = "F" if a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous \
                else "C"
            items = a.reshape(-1, order=order).tolist()
            if not set(map(type, items)) <= {str, type(None)}:  # else: JSON as they are
                items = [self.encode(v, f"{path}[{_index(a.shape, i, order)}]", d)
                         for i, v in enumerate(items)]
            elif items and d > self.reach:  # leaves one level down, as the reader counts
                self.reach = d
            return ["objarray", list(a.shape), order, items]
        if a.dtype.itemsize == 0 and a.size:
            raise _Problem(f"numpy dtype {a.dtype} has no size")
        descr = dtype_to_json(a.dtype)
        order = "F" if a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous \
            else "C"
        data = a.T if order == "F" else a
        data = np.ascontiguousarray(data)
        self.n_arrays += 1
        # 16-byte boundaries at least, as joblib aligns arrays (64 from 1 KiB)
        off = self.add_bytes(data, data.nbytes, align=16)
        return ["array", descr, list(a.shape), off, order]

    def pickled_array(self, obj):
        """The pickler's ``persistent_id``: the index of ``obj`` among the arrays inside
        pickled objects that are stored natively (plain numpy arrays of fixed-size dtypes),
        or None (pickled as usual)."""
        t = type(obj)
        if t is not np.ndarray and t is not np.memmap or obj.dtype.hasobject:
            return None
        k = self.pickled_array_ids.get(id(obj))
        if k is not None:
            return k
        if obj.dtype.itemsize == 0 and obj.size:
            return None
        try:
            node = self._array(obj, "a pickled array", 1)
        except _Problem:
            return None
        k = len(self.pickled_arrays)
        self.pickled_arrays.append(node)
        self.pickled_array_ids[id(obj)] = k
        self.keep.append(obj)
        return k

    def _scalar(self, s, path):
        dt = s.dtype
        if dt.hasobject:
            raise _Problem(f"numpy scalar of dtype {dt} holds a Python object")
        a = np.array(s, dtype=dt).reshape(1)
        off = self.add_bytes(a, a.nbytes, align=8)
        return ["scalar", dtype_to_json(dt), off]

    def tz(self, tz, path):
        """The node of a tzinfo (None, datetime.timezone, zoneinfo.ZoneInfo, pytz zones)."""
        if tz is None:
            return None
        if type(tz) is datetime.timezone:
            off = tz.utcoffset(None)
            name = tz.tzname(None)
            default = datetime.timezone(off).tzname(None)
            node = ["tz", off.days, off.seconds, off.microseconds]
            return node + [name] if name != default else node
        mod = type(tz).__module__ or ""
        if mod == "zoneinfo" or mod.startswith("zoneinfo."):
            if tz.key is None:
                raise _Problem("a ZoneInfo built from a file (it has no key)", path)
            return ["zone", tz.key]
        if mod.split(".")[0] == "pytz":
            zone = getattr(tz, "zone", None)
            if isinstance(zone, str):
                return ["pytz", zone]
            off = tz.utcoffset(None)
            return ["tz", off.days, off.seconds, off.microseconds]
        raise _Problem(f"time zone of type {_type_name(tz)} (supported: datetime.timezone, "
                       "zoneinfo.ZoneInfo, pytz zones)", path)

    def _datetime(self, v, path):
        t = type(v)
        if t is datetime.datetime:
            return ["datetime", v.year, v.month, v.day, v.hour, v.minute, v.second,
                    v.microsecond, v.fold, self.tz(v.tzinfo, path)]
        if t is datetime.date:
            return ["date", v.year, v.month, v.day]
        if t is datetime.time:
            return ["time", v.hour, v.minute, v.second, v.microsecond, v.fold,
                    self.tz(v.tzinfo, path)]
        if t is datetime.timedelta:
            return ["timedelta", v.days, v.seconds, v.microseconds]
        return ["tzinfo", self.tz(v, path)]

    def _stored_chain(self, obj, path, d):
        """A loaded Pipeline stored in parts (17.6), stored again as it was loaded."""
        items = []
        for i, (names, (_, part)) in enumerate(zip(obj.step_names, obj.steps)):
            node = self.encode(part, f"{path}.steps[{i}][1]", d)
            if node is None:  # refused (recorded in problems)
                return None
            if node[0] not in _PART_TAGS:
                raise _Problem(f"part {i} of the PipelineChain is a {_type_name(part)}, not "
                               "a model or an estimator", path)
            items.append([list(names), node])
        self.chains.append({"path": path, "parts": [
            {"steps": n, "stored": {"model": "native", "chain": "chain",
                                    "pickle": "pickle"}.get(node[0], "again")}
            for n, node in items]})
        return ["chain", items]

    def _model(self, obj, path, d=1):
        export = self.hooks.export
        if not self.hooks.is_model(obj):
            raise _Problem(f"mle_runtime cannot store objects of type {_type_name(obj)} "
                           "natively")
        try:
            graph, meta = export(obj)
        except UnsupportedModelError as e:
            where, part, reason = cause(obj, path, e)
            if self.allow_pickle and _is_pipeline(obj):
                node = _chain(self, obj, path, d)
                if node is not None:
                    return node
            raise _Problem(reason, where, part) from None
        except (TypeError, ValueError, AttributeError) as e:
            # e.g. an unfitted estimator
            raise _Problem(f"{type(e).__name__}: {e}", path) from None
        return self._model_bytes(writer.model_file(graph, meta), None, path)

    def _model_bytes(self, data, meta, path):
        if meta is None:
            c = container.parse(data, verify=())
            meta = c.json(L.SECTION_META)
        elif not isinstance(data, bytes):
            data = bytes(data)
        self.models.append(data)
        info = {"path": path}
        for k in ("model_class", "framework", "content_hash"):
            if isinstance(meta.get(k), str):
                info[k] = meta[k]
        self.models_info.append(info)
        return ["model", len(self.models) - 1]


_COLLECTIONS = ("OrderedDict", "Counter", "defaultdict")
_FACTORIES = {f.__name__: f for f in (list, dict, set, int, float, str, tuple)}


def _is_zone(obj):
    mod = type(obj).__module__ or ""
    return isinstance(obj, datetime.tzinfo) and (mod.startswith("zoneinfo") or
                                                 mod.split(".")[0] == "pytz")


def _stable_order(s):
    """Set elements in a reproducible order where they can be sorted (same value, same
    file); otherwise in iteration order."""
    try:
        return sorted(s)
    except TypeError:
        return list(s)


def _index(shape, flat, order):
    idx = np.unravel_index(flat, shape, order=order)
    return ", ".join(str(int(i)) for i in idx)


# Attributes through which a fitted composite estimator holds the estimators it predicts with
# (searched first, in this order, then its other public attributes): the fitted ones, never
# the unfitted templates they were cloned from (a ColumnTransformer's transformers, a
# VotingClassifier's estimators, a search's estimator).
_FITTED_PARTS = ("steps", "transformers_", "transformer_list", "estimators_",
                 "final_estimator_", "best_estimator_", "estimator_", "regressor_",
                 "base_estimator_", "calibrated_classifiers_", "estimator", "classifier",
                 "base_estimator")
_TEMPLATES = {"transformers_": "transformers", "estimators_": "estimators",
              "best_estimator_": "estimator", "estimator_": "estimator",
              "regressor_": "regressor", "final_estimator_": "final_estimator"}


def _is_estimator(obj):
    return callable(getattr(type(obj), "get_params", None)) and not isinstance(obj, type)


def path_to(root, target, path, depth=0):
    """The path of ``target`` (by identity) inside the fitted estimator ``root`` at ``path``,
    through the estimators and lists, tuples and dicts of estimators it holds (such as
    ``value.steps[0][1].transformers_[1][1]``), or None when it does not hold it."""
    if root is target:
        return path
    if depth > 32 or not _is_estimator(root):
        return None
    attrs = getattr(root, "__dict__", None)
    if not isinstance(attrs, dict):
        return None
    skip = {_TEMPLATES[k] for k in _TEMPLATES if k in attrs}
    names = [k for k in _FITTED_PARTS if k in attrs and k not in skip] + \
        [k for k in attrs if k not in _FITTED_PARTS and k not in skip and
         not k.startswith("_")]
    for name in names:
        found = _path_in(attrs[name], target, f"{path}.{name}", depth + 1)
        if found is not None:
            return found
    return None


def _path_in(v, target, path, depth):
    if v is target:
        return path
    if isinstance(v, (list, tuple)):
        if len(v) > 10000:
            return None
        for i, x in enumerate(v):
            if isinstance(x, (list, tuple, dict)) or _is_estimator(x) or x is target:
                found = _path_in(x, target, f"{path}[{i}]", depth + 1)
                if found is not None:
                    return found
        return None
    if isinstance(v, dict):
        if len(v) > 10000:
            return None
        for k, x in v.items():
            if isinstance(x, (list, tuple, dict)) or _is_estimator(x) or x is target:
                found = _path_in(x, target, f"{path}[{k!r}]", depth + 1)
                if found is not None:
                    return found
        return None
    return path_to(v, target, path, depth)


def cause(obj, path, error):
    """``(path, part, reason)`` of the refusal ``error`` of exporting ``obj`` (at ``path`` in
    the value): the innermost fitted estimator whose exporter refused it (the ``part`` the
    exporters record on the error), its path inside ``obj`` and that exporter's own reason;
    ``(path, obj, message)`` when the refusal is ``obj``'s own."""
    part = getattr(error, "part", None)
    reason = getattr(error, "reason", None)
    if part is None or part is obj or not isinstance(reason, str):
        return path, obj, reason if isinstance(reason, str) else str(error)
    where = path_to(obj, part, path)
    if where is None:  # held where no attribute names it: say what and where it was
        return path, obj, f"{_type_name(part)} inside it: {reason}"
    return where, part, reason


def _is_pipeline(obj):
    t = type(obj)
    return t.__name__ == "Pipeline" and (t.__module__ or "").startswith("sklearn.") and \
        isinstance(getattr(obj, "steps", None), list)


def _active(step):
    return step is not None and not (isinstance(step, str) and step == "passthrough")


def _step_of(pipe, lo, hi, part):
    """The index in [lo, hi) of the step of ``pipe`` that is or holds ``part``, or None."""
    if part is None:
        return None
    for i in range(lo, hi):
        if path_to(pipe.steps[i][1], part, "") is not None:
            return i
    return None


def _chain(enc, pipe, path, d):
    """A ``chain`` node (17.6) for the Pipeline ``pipe`` that cannot be exported whole, with
    ``allow_pickle``: its longest runs of steps that export together as model nodes, each
    other step encoded on its own (a nested Pipeline split the same way, anything else
    pickled); None when no step is to blame (the Pipeline is then pickled whole)."""
    export = enc.hooks.export
    steps = pipe.steps
    names = [str(n) for n, _ in steps]
    if len(set(names)) != len(names):
        return None
    parts = []

    def run(lo, hi):
        """Appends the parts of steps[lo:hi]; False when a refusal names no step of them."""
        while lo < hi:
            if not any(_active(s) for _, s in steps[lo:hi]):
                return True  # 'passthrough' and None steps: nothing to run
            sub = pipe[lo:hi]
            try:
                graph, meta = export(sub)
            except UnsupportedModelError as e:
                k = _step_of(pipe, lo, hi, getattr(e, "part", None))
                if k is None:
                    return False
                if not run(lo, k):
                    return False
                k_path = f"{path}.steps[{k}][1]"
                parts.append(([names[k]], enc.encode(steps[k][1], k_path, d)))
                lo = k + 1
                continue
            except (TypeError, ValueError, AttributeError):
                return False
            seg = f"{path}[{lo}:{hi}]"
            node = enc._model_bytes(writer.model_file(graph, meta), None, seg)
            if d > enc.reach:  # one level below the chain node, as the reader counts
                enc.reach = d
            parts.append((names[lo:hi], enc.remember(sub, node, 0)))
            return True
        return True

    if not run(0, len(steps)) or any(node is None for _, node in parts) or \
            not any(node[0] in ("model", "chain") for _, node in parts):
        return None  # nothing would stay native: the Pipeline is pickled whole
    enc.chains.append({"path": path, "parts": [
        {"steps": n, "stored": {"model": "native", "chain": "chain", "pickle": "pickle"}.get(
            node[0], "again")}
        for n, node in parts]})
    return ["chain", [[n, node] for n, node in parts]]


def encode(value, allow_pickle=False, protocol=None, *, hooks):
    """Encodes ``value``: returns ``(sections, contents)`` where sections is the list of
    ``(kind, bytes[, align])`` after the metadata, and contents describes what is inside.
    ``hooks``: the :class:`Hooks` for models and pickling.

    Raises UnsupportedModelError naming every object that cannot be stored natively (unless
    ``allow_pickle``), ValueError for cycles and over-deep nesting."""
    enc = Encoder(hooks, allow_pickle)
    try:
        root = enc.encode(value, "value")
    except RecursionError:
        raise ValueError("the value nests too deeply to be stored") from None
    if enc.problems:
        raise UnsupportedModelError(_problems_message(enc.problems))
    pickled = None
    if enc.pickled:
        # the arrays inside pickled objects go to the tensor data section (17.4)
        pickled = hooks.pickle_dumps(enc.pickled, protocol, enc.pickled_array)
    tree = {"root": root, "memo": enc.n_memo}
    if enc.pickled_arrays:
        tree["pickled_arrays"] = enc.pickled_arrays
    try:
        tree_bytes = writer.encode_json(tree)
    except UnicodeEncodeError:  # lone surrogates: JSON's \u escapes keep them
        tree_bytes = json.dumps(tree, separators=(",", ":"), allow_nan=False).encode()
    if len(tree_bytes) > L.MAX_VALUE_JSON:
        raise ValueError(f"the value's description is {len(tree_bytes)} bytes of JSON; the cap "
                         f"is {L.MAX_VALUE_JSON}. Store long sequences as numpy arrays")
    sections = [(L.SECTION_VALUE, tree_bytes)]
    blob = enc.blob()
    if blob:
        sections.append((L.SECTION_DATA, blob, L.DATA_ALIGN))
    for m in enc.models:
        sections.append((L.SECTION_MODEL, m, L.DATA_ALIGN))
    if pickled is not None:
        sections.append((L.SECTION_PICKLE, pickled))
    h = hashlib.sha256()
    for s in sections:
        h.update(len(s[1]).to_bytes(8, "little"))
        h.update(s[1])
    contents = {"type": _type_name(value), "arrays": enc.n_arrays,
                "models": enc.models_info, "pickled": enc.pickled_info}
    if enc.pickled_arrays:
        contents["pickled_arrays"] = len(enc.pickled_arrays)
    if enc.chains:
        contents["chains"] = enc.chains
    return sections, contents, "sha256:" + h.hexdigest()


def _problems_message(problems):
    path, tname, reason = problems[0]
    msg = (f"{path} (a {tname}) cannot be stored natively: {reason}")
    if len(problems) > 1:
        more = "; ".join(f"{p} ({t})" for p, t, _ in problems[1:6])
        extra = f" and {len(problems) - 6} more" if len(problems) > 6 else ""
        msg += f"\nAlso not storable natively: {more}{extra}."
    return (msg + "\nTo store such objects anyway, pass allow_pickle=True: they go into a "
            "pickle section, and loading the file will then need allow_pickle=True too "
            "(unpickling can execute arbitrary code, so only for files you trust).")


def describe_problems(value, *, hooks):
    """``[(path, type name, reason)]`` of every object in ``value`` that would need pickle
    (empty when the whole value can be stored natively). ``hooks``: the :class:`Hooks`."""
    enc = Encoder(hooks, False)
    enc.encode(value, "value")
    return list(enc.problems)


def summary(contents):
    """A one-line description of a value file's contents."""
    t = contents["type"]
    parts = []
    if contents["models"]:
        parts.append(f"{len(contents['models'])} model(s)")
    if contents["arrays"]:
        parts.append(f"{contents['arrays']} array(s)")
    if contents["pickled"]:
        parts.append(f"{len(contents['pickled'])} pickled object(s)")
    return f"{t} holding " + ", ".join(parts) if parts else t


# --------------------------------------------------------------------------- decoding --------

class Decoder:
    """Rebuilds a value from a parsed container (untrusted input)."""

    def __init__(self, container, hooks, mmap_mode=None, n_threads=None, allow_pickle=False,
                 filename=None, budget=None, native_byte_order=False):
        self.c = container
        self.native_byte_order = native_byte_order
        self.hooks = hooks
        self.copy = mmap_mode is None
        self.mmap_mode = mmap_mode
        self.filename = filename
        self.n_threads = n_threads
        self.memo = []
        data = container.find(L.SECTION_DATA)
        self.blob = container.payload(data) if data is not None else memoryview(b"")
        self.blob_offset = data.offset if data is not None else 0
        self.models = [s for s in container.sections if s.kind == L.SECTION_MODEL]
        self.model_cache = {}
        self.chain_parts = set()  # ids of what model, pickle and chain nodes decoded to
        # What decoding may allocate beyond the file itself: a hostile file that names the
        # same bytes or objects again and again is refused instead of filling memory.
        self.budget = LoadBudget.of(budget, len(container.data))
        # Objects built through references are measured as if every reference were expanded:
        # ``reach`` is the deepest position reached below the node being decoded (its height
        # is ``reach - depth``), ``weight`` the number of nodes decoded so far in it. Each
        # memoised object keeps them in ``heights`` and ``weights``. Hashing and comparing
        # decoded objects visits up to ``weight`` nodes each, so that work is counted in
        # ``work`` and bounded by ``work_limit`` (one node visit per byte of the budget).
        self.heights = _array.array("q")  # 8 bytes per memoised object each, no int objects
        self.weights = _array.array("q")
        self.reach = 0
        self.weight = 0
        self.work = 0
        self.work_limit = self.budget.limit
        self.pickled = None
        self.pickled_arrays = []
        self.pickled_array_cache = {}
        self.pickle_section = ps = container.find(L.SECTION_PICKLE)
        if ps is not None and allow_pickle is not True:
            raise PickleNotAllowedError(_refusal(container))

    def unpickle(self):
        """Unpickles the pickle section (only reached with ``allow_pickle=True``); its
        persistent ids name the arrays stored out of band (17.4)."""
        objs = self.hooks.pickle_loads(bytes(self.c.payload(self.pickle_section)),
                                       self.persistent_load)
        if not isinstance(objs, list):
            raise FormatError("the pickle section does not hold a list")
        self.pickled = objs

    def persistent_load(self, k):
        """The k-th array stored out of band for the pickle section (17.4)."""
        if type(k) is not int or not 0 <= k < len(self.pickled_arrays):
            raise FormatError(f"the pickle section refers to array {k!r}, which the value "
                              f"section does not hold ({len(self.pickled_arrays)} arrays)")
        a = self.pickled_array_cache.get(k)
        if a is None:
            node = self.pickled_arrays[k]
            if not isinstance(node, list) or not node or node[0] != "array":
                raise FormatError("value section: 'pickled_arrays' must hold array nodes")
            a = self.pickled_array_cache[k] = _dec_array(self, node, 1)
        else:
            self.charge(a.nbytes)  # what a consumer copying it would allocate, as a ref
        return a

    def parse_tree(self):
        """The value section's JSON, after charging what parsing it will allocate."""
        s = self.c.find(L.SECTION_VALUE)
        if s is None:
            raise FormatError("value file without a value section")
        self.charge(2 * s.size, "copying the value section's JSON text")
        raw = bytes(self.c.payload(s))
        self.charge(json_cost(raw), "parsing the value section's JSON")
        try:
            tree = json.loads(raw.decode("utf-8"), parse_constant=container._refuse_constant,
                              object_pairs_hook=container._no_duplicates)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise FormatError(f"value section is not valid JSON: {e}") from None
        if not isinstance(tree, dict):
            raise FormatError("value section is not a JSON object")
        return tree

    def decode_root(self):
        tree = self.parse_tree()
        if not {"root", "memo"} <= set(tree) <= {"root", "memo", "pickled_arrays"} or \
                type(tree["memo"]) is not int:
            raise FormatError("value section: expected the keys 'root' and 'memo' (and "
                              "'pickled_arrays')")
        arrays = tree.get("pickled_arrays", [])
        if not isinstance(arrays, list) or arrays and self.pickle_section is None:
            raise FormatError("value section: 'pickled_arrays' must be a list, in a file "
                              "with a pickle section")
        self.pickled_arrays = arrays
        try:
            if self.pickle_section is not None:
                self.unpickle()
            value = self.decode(tree["root"], 0)
        except MLEError:  # FormatError, and "install ..." (UnsupportedModelError, a TypeError)
            raise
        except (TypeError, ValueError, KeyError, IndexError, OverflowError, AttributeError,
                RecursionError) as e:
            raise FormatError(f"value section is malformed: {type(e).__name__}: {e}") from None
        if len(self.memo) != tree["memo"]:
            raise FormatError("value section: the reference count does not match")
        return value

    def decode(self, node, depth):
        """The value of ``node`` at nesting ``depth``; also adds the node to ``reach`` and
        ``weight`` (see ``__init__``)."""
        if depth > MAX_DEPTH:
            raise FormatError(f"value section nests more than {MAX_DEPTH} levels deep")
        t = type(node)
        if node is None or t is str or t is int or t is bool or t is float:
            if t is float and node - node != 0.0:  # inf: JSON has no infinite literal
                raise FormatError("value section: a number too large for a float (it would "
                                  f"load as {node!r}; non-finite floats are stored as "
                                  "[\"float\", ...] nodes); the file is damaged or hostile")
            if depth > self.reach:
                self.reach = depth
            self.weight += 1
            return node
        if t is not list or not node or type(node[0]) is not str:
            raise FormatError(f"value section: unexpected node {str(node)[:80]}")
        tag = node[0]
        if tag == "ref":
            _expect(node, 2, int)
            k = node[1]
            if not 0 <= k < len(self.memo):
                raise FormatError(f"value section: reference {k} to an object not yet read")
            height, weight = self.heights[k], self.weights[k]
            reach = depth + height
            if reach > MAX_DEPTH:
                raise FormatError(
                    f"value section nests more than {MAX_DEPTH} levels deep through references "
                    f"(object {k}, {height} levels deep itself, is referred to at level "
                    f"{depth}); the file is damaged or hostile")
            if reach > self.reach:
                self.reach = reach
            self.weight = min(self.weight + weight, _WEIGHT_CAP)
            obj = self.memo[k]
            if isinstance(obj, np.ndarray):  # what a consumer copying it would allocate
                self.charge(obj.nbytes)
            return obj
        fn = _DECODERS.get(tag)
        if fn is None and not tag.startswith("pd."):
            raise FormatError(f"value section: unknown node type {tag!r}; this file may "
                              "need a newer mle_runtime")
        outer_reach, outer_weight = self.reach, self.weight
        self.reach, self.weight = depth, 0
        if fn is None:
            out = values_pandas.decode(self, node, depth + 1)
        else:
            out = fn(self, node, depth + 1)
        height = self.reach - depth
        weight = min(self.weight + 1, _WEIGHT_CAP)
        if weight > self.work_limit and type(out) in (tuple, frozenset):
            raise FormatError(
                f"value section: a {type(out).__name__} that expands through references to "
                f"{weight} objects (more than {self.work_limit}); hashing or comparing it "
                "would take that long. The file is damaged or hostile; if you trust it, pass "
                "a larger memory_limit= to mle.load")
        if outer_reach > self.reach:
            self.reach = outer_reach
        self.weight = min(outer_weight + weight, _WEIGHT_CAP)
        if tag in MEMO_TAGS or tag.startswith("pd."):
            self.memo.append(out)
            self.heights.append(height)
            self.weights.append(weight)
        return out

    def decode_weighed(self, node, depth):
        """``(value, weight)``: the value of ``node`` and how many nodes it expands to."""
        before = self.weight
        value = self.decode(node, depth)
        return value, self.weight - before

    def decode_hashed(self, node, depth, times=1):
        """The value of ``node``, charging the work of hashing or comparing it ``times``
        times (pandas hashes names, categories and levels)."""
        value, weight = self.decode_weighed(node, depth)
        self.charge_work(times * weight, "hashing what it holds")
        return value

    def leaves(self, n, depth):
        """Counts ``n`` JSON scalars read without :meth:`decode` (fast paths) at ``depth``."""
        if n:
            if depth > self.reach:
                self.reach = depth
            self.weight = min(self.weight + n, _WEIGHT_CAP)

    def charge(self, nbytes, what="decoding the value section"):
        """Counts ``nbytes`` of memory decoding allocates against the budget."""
        self.budget.charge(nbytes, what)

    def charge_work(self, nodes, what):
        """Counts ``nodes`` node visits of hashing or comparing decoded objects."""
        self.work += nodes
        if self.work > self.work_limit:
            raise FormatError(
                f"value section: {what} would visit more than {self.work_limit} objects "
                "(objects that expand through references to many others, hashed as set "
                "elements, dict keys or pandas labels); the file is damaged or hostile. If you "
                "trust it, pass a larger memory_limit= to mle.load")

    def bytes_at(self, off, n):
        if type(off) is not int or type(n) is not int or off < 0 or n < 0 or \
                off + n > len(self.blob):
            raise FormatError("value section: bytes outside the tensor data section")
        return self.blob[off:off + n]

    def array(self, descr, shape, off, order="C"):
        dt = dtype_from_json(descr)
        if not isinstance(shape, list) or len(shape) > 64 or \
                not all(type(n) is int and n >= 0 for n in shape):
            raise FormatError("value section: an array shape must be a list of sizes")
        if order not in ("C", "F"):
            raise FormatError("value section: array order must be 'C' or 'F'")
        count = math.prod(shape)
        if dt.itemsize == 0 and count:
            raise FormatError("value section: array of a zero-size dtype")
        buf = self.bytes_at(off, count * dt.itemsize)
        if count == 0:
            if self.native_byte_order and _byte_order_mismatch(dt):
                dt = dt.newbyteorder("=")
            return np.empty(shape, dtype=dt, order=order)
        flat = np.frombuffer(buf, dtype=dt, count=count)
        _check_text(flat)
        a = flat.reshape(shape[::-1]).T if order == "F" else flat.reshape(shape)
        if self.copy:
            self.charge(a.nbytes)
            if self.native_byte_order and _byte_order_mismatch(dt):
                # joblib's restoration: values kept, the machine's byte order
                out = np.empty(shape, dtype=dt.newbyteorder("="), order=order)
                out[...] = a
                return out
            return a.copy(order="K")
        if self.mmap_mode in ("r", "c") and self.filename is not None:
            m = a.view(np.memmap)
            m.filename = self.filename
            m.offset = self.blob_offset + off
            m.mode = self.mmap_mode
            return m
        return a

    def model(self, k):
        if type(k) is not int or not 0 <= k < len(self.models):
            raise FormatError(f"value section: model {k} does not exist")
        if k in self.model_cache:
            return self.model_cache[k]
        s = self.models[k]
        self.charge(s.size)
        try:
            native = _native.load_view(self.c.payload(s))
        except FormatError as e:
            raise FormatError(f"model section {k} is invalid: {e}") from None
        self.model_cache[k] = model = self.hooks.wrap_model(native, self.n_threads)
        return model

    def tz(self, node):
        if node is None:
            return None
        if not isinstance(node, list) or not node:
            raise FormatError("value section: bad time zone")
        if node[0] == "tz":
            if len(node) not in (4, 5) or not all(type(x) is int for x in node[1:4]):
                raise FormatError("value section: bad fixed-offset time zone")
            off = datetime.timedelta(node[1], node[2], node[3])
            if len(node) == 5:
                if not isinstance(node[4], str):
                    raise FormatError("value section: bad time zone name")
                return datetime.timezone(off, node[4])
            return datetime.timezone(off)
        if node[0] == "zone" and len(node) == 2 and isinstance(node[1], str):
            import zoneinfo

            try:
                return zoneinfo.ZoneInfo(node[1])
            except Exception as e:  # noqa: BLE001 - a key naming a directory raises OSError...
                raise FormatError(f"value section: unknown time zone {node[1][:100]!r} "
                                  f"({type(e).__name__}: {str(e)[:200]}); expected an IANA "
                                  "key such as 'Europe/Paris'") from None
        if node[0] == "pytz" and len(node) == 2 and isinstance(node[1], str):
            try:
                import pytz
            except ImportError:
                raise UnsupportedModelError(
                    f"the value holds a pytz time zone ({node[1]!r}); install pytz to load "
                    "it") from None
            try:
                return pytz.timezone(node[1])
            except Exception as e:  # noqa: BLE001 - UnknownTimeZoneError, OSError, ...
                raise FormatError(f"value section: unknown pytz time zone {node[1][:100]!r} "
                                  f"({type(e).__name__}: {str(e)[:200]}); expected an IANA "
                                  "key such as 'Europe/Paris'") from None
        raise FormatError("value section: bad time zone")


# What parsing JSON allocates, per byte that starts an object (docs/FORMAT.md, section 18):
# measured as peak RSS for CPython's json module with the duplicate-key hook: a small dict
# ~200 bytes, a key ~100 more in a large one (the hook's pairs), a list ~100 (and 24 for the
# decoder's memo of the node it may be), a number up to ~40, a string ~55 plus its text.
_JSON_COST = ((b"{", 240), (b"[", 128), (b":", 112), (b",", 40), (b'"', 28))
_WEIGHT_CAP = 1 << 62  # weights above any limit stay small integers


def json_cost(raw):
    """An upper estimate of the bytes ``json.loads`` allocates for the JSON text ``raw``
    (bytes): per object-starting byte, plus the text (up to 4 bytes a character)."""
    text = len(raw) if raw.isascii() else 4 * len(raw)
    return text + sum(cost * raw.count(byte) for byte, cost in _JSON_COST)


def _expect(node, n, *types):
    if len(node) != n:
        raise FormatError(f"value section: {node[0]!r} node has {len(node)} parts, expected {n}")
    for x, t in zip(node[1:], types):
        if type(x) is not t:
            raise FormatError(f"value section: {node[0]!r} node has a part of the wrong type")


def _items(dec, node, depth):
    dec.charge(64 + 12 * len(node))  # a list growing to len(node) - 1 elements
    return [dec.decode(x, depth) for x in itertools.islice(node, 1, None)]


def _dec_tuple(dec, node, depth):
    items = _items(dec, node, depth)
    dec.charge(40 + 8 * len(items))
    return tuple(items)


_JSON_SCALARS = {str, int, float, bool, type(None)}
_MAX_SAME_HASH = 64
# Bytes per element of a dict (or set) as built here, resizing included; an OrderedDict
# (C implementation) adds its node table.
_PER_KEY = 48
_DICT = 184  # an empty dict grows to this at its first key
_PER_ODICT_KEY = 100


def _check_hashes(dec, keys, weights):
    """Charges the work of hashing ``keys`` (twice: here, then in the set or dict being
    built) and of comparing keys that share a hash value; refuses keys built to share one
    hash value (a set or dict of them would take quadratic time to build)."""
    n = len(keys)
    dec.charge_work(2 * sum(weights), "hashing keys or set elements")
    dec.charge(48 * n)
    try:
        hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=n)
    except TypeError as e:
        raise FormatError(f"value section: unhashable key or set element: {e}") from None
    if n < 2:
        return
    _, where, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    if len(counts) == n:
        return
    worst = int(counts.max())
    if worst > _MAX_SAME_HASH:
        raise FormatError(f"value section: {worst} keys or set elements share one hash "
                          "value; refusing a file built to make loading slow")
    # each key may be compared with every other key of its hash value
    shared = counts[where].tolist()
    extra = sum(w * (c - 1) for w, c in zip(weights, shared) if c > 1)
    dec.charge_work(extra, "comparing keys or set elements that share a hash value")


def _dec_dict(dec, node, depth):
    _expect(node, 2, dict)
    n = len(node[1])
    dec.charge(_DICT + _PER_KEY * n)
    out = {k: dec.decode(v, depth) for k, v in node[1].items()}
    if node[0] == "odict":
        import collections

        dec.charge(_PER_ODICT_KEY * n)
        return collections.OrderedDict(out)
    return out


def _dec_dictk(dec, node, depth):
    _expect(node, 2, list)
    n = len(node[1])
    dec.charge(56 + (8 + 64 + _PER_KEY) * n)  # the pairs, then the dict
    pairs, weights = [], []
    for p in node[1]:
        if not isinstance(p, list) or len(p) != 2:
            raise FormatError("value section: a dict entry must be [key, value]")
        key, weight = dec.decode_weighed(p[0], depth)
        pairs.append((key, dec.decode(p[1], depth)))
        weights.append(weight)
    _check_hashes(dec, [k for k, _ in pairs], weights)
    if node[0] == "odictk":
        dec.charge(_PER_ODICT_KEY * n)
        import collections

        return collections.OrderedDict(pairs)
    return dict(pairs)


def _dec_collection(dec, node, depth):
    import collections

    inner = node[-1]
    # the inner dict node is part of this node (not an object of its own: no memo entry)
    if not isinstance(inner, list) or len(node) != (2 if node[0] == "counter" else 3) or \
            not inner or inner[0] not in ("dict", "dictk"):
        raise FormatError(f"value section: a {node[0]} node must hold a dict node")
    items = (_dec_dict if inner[0] == "dict" else _dec_dictk)(dec, inner, depth)
    dec.charge(_DICT + _PER_KEY * len(items))  # the copy
    if node[0] == "counter":
        return collections.Counter(items)
    factory = node[1]
    if factory is not None and factory not in _FACTORIES:
        raise FormatError(f"value section: unknown defaultdict factory {factory!r}")
    return collections.defaultdict(_FACTORIES.get(factory), items)


def _dec_dtype(dec, node, depth):
    _expect(node, 2)
    if node[1] == "O":
        return np.dtype(object)
    return dtype_from_json(node[1])


def _dec_int(dec, node, depth):
    _expect(node, 2, str)
    s = node[1]
    if not s or len(s) > (1 << 20) or not all(c in "-0123456789abcdef" for c in s):
        raise FormatError("value section: bad integer")
    return int(s, 16)


def _dec_float(dec, node, depth):
    _expect(node, 2, str)
    if node[1] not in ("nan", "inf", "-inf"):
        raise FormatError("value section: bad special float")
    return float(node[1])


def _dec_bytes(dec, node, depth):
    _expect(node, 3, int, int)
    b = dec.bytes_at(node[1], node[2])
    dec.charge(node[2])
    return bytes(b) if node[0] == "bytes" else bytearray(b)


def _dec_complex(dec, node, depth):
    _expect(node, 3)
    re_, im = dec.decode(node[1], depth), dec.decode(node[2], depth)
    if type(re_) is not float or type(im) is not float:
        raise FormatError("value section: bad complex number")
    return complex(re_, im)


def _dec_array(dec, node, depth):
    _expect(node, 5)
    return dec.array(node[1], node[2], node[3], node[4])


def _dec_objarray(dec, node, depth):
    _expect(node, 4, list, str, list)
    shape, order, items = node[1], node[2], node[3]
    if len(shape) > 64 or not all(type(n) is int and n >= 0 for n in shape) or \
            order not in ("C", "F"):
        raise FormatError("value section: bad object array shape")
    if math.prod(shape) != len(items):
        raise FormatError("value section: object array size does not match its shape")
    dec.charge(112 + 8 * len(items))
    flat = np.empty(len(items), dtype=object)
    if not set(map(type, items)) <= _JSON_SCALARS:
        for i, x in enumerate(items):
            flat[i] = dec.decode(x, depth)
    elif items:  # JSON scalars only: each is its own value
        if float in set(map(type, items)):
            for x in items:
                if type(x) is float and x - x != 0.0:
                    dec.decode(x, depth)  # refuses it
        dec.leaves(len(items), depth)
        flat[:] = items
    # F: the transpose of the reversed shape is Fortran-contiguous, as the stored array was
    return flat.reshape(shape[::-1]).T if order == "F" else flat.reshape(shape)


def _dec_scalar(dec, node, depth):
    _expect(node, 3)
    dt = dtype_from_json(node[1])
    buf = dec.bytes_at(node[2], dt.itemsize)
    dec.charge(dt.itemsize)
    if dt.itemsize == 0:  # np.str_(''), np.bytes_(b''), np.void(b''): no bytes to read
        return np.zeros((), dtype=dt)[()]
    flat = np.frombuffer(buf, dtype=dt, count=1)
    _check_text(flat)
    return flat[0].copy()


def _byte_order_mismatch(dt):
    """Whether arrays of ``dt`` are in the other byte order than the machine's, as joblib
    decides it (a non-native dtype, or a structured dtype whose fields all are)."""
    other = ">" if sys.byteorder == "little" else "<"
    return dt.byteorder == other or (
        dt.byteorder == "|" and bool(dt.fields) and
        all(f[0].byteorder == other for f in dt.fields.values()))


def _check_text(flat):
    """Refuses unicode data (a 'U' dtype, or 'U' fields) with code points beyond U+10FFFF:
    numpy would turn them into invalid Python str objects (SystemError on use)."""
    dt = flat.dtype
    if dt.names is not None:
        for name in dt.names:
            _check_text(flat[name])
        return
    if dt.kind != "U" or flat.size == 0 or dt.itemsize == 0:
        return
    codes = np.ascontiguousarray(flat).view(np.dtype("u4").newbyteorder(dt.byteorder))
    if codes.max() > 0x10FFFF:
        raise FormatError("value section: text data holds a code point beyond U+10FFFF")


def _dec_datetime(dec, node, depth):
    tag = node[0]
    try:
        if tag == "datetime":
            _expect(node, 10, int, int, int, int, int, int, int, int)
            return datetime.datetime(*node[1:8], fold=node[8], tzinfo=dec.tz(node[9]))
        if tag == "date":
            _expect(node, 4, int, int, int)
            return datetime.date(*node[1:4])
        if tag == "time":
            _expect(node, 7, int, int, int, int, int)
            return datetime.time(*node[1:5], fold=node[5], tzinfo=dec.tz(node[6]))
        if tag == "timedelta":
            _expect(node, 4, int, int, int)
            return datetime.timedelta(node[1], node[2], node[3])
        _expect(node, 2)
        tz = dec.tz(node[1])
        if tz is None:
            raise FormatError("value section: empty tzinfo node")
        return tz
    except (ValueError, OverflowError) as e:
        raise FormatError(f"value section: bad {tag}: {e}") from None


def _dec_decimal(dec, node, depth):
    import decimal

    _expect(node, 2, str)
    if len(node[1]) > 10000:
        raise FormatError("value section: decimal too long")
    try:
        return decimal.Decimal(node[1])
    except decimal.InvalidOperation:
        raise FormatError("value section: bad decimal") from None


def _dec_range(dec, node, depth):
    _expect(node, 4, int, int, int)
    return range(node[1], node[2], node[3])


def _dec_model(dec, node, depth):
    _expect(node, 2, int)
    out = dec.model(node[1])
    dec.chain_parts.add(id(out))
    return out


def _dec_pickle(dec, node, depth):
    _expect(node, 2, int)
    if dec.pickled is None:
        raise FormatError("value section refers to pickled objects, but the file has no "
                          "pickle section")
    if not 0 <= node[1] < len(dec.pickled):
        raise FormatError("value section: pickled object index out of range")
    out = dec.pickled[node[1]]
    dec.chain_parts.add(id(out))
    return out


MAX_CHAIN_PARTS = 4096
_PART_TAGS = ("model", "pickle", "chain", "ref")


def _dec_chain(dec, node, depth):
    """A Pipeline stored in parts (17.6): ``["chain", [[names, NODE]...]]``."""
    _expect(node, 2, list)
    if dec.hooks.wrap_chain is None:
        raise FormatError("value section: a 'chain' node, which this reader cannot build")
    items = node[1]
    if not 1 <= len(items) <= MAX_CHAIN_PARTS:
        raise FormatError(f"value section: a chain must have 1 to {MAX_CHAIN_PARTS} parts, "
                          f"got {len(items)}")
    dec.charge(64 + 96 * len(items))
    parts, seen = [], set()
    for item in items:
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], list) or \
                not 1 <= len(item[0]) <= MAX_CHAIN_PARTS or \
                not all(type(n) is str and n for n in item[0]):
            raise FormatError("value section: a chain part must be [[step name...], node] "
                              "with non-empty names")
        names = item[0]
        if seen.intersection(names) or len(set(names)) != len(names):
            raise FormatError("value section: a chain names a step twice")
        seen.update(names)
        dec.charge(sum(56 + len(n) for n in names))
        sub = item[1]
        if not isinstance(sub, list) or not sub or sub[0] not in _PART_TAGS:
            raise FormatError("value section: a chain part must be a model, pickle, chain "
                              "or ref node")
        obj = dec.decode(sub, depth)
        if id(obj) not in dec.chain_parts:
            raise FormatError("value section: a chain part refers to an object that is not a "
                              "model, a pickled object or a chain")
        parts.append((list(names), obj))
    out = dec.hooks.wrap_chain(parts)
    dec.chain_parts.add(id(out))
    return out


def _dec_set(dec, node, depth):
    n = len(node) - 1
    dec.charge(56 + (8 + _PER_KEY) * n)  # the elements, then the set
    items, weights = [], []
    for x in node[1:]:
        item, weight = dec.decode_weighed(x, depth)
        items.append(item)
        weights.append(weight)
    _check_hashes(dec, items, weights)
    return set(items) if node[0] == "set" else frozenset(items)


_DECODERS = {
    "list": _items,
    "tuple": _dec_tuple,
    "set": _dec_set, "frozenset": _dec_set,
    "dict": _dec_dict, "odict": _dec_dict,
    "dictk": _dec_dictk, "odictk": _dec_dictk,
    "counter": _dec_collection, "defaultdict": _dec_collection,
    "dtype": _dec_dtype,
    "int": _dec_int, "float": _dec_float,
    "bytes": _dec_bytes, "bytearray": _dec_bytes,
    "complex": _dec_complex,
    "array": _dec_array, "objarray": _dec_objarray, "scalar": _dec_scalar,
    "datetime": _dec_datetime, "date": _dec_datetime, "time": _dec_datetime,
    "timedelta": _dec_datetime, "tzinfo": _dec_datetime,
    "decimal": _dec_decimal, "range": _dec_range,
    "model": _dec_model, "pickle": _dec_pickle, "chain": _dec_chain,
}


def _refusal(container):
    """The message refusing a file with a pickle section (what the metadata says is in it;
    informative only, since the file is untrusted)."""
    what = ""
    try:
        meta = container.json(L.SECTION_META)
        pickled = (meta.get("contents") or {}).get("pickled")
        if isinstance(pickled, list) and pickled:
            names = [f"{p.get('path')} ({p.get('type')})" for p in pickled[:5]
                     if isinstance(p, dict)]
            what = " (it says: " + "; ".join(str(n)[:200] for n in names) + ")"
    except (FormatError, AttributeError):
        pass
    return ("this file holds objects stored with pickle" + what + ". Unpickling can execute "
            "arbitrary code, so mle_runtime does not load pickle sections by default. If you "
            "trust the file's origin, load it with allow_pickle=True; otherwise ask for a "
            "file without pickled objects (mle-inspect FILE lists what was pickled).")


def is_value_file(container):
    return container.find(L.SECTION_VALUE) is not None


def decode(container, *, hooks, mmap_mode=None, n_threads=None, allow_pickle=False,
           filename=None, budget=None, native_byte_order=False):
    """The value held by a parsed value file (checksums already verified). ``hooks``: the
    :class:`Hooks` for models and pickling; ``budget``: the load's
    :class:`~mle_runtime.format.budget.LoadBudget` (None: the default budget for this
    container's size); ``native_byte_order``: arrays copied into memory come back in the
    machine's byte order, as joblib restores them (``ensure_native_byte_order``)."""
    return Decoder(container, hooks, mmap_mode, n_threads, allow_pickle, filename,
                   budget, native_byte_order).decode_root()


def open_file(path, mmap_mode):
    """Bytes of the file at ``path`` for decoding: a read-only map (``mmap_mode`` None or
    'r'), a copy-on-write map ('c'), or the bytes themselves for small files with None."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0 or (mmap_mode is None and size <= 64 * 1024):
            return f.read()
        access = _mmap_module.ACCESS_COPY if mmap_mode == "c" else _mmap_module.ACCESS_READ
        return _mmap_module.mmap(f.fileno(), 0, access=access)
