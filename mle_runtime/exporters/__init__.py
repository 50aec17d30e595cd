"""Exporter registry: turns a fitted model into (Graph, metadata).

Each framework is one :class:`Framework` entry below and one exporter module (or package).
Dispatch is by the top-level package that defines the model's class (found without importing
anything), so exporting a scikit-learn model never imports torch, xgboost, and so on; an
exporter module is imported on its first use.

An exporter module provides:

``supported()``
    names of the classes it exports;
``export(obj)``
    ``(graph, metadata)`` for a fitted model (metadata starts with
    :func:`mle_runtime.exporters.base.header`);
``pipeline_step(est, ctx, x)`` (optional)
    the model as a step of a scikit-learn Pipeline: adds its nodes to ``ctx.graph`` reading
    value ``x`` and returns a :class:`mle_runtime.exporters.base.Head`.
``ATTRIBUTES`` (optional)
    ``{class name: (attribute name, ...)}``: the fitted attributes a loaded model of that
    class offers; :func:`export` stores those the fitted model has in its estimator record
    (:func:`mle_runtime.exporters.base.estimator_record`).
"""

import importlib
from dataclasses import dataclass

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import estimator_record

# What the loaded model answers from its graph's rules: not stored again in its record.
GRAPH_ATTRIBUTES = ("classes_", "n_features_in_", "feature_names_in_")


@dataclass(frozen=True)
class Framework:
    """One framework's exporter: ``name`` is the top-level package of the classes it exports,
    ``module`` the exporter module implementing them."""

    name: str
    module: str

    def exporter(self):
        return importlib.import_module(self.module)


FRAMEWORKS = {f.name: f for f in (
    Framework("sklearn", "mle_runtime.exporters.sklearn"),
    Framework("catboost", "mle_runtime.exporters.catboost"),
    Framework("xgboost", "mle_runtime.exporters.xgboost"),
    Framework("lightgbm", "mle_runtime.exporters.lightgbm"),
    Framework("torch", "mle_runtime.exporters.torch"),
)}


def framework_of(obj):
    """The :class:`Framework` of the class of ``obj`` or of its nearest known base class, or
    None."""
    for cls in type(obj).__mro__:
        fw = FRAMEWORKS.get((cls.__module__ or "").split(".")[0])
        if fw is not None:
            return fw
    return None


def pipeline_step(obj):
    """The exporter function that puts ``obj`` (a model of any framework) into a scikit-learn
    Pipeline, or None when its framework offers none."""
    fw = framework_of(obj)
    return getattr(fw.exporter(), "pipeline_step", None) if fw is not None else None


def supported_models():
    """Sorted names of every model class the installed exporters accept."""
    names = []
    for fw in FRAMEWORKS.values():
        names += [f"{fw.name}.{n}" for n in fw.exporter().supported()]
    return sorted(names)


def export(obj, **options):
    """Returns ``(graph, metadata)`` for a fitted model.

    ``options`` (such as ``example_inputs``) go to exporters that name them in their
    ``OPTIONS``; giving one to another framework's model is a ``TypeError``.

    Raises
    ------
    UnsupportedModelError
        When no exporter handles ``obj``; the message lists what is supported.
    """
    fw = framework_of(obj)
    if fw is None:
        cls = type(obj)
        raise UnsupportedModelError(
            f"cannot store an object of type {cls.__module__}.{cls.__qualname__} natively. "
            f"Supported: {', '.join(supported_models())}."
        )
    module = fw.exporter()
    unknown = sorted(set(options) - set(getattr(module, "OPTIONS", ())))
    if unknown:
        raise TypeError(f"{', '.join(unknown)} is not used for {fw.name} models")
    graph, meta = module.export(obj, **options)
    graph.estimator = estimator_record(obj, graph, attributes_of, skip=GRAPH_ATTRIBUTES)
    names = {o["name"] for o in graph.outputs}
    if not names - {"kneighbors"}:
        # a model that predicts nothing (neighbour queries at most, as
        # LocalOutlierFactor(novelty=False)): its fitting methods are refused
        fit_methods = [m for m in ("fit_predict", "fit_transform")
                       if callable(getattr(obj, m, None))]
        if fit_methods or not names:
            graph.estimator["fit_methods"] = fit_methods
    return graph, meta


def attributes_of(obj):
    """The names of the fitted attributes stored for ``obj``: its framework exporter's
    ``ATTRIBUTES`` entry for its class (none for classes without one)."""
    fw = framework_of(obj)
    table = getattr(fw.exporter(), "ATTRIBUTES", None) if fw is not None else None
    return table.get(type(obj).__name__, ()) if table else ()
