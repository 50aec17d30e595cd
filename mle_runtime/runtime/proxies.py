"""Estimator proxies: what ``mle.load`` returns.

A proxy offers exactly the methods the source estimator had (``predict``, ``predict_proba``,
``predict_log_proba``, ``decision_function``, ``transform``, ``score_samples``,
``predict_joint_log_proba``, ``mahalanobis``); asking for any
other raises ``AttributeError`` as scikit-learn does, so ``hasattr`` checks keep working. Each
call adapts the input (see :mod:`mle_runtime.runtime.inputs`) and makes one native call that
runs the whole graph with the GIL released. scikit-learn's estimator protocol (tags,
parameters, fitted attributes, clone, ``score``, pipelines' steps) comes from
:mod:`mle_runtime.runtime.protocol`, read from the file only when it is asked for.
"""

import copy
import json

import numpy as np

from mle_runtime import _native
from mle_runtime.errors import FormatError, MissingDependencyError, ReadOnlyModelError
from mle_runtime.format.reader import read_metadata
from mle_runtime.runtime.info import model_info
from mle_runtime.runtime.inputs import (Encoding, FrameColumns, LabelInputs, as_numeric_matrix,
                                        check_integer_input, integer_dtype)
from mle_runtime.runtime.inputs import as_matrix as _as_matrix
from mle_runtime.runtime.nn import nn_method
from mle_runtime.runtime.plan import resolve_n_threads
from mle_runtime.runtime.protocol import EstimatorProtocol, Tensors, read_record, score

_DOCS = {
    "predict": "Predicted labels (classifiers) or values (regressors) for X.",
    "predict_proba": "Class probabilities for X, columns ordered as ``classes_``.",
    "predict_log_proba": "Logarithm of the class probabilities for X.",
    "decision_function": "Confidence scores for X (shape (n,) for binary problems).",
    "transform": "X transformed by the fitted transformer or pipeline.",
    "score_samples": "Per-sample scores for X.",
    "predict_joint_log_proba": "Joint log-probabilities log P(x, y) for X (naive Bayes).",
    "inverse_transform": "X (in the transformed space) mapped back to the input space.",
    "mahalanobis": "Squared Mahalanobis distances of X to the fitted location.",
    "kneighbors": "Distances to and indices of the fitted n_neighbors nearest training rows.",
}

_METHOD_TEMPLATE = """{summary}

Parameters
----------
X : array-like or pandas.DataFrame of shape (n_samples, n_features)
    Input rows. float32 input stays float32 where scikit-learn keeps it so.
n_threads : int, optional
    Threads for this call; defaults to the value given to ``mle.load``.

Returns
-------
numpy.ndarray
"""


def _label_array(dtype, values):
    """A label set of the rules as the array ``classes_`` holds (read-only: predict maps class
    indices through this very array)."""
    if dtype == "object":
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
    else:
        arr = np.array(values, dtype=np.dtype(dtype))
    arr.setflags(write=False)
    return arr


class _Rules:
    """A model's prediction rules (docs/FORMAT.md, section 9.4), read once from the canonical
    JSON the native loader wrote from the rules it validated: nothing here needs checking."""

    def __init__(self, text):
        r = json.loads(text)
        self.estimator_type = r.get("estimator_type")
        self.labels = [_label_array(dtype, values) for dtype, values in r.get("labels", ())]
        self.outputs = r.get("outputs", {})  # output name -> {labels, splits, dtype, column}
        self.keywords = {}  # method -> {keyword: [(value, output name), ...]}
        for method, keyword, value, output in r.get("keywords", ()):
            self.keywords.setdefault(method, {}).setdefault(keyword, []).append((value, output))
        inputs = r.get("inputs", {})
        self.feature_names = inputs.get("feature_names")
        self.frame = FrameColumns(self.feature_names)  # DataFrame columns in the model's order
        integer = inputs.get("integer")
        self.integer = None if integer is None else (
            integer["keep"], [np.dtype(d) for d in integer["fill_dtypes"]])
        self.categories = inputs.get("categories")
        self.unseen = inputs.get("unseen")
        self.vector = inputs.get("vector", False)
        # String columns and encoders' unknown-category checks: adapted by inputs.Encoding.
        self.encoding = None
        if any(k in inputs for k in ("strings", "unknown", "nan", "unread")):
            self.encoding = Encoding(inputs.get("strings"), inputs.get("unknown"),
                                     self.feature_names, inputs.get("nan"),
                                     inputs.get("unread"))
        self.shape = inputs.get("shape")  # neural networks: X is (n, *shape)
        # Labels, label sets and dicts as input, new missing values: inputs.LabelInputs.
        self.label_inputs = LabelInputs.of(inputs, self.labels)
        # [columns, marker, [[method, output], ...]]: a batch whose entries in these columns
        # are all missing runs the paired output instead (IterativeImputer).
        self.all_missing = inputs.get("all_missing")
        text = inputs.get("text")  # documents, tokenised into ids (runtime/text.py)
        if text is None:
            self.text = None
        else:
            # only text models need the tokeniser (re, unicodedata): kept off the cold start
            from mle_runtime.runtime.text import TextInput

            self.text = TextInput(text)

    def classes(self):
        """classes_: the label set(s) predict maps through, or None."""
        k = self.outputs.get("predict", {}).get("labels")
        if k is None:  # label transformers: the labels inverse_transform or the input maps
            k = self.outputs.get("inverse_transform", {}).get("labels")
            if k is None and self.label_inputs is not None:
                return self.label_inputs.classes
        if k is None:
            return None
        return [self.labels[i] for i in k] if isinstance(k, list) else self.labels[k]


def _split_bounds(sizes):
    """Column ranges of a method returning a list of blocks (an output's "splits")."""
    ends = np.cumsum(sizes).tolist()
    return list(zip([0] + ends[:-1], ends))


# A sparse output is computed in blocks of rows whose dense (values, indices) stay near this
# many entries; every block has at least 1025 rows, so that a brute-force search sees a batch
# larger than 1024 rows, and larger than its stored rows, exactly when the call has one
# (docs/FORMAT.md 11, KNearest).
_SPARSE_BLOCK_ENTRIES = 1 << 25


def _sparse_method(run, idx, threads, as_matrix, model, bounds, blocks, sparse, name):
    """The method of an output with the option "sparse" (docs/FORMAT.md 9.4): a scipy.sparse
    CSR matrix with, row by row, the entries of the indices block that are not -1 (in their
    order) at those columns, valued by the values block (or 1), built as scikit-learn's
    kneighbors_graph builds it. scipy is imported on the first call, never at load."""
    n_columns, ones = int(sparse[0]), sparse[1] == "ones"
    width = 2 * (bounds[0].stop - bounds[0].start)
    step = max(1025, _SPARSE_BLOCK_ENTRIES // max(1, width))

    def method(X, *, n_threads=None):
        try:
            from scipy.sparse import csr_array, csr_matrix
        except ImportError:
            raise MissingDependencyError(
                f"{name} returns a scipy.sparse CSR matrix, as the original estimator does, "
                "but scipy is not installed; install scipy (pip install scipy) to call "
                "it") from None
        t = threads if n_threads is None else resolve_n_threads(n_threads)
        x = as_matrix(X, model)
        n = x.shape[0]
        data, ind, counts = [], [], []
        # n // step blocks of about equal size: each has at least `step` rows
        ends = np.linspace(0, n, max(1, n // step) + 1).astype(np.int64)
        for a, b in zip(ends[:-1], ends[1:]):
            out = run(x[a:b] if len(ends) > 2 else x, idx, t)
            values, indices = (out[:, s].astype(d) for s, d in zip(bounds, blocks))
            if indices.size and (indices.min() < -1 or indices.max() >= n_columns):
                raise FormatError(f"{name}: the graph gave a column index outside [-1, "
                                  f"{n_columns}) for its sparse output; the file is damaged")
            keep = indices >= 0
            ind.append(indices[keep])
            data.append(np.ones(ind[-1].size) if ones else values[keep])
            counts.append(keep.sum(axis=1, dtype=np.int64))
        indptr = np.concatenate([np.zeros(1, dtype=np.int64)] + counts).cumsum()
        return csr_matrix(csr_array((np.concatenate(data), np.concatenate(ind), indptr),
                                    shape=(n, n_columns)))

    return method


def _all_missing_run(run, idx, name, rule, model):
    """The input rule "all_missing" (docs/FORMAT.md 9.7): ``run`` computing the paired output
    instead of ``idx`` when every entry of the rule's columns in the batch is missing."""
    cols, marker, pairs = rule
    alt = dict(pairs).get(name)
    if alt is None:
        return run
    cols = np.asarray(cols, dtype=np.intp)
    alt_idx = model._outputs[alt]

    def switched(X, i, t):
        if i == idx:
            part = X[:, cols]
            if (np.isnan(part) if marker is None else part == part.dtype.type(marker)).all():
                i = alt_idx
        return run(X, i, t)
    return switched


def _with_integer_rule(method, keep, fill_dtypes, model):
    """Wraps a bound method with scikit-learn's SimpleImputer rules for integer input: refused
    where the imputer refuses it, and (``keep``) returned as the caller's integer dtype when
    the model is made only of imputers that keep integers."""

    def wrapped(X, *, n_threads=None):
        dt = integer_dtype(X)
        if dt is None:
            return method(X, n_threads=n_threads)
        check_integer_input(dt, fill_dtypes, model._summary())
        out = method(X, n_threads=n_threads)
        return out.astype(dt) if keep else out

    return wrapped


def _with_dtype(method, dtype):
    """Wraps a bound method so that its array is returned as ``dtype``. The graph's values are
    exact in that dtype (float32 sums and links), so the cast only changes the storage."""

    def wrapped(X, *, n_threads=None):
        return method(X, n_threads=n_threads).astype(dtype, copy=False)

    return wrapped


def _with_container(method, model, columns, stored):
    """Wraps transform so that it returns a DataFrame with the stored column names when the
    model's output container (``set_output``, stored or set on the loaded model) says so."""
    names = list(columns)

    def wrapped(X, *, n_threads=None):
        out = method(X, n_threads=n_threads)
        container = model.__dict__.get("_output_container", stored)
        if container == "pandas":
            import pandas as pd  # only when a DataFrame is asked for

            return pd.DataFrame(out, index=getattr(X, "index", None) if _is_frame(X) else None,
                                columns=names, copy=False)
        if container == "polars":
            import polars as pl  # only when a polars DataFrame is asked for

            return pl.DataFrame(out, schema=names, orient="row")
        return out

    return wrapped


def _is_frame(X):
    return type(X).__name__ == "DataFrame" and hasattr(X, "columns")


def _as_column(method):
    """Wraps a bound method so that its 1-D result is returned as a column (n, 1)."""

    def wrapped(X, *, n_threads=None):
        return method(X, n_threads=n_threads).reshape(-1, 1)

    return wrapped


def _same_value(a, b):
    """Keyword value equality that keeps True apart from 1 and "1"."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) \
        else a == b


def _with_keywords(method, name, keywords, model):
    """Wraps a bound method so that ``method(X, keyword=value)`` runs the graph output the
    graph's keyword records name for that value (e.g. ``predict(X, raw_score=True)``,
    ``predict(X, prediction_type="RawFormulaVal")``). A bool keyword at False, or any keyword
    at None, is the plain method."""

    def wrapped(X, *, n_threads=None, **kwargs):
        target = None
        for key, value in kwargs.items():
            choices = keywords.get(key)
            if choices is None:
                raise TypeError(
                    f"{name}() got an unexpected keyword argument {key!r}; {model._summary()} "
                    f"proxies accept: n_threads, {', '.join(sorted(keywords))}")
            if value is None or (value is False and all(v is True or out == name
                                                         for v, out in choices)):
                continue  # the plain method: asks for nothing
            hit = next((out for v, out in choices if _same_value(v, value)), None)
            if hit is None:
                raise ValueError(
                    f"{name}({key}={value!r}) is not supported for {model._summary()}; "
                    f"accepted values: {', '.join(repr(v) for v, _ in choices)}")
            if target is not None and hit != target:
                raise ValueError(f"{name}(): keywords {sorted(kwargs)} ask for different "
                                 "outputs; pass one of them")
            target = hit
        if target is None or target == name:
            return method(X, n_threads=n_threads)
        return model._method_for_output(target)(X, n_threads=n_threads)

    return wrapped


class _Output:
    """A proxy method backed by one graph output; absent outputs raise AttributeError."""

    def __init__(self):
        self.name = None

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        idx = obj._outputs.get(self.name)
        if idx is None:
            raise AttributeError(
                f"'{obj._summary()}' has no attribute '{self.name}' (the original estimator "
                f"does not provide it)"
            )
        method = obj._bind(self.name, idx)
        obj.__dict__[self.name] = method  # later lookups skip this descriptor
        return method


_NO_RECORD = object()


class _FitMethod:
    """``fit_predict`` / ``fit_transform`` of a model that predicts nothing (its record lists
    them in "fit_methods", docs/FORMAT.md 19.1): present as on the original estimator, and
    refused, since fitting would change a read-only model. Elsewhere absent."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        rec = obj._record()
        if rec is None or self.name not in (rec.get("fit_methods") or ()):
            raise AttributeError(f"'{obj._summary()}' has no attribute '{self.name}'")

        def refused(*args, **kwargs):
            raise ReadOnlyModelError(
                f"{obj._summary()}.{self.name}: a model loaded by mle_runtime is read-only and "
                f"{self.name} would fit it again. Its results from fitting are its stored "
                "attributes (labels_, embedding_, ...); to fit a new estimator use "
                f"sklearn.base.clone(model).{self.name}(X).")

        refused.__name__ = self.name
        return refused


class _Score:
    """``score(X, y, sample_weight=None)``: scikit-learn's default metric of the estimator
    type (accuracy, R²), present only where the original estimator had one."""

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        if obj._score_metric() is None:
            raise AttributeError(f"'{obj._summary()}' has no attribute 'score' (the original "
                                 "estimator does not provide it)")

        def score_(X, y, sample_weight=None):
            return score(obj, X, y, sample_weight=sample_weight)

        score_.__name__ = "score"
        score_.__qualname__ = "MLEModel.score"
        score_.__doc__ = ("Accuracy (classifiers) or R² (regressors) of ``predict(X)`` "
                          "against ``y``, as scikit-learn's ``score`` computes it.")
        return score_


class _Run:
    """``run([X])``: every output of a neural network, in the graph's order (``predict``
    first), present only on neural-network models."""

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        if obj._rules().shape is None:
            raise AttributeError(f"'{obj._summary()}' has no attribute 'run'")

        def run(inputs, *, n_threads=None):
            X = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
            if isinstance(inputs, (list, tuple)) and len(inputs) != 1:
                raise ValueError(f"run() takes one input, got {len(inputs)}")
            return [obj._method_for_output(name)(X, n_threads=n_threads)
                    for name in obj._outputs]

        run.__name__ = "run"
        run.__qualname__ = "MLEModel.run"
        return run


class MLEModel(EstimatorProtocol):
    """A loaded .mle model with scikit-learn's prediction interface and estimator protocol.

    Use :func:`mle_runtime.load` to create one. The model is immutable and thread-safe.
    """

    predict = _Output()
    predict_proba = _Output()
    predict_log_proba = _Output()
    decision_function = _Output()
    transform = _Output()
    score_samples = _Output()
    predict_joint_log_proba = _Output()
    inverse_transform = _Output()
    mahalanobis = _Output()
    kneighbors = _Output()  # (distances, indices) of the fitted n_neighbors (block_dtypes)
    fit_predict = _FitMethod()
    fit_transform = _FitMethod()
    score = _Score()
    run = _Run()

    def __init__(self, native, n_threads=None):
        self._native = native
        self._outputs = native.outputs
        self._n_threads = n_threads
        self._threads = resolve_n_threads(n_threads)
        self._meta = None
        self._rules_ = None
        self._summary_ = None

    # -- metadata and rules, read on first use ---------------------------------------------
    @property
    def metadata(self):
        """The file's metadata (a dict; a deep copy, so edits do not affect the model)."""
        return copy.deepcopy(self._metadata())

    def _metadata(self):
        if self._meta is None:
            self._meta = read_metadata(self._native)
        return self._meta

    def _rules(self):
        if self._rules_ is None:
            self._rules_ = _Rules(self._native.rules_json())
        return self._rules_

    def _summary(self):
        """The model's name in messages (read once: it is part of every input check)."""
        if self._summary_ is None:
            self._summary_ = self._read_summary()
        return self._summary_

    def _read_summary(self):
        try:
            meta = self._metadata()
        except FormatError:
            return self._native.name
        summary = meta.get("summary")
        if isinstance(summary, str) and summary:
            return summary
        cls = meta.get("model_class")
        if isinstance(cls, str) and cls:
            return cls.split(".")[-1]
        return self._native.name

    @property
    def _estimator_type(self):
        return self._rules().estimator_type

    # -- the estimator protocol (runtime/protocol.py), read on first use ------------------
    def _record(self):
        rec = self.__dict__.get("_record_", _NO_RECORD)
        if rec is _NO_RECORD:
            rec = self.__dict__["_record_"] = read_record(self._native)
        return rec

    def _tensors(self):
        t = self.__dict__.get("_tensors_")
        if t is None:
            t = self.__dict__["_tensors_"] = Tensors(self._native)
        return t

    def _describe(self):
        return self._summary()

    def _fitted(self):
        return True

    def _kind(self):
        return self._rules().estimator_type

    def __sklearn_tags__(self):
        return self._tags(allow_nan=self._tensors().graph().get("allow_nan", False))

    def _score_metric(self):
        if "predict" not in self._outputs:
            return None
        rec = self._record()
        if rec is not None:
            return rec.get("score")
        kind = self._kind()  # a file without a record: the estimator type's default
        return "accuracy" if kind == "classifier" else "r2" if kind == "regressor" else None

    def __getattr__(self, name):
        if name in _OUTPUT_NAMES:  # a prediction method the graph does not have
            raise AttributeError(f"'{self._summary()}' has no attribute '{name}' (the "
                                 "original estimator does not provide it)")
        return EstimatorProtocol.__getattr__(self, name)

    @property
    def classes_(self):
        """Class labels, as the original estimator's ``classes_`` (classifiers only; a list
        of arrays for multi-output classifiers)."""
        classes = self._rules().classes()
        if classes is None:
            raise AttributeError(f"'{self._summary()}' has no attribute 'classes_'")
        return classes

    @property
    def n_features_in_(self):
        """Number of input features (a text model takes documents: it has none, as
        scikit-learn's vectorizers have none)."""
        rules = self._rules()
        if rules.text is not None:
            raise AttributeError(f"'{self._summary()}' has no attribute 'n_features_in_' (it "
                                 "takes documents)")
        if rules.label_inputs is not None and rules.label_inputs.hashed:
            raise AttributeError(f"'{self._summary()}' has no attribute 'n_features_in_' (it "
                                 "takes samples of named features, hashed)")
        return int(self._native.n_features)

    @property
    def feature_names_in_(self):
        """Column names seen at fit time (only when the model was fitted on a DataFrame)."""
        names = self._feature_names()
        if names is None:
            raise AttributeError(f"'{self._summary()}' has no attribute 'feature_names_in_'")
        return np.array(names, dtype=object)

    def _feature_names(self):
        return self._rules().feature_names

    def _pandas_categories(self):
        """(the input rule "categories" {column name: training categories or None} or None,
        the input rule "unseen": "error" to refuse unseen categories, or None)."""
        rules = self._rules()
        return rules.categories, rules.unseen

    # -- output column names and containers (set_output) -----------------------------------
    def _transform_columns(self):
        names = self._rules().outputs.get("transform", {}).get("columns")
        if names is None:
            raise AttributeError(f"'{self._summary()}' has no attribute "
                                 "'get_feature_names_out' (the original estimator's output "
                                 "names were not stored)")
        return names

    @property
    def get_feature_names_out(self):
        """get_feature_names_out(input_features=None): the names of transform's columns, as
        scikit-learn computed them for the fitted input names."""
        names = self._transform_columns()
        fitted = self._feature_names()

        def get_feature_names_out(input_features=None):
            if input_features is not None:
                given = [str(f) for f in input_features]
                expected = fitted if fitted is not None else \
                    [f"x{i}" for i in range(self.n_features_in_)]
                if given != list(expected):
                    raise ValueError(
                        "input_features is not equal to feature_names_in_: the stored output "
                        f"names were computed for {list(expected)}")
            return np.asarray(names, dtype=object)

        return get_feature_names_out

    @property
    def set_output(self):
        """set_output(*, transform=None): "pandas" or "polars" make transform return a
        DataFrame with the stored column names, "default" arrays (None: unchanged).
        Returns the model; the setting is this loaded object's."""
        self._transform_columns()

        def set_output(*, transform=None):
            if transform is not None:
                if transform not in ("default", "pandas", "polars"):
                    raise ValueError(f"output config must be in ['default', 'pandas', "
                                     f"'polars'], got {transform!r}")
                self.__dict__["_output_container"] = transform
            return self

        return set_output

    # -- prediction ------------------------------------------------------------------------
    def _method_for_output(self, output):
        """The plain callable of a graph output (a method name or another output's name)."""
        cache = self.__dict__.setdefault("_by_output", {})
        fn = cache.get(output)
        if fn is None:
            fn = cache[output] = self._bind(output, self._outputs[output], keywords=False)
        return fn

    def _bind(self, name, idx, keywords=True):
        """The method of graph output ``name``, built from its rules in one fixed order:
        labels or splits, dtype, column, the integer input rule, keyword aliases."""
        run = self._native.run
        model = self
        threads = self._threads  # fixed at load; read once (attribute reads on the proxy go
        # through its __getattr__ hook, which CPython does not specialise)
        rules = self._rules()
        opts = dict(rules.outputs.get(name, {}))
        as_matrix = _as_matrix if rules.encoding is None else rules.encoding.as_matrix
        reads_y = opts.pop("input", None) == "Y"  # the inverse's input (FORMAT.md 9.8)
        if reads_y:
            as_matrix = as_numeric_matrix
        elif rules.label_inputs is not None:  # labels, label sets, dicts (FORMAT.md 9.7)
            as_matrix = rules.label_inputs.adapter(as_matrix)
        if rules.text is not None:  # documents: tokenised and run in chunks of ids
            run = rules.text.runner(run, self._summary())

            def as_matrix(X, model):
                return X
        if rules.all_missing is not None and keywords:
            run = _all_missing_run(run, idx, name, rules.all_missing, model)
        labels = opts.get("labels")
        if rules.shape is not None:  # a neural network (runtime/nn.py)
            method = nn_method(run, idx, rules.shape, opts.get("shape"), threads,
                               self._summary(), resolve_n_threads)
            opts = {}
        elif isinstance(labels, list):  # multi-output classifier: column k through set k
            sets = [rules.labels[k] for k in labels]

            def method(X, *, n_threads=None):
                t = threads if n_threads is None else resolve_n_threads(n_threads)
                indices = run(as_matrix(X, model), idx, t)
                out = np.empty(indices.shape, dtype=sets[0].dtype)
                for k, c in enumerate(sets):
                    out[:, k] = c.take(indices[:, k])
                return out
        elif labels is not None:
            classes = rules.labels[labels]

            def method(X, *, n_threads=None):
                t = threads if n_threads is None else resolve_n_threads(n_threads)
                return classes.take(run(as_matrix(X, model), idx, t))
        elif "splits" in opts:  # never with labels or column (refused at load)
            bounds = _split_bounds(opts["splits"])
            cast = np.dtype(opts.pop("dtype")) if "dtype" in opts else None
            blocks = [np.dtype(d) for d in opts.pop("block_dtypes", ())]
            flat = opts.pop("flat_blocks", None)
            sparse = opts.pop("sparse", None)
            if flat:  # flagged blocks (one column each) come back as shape (n,)
                bounds = [a if f else slice(a, b) for (a, b), f in zip(bounds, flat)]
            else:
                bounds = [slice(a, b) for a, b in bounds]

            if sparse is not None:  # (values, indices) as a CSR matrix (FORMAT.md 9.4)
                method = _sparse_method(run, idx, threads, as_matrix, model, bounds, blocks,
                                        sparse, name)
            elif blocks:  # a tuple of blocks, each in its dtype (never with "dtype")
                def method(X, *, n_threads=None):
                    t = threads if n_threads is None else resolve_n_threads(n_threads)
                    out = run(as_matrix(X, model), idx, t)
                    return tuple(out[:, s].astype(d) for s, d in zip(bounds, blocks))

            else:
                def method(X, *, n_threads=None):
                    t = threads if n_threads is None else resolve_n_threads(n_threads)
                    out = run(as_matrix(X, model), idx, t)
                    if cast is not None:
                        out = out.astype(cast, copy=False)
                    return [out[:, s] for s in bounds]
        else:

            def method(X, *, n_threads=None):
                t = threads if n_threads is None else resolve_n_threads(n_threads)
                return run(as_matrix(X, model), idx, t)

        if "dtype" in opts:
            method = _with_dtype(method, np.dtype(opts["dtype"]))
        if "columns" in opts:
            method = _with_container(method, model, opts["columns"], opts.get("container"))
        if opts.get("column"):
            method = _as_column(method)
        if reads_y and rules.label_inputs is not None:  # label tuples, dicts (FORMAT.md 9.7)
            method = rules.label_inputs.inverse(method)
        elif rules.label_inputs is not None and keywords:  # y's type of target (9.7)
            method = rules.label_inputs.checked_output(method, name, model)
        if rules.integer is not None and not reads_y:
            keep, fills = rules.integer
            method = _with_integer_rule(method, name == "transform" and keep, fills, model)
        keywords = rules.keywords.get(name) if keywords else None
        if keywords:
            method = _with_keywords(method, name, keywords, model)
        method.__name__ = name
        method.__qualname__ = f"MLEModel.{name}"
        method.__doc__ = _METHOD_TEMPLATE.format(summary=_DOCS.get(name, name))
        return method

    def get_model_info(self):
        """The model's description, as :func:`mle_runtime.inspect_model` gives it for its file:
        versions, framework, model class, creation time, content hash, model version, lineage,
        user metadata, quantisation, and the loaded graph's features and outputs."""
        return model_info(self)

    # -- pickling: the .mle bytes travel, never code ---------------------------------------
    def __reduce_ex__(self, protocol):
        """Pickles the model as its .mle file bytes (for joblib.Parallel, multiprocessing,
        Dask or Ray workers). Unpickling validates them exactly as :func:`mle_runtime.load`
        does; with protocol 5 the bytes can travel out of band."""
        import pickle

        data = self._native.file_bytes()
        if protocol >= 5:
            data = pickle.PickleBuffer(data)
        return (_unpickle, (data, self._n_threads))

    def __copy__(self):
        return self  # immutable

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        """scikit-learn's repr of the original estimator (from the estimator record), or,
        for a file without one, a summary of the model."""
        try:
            rec = self._record()
            if rec is not None and isinstance(rec.get("repr"), str):
                return rec["repr"]
        except FormatError:
            pass
        try:
            self._metadata()
            return (f"<mle_runtime model {self._summary()} ({self._estimator_type}, "
                    f"{int(self._native.n_features)} features)>")
        except FormatError:
            return f"<mle_runtime model {self._native.name} (unreadable metadata)>"


_OUTPUT_NAMES = frozenset(n for n, v in vars(MLEModel).items() if isinstance(v, _Output))


def _unpickle(data, n_threads=None):
    """Rebuilds a pickled :class:`MLEModel` from its .mle bytes, validating every byte as
    :func:`mle_runtime.load` does (a damaged or hostile payload raises ``FormatError``)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        data = memoryview(data)
    return MLEModel(_native.load_buffer(data), n_threads)
