"""Exporter registry: turns a fitted model into (Graph, metadata).

Dispatch is by the top-level package that defines the model's class (found without importing
anything), so exporting a scikit-learn model never imports torch, xgboost, and so on.
"""

import importlib

from mle_runtime.errors import UnsupportedModelError

# top-level package of the model's class -> exporter module (imported on first use)
_FRAMEWORKS = {
    "sklearn": "mle_runtime.exporters.sklearn",
    "catboost": "mle_runtime.exporters.catboost",
    "xgboost": "mle_runtime.exporters.xgboost",
    "lightgbm": "mle_runtime.exporters.lightgbm",
}


def framework_of(obj):
    """Top-level package of the class of ``obj`` or of its nearest known base class."""
    for cls in type(obj).__mro__:
        top = (cls.__module__ or "").split(".")[0]
        if top in _FRAMEWORKS:
            return top
    return None


def supported_models():
    """Sorted names of every model class the installed exporters accept."""
    names = []
    for fw, mod in _FRAMEWORKS.items():
        names += [f"{fw}.{n}" for n in importlib.import_module(mod).supported()]
    return sorted(names)


def export(obj):
    """Returns ``(graph, metadata)`` for a fitted model.

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
    return importlib.import_module(_FRAMEWORKS[fw]).export(obj)
