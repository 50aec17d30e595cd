"""Semi-supervised label propagation (sklearn.semi_supervised): LabelPropagation and
LabelSpreading with the rbf kernel (predict, predict_proba).

Their predict_proba is ``w = rbf_kernel(X_, X, gamma).T @ label_distributions_`` divided by
its row sums (a row whose kernel values all underflow to 0 is 0 / 0: NaN, as in scikit-learn),
and predict is ``classes_[argmax(predict_proba)]`` (the first maximum; 0 for a NaN row, as
numpy's argmax). The graph is a ``RowKernel`` node (rbf against the stored ``X_``), a ``Dense``
node with ``label_distributions_``, ``NormalizeRows`` with ``zero_rows="divide"`` and
``ArgMax``. The squared distances add the two squared norms in the other order than
scikit-learn's transposed kernel does, and the products are summed in another order: the
probabilities agree to rounding.

Not supported (refused at dump): the knn kernel (its neighbour search breaks ties between
equally distant training rows in the order of scikit-learn's tree search), a callable kernel,
models fitted on a sparse matrix or on float32 data, and models with a single class.
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

ATTRIBUTES = {
    n: ("X_", "classes_", "label_distributions_", "transduction_", "n_iter_",
        "n_features_in_", "feature_names_in_")
    for n in ("LabelPropagation", "LabelSpreading")
}


@register("LabelPropagation", "LabelSpreading", kind="predictor")
def label_propagation(est, ctx, x):
    from sklearn.utils.extmath import row_norms

    name = type(est).__name__
    if not isinstance(est.kernel, str) or est.kernel != "rbf":
        raise UnsupportedModelError(
            f"{name}(kernel={est.kernel!r}) is not supported; supported kernel: rbf (the knn "
            "kernel's neighbour search orders equally distant training rows as scikit-learn's "
            "tree search does, and a callable kernel needs Python code at prediction time)")
    if hasattr(est.X_, "toarray"):
        raise UnsupportedModelError(
            f"{name} fitted on a scipy.sparse matrix is not supported; fit it on a dense array")
    if np.asarray(est.X_).dtype != np.float64:
        raise UnsupportedModelError(
            f"{name} fitted on {np.asarray(est.X_).dtype} data is not supported (its kernel "
            "is then computed in that precision); fit it on float64 data")
    rows = as_float64(est.X_, f"{name}.X_")
    dist = as_float64(est.label_distributions_, f"{name}.label_distributions_")
    classes = np.asarray(est.classes_)
    if len(classes) < 2:
        raise UnsupportedModelError(f"{name} fitted on one class is not supported")
    if rows.ndim != 2 or rows.shape[0] == 0 or dist.shape != (rows.shape[0], len(classes)):
        raise UnsupportedModelError(f"{name}: label_distributions_ of shape {dist.shape} for "
                                    f"X_ of shape {rows.shape} and {len(classes)} classes")
    if not (np.isfinite(rows).all() and np.isfinite(dist).all()):
        raise UnsupportedModelError(f"{name}: X_ or label_distributions_ is not finite")
    gamma = 1.0 / rows.shape[1] if est.gamma is None else float(est.gamma)
    ctx.refuses_nan(est)
    g = ctx.graph
    k = g.add("RowKernel", [x], rows=g.tensor(np.ascontiguousarray(rows), "float64"),
              row_sq_norms=g.tensor(row_norms(rows, squared=True), "float64"), kernel="rbf",
              gamma=gamma)
    w = g.add("Dense", [k], weight=g.tensor(np.ascontiguousarray(dist), "float64"))
    proba = g.add("NormalizeRows", [w], zero_rows="divide")
    outputs = {"predict_proba": (proba, False), "predict": (g.add("ArgMax", [proba]), True)}
    return Head(outputs, "classifier", classes)
