"""KernelDensity: ``score_samples``, scikit-learn's ``tree_.kernel_density(X, h=bandwidth_,
kernel, atol=atol * N, rtol, breadth_first, return_log=True) - log(N)`` (N the number of
training rows, or the sum of their weights), computed by the ``KernelDensity`` op over the
stored KDTree or BallTree (its rows, idx_array, node_data and node_bounds) with the tree's
own traversal, bounds and pruning tests, so atol and rtol give scikit-learn's approximation
too. Metrics: euclidean, manhattan, chebyshev, minkowski (and their aliases), as the tree's
distance metric names them."""

import math

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

_KERNELS = ("gaussian", "tophat", "epanechnikov", "exponential", "linear", "cosine")
_METRIC_CLASSES = {"EuclideanDistance64": "euclidean", "ManhattanDistance64": "manhattan",
                   "ChebyshevDistance64": "chebyshev", "MinkowskiDistance64": "minkowski"}

ATTRIBUTES = {"KernelDensity": ("n_features_in_", "feature_names_in_", "bandwidth_")}


def _number(v, what):
    v = float(v)
    if not math.isfinite(v):
        raise UnsupportedModelError(f"KernelDensity: {what}={v} is not finite")
    return v


@register("KernelDensity", kind="predictor")
def kernel_density(est, ctx, x):
    what = "KernelDensity"
    if est.kernel not in _KERNELS:
        raise UnsupportedModelError(f"{what}(kernel={est.kernel!r}) is not supported")
    tree = est.tree_
    kind = type(tree).__name__
    algorithm = {"KDTree": "kd_tree", "BallTree": "ball_tree"}.get(kind)
    if algorithm is None:
        raise UnsupportedModelError(f"{what} over a {kind} is not supported")
    dm = tree.__getstate__()[-2]
    metric = _METRIC_CLASSES.get(type(dm).__name__)
    if metric is None:
        raise UnsupportedModelError(
            f"{what}(metric={est.metric!r}) is not supported (supported: euclidean, "
            "manhattan, chebyshev, minkowski and their aliases)")
    params = dict(est.metric_params or {})
    p = None
    if metric == "minkowski":
        if params.get("w") is not None:
            raise UnsupportedModelError(f"{what} with a weighted minkowski metric "
                                        "(metric_params w) is not supported")
        p = float(params.get("p", 2))
        if not (math.isfinite(p) and p >= 1):
            raise UnsupportedModelError(f"{what} with minkowski p={p} is not supported "
                                        "(supported: finite p >= 1)")
    data, idx, nodes, bounds = tree.get_arrays()
    data = np.ascontiguousarray(as_float64(data, "KernelDensity.tree_.data"))
    g = ctx.graph
    table = np.stack([nodes["idx_start"], nodes["idx_end"], nodes["is_leaf"]],
                     axis=1).astype(np.int64)
    sw = tree.sample_weight
    weights = None
    if sw is not None:
        weights = g.tensor(as_float64(sw, "KernelDensity.tree_.sample_weight"), "float64")
    n = data.shape[0]
    attrs = dict(
        data=g.tensor(data, "float64"), metric=metric, p=p, algorithm=algorithm,
        tree_index=g.tensor(np.asarray(idx, dtype=np.int64), "int64"),
        tree_nodes=g.tensor(np.ascontiguousarray(table), "int64"),
        tree_radius=g.tensor(np.asarray(nodes["radius"], dtype=np.float64), "float64"),
        tree_bounds=g.tensor(np.ascontiguousarray(bounds, dtype=np.float64), "float64"),
        kernel=est.kernel, bandwidth=_number(est.bandwidth_, "bandwidth_"),
        # score_samples passes atol * N, N the rows or the weights' sum
        atol=_number(est.atol * (n if sw is None else float(tree.sum_weight)), "atol"),
        rtol=_number(est.rtol, "rtol"),
        sum_weight=_number(tree.sum_weight, "tree_.sum_weight"),
        breadth_first=bool(est.breadth_first), weights=weights)
    if attrs["bandwidth"] <= 0:
        raise UnsupportedModelError(f"{what}: bandwidth_ must be positive")
    ctx.refuses_nan(est)
    out = g.add("KernelDensity", [x], **{k: v for k, v in attrs.items() if v is not None})
    return Head({"score_samples": (out, True)}, "density_estimator")
