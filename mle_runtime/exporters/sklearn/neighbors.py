"""Nearest-neighbour estimators (sklearn.neighbors): KNeighborsClassifier (predict,
predict_proba, kneighbors; multi-output included), KNeighborsRegressor (predict, kneighbors)
and NearestNeighbors (kneighbors).

The training rows are stored once (op ``KNearest``) with the search the fitted estimator
uses (``_fit_method``): "brute" reproduces scikit-learn's ArgKmin reduction (for "euclidean"
the ``||x||^2 - 2 x.y + ||y||^2`` form with the BLAS cross products and the stored rows'
squared norms from scikit-learn's own function), "kd_tree" and "ball_tree" store the fitted
tree's arrays (``_tree.get_arrays()``) and query them as ``BinaryTree.query`` does. Both use
scikit-learn's neighbour heap and sort, so the neighbours, and their order on equal distances,
are scikit-learn's (brute: as scikit-learn orders them with one thread; see
docs/FORMAT.md section 11). Votes (``NeighborVote``) and averages (``NeighborMean``) follow
``predict_proba``, ``weighted_mode`` and ``KNeighborsRegressor.predict``: distance weights
1 / d, and a row with a neighbour at distance 0 weighs those neighbours 1 and the others 0.

Refused at dump: metrics other than euclidean, manhattan, chebyshev and minkowski (p >= 1,
no weights ``w``), metric aliases, precomputed distances, sparse or float32 training data,
callable weights, a single class, n_neighbors larger than the training set.
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

CLASSES = ("KNeighborsClassifier", "KNeighborsRegressor", "NearestNeighbors",
           "RadiusNeighborsClassifier", "RadiusNeighborsRegressor", "LocalOutlierFactor")

_COMMON = ("n_features_in_", "feature_names_in_")
ATTRIBUTES = {
    "KNeighborsClassifier": _COMMON + ("classes_", "effective_metric_",
                                       "effective_metric_params_", "n_samples_fit_",
                                       "outputs_2d_"),
    "KNeighborsRegressor": _COMMON + ("effective_metric_", "effective_metric_params_",
                                      "n_samples_fit_"),
    "NearestNeighbors": _COMMON + ("effective_metric_", "effective_metric_params_",
                                   "n_samples_fit_"),
    "RadiusNeighborsClassifier": _COMMON + ("classes_", "effective_metric_",
                                            "effective_metric_params_", "n_samples_fit_",
                                            "outlier_label_", "outputs_2d_"),
    "RadiusNeighborsRegressor": _COMMON + ("effective_metric_", "effective_metric_params_",
                                           "n_samples_fit_"),
    "LocalOutlierFactor": _COMMON + ("effective_metric_", "effective_metric_params_",
                                     "n_samples_fit_", "n_neighbors_", "offset_",
                                     "negative_outlier_factor_"),
    "KNeighborsTransformer": _COMMON + ("effective_metric_", "effective_metric_params_",
                                        "n_samples_fit_"),
    "RadiusNeighborsTransformer": _COMMON + ("effective_metric_", "effective_metric_params_",
                                             "n_samples_fit_"),
}

_METRICS = ("euclidean", "manhattan", "chebyshev", "minkowski")


def _metric(est):
    name = type(est).__name__
    metric = est.effective_metric_
    params = dict(est.effective_metric_params_ or {})
    if not isinstance(metric, str) or metric not in _METRICS:
        raise UnsupportedModelError(
            f"{name} with metric={metric!r} is not supported (supported: "
            f"{', '.join(_METRICS)}; scikit-learn computes other metrics and aliases by other "
            "code paths)")
    p = None
    if metric == "minkowski":
        p = params.pop("p", 2)
        if params.get("w") is not None:
            raise UnsupportedModelError(f"{name} with a weighted minkowski metric (metric_params "
                                        "w) is not supported")
        params.pop("w", None)
        p = float(p)
        if not (np.isfinite(p) and p >= 1):
            raise UnsupportedModelError(f"{name} with minkowski p={p} is not supported "
                                        "(supported: finite p >= 1)")
    if params:
        raise UnsupportedModelError(f"{name} with metric_params {sorted(params)} is not "
                                    "supported")
    return metric, p


def _training_rows(est):
    name = type(est).__name__
    fit_x = est._fit_X
    if hasattr(fit_x, "toarray"):
        raise UnsupportedModelError(f"{name} fitted on sparse data is not supported")
    fit_x = np.asarray(fit_x)
    if fit_x.dtype != np.float64:
        raise UnsupportedModelError(
            f"{name} fitted on {fit_x.dtype} data is not supported (scikit-learn then searches "
            "in float32); supported: models fitted on float64 data")
    return np.ascontiguousarray(as_float64(fit_x, f"{name}._fit_X"))


def _search(est, ctx, x, k):
    """The KNearest node of the estimator (added once per estimator and k)."""
    name = type(est).__name__
    cache = ctx.__dict__.setdefault("_knearest", {})
    key = (id(est), k)
    if key in cache:
        return cache[key]
    attrs = _stored(est, ctx)
    n = attrs.pop("_n")
    if not 1 <= k <= n:
        raise UnsupportedModelError(
            f"{name} with n_neighbors={k} and {n} training rows cannot predict "
            "(scikit-learn raises: n_neighbors <= n_samples_fit)")
    cache[key] = ctx.graph.add("KNearest", [x], k=float(k), **attrs)
    return cache[key]


def _stored(est, ctx):
    """The attributes of the stored rows and their search (tensors added once per
    estimator), plus "_n", the number of rows."""
    name = type(est).__name__
    cache = ctx.__dict__.setdefault("_neighbor_rows", {})
    if id(est) in cache:
        return dict(cache[id(est)])
    if est.metric == "precomputed":
        raise UnsupportedModelError(f"{name} with metric='precomputed' is not supported")
    metric, p = _metric(est)
    data = _training_rows(est)
    g = ctx.graph
    method = est._fit_method
    attrs = dict(data=g.tensor(data, "float64"), metric=metric, p=p, algorithm=method)
    if method == "brute":
        if metric == "euclidean":
            from sklearn.metrics._pairwise_distances_reduction._base import (
                _sqeuclidean_row_norms64)
            sq = np.asarray(_sqeuclidean_row_norms64(data, 1), dtype=np.float64)
            attrs["row_sq_norms"] = g.tensor(sq, "float64")
    elif method in ("kd_tree", "ball_tree"):
        tree_data, idx, nodes, bounds = est._tree.get_arrays()
        if not np.array_equal(np.asarray(tree_data), data):
            raise UnsupportedModelError(f"{name}: its tree holds other rows than _fit_X")
        attrs["tree_index"] = g.tensor(np.asarray(idx, dtype=np.int64), "int64")
        table = np.stack([nodes["idx_start"], nodes["idx_end"], nodes["is_leaf"]],
                         axis=1).astype(np.int64)
        attrs["tree_nodes"] = g.tensor(np.ascontiguousarray(table), "int64")
        attrs["tree_radius"] = g.tensor(np.asarray(nodes["radius"], dtype=np.float64),
                                        "float64")
        attrs["tree_bounds"] = g.tensor(np.ascontiguousarray(bounds, dtype=np.float64),
                                        "float64")
    else:
        raise UnsupportedModelError(f"{name} with _fit_method={method!r} is not supported")
    ctx.refuses_nan(est)
    attrs["_n"] = data.shape[0]
    cache[id(est)] = {k: v for k, v in attrs.items() if v is not None}
    return dict(cache[id(est)])


def _weights(est):
    if est.weights not in ("uniform", "distance"):
        raise UnsupportedModelError(
            f"{type(est).__name__} with weights={est.weights!r} is not supported (a callable "
            "cannot be stored); supported: 'uniform', 'distance'")
    return est.weights


@register("KNeighborsClassifier", kind="predictor")
def kneighbors_classifier(est, ctx, x):
    weights = _weights(est)
    multi = bool(est.outputs_2d_)
    classes = [np.asarray(c) for c in est.classes_] if multi else [np.asarray(est.classes_)]
    if any(len(c) < 2 for c in classes):
        raise UnsupportedModelError("KNeighborsClassifier fitted on a single class (in some "
                                    "output) is not supported (its predict would need no model)")
    g = ctx.graph
    near = _search(est, ctx, x, int(est.n_neighbors))
    codes = np.asarray(est._y, dtype=np.int64).reshape(len(est._y), -1)
    probas, preds = [], []
    for k, c in enumerate(classes):
        y = g.tensor(np.ascontiguousarray(codes[:, k]), "int64")
        proba = g.add("NeighborVote", [near], y=y, n_classes=float(len(c)), weights=weights,
                      output="proba")
        # uniform: counts / k, whose first largest is the smallest most frequent class;
        # distance: weighted_mode's sums
        scores = proba if weights == "uniform" else g.add(
            "NeighborVote", [near], y=y, n_classes=float(len(c)), weights=weights,
            output="scores")
        probas.append(proba)
        preds.append(g.add("ArgMax", [scores]))
    if not multi:
        outputs = {"predict": (preds[0], True), "predict_proba": (probas[0], False),
                   "kneighbors": (near, False)}
        return _with_kneighbors(Head(outputs, "classifier", classes[0]), est, ctx)
    # multi-output: predict one column per output, predict_proba a list of arrays
    outputs = {"predict": (g.add("IndexConcat", preds), False),
               "predict_proba": (g.add("Concat", probas), False),
               "kneighbors": (near, False)}
    head = Head(outputs, "classifier", classes,
                splits={"predict_proba": [len(c) for c in classes]})
    return _with_kneighbors(head, est, ctx)


def _regression_targets(est):
    """(the fitted targets as a float64 matrix, whether predict returns 1-D)."""
    name = type(est).__name__
    y = np.asarray(est._y)
    if y.dtype.kind not in "biuf" or y.dtype == np.float32 or y.dtype == np.float16:
        raise UnsupportedModelError(
            f"{name} fitted on {y.dtype} targets is not supported (scikit-learn then averages "
            "in that dtype); supported: float64 or integer targets")
    ravel = y.ndim == 1
    return as_float64(y.reshape(-1, 1) if ravel else y, f"{name}._y"), ravel


@register("KNeighborsRegressor", kind="predictor")
def kneighbors_regressor(est, ctx, x):
    weights = _weights(est)
    y2, ravel = _regression_targets(est)
    g = ctx.graph
    near = _search(est, ctx, x, int(est.n_neighbors))
    mean = g.add("NeighborMean", [near], y=g.tensor(np.ascontiguousarray(y2), "float64"),
                 weights=weights)
    return _with_kneighbors(Head({"predict": (mean, ravel), "kneighbors": (near, False)},
                                 "regressor"), est, ctx)


def _with_kneighbors(head, est, ctx):
    """kneighbors(X) as scikit-learn returns it: (distances float64, indices int64), for the
    fitted n_neighbors; only for the estimator stored on its own (a pipeline or a
    meta-estimator over it has no kneighbors)."""
    if len(ctx.steps) != 1:
        head.outputs.pop("kneighbors", None)
        return head
    k = int(est.n_neighbors)
    head.splits = dict(head.splits or {}, kneighbors=[k, k])
    head.block_dtypes = dict(head.block_dtypes or {}, kneighbors=["float64", "int64"])
    return head


@register("NearestNeighbors", kind="predictor")
def nearest_neighbors(est, ctx, x):
    if len(ctx.steps) != 1:
        raise UnsupportedModelError("NearestNeighbors offers only kneighbors, which a pipeline "
                                    "over it does not have; store it on its own")
    near = _search(est, ctx, x, int(est.n_neighbors))
    return _with_kneighbors(Head({"kneighbors": (near, False)}, None), est, ctx)


def _radius(est):
    r = float(est.radius)
    if not (np.isfinite(r) and r >= 0):
        raise UnsupportedModelError(f"{type(est).__name__} with radius={est.radius} is not "
                                    "supported (supported: finite radius >= 0)")
    return r


@register("RadiusNeighborsRegressor", kind="predictor")
def radius_neighbors_regressor(est, ctx, x):
    weights = _weights(est)
    y2, ravel = _regression_targets(est)
    attrs = _stored(est, ctx)
    attrs.pop("_n")
    g = ctx.graph
    mean = g.add("RadiusNeighbors", [x], radius=_radius(est), weights=weights, output="mean",
                 y=g.tensor(np.ascontiguousarray(y2), "float64"), **attrs)
    return Head({"predict": (mean, ravel)}, "regressor")


@register("RadiusNeighborsClassifier", kind="predictor")
def radius_neighbors_classifier(est, ctx, x):
    """predict_proba as scikit-learn computes it on each of its two paths: its
    RadiusNeighborsClassMode reduction (uniform weights, brute force, a metric other than
    euclidean) puts an outlier's 1 at the class *index* equal to the outlier_label parameter,
    the other path at the class equal to outlier_label_; predict is the first largest
    probability, or outlier_label_ for a row of zeros."""
    weights = _weights(est)
    if est.outputs_2d_:
        raise UnsupportedModelError("RadiusNeighborsClassifier fitted on multi-output y is "
                                    "not supported yet; supported: one target column")
    classes = np.asarray(est.classes_)
    n = len(classes)
    attrs = _stored(est, ctx)
    attrs.pop("_n")
    label = est.outlier_label_[0] if est.outlier_label_ is not None else None
    class_mode = (weights == "uniform" and est._fit_method == "brute"
                  and attrs["metric"] != "euclidean")
    outlier_index = -1
    if label is not None:
        if class_mode:
            hits = [i for i in range(n) if _equal(i, est.outlier_label)]
        else:
            hits = np.flatnonzero(classes == label).tolist()
        if len(hits) == 1 or (class_mode and hits):
            outlier_index = int(hits[-1] if class_mode else hits[0])
    outlier_predict = 0
    if label is not None:
        where = np.flatnonzero(classes == label)
        if not where.size:
            raise UnsupportedModelError(
                f"RadiusNeighborsClassifier with outlier_label={label!r}, which is not one of "
                "classes_, is not supported yet (predict would return a label outside "
                "classes_); supported: None, 'most_frequent' or one of the classes")
        outlier_predict = int(where[0])
    g = ctx.graph
    codes = g.tensor(np.asarray(est._y, dtype=np.int64), "int64")
    common = dict(radius=_radius(est), weights=weights, codes=codes, n_classes=float(n),
                  outlier_index=float(outlier_index), refuse_outliers=label is None, **attrs)
    proba = g.add("RadiusNeighbors", [x], output="proba", **common)
    pred = g.add("RadiusNeighbors", [x], output="predict",
                 outlier_predict=float(outlier_predict), **common)
    return Head({"predict": (pred, True), "predict_proba": (proba, False)}, "classifier",
                classes)


def _equal(i, value):
    """``i == value`` as Cython compares an index with the outlier_label object."""
    try:
        return bool(i == value)
    except Exception:
        return False


@register("LocalOutlierFactor", kind="predictor")
def local_outlier_factor(est, ctx, x):
    """LocalOutlierFactor(novelty=True): score_samples from the n_neighbors_ nearest training
    rows (``LocalOutlierScore``), decision_function = score_samples - offset_, predict -1
    where it is < 0, else 1. With novelty=False it predicts nothing on new data (scikit-learn
    offers only fit_predict, and negative_outlier_factor_ for its training rows): stored as
    the estimators that predict nothing are (fit_only.py), its fitted attributes read-only,
    with kneighbors."""
    if not est.novelty:
        if len(ctx.steps) != 1:
            raise UnsupportedModelError(
                "LocalOutlierFactor(novelty=False) predicts nothing on new data, so it cannot "
                "be a pipeline step; store it on its own, or fit it with novelty=True")
        if int(est.n_neighbors) > est.n_samples_fit_:  # scikit-learn's kneighbors raises
            return Head({}, "outlier_detector")
        # kneighbors(X) for the n_neighbors parameter, as KNeighborsMixin answers it
        near = _search(est, ctx, x, int(est.n_neighbors))
        return _with_kneighbors(Head({"kneighbors": (near, False)}, "outlier_detector"), est,
                                ctx)
    g = ctx.graph
    k = int(est.n_neighbors_)
    near = _search(est, ctx, x, k)
    kdist = as_float64(np.asarray(est._distances_fit_X_)[:, k - 1],
                       "LocalOutlierFactor._distances_fit_X_")
    lrd = as_float64(est._lrd, "LocalOutlierFactor._lrd")
    score = g.add("LocalOutlierScore", [near, x],
                  k_distance=g.tensor(np.ascontiguousarray(kdist), "float64"),
                  lrd=g.tensor(np.ascontiguousarray(lrd), "float64"))
    decision = g.add("SubDiv", [score], sub=g.tensor([float(est.offset_)], "float64"))
    outputs = {"score_samples": (score, True), "decision_function": (decision, True),
               "predict": (g.add("OutlierLabel", [decision]), True),
               "kneighbors": (near, False)}
    if len(ctx.steps) != 1:  # a pipeline over it has no kneighbors
        outputs.pop("kneighbors")
        return Head(outputs, "outlier_detector")
    return Head(outputs, "outlier_detector", splits={"kneighbors": [k, k]},
                block_dtypes={"kneighbors": ["float64", "int64"]})


@register("KNeighborsTransformer", kind="predictor")
def kneighbors_transformer(est, ctx, x):
    """transform as scikit-learn's: ``kneighbors_graph(X, mode, n_neighbors + (mode ==
    'distance'))``, a CSR matrix of n_samples_fit_ columns with, row by row, the neighbours in
    kneighbors order (their distances, or 1 for "connectivity"); the output option "sparse"
    over the KNearest (distances, indices) blocks. Also kneighbors, for the fitted
    n_neighbors, when stored on its own."""
    mode = _graph_mode(est)
    k = int(est.n_neighbors) + (mode == "distance")
    near = _search(est, ctx, x, k)
    sparse = (int(est.n_samples_fit_), "values" if mode == "distance" else "ones")
    head = Head({"transform": (near, False)}, "transformer", splits={"transform": [k, k]},
                block_dtypes={"transform": ["float64", "int64"]}, sparse={"transform": sparse})
    if len(ctx.steps) == 1:
        head.outputs["kneighbors"] = (_search(est, ctx, x, int(est.n_neighbors)), False)
    return _with_kneighbors(head, est, ctx)


def _graph_mode(est):
    if est.mode not in ("distance", "connectivity"):
        raise UnsupportedModelError(f"{type(est).__name__} with mode={est.mode!r} is not "
                                    "supported (supported: 'distance', 'connectivity')")
    return est.mode


@register("RadiusNeighborsTransformer", kind="predictor")
def radius_neighbors_transformer(est, ctx, x):
    """transform as scikit-learn's: ``radius_neighbors_graph(X, mode, sort_results=True)``, a
    CSR matrix of n_samples_fit_ columns with, row by row, the stored rows within the radius:
    "distance", sorted by distance (as radius_neighbors(sort_results=True) sorts them), valued
    by their distances; "connectivity", in radius_neighbors' unsorted order, valued 1. Op
    ``RadiusNeighbors`` with output "graph" (distances then -1-padded indices), returned
    through the output option "sparse"."""
    mode = _graph_mode(est)
    attrs = _stored(est, ctx)
    n = attrs.pop("_n")
    value = ctx.graph.add("RadiusNeighbors", [x], radius=_radius(est), output="graph",
                          sort_results=mode == "distance", **attrs)
    return Head({"transform": (value, False)}, "transformer", splits={"transform": [n, n]},
                block_dtypes={"transform": ["float64", "int64"]},
                sparse={"transform": (n, "values" if mode == "distance" else "ones")})


def _graph_step(est, ctx, x):
    raise UnsupportedModelError(
        f"{type(est).__name__} as an intermediate pipeline step is not supported: its "
        "transform is a sparse neighbour graph, which the following steps would read as a "
        "dense matrix; store it as the last step (or on its own)")


register("KNeighborsTransformer", "RadiusNeighborsTransformer", kind="transformer")(_graph_step)
