"""Latent-variable transformers: FastICA (transform, inverse_transform), FactorAnalysis
(transform, score_samples), NeighborhoodComponentsAnalysis (transform), SparsePCA and
MiniBatchSparsePCA (transform, inverse_transform), KernelPCA (transform; inverse_transform when
fitted with ``fit_inverse_transform=True``).

- FastICA: with ``whiten``, ``X -= mean_`` in the input's float type (``SubDiv``), then
  ``X @ components_.T`` (``Dense``); inverse ``Y @ mixing_.T (+ mean_ when whitened)``.
- FactorAnalysis: ``X - mean_`` in float64 (``AsFloat64``, ``SubDiv``), ``@ Wpsi.T`` and
  ``@ cov_z`` (``Wpsi = components_ / noise_variance_`` and
  ``cov_z = inv(I + Wpsi @ components_.T)`` computed here as ``transform`` computes them);
  ``score_samples`` is a ``GaussianLogDensity`` with ``get_precision()``.
- NeighborhoodComponentsAnalysis: ``X @ components_.T``.
- SparsePCA: ``transform`` is ``ridge_regression(components_.T, (X - mean_).T, ridge_alpha,
  solver="cholesky")``, linear in ``X - mean_``: its matrix is that ridge regression's
  solution for the identity (computed here by scikit-learn's own function, so its
  primal/dual choice and singular fall-back are the same), applied by one ``Dense`` node;
  inverse ``Y @ components_ + mean_``.
- KernelPCA: ``KernelCenterer().transform(k(X, X_fit_)) @ A`` with ``A`` the eigenvectors
  scaled by ``1 / sqrt(eigenvalues_)`` (0 where an eigenvalue is 0). The centring is linear in
  the kernel row, so it folds into the product: ``k @ (A - outer(1 / n, colsum(A))) +
  (K_fit_all_ * colsum(A) - K_fit_rows_ @ A)`` (a ``RowKernel`` and a ``Dense`` node; the
  order of the additions differs from scikit-learn's, the values agree to rounding). The
  inverse is ``k(Y, X_transformed_fit_) @ dual_coef_``.

Not supported (refused at dump): models fitted on float32 data (scikit-learn then computes in
float32), KernelPCA with a precomputed or callable kernel.
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register
from mle_runtime.exporters.sklearn.decomposition import _check_float64, pca_log_likelihood
from mle_runtime.exporters.sklearn.inverse import inverse
from mle_runtime.exporters.sklearn.kernel_approximation import kernel_rows, row_kernel
from mle_runtime.exporters.sklearn.kernel_ridge import _KERNELS

_COMMON = ("n_features_in_", "feature_names_in_")
ATTRIBUTES = {
    "FastICA": _COMMON + ("components_", "mixing_", "mean_", "whitening_", "n_iter_"),
    "FactorAnalysis": _COMMON + ("components_", "loglike_", "noise_variance_", "n_iter_",
                                 "mean_"),
    "NeighborhoodComponentsAnalysis": _COMMON + ("components_", "n_iter_", "random_state_"),
    "SparsePCA": _COMMON + ("components_", "error_", "n_components_", "n_iter_", "mean_"),
    "MiniBatchSparsePCA": _COMMON + ("components_", "n_components_", "n_iter_", "mean_"),
    "KernelPCA": _COMMON + ("eigenvalues_", "eigenvectors_", "dual_coef_",
                            "X_transformed_fit_", "X_fit_", "gamma_"),
}


def _f64(g, a, what):
    return g.tensor(np.ascontiguousarray(as_float64(a, what)), "float64")


def _dense(g, x, weight, what, bias=None):
    return g.add("Dense", [x], weight=_f64(g, weight, what),
                 bias=None if bias is None else _f64(g, bias, what))


@register("FastICA", kind="transformer")
def fast_ica(est, ctx, x):
    _check_float64(est, "components_", "mean_")
    ctx.refuses_nan(est)
    g = ctx.graph
    if est.whiten:  # X -= mean_ in place: the input's float type
        x = g.add("SubDiv", [x], sub=_f64(g, est.mean_, "FastICA.mean_"))
    return _dense(g, x, np.asarray(est.components_).T, "FastICA.components_")


@inverse("FastICA")
def fast_ica_inverse(est, g, y):
    mean = est.mean_ if est.whiten else None
    return _dense(g, y, np.asarray(est.mixing_).T, "FastICA.mixing_", mean), True


def factor_analysis_transform(est, ctx, x):
    from scipy import linalg

    _check_float64(est, "components_", "mean_", "noise_variance_")
    ctx.refuses_nan(est)
    g = ctx.graph
    comp = as_float64(est.components_, "FactorAnalysis.components_")
    ih = np.eye(len(comp))
    wpsi = comp / as_float64(est.noise_variance_, "FactorAnalysis.noise_variance_")
    cov_z = linalg.inv(ih + np.dot(wpsi, comp.T))
    centred = g.add("SubDiv", [g.add("AsFloat64", [x])],  # X - mean_: float64
                    sub=_f64(g, est.mean_, "FactorAnalysis.mean_"))
    tmp = _dense(g, centred, wpsi.T, "FactorAnalysis.components_")
    return _dense(g, tmp, cov_z, "FactorAnalysis cov_z")


@register("FactorAnalysis", kind="transformer")
def factor_analysis(est, ctx, x):
    return factor_analysis_transform(est, ctx, x)


@register("FactorAnalysis", kind="predictor")
def factor_analysis_final(est, ctx, x):
    outputs = {"transform": (factor_analysis_transform(est, ctx, x), False)}
    ll = pca_log_likelihood(est, ctx, x)
    if ll is not None:
        outputs["score_samples"] = (ll, True)
    return Head(outputs, "transformer")


@register("NeighborhoodComponentsAnalysis", kind="transformer")
def nca(est, ctx, x):
    _check_float64(est, "components_")
    ctx.refuses_nan(est)
    return _dense(ctx.graph, x, np.asarray(est.components_).T,
                  "NeighborhoodComponentsAnalysis.components_")


@register("SparsePCA", "MiniBatchSparsePCA", kind="transformer")
def sparse_pca(est, ctx, x):
    from sklearn.linear_model import ridge_regression

    name = type(est).__name__
    _check_float64(est, "components_", "mean_")
    ctx.refuses_nan(est)
    comp = as_float64(est.components_, f"{name}.components_")
    n = comp.shape[1]
    # U = ridge_regression(components_.T, Xc.T, ...) is Xc @ M, M its value at Xc = I
    matrix = ridge_regression(comp.T, np.eye(n), est.ridge_alpha, solver="cholesky")
    g = ctx.graph
    centred = g.add("SubDiv", [g.add("AsFloat64", [x])],  # X - mean_: float64
                    sub=_f64(g, est.mean_, f"{name}.mean_"))
    return _dense(g, centred, np.asarray(matrix).reshape(n, -1), f"{name} ridge solution")


@inverse("SparsePCA", "MiniBatchSparsePCA")
def sparse_pca_inverse(est, g, y):
    name = type(est).__name__
    return _dense(g, y, est.components_, f"{name}.components_", est.mean_), True


def _kernel(est, g, x, rows, what):
    """pairwise_kernels(x, rows, metric=est.kernel, gamma=gamma_, degree, coef0)."""
    name = type(est).__name__
    if not isinstance(est.kernel, str) or est.kernel not in _KERNELS:
        raise UnsupportedModelError(
            f"{name}(kernel={est.kernel!r}) is not supported; supported kernels: "
            f"{', '.join(sorted(_KERNELS))} (a precomputed or callable kernel needs the "
            "caller's kernel matrix or Python code at prediction time)")
    rows = kernel_rows(name, rows, what)
    kind, names = _KERNELS[est.kernel]
    params = {}
    for p in names:
        v = est.gamma_ if p == "gamma" else getattr(est, p)
        if v is None:
            raise UnsupportedModelError(f"{name}(kernel={est.kernel!r}) without {p} cannot "
                                        "transform")
        params[p] = float(v)
    return row_kernel(g, x, rows, kind, params)


@register("KernelPCA", kind="transformer")
def kernel_pca(est, ctx, x):
    ctx.refuses_nan(est)
    g = ctx.graph
    k = _kernel(est, g, x, est.X_fit_, "X_fit_")
    vectors = as_float64(est.eigenvectors_, "KernelPCA.eigenvectors_")
    values = as_float64(est.eigenvalues_, "KernelPCA.eigenvalues_")
    non_zeros = np.flatnonzero(values)
    scaled = np.zeros_like(vectors)
    scaled[:, non_zeros] = vectors[:, non_zeros] / np.sqrt(values[non_zeros])
    centerer = est._centerer
    fit_rows = as_float64(centerer.K_fit_rows_, "KernelPCA K_fit_rows_")
    fit_all = float(centerer.K_fit_all_)
    colsum = scaled.sum(axis=0)
    weight = scaled - np.outer(np.full(fit_rows.shape[0], 1.0 / fit_rows.shape[0]), colsum)
    bias = fit_all * colsum - fit_rows @ scaled
    return _dense(g, k, weight, "KernelPCA eigenvectors", bias)


@inverse("KernelPCA")
def kernel_pca_inverse(est, g, y):
    if not est.fit_inverse_transform:
        return None  # scikit-learn's inverse_transform raises NotFittedError
    k = _kernel(est, g, y, est.X_transformed_fit_, "X_transformed_fit_")
    coef = as_float64(est.dual_coef_, "KernelPCA.dual_coef_")
    return _dense(g, k, coef.reshape(coef.shape[0], -1), "KernelPCA.dual_coef_"), True
