"""Nearest-centre predictors and feature pooling: MeanShift, AffinityPropagation, Birch
(predict, transform), NearestCentroid (predict, decision_function, predict_proba,
predict_log_proba) and FeatureAgglomeration (transform, inverse_transform).

MeanShift.predict and AffinityPropagation.predict are ``pairwise_distances_argmin(X,
cluster_centers_)``, Birch.predict ``subcluster_labels_[pairwise_distances_argmin(X,
subcluster_centers_)]``: the ``NearestRow`` op (the squared norms of the centres with
scikit-learn's ``row_norms``, ``-2 X @ centres.T`` added onto them, the first minimum), and
for Birch each subcluster's label (``CategoryMap`` over the subcluster indices). Birch.transform is
``euclidean_distances(X, subcluster_centers_)`` (``RowKernel``, ``kernel="euclidean"``).

NearestCentroid (metric "euclidean"): with uniform priors predict is
``classes_[pairwise_distances_argmin(X, centroids_)]`` (``NearestRow``); otherwise, and for
the other methods, its ``_decision_function``: X (as float64) divided by the non-zero
``within_class_std_dev_``, the euclidean distances to the centroids divided alike, squared,
``-d + 2 log(class_prior_)`` (``MulAdd``); decision_function (column 1 minus column 0 for two
classes), predict (the first maximum), predict_log_proba (``LogSoftmax``: scores - max -
log(sum(exp))) and predict_proba (its exponential). With metric="manhattan" (predict only,
as in scikit-learn) the distances are ``ManhattanDistances`` (sums of absolute differences in
feature order) and the nearest centroid the first maximum of their negation.

FeatureAgglomeration: with pooling_func=np.mean each cluster's mean, ``np.bincount(labels_,
x) / size`` per row: a 0/1 ``Dense`` sum and a ``SubDiv`` by the cluster sizes; with np.median
the median of each cluster's columns in X's float type (``SegmentMedian``); inverse_transform
is ``X[..., labels_]`` (``Columns``).
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register
from mle_runtime.exporters.sklearn.inverse import inverse

ATTRIBUTES = {
    "MeanShift": ("n_features_in_", "feature_names_in_", "cluster_centers_", "labels_",
                  "n_iter_"),
    "AffinityPropagation": ("n_features_in_", "feature_names_in_", "cluster_centers_",
                            "cluster_centers_indices_", "labels_", "affinity_matrix_",
                            "n_iter_"),
    "Birch": ("n_features_in_", "feature_names_in_", "subcluster_centers_",
              "subcluster_labels_", "labels_"),
    "NearestCentroid": ("n_features_in_", "feature_names_in_", "centroids_", "classes_",
                        "deviations_", "within_class_std_dev_", "class_prior_"),
    "FeatureAgglomeration": ("n_features_in_", "feature_names_in_", "labels_", "n_clusters_",
                             "n_leaves_", "n_connected_components_", "children_",
                             "distances_"),
}


def _rows(est, attr):
    from sklearn.utils.extmath import row_norms

    name = type(est).__name__
    c = np.asarray(getattr(est, attr))
    if c.dtype != np.float64:
        raise UnsupportedModelError(
            f"{name} fitted on {c.dtype} data is not supported ({attr} is {c.dtype}: "
            "scikit-learn then predicts in that precision); fit it on float64 data")
    if c.ndim != 2 or c.shape[0] < 1:
        raise UnsupportedModelError(f"{name}.{attr} has shape {c.shape}; expected at least one "
                                    "row")
    c = as_float64(c, f"{name}.{attr}")
    return c, row_norms(c, squared=True)


def _nearest(ctx, est, x, attr):
    c, sq = _rows(est, attr)
    ctx.refuses_nan(est)
    g = ctx.graph
    return g.add("NearestRow", [x], rows=g.tensor(c, "float64"),
                 row_sq_norms=g.tensor(sq, "float64"))


@register("MeanShift", kind="predictor")
def mean_shift(est, ctx, x):
    return Head({"predict": (_nearest(ctx, est, x, "cluster_centers_"), True)}, "clusterer",
                dtypes={"predict": "int64"})


@register("AffinityPropagation", kind="predictor")
def affinity_propagation(est, ctx, x):
    if est.affinity == "precomputed" or not hasattr(est, "cluster_centers_"):
        raise UnsupportedModelError(
            "AffinityPropagation(affinity='precomputed') is not supported: scikit-learn's "
            "predict is not supported for it either (it has no cluster_centers_)")
    if np.asarray(est.cluster_centers_).shape[0] == 0:
        raise UnsupportedModelError(
            "AffinityPropagation did not converge (it has no cluster centers; scikit-learn "
            "labels every row -1 with a warning): refit it, e.g. with a larger max_iter")
    return Head({"predict": (_nearest(ctx, est, x, "cluster_centers_"), True)}, "clusterer",
                dtypes={"predict": "int64"})


def _birch_transform(est, ctx, x):
    c, sq = _rows(est, "subcluster_centers_")
    ctx.refuses_nan(est)
    g = ctx.graph
    return g.add("RowKernel", [x], rows=g.tensor(c, "float64"),
                 row_sq_norms=g.tensor(sq, "float64"), kernel="euclidean")


@register("Birch", kind="transformer")
def birch_transformer(est, ctx, x):
    return _birch_transform(est, ctx, x)


@register("Birch", kind="predictor")
def birch(est, ctx, x):
    labels = np.asarray(est.subcluster_labels_)
    n = np.asarray(est.subcluster_centers_).shape[0]
    if labels.ndim != 1 or labels.shape[0] != n or labels.dtype.kind not in "iu":
        raise UnsupportedModelError(
            f"Birch.subcluster_labels_ has shape {labels.shape} and dtype {labels.dtype}; "
            f"expected {n} integer labels")
    if n and np.abs(labels).max() >= 2 ** 53:
        raise UnsupportedModelError("Birch.subcluster_labels_ beyond 2**53 are not supported")
    index = _nearest(ctx, est, x, "subcluster_centers_")
    # predict returns subcluster_labels_[index]: subcluster i (category i) maps to its label,
    # exact in float64 and returned as int64
    g = ctx.graph
    label = g.add("CategoryMap", [g.add("AsFloat64", [index])],
                  offsets=g.tensor(np.array([0, n], dtype=np.int64), "int64"),
                  categories=g.tensor(np.arange(n, dtype=np.float64), "float64"),
                  codes=g.tensor(labels.astype(np.float64), "float64"),
                  unknown=g.tensor(np.array([-1.0]), "float64"))
    outputs = {"predict": (label, True), "transform": (_birch_transform(est, ctx, x), False)}
    return Head(outputs, "clusterer", dtypes={"predict": "int64"})


# -- NearestCentroid --------------------------------------------------------------------------

def _centroid_scores(est, ctx, x):
    """NearestCentroid._decision_function: ``-d(X / s, centroids_ / s) ** 2 + 2 log(prior)``,
    ``s`` the non-zero ``within_class_std_dev_``, ``d`` the estimator's metric."""
    from sklearn.utils.extmath import row_norms

    g = ctx.graph
    std = as_float64(est.within_class_std_dev_, "NearestCentroid.within_class_std_dev_")
    centroids = as_float64(est.centroids_, "NearestCentroid.centroids_")
    prior = as_float64(est.class_prior_, "NearestCentroid.class_prior_")
    with np.errstate(divide="ignore"):
        log_prior = 2.0 * np.log(prior)
    if not np.all(np.isfinite(log_prior)):
        raise UnsupportedModelError("NearestCentroid has a zero class prior: scikit-learn's "
                                    "decision values are not finite")
    mask = std != 0
    div = np.where(mask, std, 1.0)
    cn = centroids.copy()
    cn[:, mask] /= std[mask]
    v = g.add("SubDiv", [g.add("AsFloat64", [x])], div=g.tensor(div, "float64"))
    if est.metric == "manhattan":
        d = g.add("ManhattanDistances", [v], rows=g.tensor(cn, "float64"))
    else:
        d = g.add("RowKernel", [v], rows=g.tensor(cn, "float64"),
                  row_sq_norms=g.tensor(row_norms(cn, squared=True), "float64"),
                  kernel="euclidean")
    d2 = g.add("MathFn", [d], fn="square")
    k = len(log_prior)
    return g.add("MulAdd", [d2], mul=g.tensor(np.full(k, -1.0), "float64"),
                 add=g.tensor(log_prior, "float64"))


@register("NearestCentroid", kind="predictor")
def nearest_centroid(est, ctx, x):
    if est.metric not in ("euclidean", "manhattan"):
        raise UnsupportedModelError(
            f"NearestCentroid(metric={est.metric!r}) is not supported; supported: "
            "'euclidean', 'manhattan'")
    classes = np.asarray(est.classes_)
    k = len(classes)
    ctx.refuses_nan(est)
    g = ctx.graph
    scores = _centroid_scores(est, ctx, x)
    if np.isclose(est.class_prior_, 1 / k).all():
        # classes_[pairwise_distances_argmin(X, centroids_, metric=metric)]
        if est.metric == "manhattan":
            c = as_float64(est.centroids_, "NearestCentroid.centroids_")
            d = g.add("ManhattanDistances", [x], rows=g.tensor(c, "float64"))
            predict = g.add("ArgMax", [g.add("MathFn", [d], fn="negative")])
        else:
            c, sq = _rows(est, "centroids_")
            predict = g.add("NearestRow", [x], rows=g.tensor(c, "float64"),
                            row_sq_norms=g.tensor(sq, "float64"))
    else:
        predict = g.add("ArgMax", [scores])
    outputs = {"predict": (predict, True)}
    if est.metric == "euclidean":  # scikit-learn offers the others for euclidean only
        if k == 2:
            decision = g.add("Linear", [scores],
                             weight=g.tensor(np.array([[-1.0, 1.0]]), "float64"))
        else:
            decision = scores
        log_proba = g.add("LogSoftmax", [scores])
        outputs.update({"decision_function": (decision, k == 2),
                        "predict_log_proba": (log_proba, False),
                        "predict_proba": (g.add("Exp", [log_proba]), False)})
    return Head(outputs, "classifier", classes)


# -- FeatureAgglomeration ---------------------------------------------------------------------

def _agglomeration_labels(est):
    labels = np.asarray(est.labels_)
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or labels.size == 0:
        raise UnsupportedModelError("FeatureAgglomeration.labels_ must be integer labels")
    k = int(labels.max()) + 1
    if labels.min() < 0 or not np.array_equal(np.unique(labels), np.arange(k)):
        raise UnsupportedModelError("FeatureAgglomeration.labels_ must be 0 .. n_clusters - 1")
    return labels.astype(np.int64), k


@register("FeatureAgglomeration", kind="transformer")
def feature_agglomeration(est, ctx, x):
    fn = est.pooling_func
    if fn is not np.mean and fn is not np.median:
        raise UnsupportedModelError(
            f"FeatureAgglomeration(pooling_func={getattr(fn, '__name__', fn)!r}) is not "
            "supported (np.max and np.min keep integer input as integers, which the graph "
            "does not); supported: np.mean, np.median")
    labels, k = _agglomeration_labels(est)
    ctx.refuses_nan(est)
    g = ctx.graph
    if fn is np.median:
        # pooling_func(X[:, labels_ == l], axis=1) for each label l, in label order
        order = np.argsort(labels, kind="stable").astype(np.int64)
        sizes = np.bincount(labels, minlength=k).astype(np.int64)
        return g.add("SegmentMedian", [x], columns=g.tensor(order, "int64"),
                     segments=g.tensor(sizes, "int64"))
    member = np.zeros((labels.size, k))
    member[np.arange(labels.size), labels] = 1.0
    size = np.bincount(labels, minlength=k).astype(np.float64)
    s = g.add("Dense", [x], weight=g.tensor(member, "float64"))
    return g.add("SubDiv", [s], div=g.tensor(size, "float64"))


@inverse("FeatureAgglomeration")
def feature_agglomeration_inverse(est, g, y):
    # X[..., inverse] with inverse = np.unique(labels_, return_inverse=True)[1] (= labels_);
    # no validation: NaN and infinity pass
    labels, _ = _agglomeration_labels(est)
    return g.add("Columns", [y], columns=g.tensor(labels, "int64")), False
