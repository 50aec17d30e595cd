"""scikit-learn exporters. Importing this package imports scikit-learn (dump time only)."""

import numpy as np

from mle_runtime import _version
from mle_runtime.exporters.sklearn import linear, multiclass, pipeline, preprocessing  # noqa: F401
from mle_runtime.exporters.sklearn.common import REGISTRY, Context, export_estimator, lookup
from mle_runtime.ir.graph import Graph


def supported():
    """Names of the supported scikit-learn classes."""
    return sorted(REGISTRY)


def _first_step(est):
    while type(est).__name__ == "Pipeline":
        active = [s for _, s in est.steps if s is not None and s != "passthrough"]
        if not active:
            return est
        est = active[0]
    return est


def export(model):
    """Returns (Graph, metadata dict) for a fitted scikit-learn estimator or pipeline."""
    import sklearn
    from sklearn.utils.validation import check_is_fitted

    lookup(model)  # unsupported classes fail before anything else
    check_is_fitted(model)
    # A Pipeline delegates n_features_in_ and feature_names_in_ to its first step, which
    # raises AttributeError when that step is 'passthrough'; the first active step knows them.
    first = _first_step(model)
    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        n_features = getattr(first, "n_features_in_", None)
    if n_features is None:
        raise ValueError(f"{type(model).__name__} has no n_features_in_; is it fitted?")
    graph = Graph(type(first).__name__, n_features)
    ctx = Context(graph)
    head = export_estimator(model, ctx, "X")
    graph.allow_nan = ctx.nan_owner is None
    graph.nan_owner = ctx.nan_owner
    for name, (value, ravel) in head.outputs.items():
        graph.output(name, value, ravel)
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        names = getattr(first, "feature_names_in_", None)
    cls = type(model)
    summary = (f"Pipeline({', '.join(ctx.steps)})" if cls.__name__ == "Pipeline"
               else cls.__name__)
    # Keys with no value are left out (readers treat a missing key as None): tiny models stay
    # smaller than their joblib files.
    meta = {
        "mle_runtime_version": _version.__version__,
        "framework": "sklearn",
        "framework_version": sklearn.__version__,
        "model_class": f"sklearn.{cls.__name__}",
        "estimator_type": head.estimator_type,
    }
    if summary != cls.__name__:
        meta["summary"] = summary
    if names is not None:
        meta["feature_names_in"] = [str(n) for n in np.asarray(names)]
    if head.classes is not None:
        from mle_runtime.exporters.sklearn.common import describe_classes

        meta["classes"] = describe_classes(head.classes)
    return graph, meta
