"""SGDOneClassSVM (predict, decision_function, score_samples), SkewedChi2Sampler, KernelCenterer
and RandomTreesEmbedding (transform).

SGDOneClassSVM: ``decision_function = X @ coef_ - offset_`` (``Linear``), ``score_samples =
decision_function + offset_`` (as scikit-learn adds it back), ``predict`` 1 where the decision
is ``>= 0``, else -1 (``OutlierLabel``).

SkewedChi2Sampler.transform: ``cos(log(X + skewedness) @ random_weights_ + random_offset_) *
(sqrt(2) / sqrt(n_components))``: ``ShiftedLog`` (in X's float type, as scikit-learn keeps
float32 input float32 there; it refuses entries ``<= -skewedness`` with scikit-learn's
message), a ``Dense`` node with the cos activation and a ``Scale``. float32 input agrees up
to the last bit of numpy's float32 log.

KernelCenterer.transform: ``K - K_fit_rows_ - sum(K, axis=1) / n + K_fit_all_``, as one
``Linear`` map ``K @ (I - 1/n).T + (K_fit_all_ - K_fit_rows_)`` computed in binary64 and
rounded once to the kernel's float type (scikit-learn keeps float32 kernels float32 and
rounds after each of its steps, so float32 agrees to float32 rounding).

RandomTreesEmbedding.transform: the one-hot code of each tree's leaf
(``one_hot_encoder_.transform(apply(X))``), returned dense: the trees' leaf numbers
(``TreeEnsemble`` with one output column per tree, scikit-learn's float32 splits) then
``OneHot`` over the encoder's categories.
"""

import math

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register
from mle_runtime.exporters.sklearn.trees import _nan_policy, _sk_ensemble, _sk_tree

ATTRIBUTES = {
    "SGDOneClassSVM": ("n_features_in_", "feature_names_in_", "coef_", "offset_", "n_iter_",
                       "t_"),
    "SkewedChi2Sampler": ("n_features_in_", "feature_names_in_", "random_weights_",
                          "random_offset_"),
    "KernelCenterer": ("n_features_in_", "feature_names_in_", "K_fit_rows_", "K_fit_all_"),
    "RandomTreesEmbedding": ("n_features_in_", "feature_names_in_", "estimators_",
                             "one_hot_encoder_", "feature_importances_"),
}


def _vec(g, v):
    return g.tensor(np.asarray(v, dtype=np.float64).reshape(-1), "float64")


@register("SGDOneClassSVM", kind="predictor")
def sgd_one_class_svm(est, ctx, x):
    coef = as_float64(est.coef_, "SGDOneClassSVM.coef_").reshape(1, -1)
    offset = float(as_float64(est.offset_, "SGDOneClassSVM.offset_").reshape(-1)[0])
    ctx.refuses_nan(est)
    g = ctx.graph
    d = g.add("Linear", [x], weight=g.tensor(coef, "float64"), bias=_vec(g, [-offset]))
    outputs = {"decision_function": (d, True),
               "score_samples": (g.add("SubDiv", [d], sub=_vec(g, [-offset])), True),
               "predict": (g.add("OutlierLabel", [d]), True)}
    return Head(outputs, "outlier_detector", dtypes={"predict": "int32"})


@register("SkewedChi2Sampler", kind="transformer")
def skewed_chi2(est, ctx, x):
    w = np.asarray(est.random_weights_)
    if w.dtype != np.float64:
        raise UnsupportedModelError(f"SkewedChi2Sampler fitted on {w.dtype} data is not "
                                    "supported; fit it on float64 data")
    w = as_float64(w, "SkewedChi2Sampler.random_weights_")
    b = as_float64(est.random_offset_, "SkewedChi2Sampler.random_offset_")
    s = float(est.skewedness)
    if not (math.isfinite(s) and s > 0 and np.isfinite(np.float32(s))):
        raise UnsupportedModelError(f"SkewedChi2Sampler(skewedness={s!r}) is not supported")
    ctx.refuses_nan(est)
    g = ctx.graph
    # X + skewedness and its log in X's float type; entries <= -skewedness refused
    logs = g.add("ShiftedLog", [x], shift=s)
    p = g.add("Dense", [logs], weight=g.tensor(w, "float64"), bias=_vec(g, b), activation="cos")
    return g.add("Scale", [p], factor=float(np.sqrt(2.0) / np.sqrt(est.n_components)))


@register("KernelCenterer", kind="transformer")
def kernel_centerer(est, ctx, x):
    rows = as_float64(est.K_fit_rows_, "KernelCenterer.K_fit_rows_")
    n = rows.shape[0]
    fit_all = float(est.K_fit_all_)
    ctx.refuses_nan(est)
    g = ctx.graph
    # y_i = sum_j K_j (delta_ij - 1 / n) + (K_fit_all_ - K_fit_rows_[i]) in binary64, rounded
    # once to the caller's float type (scikit-learn keeps float32 kernels float32)
    weight = np.eye(n) - np.full((n, n), 1.0 / n)
    return g.add("Linear", [x], weight=g.tensor(weight, "float64"),
                 bias=_vec(g, fit_all - rows), follow_input_dtype=True if x == "X" else None)


@register("RandomTreesEmbedding", kind="transformer")
def random_trees_embedding(est, ctx, x):
    enc = est.one_hot_encoder_
    cats = [np.asarray(c, dtype=np.float64) for c in enc.categories_]
    if len(cats) != len(est.estimators_) or getattr(enc, "drop_idx_", None) is not None:
        raise UnsupportedModelError("RandomTreesEmbedding.one_hot_encoder_ does not encode one "
                                    "column per tree")
    trees = []
    for t, (e, c) in enumerate(zip(est.estimators_, cats)):
        tr = e.tree_
        leaves = np.flatnonzero(np.asarray(tr.children_left) == -1)
        if not np.array_equal(np.sort(leaves).astype(np.float64), c):
            raise UnsupportedModelError(
                f"RandomTreesEmbedding: tree {t}'s leaves are not exactly the categories its "
                "encoder knows (scikit-learn would refuse rows reaching the others)")
        trees.append(_sk_tree(tr, np.arange(tr.node_count, dtype=np.float64).reshape(-1, 1)))
    _nan_policy(ctx, est)
    g = ctx.graph
    k = len(trees)
    leaf = _sk_ensemble(ctx, x, trees, "sum", est.n_features_in_, targets=list(range(k)),
                        n_outputs=k)
    sizes = np.array([len(c) for c in cats], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    width = int(offsets[-1])
    return g.add("OneHot", [leaf], offsets=g.tensor(offsets, "int64"),
                 categories=g.tensor(np.concatenate(cats), "float64"),
                 columns=g.tensor(np.arange(width, dtype=np.int64), "int64"),
                 unknown=g.tensor(np.full(k, -1, dtype=np.int64), "int64"),
                 width=g.tensor(np.array([width], dtype=np.int64), "int64"))
