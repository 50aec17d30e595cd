"""KNNImputer (missing_values=NaN, metric="nan_euclidean"): transform.

The fitted rows ``_fit_X`` are stored with their NaN (op ``KNNImpute``, kernels/knn_impute.cpp),
with their squared norms (missing entries as 0) from scikit-learn's own ``row_norms``, as its
``euclidean_distances`` computes them, and each column's mean over its present values
(``np.ma.mean``, the fallback of a row with no defined distance). The kernel follows
``KNNImputer.transform``: nan_euclidean distances, per missing entry the ``n_neighbors``
nearest rows where that column is present, uniform or distance weights, ``keep_empty_features``
(columns empty at fit become 0, else they are dropped) and ``add_indicator`` (the
``MissingIndicator`` columns appended). scikit-learn processes rows in chunks; the result of a
row depends only on that row, here as there. A row whose donors are not determined by the
distances (equal distances at the n_neighbors-th place between donors of different values)
gets scikit-learn's choice from numpy's argpartition, which differs between CPUs (its SIMD
selection routines order ties differently): transform refuses such a row with an error.

Refused at dump: missing_values other than NaN, metrics other than "nan_euclidean", callable
weights, models fitted on float32 data (scikit-learn then computes float32 distances).
"""

import math

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import register
from mle_runtime.exporters.sklearn.preprocessing import _missing_mask

ATTRIBUTES = {
    "KNNImputer": ("n_features_in_", "feature_names_in_", "indicator_"),
}


@register("KNNImputer", kind="transformer")
def knn_imputer(est, ctx, x):
    mv = est.missing_values
    if not (isinstance(mv, (float, np.floating)) and math.isnan(mv)):
        raise UnsupportedModelError(
            f"KNNImputer(missing_values={mv!r}) is not supported; supported: "
            "missing_values=np.nan")
    if est.metric != "nan_euclidean":
        raise UnsupportedModelError(
            f"KNNImputer(metric={est.metric!r}) is not supported (a callable cannot be "
            "stored); supported: 'nan_euclidean'")
    if est.weights not in ("uniform", "distance"):
        raise UnsupportedModelError(
            f"KNNImputer(weights={est.weights!r}) is not supported (a callable cannot be "
            "stored); supported: 'uniform', 'distance'")
    fit_x = np.asarray(est._fit_X)
    if fit_x.dtype != np.float64:
        raise UnsupportedModelError(
            f"KNNImputer fitted on {fit_x.dtype} data is not supported (scikit-learn then "
            "computes its distances in that dtype); supported: models fitted on float64 data")
    data = np.ascontiguousarray(fit_x, dtype=np.float64)
    if np.isinf(data).any():
        raise UnsupportedModelError("KNNImputer._fit_X holds infinite values")
    mask = np.isnan(data)
    from sklearn.utils.extmath import row_norms

    zeroed = np.where(mask, 0.0, data)
    sq = np.asarray(row_norms(zeroed, squared=True), dtype=np.float64)
    means = np.zeros(data.shape[1])
    for c in range(data.shape[1]):
        if not mask[:, c].all():
            means[c] = float(np.ma.array(data[:, c], mask=mask[:, c]).mean())
    valid = ~mask.all(axis=0)
    if not np.array_equal(valid, np.asarray(est._valid_mask, dtype=bool)):
        raise UnsupportedModelError("KNNImputer: _valid_mask does not match _fit_X")
    if not valid.any() and not est.keep_empty_features:
        raise UnsupportedModelError("KNNImputer fitted on columns that are all missing, "
                                    "without keep_empty_features, returns no columns")
    g = ctx.graph
    out = g.add("KNNImpute", [x], data=g.tensor(data, "float64"),
                row_sq_norms=g.tensor(np.ascontiguousarray(sq), "float64"),
                col_mean=g.tensor(means, "float64"), n_neighbors=float(est.n_neighbors),
                weights=est.weights, keep_empty=bool(est.keep_empty_features) or None)
    ctx.nan_possible = False
    if est.keep_empty_features and not valid.all():
        # scikit-learn's get_feature_names_out leaves out the kept empty columns, so its names
        # do not match transform's columns: none are stored
        g.names_differ = True
    indicator = getattr(est, "indicator_", None) if est.add_indicator else None
    if indicator is None or len(indicator.features_) == 0:
        return out
    return g.add("Concat", [out, _missing_mask(indicator, ctx, x)])

