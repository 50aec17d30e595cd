"""Feature selectors (sklearn.feature_selection): every one of them transforms by keeping the
columns ``get_support()`` marks, which is a ``Columns`` node. RFE and RFECV also predict with
their fitted ``estimator_`` on those columns."""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import export_estimator, register
from mle_runtime.ir.ops import METHODS

SELECTORS = ("VarianceThreshold", "SelectKBest", "SelectPercentile", "SelectFpr", "SelectFdr",
             "SelectFwe", "GenericUnivariateSelect", "SelectFromModel", "RFE", "RFECV",
             "SequentialFeatureSelector")


def _allows_nan(est):
    tags = est.__sklearn_tags__()
    return bool(tags.input_tags.allow_nan)


def select_columns(est, ctx, x):
    """The selected columns of value x (scikit-learn's SelectorMixin.transform)."""
    support = np.asarray(est.get_support(), dtype=bool)
    if support.shape != (est.n_features_in_,):
        raise UnsupportedModelError(
            f"{type(est).__name__}.get_support() has shape {support.shape}; expected "
            f"({est.n_features_in_},)")
    columns = np.flatnonzero(support).astype(np.int64)
    if columns.size == 0:
        # scikit-learn warns and returns an empty (n, 0) array: there is nothing to predict.
        raise UnsupportedModelError(
            f"{type(est).__name__} selects no features (transform returns an empty array); "
            "only selectors that keep at least one feature are supported")
    # transform validates with ensure_all_finite=not allow_nan (the selector's tags).
    if _allows_nan(est):
        ctx.accepts_inf = True
    else:
        ctx.refuses_nan(est)
    g = ctx.graph
    return g.add("Columns", [x], columns=g.tensor(columns, "int64"))


@register(*SELECTORS, kind="transformer")
def selector(est, ctx, x):
    return select_columns(est, ctx, x)


@register("RFE", "RFECV", kind="predictor")
def recursive_elimination(est, ctx, x):
    """RFE.predict (and the other methods) is ``estimator_.<method>(transform(X))``."""
    cols = select_columns(est, ctx, x)
    allowed_inf = ctx.accepts_inf
    head = export_estimator(est.estimator_, ctx, cols)
    ctx.accepts_inf = ctx.accepts_inf and allowed_inf
    for name in list(head.outputs):
        if name in METHODS and not hasattr(est, name):
            del head.outputs[name]
    head.outputs["transform"] = (cols, False)
    return head
