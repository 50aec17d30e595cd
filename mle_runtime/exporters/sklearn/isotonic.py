"""IsotonicRegression: ``predict`` and ``transform`` interpolate linearly over
``X_thresholds_`` / ``y_thresholds_`` exactly as the fitted ``f_``
(``scipy.interpolate.interp1d(kind="linear")``) does, with ``out_of_bounds`` "nan", "clip"
or "raise" (op ``Interp1D``; "raise" refuses the input as scipy does). Input is 1-D or one
column (the input rule "vector")."""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import register


@register("IsotonicRegression", kind="predictor")
def isotonic(est, ctx, x):
    if ctx.steps != ["IsotonicRegression"]:
        raise UnsupportedModelError("IsotonicRegression is supported as a model of its own, "
                                    "not as a pipeline step")
    xs, ys = np.asarray(est.X_thresholds_), np.asarray(est.y_thresholds_)
    if xs.dtype != np.float64 or ys.dtype != np.float64:
        raise UnsupportedModelError(
            f"IsotonicRegression fitted on {xs.dtype} data is not supported (scikit-learn then "
            "interpolates in that type); fit it on float64 data")
    if xs.ndim != 1 or xs.shape != ys.shape or not len(xs) or not np.all(np.isfinite(xs)) or \
            np.any(np.diff(xs) <= 0):
        raise UnsupportedModelError("IsotonicRegression.X_thresholds_ is not a finite, strictly "
                                    "increasing array matching y_thresholds_")
    if est.out_of_bounds == "clip" and (est.X_min_ != xs[0] or est.X_max_ != xs[-1]):
        raise UnsupportedModelError("IsotonicRegression's X_min_/X_max_ differ from the ends of "
                                    "X_thresholds_")
    ctx.refuses_nan(est)
    g = ctx.graph
    g.inputs["vector"] = True
    v = g.add("Interp1D", [x], x=g.tensor(xs, "float64"), y=g.tensor(ys, "float64"),
              out_of_bounds=str(est.out_of_bounds))
    return Head({"predict": (v, True), "transform": (v, True)}, "regressor")
