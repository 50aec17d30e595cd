"""scikit-learn's estimator protocol for loaded models, answered lazily.

A loaded model (and each step of a loaded pipeline) answers what scikit-learn's tools ask of
an estimator: ``__sklearn_tags__``, ``__sklearn_is_fitted__``, ``get_params``/``set_params``,
``__sklearn_clone__``, ``fit`` (refused: the model is read-only), its parameters and fitted
attributes as attributes, ``named_steps``/``steps``/``__getitem__`` for pipelines. The answers
come from the file's estimator record (docs/FORMAT.md, section 19), read on first use; arrays
are read-only views into the loaded file. Nothing here runs at load or predict: scikit-learn
is imported only inside the functions that scikit-learn itself (or ``score`` and ``clone``)
calls, when it is already imported, so loading and predicting import no framework.
"""

import json
import math
import sys
import zlib

import numpy as np

from mle_runtime.errors import FormatError, MissingDependencyError, ReadOnlyModelError, \
    UnsupportedModelError
from mle_runtime.format import layout as L

_MAX_DEPTH = 64  # nesting of values in a record (the writer nests at most 32)
_FLOAT_WORDS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_TENSOR_DTYPES = {code: np.dtype(dt).newbyteorder("<") for code, dt in L.TENSOR_DTYPES.items()}
_REGRESSOR_LIKE = ("regressor", "ranker", "booster")  # FORMAT.md 12: treated as regressors


def read_record(native):
    """The estimator record of a loaded model (a dict), or None when its file has none
    (written before format 1.4, or by a writer that stores none)."""
    sec = native.section(L.SECTION_ESTIMATOR)
    packed = native.section(L.SECTION_ESTIMATOR_ZLIB)
    if sec is not None and packed is not None:
        raise FormatError("the file holds the estimator record twice (sections 10 and 12)")
    if packed is not None:
        sec = _inflate_record(packed)
    if sec is None:
        return None
    if len(sec) > L.MAX_ESTIMATOR_JSON:
        raise FormatError(f"estimator record is {len(sec)} bytes; the cap is "
                          f"{L.MAX_ESTIMATOR_JSON}")
    try:
        rec = json.loads(bytes(sec))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise FormatError(f"estimator record is not valid JSON: {e}") from None
    _check_record(rec, "estimator record")
    return rec


def _inflate_record(packed):
    """The record JSON of a zlib-compressed record section (FORMAT.md 19), never inflated
    beyond the record's cap."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(bytes(packed), L.MAX_ESTIMATOR_JSON + 1)
    except zlib.error as e:
        raise FormatError(f"compressed estimator record is damaged: {e}") from None
    if len(out) > L.MAX_ESTIMATOR_JSON:
        raise FormatError(f"compressed estimator record inflates beyond the cap of "
                          f"{L.MAX_ESTIMATOR_JSON} bytes")
    if not d.eof or d.unused_data:
        raise FormatError("compressed estimator record is truncated or has trailing bytes")
    return out


def _check_record(rec, what):
    if not isinstance(rec, dict) or not isinstance(rec.get("class"), str):
        raise FormatError(f"{what} must be an object with a 'class' string")
    for key in ("params", "attributes"):
        if not isinstance(rec.get(key, {}), dict):
            raise FormatError(f"{what}: '{key}' must be an object")
    for key in ("type", "repr", "score"):
        if not isinstance(rec.get(key, ""), str):
            raise FormatError(f"{what}: '{key}' must be a string")


class Tensors:
    """Tensor references of a record resolved to read-only arrays viewing the loaded file's
    tensor data (the tensor table was validated at load; it is parsed here on first use)."""

    def __init__(self, native):
        self._native = native
        self._graph = None
        self._table = None
        self._data = None
        self._own = None

    def graph(self):
        """The graph section's JSON object (validated at load), parsed once."""
        if self._graph is None:
            self._graph = json.loads(bytes(self._native.section(L.SECTION_GRAPH)))
        return self._graph

    def get(self, ref):
        """The array of ``{"tensor": i}`` (graph tensor i) or ``{"data": [offset, dtype,
        shape]}`` (bytes of the estimator data section, checked here: the native loader only
        checksums that section)."""
        if "data" in ref:
            if self._own is None:
                self._own = self._native.section(L.SECTION_ESTIMATOR_DATA) or b""
            spec = ref["data"]
            if not (isinstance(spec, list) and len(spec) == 3 and type(spec[0]) is int
                    and spec[1] in _TENSOR_DTYPES and isinstance(spec[2], list)
                    and len(spec[2]) <= 32
                    and all(type(n) is int and 0 <= n <= 1 << 40 for n in spec[2])):
                raise FormatError(f"estimator record: bad array reference {str(spec)[:80]}")
            offset, code, shape = spec
            source, what = self._own, "the estimator data section"
        else:
            if self._table is None:
                self._table = self.graph().get("tensors", [])
                self._data = self._native.section(L.SECTION_DATA) or b""
            i = ref.get("tensor")
            if type(i) is not int or not 0 <= i < len(self._table):
                raise FormatError(f"estimator record: tensor {i!r} is not in the tensor table "
                                  f"(it has {len(self._table)} tensors)")
            offset, code, shape = self._table[i]  # validated at load
            source, what = self._data, f"tensor {i}"
        dtype = _TENSOR_DTYPES[code]
        count = math.prod(shape)
        if offset < 0 or offset % dtype.itemsize or \
                offset + count * dtype.itemsize > len(source):
            raise FormatError(f"estimator record: an array of {count} {code} values at "
                              f"offset {offset} does not lie inside {what}")
        if count:
            arr = np.frombuffer(source, dtype=dtype, count=count, offset=offset)
        else:
            arr = np.empty(0, dtype=dtype)
            arr.setflags(write=False)
        i = what
        view = ref.get("dtype")
        if view is not None:
            if view != "bool" or dtype != np.uint8 or np.any(arr > 1):
                raise FormatError(f"estimator record: {i} cannot be read as {view!r}")
            arr = arr.view(np.bool_)
        new = ref.get("shape", shape)
        if not isinstance(new, list) or not all(type(n) is int and n >= 0 for n in new) or \
                math.prod(new) != count:
            raise FormatError(f"estimator record: shape {new!r} does not fit {i} "
                              f"({count} values)")
        return arr.reshape(new)


class UnstoredValue:
    """A parameter value that the file describes but does not store (it was not a plain
    value: a callable, a random generator, ...); its repr is the original value's."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def decode(v, tensors, estimator, depth=0):
    """A record value as Python: JSON scalars and lists as they are, tagged objects as
    floats, tuples, dicts, arrays (tensors: read-only views of the file), nested estimators
    (``estimator(record)``) and undescribed values (:class:`UnstoredValue`)."""
    if depth > _MAX_DEPTH:
        raise FormatError("estimator record: values are nested too deeply")
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, list):
        return [decode(x, tensors, estimator, depth + 1) for x in v]
    if isinstance(v, dict):
        if "tensor" in v or "data" in v:
            return tensors.get(v)
        if "float" in v and v["float"] in _FLOAT_WORDS:
            return _FLOAT_WORDS[v["float"]]
        if isinstance(v.get("tuple"), list):
            return tuple(decode(x, tensors, estimator, depth + 1) for x in v["tuple"])
        if isinstance(v.get("dict"), list):
            out = {}
            for pair in v["dict"]:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise FormatError("estimator record: a dict entry must be [key, value]")
                key = decode(pair[0], tensors, estimator, depth + 1)
                try:
                    out[key] = decode(pair[1], tensors, estimator, depth + 1)
                except TypeError:
                    raise FormatError("estimator record: a dict key is not hashable") from None
            return out
        if "array" in v:
            return _array(v["array"], tensors, estimator, depth)
        if "estimator" in v:
            _check_record(v["estimator"], "estimator record: a nested estimator")
            return estimator(v["estimator"])
        if isinstance(v.get("repr"), str):
            return UnstoredValue(v["repr"])
    raise FormatError(f"estimator record: unknown value {str(v)[:80]}")


def _array(spec, tensors, estimator, depth):
    if not (isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str)
            and isinstance(spec[1], list) and isinstance(spec[2], list)):
        raise FormatError("estimator record: an array must be [dtype, values, shape]")
    code, values, shape = spec
    values = [decode(x, tensors, estimator, depth + 1) for x in values]
    if not all(type(n) is int and n >= 0 for n in shape) or math.prod(shape) != len(values):
        raise FormatError(f"estimator record: array shape {shape!r} does not fit its "
                          f"{len(values)} values")
    if code == "object":
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr.reshape(shape)
    try:
        dt = np.dtype(code)
    except TypeError:
        raise FormatError(f"estimator record: unknown array dtype {code!r}") from None
    try:
        if dt.kind in "US":  # the width follows the values (never more than they need)
            arr = np.array(values, dtype=dt.kind).reshape(shape)
        elif dt.kind in "biuf" and dt.itemsize <= 16:
            arr = np.array(values, dtype=dt).reshape(shape)
        else:
            arr = None
    except (TypeError, ValueError, OverflowError):
        arr = None
    if arr is not None:
        arr.flags.writeable = False  # read-only, as the arrays viewing the file are
        return arr
    raise FormatError(f"estimator record: values do not fit array dtype {code!r}")


class Steps(dict):
    """``named_steps`` of a loaded pipeline: a dict of its steps that also offers them as
    attributes (``model.named_steps.scaler``), as scikit-learn's ``Bunch`` does."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self):
        return list(self.keys())


class EstimatorProtocol:
    """What loaded models and their steps share: scikit-learn's estimator protocol answered
    from the estimator record. Subclasses provide ``_record()`` (the record dict, or None),
    ``_tensors()`` (a :class:`Tensors`), ``_describe()`` (the name used in messages) and
    ``_fitted()``."""

    # -- the record -----------------------------------------------------------------------
    def _decode(self, value):
        tensors = self._tensors()
        return decode(value, tensors, lambda rec: StoredEstimator(rec, tensors))

    def _stored(self, key):
        rec = self._record()
        return {} if rec is None else rec.get(key, {})

    def _missing(self, name):
        rec = self._record()
        if rec is None:
            return AttributeError(
                f"'{self._describe()}' has no attribute '{name}': this file stores no "
                "estimator record (fitted attributes and parameters), so only classes_, "
                "n_features_in_, feature_names_in_ and the prediction methods are available. "
                "It was written before format 1.4; dump the original model again with this "
                "mle_runtime to store them.")
        attrs = sorted(rec.get("attributes", {}))
        params = sorted(rec.get("params", {}))
        return AttributeError(
            f"'{self._describe()}' has no attribute '{name}'. Stored fitted attributes: "
            f"{', '.join(attrs) if attrs else 'none'}; parameters: "
            f"{', '.join(params) if params else 'none'}.")

    def __getattr__(self, name):
        # Only names not found on the class or instance arrive here.
        if name.startswith("__") or name.startswith("_"):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        attrs = self._stored("attributes")
        if name in attrs:
            return self._decode(attrs[name])
        params = self._stored("params")
        if name in params:  # scikit-learn estimators hold their parameters as attributes
            return self._decode(params[name])
        raise self._missing(name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._stored("attributes"))
                      | set(self._stored("params")))

    # -- parameters -----------------------------------------------------------------------
    def get_params(self, deep=True):
        """The estimator's parameters as they were when it was stored (``get_params`` of the
        original estimator, its nested estimators as stored estimators)."""
        rec = self._record()
        if rec is None or "params" not in rec:
            raise AttributeError(f"'{self._describe()}' stores no parameters (the file has "
                                 "no estimator record, or the model has no get_params)")
        out = {k: self._decode(v) for k, v in rec["params"].items()}
        if deep:
            for key, value in list(out.items()):
                if isinstance(value, StoredEstimator) and "params" in value._rec:
                    out.update((f"{key}__{k}", v) for k, v in value.get_params().items())
            for name, step in self._named_steps().items():
                out[name] = step
                if isinstance(step, StoredEstimator) and "params" in step._rec:
                    out.update((f"{name}__{k}", v) for k, v in step.get_params().items())
        return out

    def set_params(self, **params):
        """Refused for a changed value (the model is read-only); accepts the stored values."""
        current = self.get_params(deep=True)
        for key, value in params.items():
            if key not in current:
                raise ValueError(f"Invalid parameter {key!r} for estimator "
                                 f"{self._describe()}. Valid parameters are: "
                                 f"{sorted(current)!r}.")
            if not _same(current[key], value):
                raise ReadOnlyModelError(
                    f"set_params({key}={value!r}): a model loaded by mle_runtime is read-only "
                    f"(its stored value is {current[key]!r}). Use sklearn.base.clone(model) "
                    "for an unfitted estimator with the same parameters, change that and fit "
                    "it.")
        return self

    # -- the rest of the protocol ---------------------------------------------------------
    def fit(self, *args, **kwargs):
        """Refused: a loaded model is read-only."""
        raise ReadOnlyModelError(
            f"{self._describe()} was loaded by mle_runtime and is read-only: fit cannot "
            "change it. To train a new estimator with the same parameters use "
            "sklearn.base.clone(model).fit(X, y) (an unfitted scikit-learn estimator); to get "
            "the fitted scikit-learn object itself, keep the original (or its joblib file).")

    def __sklearn_is_fitted__(self):
        return self._fitted()

    def __sklearn_tags__(self):
        return self._tags()

    def _tags(self, allow_nan=False):
        # scikit-learn calls this, so it is already imported
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags, \
            TransformerTags

        kind = self._kind()
        tags = Tags(estimator_type=None, target_tags=TargetTags(required=False))
        if kind == "classifier":
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
            tags.target_tags.required = True
        elif kind in _REGRESSOR_LIKE:
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
            tags.target_tags.required = True
        elif kind == "transformer":
            tags.transformer_tags = TransformerTags()
        elif kind is not None:
            tags.estimator_type = kind
        tags.input_tags.allow_nan = bool(allow_nan)
        return tags

    def __sklearn_clone__(self):
        _refuse_refitting(self._describe())
        rec = self._record()
        if rec is None or "params" not in rec:
            raise UnsupportedModelError(
                f"cannot clone {self._describe()}: its file stores no parameters (no "
                "estimator record, or a model without get_params)")
        return _unfitted(rec, self._tensors())

    # -- pipelines ------------------------------------------------------------------------
    def _named_steps(self):
        steps = self._stored("params").get("steps")
        if not isinstance(steps, list):
            return {}
        out = {}
        for entry in self._decode(steps):
            if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str):
                out[entry[0]] = entry[1]
        return out

    def _require_steps(self, what):
        if not isinstance(self._stored("params").get("steps"), list):
            raise AttributeError(f"'{self._describe()}' has no attribute '{what}' (it is not "
                                 "a pipeline)")

    @property
    def named_steps(self):
        """The pipeline's steps by name (each step a stored estimator)."""
        self._require_steps("named_steps")
        return Steps(self._named_steps())

    def __getitem__(self, ind):
        if not isinstance(self._stored("params").get("steps"), list):
            raise TypeError(f"'{self._describe()}' object is not subscriptable (it is not a "
                            "pipeline)")
        steps = list(self._named_steps().items())
        if isinstance(ind, slice):
            raise TypeError(
                "a loaded pipeline cannot be sliced: its steps run only as the whole "
                "pipeline's graph. Index single steps (model[0], model['scaler']) for their "
                "attributes and parameters.")
        if isinstance(ind, str):
            return dict(steps)[ind]
        return steps[ind][1]

    def __len__(self):
        if not isinstance(self._stored("params").get("steps"), list):
            raise TypeError(f"object of type '{self._describe()}' has no len()")
        return len(self._stored("params")["steps"])

    def __bool__(self):
        return True


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and \
            np.array_equal(a, b)
    if isinstance(a, StoredEstimator) or isinstance(b, StoredEstimator):
        return a is b
    try:
        return type(a) is type(b) and bool(a == b) or (
            isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    except Exception:  # values whose comparison is not a bool
        return False


class StoredEstimator(EstimatorProtocol):
    """An estimator inside a loaded model (a pipeline step, a nested or sub-estimator): its
    class, parameters and fitted attributes as stored. Its computation runs only as part of
    the loaded model, so it has no prediction methods of its own."""

    __slots__ = ("_rec", "_tensor_source")

    def __init__(self, rec, tensors):
        self._rec = rec
        self._tensor_source = tensors

    def _record(self):
        return self._rec

    def _tensors(self):
        return self._tensor_source

    def _describe(self):
        return self._rec["class"].rpartition(".")[2]

    def _fitted(self):
        return bool(self._rec.get("attributes"))

    def _kind(self):
        return self._rec.get("type")

    @property
    def _estimator_type(self):
        kind = self._kind()
        return None if kind == "transformer" else kind

    def __getattr__(self, name):
        if name in _PREDICTING:
            raise AttributeError(
                f"'{self._describe()}' is part of a model loaded by mle_runtime and has no "
                f"'{name}' of its own: its computation runs only in the loaded model's graph "
                "(call the loaded model's methods). Its fitted attributes and parameters are "
                "available.")
        return EstimatorProtocol.__getattr__(self, name)

    def __repr__(self):
        return self._rec.get("repr") or f"{self._describe()}(...)"

    def __reduce__(self):
        raise TypeError(f"a step of a loaded model ({self._describe()}) cannot be pickled on "
                        "its own; pickle the loaded model")


_PREDICTING = ("predict", "predict_proba", "predict_log_proba", "decision_function",
               "transform", "score_samples", "score", "fit_transform", "fit_predict",
               "inverse_transform", "predict_joint_log_proba", "mahalanobis")


def _resolve_class(path):
    """The class named ``module.QualName`` by a record, for clone. Only a module of a
    package the process has already imported is imported, and only a class with the
    estimator interface (get_params, set_params, fit) is returned: a file never makes
    mle_runtime import or call anything else."""
    import importlib

    module, _, qualname = path.rpartition(".")
    top = module.split(".")[0]
    if not module or top not in sys.modules:
        raise UnsupportedModelError(
            f"clone needs the class {path}; import {top or path} first (mle_runtime imports no "
            "package that a file names)")
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise UnsupportedModelError(f"clone needs the class {path}, which is not available "
                                    f"here ({e})") from None
    if not isinstance(obj, type) or not all(
            callable(getattr(obj, m, None)) for m in ("get_params", "set_params", "fit")):
        raise UnsupportedModelError(f"clone: {path} is not an estimator class")
    return obj


def _unfitted(rec, tensors):
    """A new, unfitted estimator of the record's class with its stored parameters."""
    cls = _resolve_class(rec["class"])
    name = rec["class"].rpartition(".")[2]

    def build(nested):
        if "params" not in nested:
            raise UnsupportedModelError(f"cannot clone {name}: a nested estimator "
                                        f"({nested['class']}) has no stored parameters")
        return _unfitted(nested, tensors)

    params = {}
    for key, value in rec.get("params", {}).items():
        v = _copied(decode(value, tensors, build))
        if _holds_unstored(v):
            raise UnsupportedModelError(
                f"cannot clone {name}: its parameter {key!r} ({v!r}) was not stored (it is "
                "not a plain value), so the estimator cannot be recreated from the file")
        params[key] = v
    return cls(**params)


def _copied(v):
    if isinstance(v, np.ndarray):
        return np.array(v)
    if isinstance(v, list):
        return [_copied(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_copied(x) for x in v)
    if isinstance(v, dict):
        return {k: _copied(x) for k, x in v.items()}
    return v


def _holds_unstored(v):
    if isinstance(v, UnstoredValue):
        return True
    if isinstance(v, (list, tuple)):
        return any(_holds_unstored(x) for x in v)
    if isinstance(v, dict):
        return any(_holds_unstored(x) for x in v.values())
    return False


def _refuse_refitting(name):
    """Refuses a clone made by scikit-learn's model selection (cross_val_predict,
    cross_validate, the searches, ...): it would train new estimators on the folds and report
    their results as if they were this model's. An explicit ``clone(model)`` is allowed."""
    frame = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            return
        module = frame.f_globals.get("__name__", "")
        if module == "sklearn.base" or module == __name__:
            frame = frame.f_back
            continue
        if module.startswith("sklearn.model_selection"):
            code = frame.f_code  # a generator expression is named by its function
            caller = getattr(code, "co_qualname", code.co_name).split(".<locals>")[0]
            raise ReadOnlyModelError(
                f"{caller} refits clones of the estimator on folds of the data; "
                f"{name} was loaded by mle_runtime and is read-only, so the results would "
                "describe newly trained estimators, not this model. Pass "
                "sklearn.base.clone(model) (an unfitted estimator with the same parameters) "
                "to cross-validate its configuration, or use model.predict(X) for this "
                "model's predictions.")
        return


def score(model, X, y, sample_weight=None):
    """scikit-learn's default ``score``: accuracy for classifiers, R² for regressors, as
    ``ClassifierMixin.score`` and ``RegressorMixin.score`` compute them."""
    metric = model._score_metric()
    try:
        # score is scikit-learn's metric: imported on this call only, never by load/predict
        from sklearn.metrics import accuracy_score, r2_score
    except ImportError:
        raise MissingDependencyError("score needs scikit-learn's metrics: pip install "
                                     "scikit-learn") from None
    y_pred = model.predict(X)
    if metric == "accuracy":
        return accuracy_score(y, y_pred, sample_weight=sample_weight)
    return r2_score(y, y_pred, sample_weight=sample_weight)
