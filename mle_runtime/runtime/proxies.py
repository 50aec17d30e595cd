"""Estimator proxies: what ``mle.load`` returns.

A proxy offers exactly the methods the source estimator had (``predict``, ``predict_proba``,
``predict_log_proba``, ``decision_function``, ``transform``, ``score_samples``); asking for any
other raises ``AttributeError`` as scikit-learn does, so ``hasattr`` checks keep working. Each
call adapts the input (see :mod:`mle_runtime.runtime.inputs`) and makes one native call that
runs the whole graph with the GIL released.
"""

import copy

import numpy as np

from mle_runtime import _native
from mle_runtime.errors import FormatError
from mle_runtime.format.reader import read_metadata
from mle_runtime.runtime.inputs import as_matrix, check_integer_input, integer_dtype
from mle_runtime.runtime.plan import resolve_n_threads

_DOCS = {
    "predict": "Predicted labels (classifiers) or values (regressors) for X.",
    "predict_proba": "Class probabilities for X, columns ordered as ``classes_``.",
    "predict_log_proba": "Logarithm of the class probabilities for X.",
    "decision_function": "Confidence scores for X (shape (n,) for binary problems).",
    "transform": "X transformed by the fitted transformer or pipeline.",
    "score_samples": "Per-sample scores for X.",
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


# A string dtype may be wider than its longest label (numpy keeps the width of the array the
# labels came from, e.g. np.genfromtxt(dtype="U20")), by at most this many characters.
_PAD_CHARS = 64


def _label_chars(spec):
    """The longest label (in characters, as numpy stores it) of a metadata 'classes'
    description, or of a list of them; 0 when there are none to measure."""
    specs = spec if isinstance(spec, list) else [spec]
    values = [v for s in specs if isinstance(s, dict) and isinstance(s.get("values"), list)
              for v in s["values"] if isinstance(v, (str, int, float, bool))]
    return max((len(str(v)) for v in values), default=0)


def _decode_classes(spec, widest=None):
    """classes_ from its metadata description (untrusted: anything unexpected is a
    FormatError). ``widest``: the longest label of all the model's classes descriptions
    (multi-output classifiers share one string width); None measures ``spec`` alone."""
    try:
        dtype = spec["dtype"]
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise ValueError("'values' must be a non-empty list")
        if not all(isinstance(v, (str, int, float, bool)) for v in values):
            raise ValueError("'values' must hold strings, numbers or booleans")
        if not isinstance(dtype, str):
            raise ValueError("'dtype' must be a string")
        if dtype == "object":
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
        else:
            dt = np.dtype(dtype)
            if dt.kind not in "biufU":
                raise ValueError(f"unsupported dtype {dtype!r}")
            if dt.kind == "U":
                # Every predicted label is one element of this dtype: its width must come from
                # the labels the file holds, not from the dtype string alone (docs/FORMAT.md 18).
                longest = _label_chars(spec) if widest is None else widest
                limit = max(longest, _PAD_CHARS)
                if dt.itemsize // 4 > limit:
                    raise ValueError(
                        f"dtype {dtype!r} holds {dt.itemsize // 4} characters per label, but "
                        f"the longest label has {longest}; at most {limit} are accepted")
            arr = np.array(values, dtype=dt)
        if arr.shape != (len(values),):
            raise ValueError("'values' must be a flat list")
        return arr
    except (KeyError, TypeError, ValueError, OverflowError, SyntaxError) as e:
        raise FormatError(f"metadata 'classes' is malformed: {e}") from None


def _labels(classes, indices):
    """classes[indices], with a damaged file's out-of-range or non-integer indices refused."""
    if indices.dtype.kind != "i" or indices.ndim != 1:
        raise FormatError(
            f"the graph's predict output is {indices.dtype} of shape {indices.shape}; a "
            "classifier's predict must give one class index per row")
    try:
        return classes.take(indices)
    except IndexError:
        raise FormatError(
            f"the graph predicts class indices outside the {len(classes)} classes_ in the "
            "metadata") from None


def _multi_labels(classes, indices):
    """Multi-output predict: column k maps through classes[k]; the array takes classes[0]'s
    dtype, as scikit-learn's forests and trees build it."""
    if indices.ndim != 2 or indices.shape[1] != len(classes) or indices.dtype.kind != "i":
        raise FormatError("the graph's multi-output predict has the wrong shape or dtype")
    out = np.empty(indices.shape, dtype=classes[0].dtype)
    for k, c in enumerate(classes):
        out[:, k] = _labels(c, np.ascontiguousarray(indices[:, k]))
    return out


def _split_bounds(sizes, total):
    """Column ranges of a method returning a list of blocks (metadata 'output_splits')."""
    if not isinstance(sizes, list) or not all(isinstance(n, int) and n > 0 for n in sizes) or \
            sum(sizes) != total:
        raise FormatError("metadata 'output_splits' does not match the graph output's columns")
    ends = np.cumsum(sizes).tolist()
    return list(zip([0] + ends[:-1], ends))


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


_OUTPUT_DTYPES = ("float32", "float64", "int32", "int64")


def _with_dtype(method, dtype):
    """Wraps a bound method so that its array is returned as ``dtype``. The graph's values are
    exact in that dtype (float32 sums and links), so the cast only changes the storage."""

    def wrapped(X, *, n_threads=None):
        return method(X, n_threads=n_threads).astype(dtype, copy=False)

    return wrapped


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
    metadata's "keyword_outputs" names for that value (e.g. ``predict(X, raw_score=True)``,
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
            if value is None or (value is False and all(v is True for v, _ in choices)):
                continue
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


class MLEModel:
    """A loaded .mle model with scikit-learn's prediction interface.

    Use :func:`mle_runtime.load` to create one. The model is immutable and thread-safe.
    """

    predict = _Output()
    predict_proba = _Output()
    predict_log_proba = _Output()
    decision_function = _Output()
    transform = _Output()
    score_samples = _Output()

    def __init__(self, native, n_threads=None):
        self._native = native
        self._outputs = native.outputs
        self._n_threads = n_threads
        self._threads = resolve_n_threads(n_threads)
        self._meta = None
        self._classes = None

    # -- metadata, read on first use -------------------------------------------------------
    @property
    def metadata(self):
        """The file's metadata (a dict; a deep copy, so edits do not affect the model)."""
        return copy.deepcopy(self._metadata())

    def _metadata(self):
        if self._meta is None:
            self._meta = read_metadata(self._native)
        return self._meta

    def _summary(self):
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
        return self._metadata().get("estimator_type")

    @property
    def classes_(self):
        """Class labels, as the original estimator's ``classes_`` (classifiers only)."""
        if self._classes is None:
            spec = self._metadata().get("classes")
            if spec is None:
                raise AttributeError(f"'{self._summary()}' has no attribute 'classes_'")
            # Multi-output classifiers have one classes_ array per output, in a list.
            multi = isinstance(spec, list)
            widest = _label_chars(spec)
            classes = [_decode_classes(c, widest) for c in (spec if multi else [spec])]
            for c in classes:  # predict maps class indices through these very arrays
                c.setflags(write=False)
            self._classes = classes if multi else classes[0]
        return self._classes

    @property
    def n_features_in_(self):
        """Number of input features."""
        return int(self._native.n_features)

    @property
    def feature_names_in_(self):
        """Column names seen at fit time (only when the model was fitted on a DataFrame)."""
        names = self._feature_names()
        if names is None:
            raise AttributeError(f"'{self._summary()}' has no attribute 'feature_names_in_'")
        return np.array(names, dtype=object)

    def _feature_names(self):
        names = self._metadata().get("feature_names_in")
        if names is not None and (not isinstance(names, list) or
                                  not all(isinstance(n, str) for n in names)):
            raise FormatError("metadata 'feature_names_in' must be a list of strings")
        return names

    def _pandas_categories(self):
        """(metadata "pandas_categories" {column name: training categories or None} or None,
        metadata "pandas_unseen": "error" to refuse unseen categories, or None)."""
        spec = self._metadata().get("pandas_categories")
        if spec is None:
            return None, None
        unseen = self._metadata().get("pandas_unseen")
        if unseen not in (None, "error"):
            raise FormatError("metadata 'pandas_unseen' must be \"error\" or absent")
        ok = isinstance(spec, dict) and all(
            v is None or (isinstance(v, list) and
                          all(isinstance(c, (str, int, float, bool)) for c in v))
            for v in spec.values())
        if not ok:
            raise FormatError("metadata 'pandas_categories' must map column names to lists of "
                              "categories or null")
        return spec, unseen

    def _keyword_outputs(self, method):
        """{keyword: [(value, output name), ...]} of metadata "keyword_outputs" for a method."""
        spec = self._metadata().get("keyword_outputs")
        if spec is None:
            return {}
        table = {}
        if not isinstance(spec, list):
            raise FormatError("metadata 'keyword_outputs' must be a list")
        for entry in spec:
            if not (isinstance(entry, list) and len(entry) == 4 and
                    isinstance(entry[0], str) and isinstance(entry[1], str) and
                    isinstance(entry[2], (str, int, float, bool)) and
                    isinstance(entry[3], str)):
                raise FormatError("metadata 'keyword_outputs' entries must be "
                                  "[method, keyword, value, output]")
            if entry[3] not in self._outputs:
                raise FormatError(f"metadata 'keyword_outputs' names output {entry[3]!r}, "
                                  "which the graph does not have")
            if entry[0] == method:
                table.setdefault(entry[1], []).append((entry[2], entry[3]))
        return table

    def _output_dtype(self, output):
        """The dtype metadata "output_dtypes" gives an output (the source framework returns
        float32 or int32 arrays where the graph computes in float64/int64), or None."""
        spec = self._metadata().get("output_dtypes")
        if spec is None:
            return None
        if not isinstance(spec, dict) or not all(
                isinstance(v, str) and v in _OUTPUT_DTYPES for v in spec.values()):
            raise FormatError(f"metadata 'output_dtypes' must map outputs to one of "
                              f"{sorted(_OUTPUT_DTYPES)}")
        dt = spec.get(output)
        return None if dt is None else np.dtype(dt)

    def _column_output(self, output):
        """Whether metadata "column_outputs" lists this output: the framework returns it as a
        column of shape (n, 1) (CatBoost's multiclass labels)."""
        spec = self._metadata().get("column_outputs")
        if spec is None:
            return False
        if not isinstance(spec, list) or not all(isinstance(v, str) for v in spec):
            raise FormatError("metadata 'column_outputs' must be a list of output names")
        return output in spec

    def _integer_rule(self):
        """(keep, fill_dtypes) from the metadata's "integer_input", or None when absent."""
        spec = self._metadata().get("integer_input")
        if spec is None:
            return None
        try:
            keep = spec.get("keep", False)
            fills = [np.dtype(n) for n in spec.get("fill_dtypes", [])]
            if not isinstance(keep, bool) or any(d.kind not in "biuf" for d in fills):
                raise ValueError("unexpected values")
        except (AttributeError, TypeError, ValueError, SyntaxError) as e:
            raise FormatError(f"metadata 'integer_input' is malformed: {e}") from None
        return keep, fills

    # -- prediction ------------------------------------------------------------------------
    def _method_for_output(self, output):
        """The plain callable of a graph output (a method name or another output's name)."""
        cache = self.__dict__.setdefault("_by_output", {})
        fn = cache.get(output)
        if fn is None:
            fn = cache[output] = self._bind(output, self._outputs[output], keywords=False)
        return fn

    def _bind(self, name, idx, keywords=True):
        run = self._native.run
        model = self
        labels = name == "predict" and self._metadata().get("estimator_type") == "classifier"
        if labels:
            if self._metadata().get("classes") is None:
                raise FormatError("the metadata says the model is a classifier but has no "
                                  "'classes'; the file is damaged")
            classes = self.classes_
            if isinstance(classes, list):
                if self._native.ravel[idx] or self._native.output_cols(idx) != len(classes):
                    raise FormatError("a multi-output classifier's predict output must have one "
                                      "column per output")

                def method(X, *, n_threads=None):
                    t = model._threads if n_threads is None else resolve_n_threads(n_threads)
                    return _multi_labels(classes, run(as_matrix(X, model), idx, t))
            else:
                if not self._native.ravel[idx] or self._native.output_cols(idx) != 1:
                    raise FormatError("a classifier's predict output must be one column")

                def method(X, *, n_threads=None):
                    t = model._threads if n_threads is None else resolve_n_threads(n_threads)
                    return _labels(classes, run(as_matrix(X, model), idx, t))
        elif name in (self._metadata().get("output_splits") or {}):
            bounds = _split_bounds(self._metadata()["output_splits"][name],
                                   self._native.output_cols(idx))

            def method(X, *, n_threads=None):
                t = model._threads if n_threads is None else resolve_n_threads(n_threads)
                out = run(as_matrix(X, model), idx, t)
                return [out[:, a:b] for a, b in bounds]
        else:

            def method(X, *, n_threads=None):
                t = model._threads if n_threads is None else resolve_n_threads(n_threads)
                return run(as_matrix(X, model), idx, t)

        cast = self._output_dtype(name)
        if cast is not None:
            method = _with_dtype(method, cast)
        if self._column_output(name):
            method = _as_column(method)
        rule = self._integer_rule()
        if rule is not None:
            method = _with_integer_rule(method, name == "transform" and rule[0], rule[1], model)
        keywords = self._keyword_outputs(name) if keywords else None
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
        # api imports this module: a module-level import of api would be a cycle
        from mle_runtime.api import model_info

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
        try:
            meta = self._metadata()
            return (f"<mle_runtime model {self._summary()} ({meta.get('estimator_type')}, "
                    f"{self.n_features_in_} features)>")
        except FormatError:
            return f"<mle_runtime model {self._native.name} (unreadable metadata)>"


def _unpickle(data, n_threads=None):
    """Rebuilds a pickled :class:`MLEModel` from its .mle bytes, validating every byte as
    :func:`mle_runtime.load` does (a damaged or hostile payload raises ``FormatError``)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        data = memoryview(data)
    return MLEModel(_native.load_buffer(data), n_threads)
