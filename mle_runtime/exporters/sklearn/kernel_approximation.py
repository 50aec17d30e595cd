"""Kernel approximations and random projections: Nystroem, RBFSampler,
GaussianRandomProjection and SparseRandomProjection (transform).

Nystroem.transform is ``pairwise_kernels(X, components_, metric=kernel, filter_params=True,
**params) @ normalization_.T``: a ``RowKernel`` node against the stored components (the
kernel's parameters resolved here as scikit-learn's kernel functions default them) and a
``Dense`` node. RBFSampler.transform is ``cos(X @ random_weights_ + random_offset_) *
(2 / n_components) ** 0.5``: a ``Dense`` node with the cos activation and a ``Scale``. The
random projections are ``X @ components_.T``; a sparse ``components_``
(SparseRandomProjection) is stored dense, its zeros included (the sums are the same up to
rounding: the sparse product adds only the nonzero terms).
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import as_float64, register

# Kernel name -> (RowKernel kernel, {parameter: scikit-learn's default, None: 1 / n_features})
KERNELS = {
    "linear": ("linear", {}),
    "cosine": ("cosine", {}),
    "rbf": ("rbf", {"gamma": None}),
    "poly": ("poly", {"gamma": None, "degree": 3, "coef0": 1}),
    "polynomial": ("poly", {"gamma": None, "degree": 3, "coef0": 1}),
    "sigmoid": ("sigmoid", {"gamma": None, "coef0": 1}),
}


def kernel_rows(owner, rows, what):
    """The stored rows a kernel is computed against, as float64; refuses sparse and
    non-float64 ones (scikit-learn then computes the kernel another way or in float32)."""
    if hasattr(rows, "toarray"):
        raise UnsupportedModelError(
            f"{owner} fitted on a scipy.sparse matrix is not supported; fit it on a dense array")
    dt = np.asarray(rows).dtype
    if dt != np.float64:
        raise UnsupportedModelError(
            f"{owner} fitted on {dt} data is not supported (its kernel is then computed in "
            "that precision); fit it on float64 data")
    return as_float64(rows, f"{owner}.{what}")


def row_kernel(g, x, rows, kind, params):
    """The RowKernel node pairwise_kernels(x, rows, metric=kind, **params): cosine against
    the normalised rows, rbf with the rows' squared norms."""
    from sklearn.preprocessing import normalize
    from sklearn.utils.extmath import row_norms

    stored = normalize(rows) if kind == "cosine" else rows
    sq = row_norms(rows, squared=True) if kind == "rbf" else None
    return g.add("RowKernel", [x], rows=g.tensor(np.ascontiguousarray(stored), "float64"),
                 row_sq_norms=None if sq is None else g.tensor(sq, "float64"), kernel=kind,
                 **params)


def _float64(est, name):
    a = getattr(est, name)
    dt = a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
    if dt != np.float64:
        raise UnsupportedModelError(
            f"{type(est).__name__} fitted on {dt} data ({name} is {dt}) is not supported yet; "
            "supported: models fitted on float64 data")
    return as_float64(a, f"{type(est).__name__}.{name}")


@register("Nystroem", kind="transformer")
def nystroem(est, ctx, x):
    name = type(est).__name__
    if not isinstance(est.kernel, str) or est.kernel not in KERNELS:
        raise UnsupportedModelError(
            f"{name}(kernel={est.kernel!r}) is not supported; supported kernels: "
            f"{', '.join(sorted(KERNELS))}")
    kind, defaults = KERNELS[est.kernel]
    comp = _float64(est, "components_")
    norm = _float64(est, "normalization_")
    params = est._get_kernel_params()
    resolved = {}
    for p, default in defaults.items():
        v = params.get(p, default)
        resolved[p] = 1.0 / comp.shape[1] if v is None else float(v)
    ctx.refuses_nan(est)
    g = ctx.graph
    k = row_kernel(g, x, comp, kind, resolved)
    return g.add("Dense", [k], weight=g.tensor(np.ascontiguousarray(norm.T), "float64"))


@register("GaussianRandomProjection", "SparseRandomProjection", kind="transformer")
def random_projection(est, ctx, x):
    comp = _float64(est, "components_")
    ctx.refuses_nan(est)
    g = ctx.graph
    return g.add("Dense", [x], weight=g.tensor(np.ascontiguousarray(comp.T), "float64"))


@register("RBFSampler", kind="transformer")
def rbf_sampler(est, ctx, x):
    w = _float64(est, "random_weights_")
    b = _float64(est, "random_offset_")
    ctx.refuses_nan(est)
    g = ctx.graph
    p = g.add("Dense", [x], weight=g.tensor(w, "float64"), bias=g.tensor(b, "float64"),
              activation="cos")
    return g.add("Scale", [p], factor=(2.0 / est.n_components) ** 0.5)
