"""What every framework's exporter shares: the class check (with its refusal of subclasses),
the metadata header, and the :class:`Head` an estimator exports to with the one function that
turns it into graph outputs and prediction rules. Imports no framework.
"""

from dataclasses import dataclass

from mle_runtime import _version
from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.classes import label_set


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
                     labels=labels if name == "predict" else None, splits=splits.get(name))
    for entry in head.keywords or ():
        graph.keyword(*entry)
