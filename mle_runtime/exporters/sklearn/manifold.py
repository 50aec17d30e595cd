"""Manifold learners with an out-of-sample map: Isomap (transform) and LocallyLinearEmbedding
(transform, every ``method``: its transform is the same for all).

- Isomap: the ``n_neighbors`` nearest training rows of each row (``nbrs_``, op ``KNearest``,
  the same neighbours in the same order as scikit-learn), the geodesic distances to every
  training row ``min_j (dist_matrix_[i_j] + d_j)`` (in X's float type, as scikit-learn's
  ``G_X``), ``-0.5 * G_X ** 2`` centred as ``kernel_pca_``'s KernelCenterer centres it (op
  ``GeodesicKernel``), then the product with ``kernel_pca_``'s eigenvectors scaled by
  ``1 / sqrt(eigenvalues_)`` (0 where an eigenvalue is 0; ``Dense``).
- LocallyLinearEmbedding: the ``n_neighbors`` nearest training rows (``KNearest``), their
  barycenter weights with ``reg`` (scikit-learn's ``barycenter_weights``: a Cholesky solve of
  the regularised Gram matrix, weights in X's float type) and the weighted sum of those rows'
  ``embedding_`` (op ``Barycenter``).

As for the neighbour estimators, float32 input to a brute-force search raises (the tree
searches take it).

Refused at dump: Isomap with ``radius`` (n_neighbors=None: a row without neighbours makes
scikit-learn's transform fail), precomputed neighbours, and what the neighbour search refuses
(neighbors.py: metrics other than euclidean, manhattan, chebyshev, minkowski; models fitted
on float32 data).
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import as_float64, register
from mle_runtime.exporters.sklearn.neighbors import _search

_COMMON = ("n_features_in_", "feature_names_in_")
ATTRIBUTES = {
    "Isomap": _COMMON + ("embedding_", "dist_matrix_"),
    "LocallyLinearEmbedding": _COMMON + ("embedding_", "reconstruction_error_"),
}


def _f64(g, a, what):
    return g.tensor(np.ascontiguousarray(as_float64(a, what)), "float64")


def _neighbors(est, ctx, x):
    name = type(est).__name__
    nbrs = est.nbrs_
    if est.neighbors_algorithm == "precomputed" or nbrs.metric == "precomputed":
        raise UnsupportedModelError(f"{name} with precomputed neighbours is not supported (its "
                                    "transform needs the caller's distance matrix)")
    ctx.refuses_nan(est)
    return _search(nbrs, ctx, x, int(est.n_neighbors))


@register("Isomap", kind="transformer")
def isomap(est, ctx, x):
    if est.n_neighbors is None:
        raise UnsupportedModelError(
            "Isomap with radius (n_neighbors=None) is not supported: scikit-learn's transform "
            "fails on a row without neighbours within the radius; supported: n_neighbors")
    near = _neighbors(est, ctx, x)
    kpca = est.kernel_pca_
    centerer = kpca._centerer
    g = ctx.graph
    kernel = g.add("GeodesicKernel", [near, x],
                   dist_matrix=_f64(g, est.dist_matrix_, "Isomap.dist_matrix_"),
                   fit_rows=_f64(g, centerer.K_fit_rows_, "Isomap kernel K_fit_rows_"),
                   fit_all=float(centerer.K_fit_all_))
    vectors = as_float64(kpca.eigenvectors_, "Isomap kernel_pca_.eigenvectors_")
    values = as_float64(kpca.eigenvalues_, "Isomap kernel_pca_.eigenvalues_")
    non_zeros = np.flatnonzero(values)
    scaled = np.zeros_like(vectors)
    scaled[:, non_zeros] = vectors[:, non_zeros] / np.sqrt(values[non_zeros])
    return g.add("Dense", [kernel], weight=g.tensor(np.ascontiguousarray(scaled), "float64"))


@register("LocallyLinearEmbedding", kind="transformer")
def locally_linear_embedding(est, ctx, x):
    near = _neighbors(est, ctx, x)
    reg = float(est.reg)
    if not np.isfinite(reg):
        raise UnsupportedModelError(f"LocallyLinearEmbedding with reg={est.reg} is not "
                                    "supported (supported: a finite reg)")
    g = ctx.graph
    data = ctx._neighbor_rows[id(est.nbrs_)]["data"]  # the searched rows' tensor, once
    return g.add("Barycenter", [near, x], data=data,
                 embedding=_f64(g, est.embedding_, "LocallyLinearEmbedding.embedding_"),
                 reg=reg)
