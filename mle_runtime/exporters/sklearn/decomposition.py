"""Linear decompositions: PCA, IncrementalPCA and TruncatedSVD (transform), and PCA's
probabilistic score_samples (when its precision matrix is invertible; otherwise scikit-learn's score_samples raises, and the loaded
model has none). inverse_transform takes rows of n_components columns, which the graph's one
input width cannot express: it is not offered.

``_BasePCA._transform`` computes ``X @ components_.T - mean_ @ components_.T`` and, with
``whiten``, divides by ``sqrt(explained_variance_)`` (clipped below at the float's eps): one
``Dense`` node whose weight is ``components_.T`` (stored transposed, the layout the product
reads) and whose bias is ``-(mean_ @ components_.T)`` computed here as scikit-learn computes
it, then a ``SubDiv``. TruncatedSVD.transform is ``X @ components_.T``.
"""

import math

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register


def _check_float64(est, *names):
    cls = type(est).__name__
    for n in names:
        a = getattr(est, n, None)
        if a is not None and np.asarray(a).dtype != np.float64:
            raise UnsupportedModelError(
                f"{cls} fitted on {np.asarray(a).dtype} data ({n} is {np.asarray(a).dtype}) "
                "is not supported yet: scikit-learn then computes in float32 for float32 "
                "input; supported: models fitted on float64 data")


def pca_transform(est, ctx, x):
    name = type(est).__name__
    _check_float64(est, "components_", "mean_", "explained_variance_")
    comp = as_float64(est.components_, f"{name}.components_")
    mean = as_float64(est.mean_, f"{name}.mean_")
    ctx.refuses_nan(est)
    g = ctx.graph
    if comp.shape[0] == 0:
        raise UnsupportedModelError(f"{name} with no components is not supported")
    offset = np.reshape(mean, (1, -1)) @ comp.T  # as _transform computes it
    x = g.add("Dense", [x], weight=g.tensor(np.ascontiguousarray(comp.T), "float64"),
              bias=g.tensor(-offset[0], "float64"))
    if est.whiten:
        scale = np.sqrt(as_float64(est.explained_variance_, f"{name}.explained_variance_"))
        min_scale = np.finfo(scale.dtype).eps
        scale[scale < min_scale] = min_scale
        x = g.add("SubDiv", [x], div=g.tensor(scale, "float64"))
    return x


def pca_log_likelihood(est, ctx, x):
    """score_samples: -0.5 * sum(Xr * (Xr @ P), axis=1) - 0.5 * (n log(2 pi) - logdet(P)),
    Xr = X - mean_, P = get_precision()."""
    from sklearn.utils.extmath import fast_logdet

    name = type(est).__name__
    try:
        precision = as_float64(est.get_precision(), f"{name}.get_precision()")
    except np.linalg.LinAlgError:
        return None  # scikit-learn's score_samples raises for every input
    n = precision.shape[0]
    const = 0.5 * (n * math.log(2.0 * np.pi) - fast_logdet(precision))
    if not np.isfinite(const):
        return None  # a singular precision: every score would be infinite
    g = ctx.graph
    return g.add("GaussianLogLikelihood", [x],
                 mean=g.tensor(as_float64(est.mean_, f"{name}.mean_"), "float64"),
                 precision=g.tensor(precision, "float64"), constant=float(const))


@register("PCA", "IncrementalPCA", kind="transformer")
def pca(est, ctx, x):
    return pca_transform(est, ctx, x)


@register("PCA", kind="predictor")
def pca_final(est, ctx, x):
    # As the last step: Pipeline.score_samples is the last step's on the transformed rows.
    outputs = {"transform": (pca_transform(est, ctx, x), False)}
    if hasattr(est, "score_samples"):
        ll = pca_log_likelihood(est, ctx, x)
        if ll is not None:
            outputs["score_samples"] = (ll, True)
    return Head(outputs, "transformer")


@register("TruncatedSVD", kind="transformer")
def truncated_svd(est, ctx, x):
    name = type(est).__name__
    _check_float64(est, "components_")
    comp = as_float64(est.components_, f"{name}.components_")
    ctx.refuses_nan(est)
    g = ctx.graph
    return g.add("Dense", [x], weight=g.tensor(np.ascontiguousarray(comp.T), "float64"))
