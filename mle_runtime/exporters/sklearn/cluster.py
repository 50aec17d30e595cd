"""K-means clusterers: KMeans, MiniBatchKMeans and BisectingKMeans (predict, transform).

predict is KMeans' assignment step (``_k_means_lloyd.pyx``, ``_update_chunk_dense``): the
squared norms of the centers (``row_norms``, computed here with scikit-learn's own function),
the BLAS product ``-2 X @ centers.T`` added onto them, and the first strict minimum: the
``NearestRow`` op performs that same product through the same BLAS, so near-ties resolve as
scikit-learn resolves them. transform is ``euclidean_distances(X, cluster_centers_)``
(``RowKernel`` with ``kernel="euclidean"``). BisectingKMeans assigns a row by descending its
tree of bisections (``BisectTree``: one assignment step over the pair of centers at each
node).
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

CLASSES = ("KMeans", "MiniBatchKMeans", "BisectingKMeans")


def _centers(est):
    from sklearn.utils.extmath import row_norms

    name = type(est).__name__
    c = np.asarray(est.cluster_centers_)
    if c.dtype != np.float64:
        raise UnsupportedModelError(
            f"{name} fitted on {c.dtype} data is not supported yet (scikit-learn then predicts "
            "float32 input in float32); supported: models fitted on float64 data")
    c = as_float64(c, f"{name}.cluster_centers_")
    return c, row_norms(c, squared=True)


def _transform(est, ctx, x):
    c, sq = _centers(est)
    ctx.refuses_nan(est)
    g = ctx.graph
    return g.add("RowKernel", [x], rows=g.tensor(c, "float64"),
                 row_sq_norms=g.tensor(sq, "float64"), kernel="euclidean")


def _labels(est, ctx, x):
    name = type(est).__name__
    c, sq = _centers(est)
    ctx.refuses_nan(est)
    g = ctx.graph
    if name == "BisectingKMeans":
        return _bisecting_labels(est, ctx, x, c)
    return g.add("NearestRow", [x], rows=g.tensor(c, "float64"),
                 row_sq_norms=g.tensor(sq, "float64"))


def _bisecting_labels(est, ctx, x, centers):
    """BisectingKMeans.predict descends its tree of bisections (``_predict_recursive``): at
    each internal node the row goes to the nearer of the two children's centers (plus
    ``_X_mean`` where fit centred X), by the assignment step over that pair. Nodes are numbered
    in preorder, so every child comes after its parent."""
    from sklearn.utils.extmath import row_norms

    nodes, pairs, children = [], [], []
    stack = [est._bisecting_tree]
    while stack:
        node = stack.pop()
        if node.left is None:
            continue
        nodes.append(node)
        stack.extend([node.right, node.left])
    if not nodes:  # one cluster: every row is that leaf's
        raise UnsupportedModelError("BisectingKMeans with n_clusters=1 is not supported")
    index = {id(n): i for i, n in enumerate(nodes)}
    for node in nodes:
        pair = np.vstack((node.left.center, node.right.center))
        if hasattr(est, "_X_mean"):
            pair += est._X_mean
        pairs.append(as_float64(pair, "BisectingKMeans centers"))
        children.append([index[id(c)] if c.left is not None else -1 - int(c.label)
                         for c in (node.left, node.right)])
    rows = np.vstack(pairs)
    # _labels_inertia computes each pair's squared norms with row_norms.
    sq = np.concatenate([row_norms(p, squared=True) for p in pairs])
    g = ctx.graph
    return g.add("BisectTree", [x], rows=g.tensor(rows, "float64"),
                 row_sq_norms=g.tensor(sq, "float64"),
                 children=g.tensor(np.asarray(children, dtype=np.int32), "int32"))


@register(*CLASSES, kind="transformer")
def kmeans_transformer(est, ctx, x):
    return _transform(est, ctx, x)


@register(*CLASSES, kind="predictor")
def kmeans(est, ctx, x):
    outputs = {"predict": (_labels(est, ctx, x), True),
               "transform": (_transform(est, ctx, x), False)}
    return Head(outputs, "clusterer", dtypes={"predict": "int32"})
