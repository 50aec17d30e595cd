"""What every framework's exporter shares: the class check (with its refusal of subclasses),
the metadata header, the :class:`Head` an estimator exports to with the one function that
turns it into graph outputs and prediction rules, and the estimator record (class,
parameters, fitted attributes) collected from each framework's table of attribute names.
Imports no framework.
"""

import math
from dataclasses import dataclass

import numpy as np

from mle_runtime import _version
from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.classes import label_set
from mle_runtime.format.layout import TENSOR_DTYPES

_STORABLE = frozenset(TENSOR_DTYPES.values())
# Record arrays of at most this many bytes that no graph tensor holds are written inline as
# JSON ({"array": ...}, FORMAT.md 19.2) rather than into the record's data section.
_INLINE_BYTES = 64


def top_package(cls):
    """The top-level package a class is defined in ("sklearn" for sklearn.linear_model...)."""
    return (cls.__module__ or "").split(".")[0]


def check_class(obj, framework, classes, label=None):
    """Refuses ``obj`` unless its class is one of ``classes`` (names) defined by the package
    ``framework``; returns the class name.

    A subclass of a supported class is refused too, naming its base: its methods may differ
    from the base class's, so exporting the base's rules could silently change predictions.
    ``label``: how messages name the framework (default ``framework``).
    """
    cls = type(obj)
    label = label or framework
    if top_package(cls) == framework and cls.__name__ in classes:
        return cls.__name__
    base = next((c for c in cls.__mro__[1:]
                 if top_package(c) == framework and c.__name__ in classes), None)
    if base is not None:
        raise UnsupportedModelError(
            f"{cls.__module__}.{cls.__qualname__} subclasses {label}'s {base.__name__}; its "
            "methods may differ from the base class, so it is not exported. Export a plain "
            f"{base.__name__} instead.")
    from mle_runtime.exporters import FRAMEWORKS  # the registry imports this module first

    if top_package(cls) not in FRAMEWORKS:  # a class of the user's own, on the framework's
        raise UnsupportedModelError(
            f"{cls.__module__}.{cls.__qualname__} is not a {label} class (it only derives "
            f"from {label}'s base classes); mle_runtime stores natively only the classes it "
            "knows.")
    raise UnsupportedModelError(
        f"{label} class {cls.__name__} is not supported yet. Supported: "
        f"{', '.join(sorted(classes))}.")


def header(framework, framework_version, model_class, **keys):
    """The metadata every exported model starts with (descriptive only: provenance and
    versions), followed by ``keys``."""
    meta = {
        "mle_runtime_version": _version.__version__,
        "framework": framework,
        "framework_version": framework_version,
        "model_class": f"{framework}.{model_class}",
    }
    meta.update(keys)
    return meta


@dataclass
class Head:
    """What exporting an estimator produces: its graph outputs and prediction rules (see
    :meth:`mle_runtime.ir.graph.Graph.output`), applied to the graph by :func:`apply_head`."""

    outputs: dict  # method name -> (value name, ravel)
    estimator_type: str  # "classifier", "regressor", "transformer", ...
    classes: object = None  # classes_ for classifiers (a list of arrays for multi-output)
    splits: dict = None  # method -> column counts: the method returns a list of column blocks
    keywords: list = None  # [method, keyword, value, output] aliases
    dtypes: dict = None  # method -> the dtype it returns ("float32", "int32", ...)
    columns: tuple = ()  # methods returning their one column as shape (n, 1)
    meta: dict = None  # further descriptive metadata keys (e.g. "objective")
    block_dtypes: dict = None  # method -> one dtype per block of its splits (a tuple)
    flat_blocks: dict = None  # method -> per block of its splits: returned as shape (n,)
    sparse: dict = None  # method -> (n_columns, "values" | "ones"): a CSR matrix of its blocks


def apply_head(graph, head):
    """Declares ``head``'s outputs and prediction rules on ``graph``: the estimator type, the
    class labels (predict of a classifier returns labels, not class indices), output dtypes,
    shapes and splits, and keyword aliases."""
    graph.estimator_type = head.estimator_type
    labels = None
    if head.classes is not None and head.estimator_type == "classifier":
        labels = ([label_set(graph, c) for c in head.classes] if isinstance(head.classes, list)
                  else label_set(graph, head.classes))
    dtypes, splits = head.dtypes or {}, head.splits or {}
    for name, (value, ravel) in head.outputs.items():
        graph.output(name, value, ravel, dtype=dtypes.get(name), column=name in head.columns,
                     labels=labels if name == "predict" else None, splits=splits.get(name),
                     block_dtypes=(head.block_dtypes or {}).get(name),
                     flat_blocks=(head.flat_blocks or {}).get(name),
                     sparse=(head.sparse or {}).get(name))
    for entry in head.keywords or ():
        graph.keyword(*entry)


# -- the estimator record (docs/FORMAT.md, section 19) ---------------------------------------
# What a loaded model answers beyond its predictions: the estimator's class, its parameters
# and its fitted attributes. Descriptive only: the writer stores it in its own optional
# section, outside the content hash; nothing in it changes what the model predicts.

_DEFAULT_METRICS = {"classifier": "accuracy", "regressor": "r2"}
_MAX_DEPTH = 32  # nesting of estimators and containers in one record


def estimator_kind(obj):
    """The estimator type of ``obj`` as scikit-learn's protocol reports it (its tags, or an
    older ``_estimator_type``), ``"transformer"`` for a transformer without one, or None."""
    tags_of = getattr(obj, "__sklearn_tags__", None)
    if callable(tags_of):
        try:
            tags = tags_of()
        except Exception:  # an estimator whose tags need state it does not have
            tags = None
        if tags is not None:
            kind = getattr(tags, "estimator_type", None)
            if kind is None and getattr(tags, "transformer_tags", None) is not None:
                kind = "transformer"
            return kind
    kind = getattr(obj, "_estimator_type", None)
    return kind if isinstance(kind, str) else None


def estimator_record(obj, graph, attributes_of, skip=()):
    """The estimator record of ``obj``: a JSON-ready dict whose arrays refer to a tensor of
    ``graph`` holding exactly their bytes, or else to ``graph.estimator_arrays`` (which the
    writer stores beside the record).

    Parameters
    ----------
    obj : object
        The fitted model being exported.
    graph : mle_runtime.ir.graph.Graph
        Its graph; tensors are appended to it.
    attributes_of : callable
        ``attributes_of(estimator) -> names``: the fitted attributes to store for an
        estimator (its framework's table); attributes an estimator lacks are left out.
    skip : iterable of str
        Attribute names of ``obj`` itself not to store (those the graph already answers).
    """
    return _Recorder(graph, attributes_of).record(obj, frozenset(skip), 0)


class _Recorder:
    def __init__(self, graph, attributes_of):
        self.graph = graph
        self.attributes_of = attributes_of

    def record(self, obj, skip, depth):
        cls = type(obj)
        rec = {"class": f"{cls.__module__}.{cls.__qualname__}"}
        kind = estimator_kind(obj)
        if kind is not None:
            rec["type"] = kind
        get_params = getattr(obj, "get_params", None)
        if callable(get_params):
            try:
                params = get_params(deep=False)
            except Exception:  # a model without scikit-learn's parameter protocol
                params = None
            if isinstance(params, dict):
                rec["params"] = {str(k): self.value(v, depth + 1) for k, v in params.items()}
                try:
                    rec["repr"] = repr(obj)
                except Exception:  # repr of an estimator whose parameters are inconsistent
                    pass
        attrs = {}
        for name in self.attributes_of(obj):
            if name in skip:
                continue
            try:
                value = getattr(obj, name)
            except Exception:  # not fitted, or not computed for this model (e.g. no early
                continue       # stopping: no best_iteration)
            attrs[name] = self.value(value, depth + 1)
        if attrs:
            rec["attributes"] = attrs
        metric = _DEFAULT_METRICS.get(kind) if callable(getattr(obj, "score", None)) else None
        if metric is not None:
            rec["score"] = metric
        return rec

    def value(self, v, depth):
        if depth > _MAX_DEPTH:
            return {"repr": _short_repr(v)}
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, np.bool_):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            f = float(v)
            return f if math.isfinite(f) else {"float": repr(f)}
        if isinstance(v, np.ndarray):
            return self.array(v, depth)
        if isinstance(v, tuple):
            return {"tuple": [self.value(x, depth + 1) for x in v]}
        if isinstance(v, list):
            return [self.value(x, depth + 1) for x in v]
        if isinstance(v, dict):
            return {"dict": [[self.value(k, depth + 1), self.value(x, depth + 1)]
                             for k, x in v.items()]}
        if not isinstance(v, type) and callable(getattr(v, "get_params", None)):
            return {"estimator": self.record(v, frozenset(), depth + 1)}
        return {"repr": _short_repr(v)}

    def array(self, a, depth):
        dt = a.dtype
        if dt.kind in "fiu" and dt.newbyteorder("<") in _STORABLE:
            return self.tensor(a, dt.newbyteorder("<"))
        if dt.kind == "b":
            return self.tensor(a.astype(np.uint8), np.dtype("u1"), view="bool")
        if dt.kind in "fiuUS":
            values = [self.value(x, depth + 1) for x in a.ravel().tolist()]
            return {"array": [dt.newbyteorder("<").str if dt.kind in "fiu" else dt.str,
                              values, list(a.shape)]}
        if dt.kind == "O":
            return {"array": ["object", [self.value(x, depth + 1) for x in a.ravel()],
                              list(a.shape)]}
        return {"repr": _short_repr(a)}

    def tensor(self, a, dtype, view=None):
        """A graph tensor holding exactly these bytes (``{"tensor": i}``, with the array's
        shape when it differs), else a new array of the record (``{"data": j}``)."""
        arr = np.ascontiguousarray(a, dtype=dtype)
        raw = arr.tobytes()
        idx = next((i for i, t in enumerate(self.graph.tensors)
                    if t.dtype == arr.dtype and t.size == arr.size and t.tobytes() == raw), None)
        if idx is not None:
            out = {"tensor": idx}
            if self.graph.tensors[idx].shape != arr.shape:
                out["shape"] = list(arr.shape)
        elif arr.nbytes <= _INLINE_BYTES and (arr.dtype.kind != "f" or np.all(np.isfinite(arr))):
            # a few numbers cost less as JSON than as a section entry with its alignment
            src = arr.astype(bool) if view == "bool" else arr
            return {"array": [src.dtype.str, src.ravel().tolist(), list(src.shape)]}
        else:
            self.graph.estimator_arrays.append(arr)
            out = {"data": len(self.graph.estimator_arrays) - 1}
        if view is not None:
            out["dtype"] = view
        return out


def _short_repr(v):
    try:
        text = repr(v)
    except Exception:  # an object whose repr fails still gets described by its type
        text = f"<{type(v).__module__}.{type(v).__qualname__}>"
    return text if len(text) <= 200 else text[:197] + "..."
