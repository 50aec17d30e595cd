"""Cross decomposition: PLSRegression, PLSCanonical and CCA (``transform`` of X, ``predict``,
``inverse_transform`` of X scores), PLSSVD (``transform`` of X).

``_PLS.transform`` normalises in place in the input's float type (``X -= _x_mean``,
``X /= _x_std``: each step computed in binary64 and rounded to that type, as ``SubDiv``
does) and multiplies by ``x_rotations_`` (a float64 product: ``Dense``). ``predict`` only
centres (``X -= _x_mean``) and computes ``X @ coef_.T + intercept_``; it is 1-D when the model
was fitted on a 1-D target. ``inverse_transform`` is ``Y @ x_loadings_.T``, then
``*= _x_std``, ``+= _x_mean`` (``Dense``, ``MulAdd``). ``PLSSVD.transform`` converts to
float64 first (``AsFloat64``), then ``(X - _x_mean) / _x_std`` and ``@ x_weights_``.
``transform(X, y)`` (the target's scores too) is not stored: the loaded model transforms X.
"""

import numpy as np

from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register
from mle_runtime.exporters.sklearn.inverse import inverse

PLS = ("PLSRegression", "PLSCanonical", "CCA")

_COMMON = ("n_features_in_", "feature_names_in_")
_PLS_FITTED = ("x_weights_", "y_weights_", "x_loadings_", "y_loadings_", "x_rotations_",
               "y_rotations_", "coef_", "intercept_", "n_iter_")
ATTRIBUTES = {
    **{name: _COMMON + _PLS_FITTED for name in PLS},
    "PLSRegression": _COMMON + _PLS_FITTED + ("x_scores_", "y_scores_"),
    "PLSSVD": _COMMON + ("x_weights_", "y_weights_"),
}


def _f64(g, a, what):
    return g.tensor(np.ascontiguousarray(as_float64(a, what)), "float64")


def _normalise(est, ctx, x):
    name = type(est).__name__
    ctx.refuses_nan(est)
    g = ctx.graph
    return g.add("SubDiv", [x], sub=_f64(g, est._x_mean, f"{name}._x_mean"),
                 div=_f64(g, est._x_std, f"{name}._x_std"))


def pls_transform(est, ctx, x):
    g = ctx.graph
    return g.add("Dense", [_normalise(est, ctx, x)],
                 weight=_f64(g, est.x_rotations_, f"{type(est).__name__}.x_rotations_"))


def pls_predict(est, ctx, x):
    name = type(est).__name__
    g = ctx.graph
    centred = g.add("SubDiv", [x], sub=_f64(g, est._x_mean, f"{name}._x_mean"))
    coef = as_float64(est.coef_, f"{name}.coef_")
    return g.add("Dense", [centred], weight=g.tensor(np.ascontiguousarray(coef.T), "float64"),
                 bias=_f64(g, np.ravel(est.intercept_), f"{name}.intercept_"))


@register(*PLS, kind="transformer")
def pls(est, ctx, x):
    return pls_transform(est, ctx, x)


@register(*PLS, kind="predictor")
def pls_final(est, ctx, x):
    outputs = {"transform": (pls_transform(est, ctx, x), False),
               "predict": (pls_predict(est, ctx, x), bool(est._predict_1d))}
    return Head(outputs, "regressor")


@inverse(*PLS)
def pls_inverse(est, g, y):
    name = type(est).__name__
    loadings = as_float64(est.x_loadings_, f"{name}.x_loadings_")
    back = g.add("Dense", [y], weight=g.tensor(np.ascontiguousarray(loadings.T), "float64"))
    return g.add("MulAdd", [back], mul=_f64(g, est._x_std, f"{name}._x_std"),
                 add=_f64(g, est._x_mean, f"{name}._x_mean")), True


@register("PLSSVD", kind="transformer")
def pls_svd(est, ctx, x):
    g = ctx.graph
    wide = g.add("AsFloat64", [x])  # validate_data(dtype=np.float64)
    return g.add("Dense", [_normalise(est, ctx, wide)],
                 weight=_f64(g, est.x_weights_, "PLSSVD.x_weights_"))
