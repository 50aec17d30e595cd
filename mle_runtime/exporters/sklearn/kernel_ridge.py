"""Kernel ridge regression (sklearn.kernel_ridge.KernelRidge): predict.

KernelRidge.predict is ``pairwise_kernels(X, X_fit_, metric=kernel, filter_params=True,
gamma=gamma, degree=degree, coef0=coef0) @ dual_coef_``: a ``RowKernel`` node against the
stored training rows (the kernel's parameters resolved as scikit-learn's kernel functions
default them: ``gamma=None`` is ``1 / n_features``) and a ``Dense`` node with ``dual_coef_``
(one column per target; a 1-D ``dual_coef_`` gives a 1-D prediction). Kernels: linear, poly
(polynomial), rbf, sigmoid, cosine, laplacian, chi2 and additive_chi2; the chi2 kernels refuse
input with a negative value as scikit-learn does. The kernel values and the product are
computed in another summation order than numpy's and scipy's: the predictions agree to
rounding (the tests assert 1e-9 of the largest prediction).

Not supported (refused at dump): ``kernel="precomputed"`` or a callable kernel (they need the
caller's kernel matrix or Python code at prediction time), models fitted on a sparse matrix or
on float32 data (scikit-learn then computes the kernel in float32).
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

ATTRIBUTES = {"KernelRidge": ("dual_coef_", "X_fit_", "n_features_in_", "feature_names_in_")}

# Kernel name -> (RowKernel kernel, the parameters scikit-learn passes it)
_KERNELS = {
    "linear": ("linear", ()),
    "cosine": ("cosine", ()),
    "rbf": ("rbf", ("gamma",)),
    "laplacian": ("laplacian", ("gamma",)),
    "poly": ("poly", ("gamma", "degree", "coef0")),
    "polynomial": ("poly", ("gamma", "degree", "coef0")),
    "sigmoid": ("sigmoid", ("gamma", "coef0")),
    "chi2": ("chi2", ("gamma",)),
    "additive_chi2": ("additive_chi2", ()),
}


@register("KernelRidge", kind="predictor")
def kernel_ridge(est, ctx, x):
    from sklearn.preprocessing import normalize
    from sklearn.utils.extmath import row_norms

    name = type(est).__name__
    if not isinstance(est.kernel, str) or est.kernel not in _KERNELS:
        raise UnsupportedModelError(
            f"{name}(kernel={est.kernel!r}) is not supported; supported kernels: "
            f"{', '.join(sorted(_KERNELS))} (a precomputed or callable kernel needs the "
            "caller's kernel matrix or Python code at prediction time)")
    if hasattr(est.X_fit_, "toarray"):
        raise UnsupportedModelError(
            f"{name} fitted on a scipy.sparse matrix is not supported; fit it on a dense array")
    if np.asarray(est.X_fit_).dtype != np.float64:
        raise UnsupportedModelError(
            f"{name} fitted on {np.asarray(est.X_fit_).dtype} data is not supported (its "
            "kernel is then computed in that precision); fit it on float64 data")
    rows = as_float64(est.X_fit_, f"{name}.X_fit_")
    coef = as_float64(est.dual_coef_, f"{name}.dual_coef_")
    if rows.ndim != 2 or rows.shape[0] == 0 or coef.ndim not in (1, 2) \
            or coef.shape[0] != rows.shape[0]:
        raise UnsupportedModelError(f"{name}: dual_coef_ of shape {coef.shape} for X_fit_ of "
                                    f"shape {rows.shape}")
    if not (np.isfinite(rows).all() and np.isfinite(coef).all()):
        raise UnsupportedModelError(f"{name}: X_fit_ or dual_coef_ is not finite")
    kind, names = _KERNELS[est.kernel]
    params = {}
    for p in names:
        v = getattr(est, p)
        if p == "gamma" and v is None:
            if kind == "chi2":  # chi2_kernel has no default for it: scikit-learn raises
                raise UnsupportedModelError(f"{name}(kernel='chi2', gamma=None) cannot predict")
            v = 1.0 / rows.shape[1]
        params[p] = float(v)
    ctx.refuses_nan(est)
    g = ctx.graph
    stored = normalize(rows) if kind == "cosine" else rows
    sq = row_norms(rows, squared=True) if kind == "rbf" else None
    k = g.add("RowKernel", [x], rows=g.tensor(np.ascontiguousarray(stored), "float64"),
              row_sq_norms=None if sq is None else g.tensor(sq, "float64"), kernel=kind,
              **params)
    weight = np.ascontiguousarray(coef.reshape(rows.shape[0], -1))
    pred = g.add("Dense", [k], weight=g.tensor(weight, "float64"))
    return Head({"predict": (pred, coef.ndim == 1)}, "regressor")
