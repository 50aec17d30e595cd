"""Gaussian mixtures: GaussianMixture and BayesianGaussianMixture, every covariance_type
(predict, predict_proba, score_samples).

Both compute ``_estimate_weighted_log_prob``: scikit-learn's
``_estimate_log_gaussian_prob`` (``-0.5 * (n_features * log(2 pi) + q) + log_det``) plus the
per-component terms that do not depend on X, computed here with scikit-learn's own functions:
``_estimate_log_weights()`` and, for BayesianGaussianMixture, ``-0.5 * n_features *
log(degrees_of_freedom_) + 0.5 * (log_lambda - n_features / mean_precision_)`` (its digamma
terms). ``q`` is computed as scikit-learn computes it per covariance type:

- "full", "tied": ``y = X @ P_k - mu_k @ P_k`` (one ``Dense`` node over the components'
  Cholesky factors side by side, the bias ``-(mu_k @ P_k)``), ``q_k = sum(y ** 2)``
  (``SegmentSumSquares``), rounded to X's float type as scikit-learn stores it
  (``AsInputType``), the constant added and the ``-0.5`` applied in that type;
- "diag": ``(sum(mu ** 2 * prec) - 2 X @ (mu * prec).T) + (X ** 2) @ prec.T``;
- "spherical": ``(sum(mu ** 2) * prec - 2 (X @ mu.T) * prec) + row_norms(X) * prec``;

the last two as ``Dense``/``MathFn``/``MulAdd`` nodes, added with an exact 0/1 ``Dense``;
then each term added in scikit-learn's order (``MulAdd``).
predict is the first maximum (``ArgMax``), predict_proba ``exp(w - logsumexp(w))``
(``LogSumExpNormalize``, ``Exp``), score_samples ``logsumexp(w)`` (``LogSumExp``), both with
scikit-learn's ``_logsumexp``.
"""

import math

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

CLASSES = ("GaussianMixture", "BayesianGaussianMixture")
_FITTED = ("n_features_in_", "feature_names_in_", "weights_", "means_", "covariances_",
           "precisions_", "precisions_cholesky_", "converged_", "n_iter_", "lower_bound_",
           "lower_bounds_")
ATTRIBUTES = {
    "GaussianMixture": _FITTED,
    "BayesianGaussianMixture": _FITTED + ("weight_concentration_", "mean_precision_",
                                          "degrees_of_freedom_", "covariance_prior_",
                                          "mean_prior_", "mean_precision_prior_",
                                          "degrees_of_freedom_prior_",
                                          "weight_concentration_prior_"),
}


def _terms(est, d):
    """The per-component terms scikit-learn adds, in its order, after
    ``_estimate_log_gaussian_prob``'s ``+ log_det``."""
    from scipy.special import digamma

    terms = []
    if type(est).__name__ == "BayesianGaussianMixture":
        dof = np.asarray(est.degrees_of_freedom_, dtype=np.float64)
        log_lambda = d * np.log(2.0) + np.sum(
            digamma(0.5 * (dof - np.arange(0, d)[:, np.newaxis])), 0)
        terms += [-(0.5 * d * np.log(dof)), 0.5 * (log_lambda - d / est.mean_precision_)]
    terms.append(est._estimate_log_weights())
    k = est.means_.shape[0]
    return [np.broadcast_to(np.asarray(t, dtype=np.float64), (k,)).copy() for t in terms]


def _dense(g, x, weight, bias=None):
    return g.add("Dense", [x], weight=g.tensor(np.ascontiguousarray(weight, dtype=np.float64),
                                               "float64"),
                 bias=None if bias is None else g.tensor(np.asarray(bias, np.float64), "float64"))


def _add(g, a, b, k):
    """a + b, exactly (a 0/1 product over the two side by side)."""
    return _dense(g, g.add("Concat", [a, b]), np.vstack((np.eye(k), np.eye(k))))


# Ops whose output has their (first) input's float kind (docs/FORMAT.md section 11): after
# them a value is still of the caller's float type.
_KEEP_KIND = {"SubDiv", "MulAdd", "Normalize", "Columns", "Impute", "MathFn", "Scale",
              "Binarize", "QuantileTransform", "PowerTransform", "AsInputType"}


def _of_input_kind(g, v):
    """Whether value v has the caller's float type (float32 for float32 X); False when not
    known (then it is float64, or the mixture's float32 rounding is not applied)."""
    if v == "X":
        return True
    node = next((n for n in g.nodes if n.output == v), None)
    if node is None:
        return False
    if node.op == "Linear" and node.attrs.get("follow_input_dtype"):
        return _of_input_kind(g, node.inputs[0])
    if node.op == "Concat":
        return all(_of_input_kind(g, i) for i in node.inputs)
    return node.op in _KEEP_KIND and _of_input_kind(g, node.inputs[0])


def _weighted_log_prob(est, ctx, x):
    from sklearn.mixture._gaussian_mixture import _compute_log_det_cholesky

    name = type(est).__name__
    cov = est.covariance_type
    means = np.asarray(est.means_)
    pc_raw = np.asarray(est.precisions_cholesky_)
    if means.dtype != np.float64 or pc_raw.dtype != np.float64:
        raise UnsupportedModelError(f"{name} fitted on {means.dtype} data is not supported "
                                    "(scikit-learn then computes in that precision); fit it "
                                    "on float64 data")
    means = as_float64(means, f"{name}.means_")
    pc = as_float64(pc_raw, f"{name}.precisions_cholesky_")
    k, d = means.shape
    log_det = np.asarray(_compute_log_det_cholesky(pc, cov, d), dtype=np.float64)
    log_det = np.broadcast_to(log_det, (k,))
    terms = _terms(est, d)
    if not all(np.all(np.isfinite(t)) for t in [log_det] + terms):
        raise UnsupportedModelError(f"{name} has a degenerate component (its log determinant "
                                    "or log weight is not finite)")
    ctx.refuses_nan(est)
    g = ctx.graph
    if cov in ("full", "tied"):
        factors = [pc[i] if cov == "full" else pc for i in range(k)]
        weight = np.hstack(factors)
        bias = np.concatenate([-(means[i] @ factors[i]) for i in range(k)])
        y = _dense(g, x, weight, bias)
        q = g.add("SegmentSumSquares", [y], segments=g.tensor(np.full(k, d), "int64"),
                  offset=g.tensor(np.zeros(k), "float64"), bias=g.tensor(np.zeros(k), "float64"),
                  scale=1.0)
        # scikit-learn stores these sums in an array of X's dtype; the constant and the -0.5
        # are then applied in that type
        if _of_input_kind(g, x):
            q = g.add("AsInputType", [q])
    elif cov == "diag":
        prec = pc ** 2
        t1 = _dense(g, x, -2.0 * (means * prec).T, np.sum(means ** 2 * prec, axis=1))
        t2 = _dense(g, g.add("MathFn", [x], fn="square"), prec.T)
        q = _add(g, t1, t2, k)
    elif cov == "spherical":
        prec = pc ** 2
        t1 = g.add("MulAdd", [_dense(g, x, means.T)], mul=g.tensor(-2.0 * prec, "float64"),
                   add=g.tensor(np.sum(means ** 2, axis=1) * prec, "float64"))
        # row_norms(X, squared=True): in X's float type
        norms = _dense(g, g.add("MathFn", [x], fn="square"), np.ones((d, 1)))
        if _of_input_kind(g, x):
            norms = g.add("AsInputType", [norms])
        t2 = _dense(g, norms, prec.reshape(1, k))
        q = _add(g, t1, t2, k)
    else:
        raise UnsupportedModelError(f"{name}(covariance_type={cov!r}) is not supported")
    const = d * math.log(2 * math.pi)
    v = g.add("MulAdd", [q], add=g.tensor(np.full(k, const), "float64"), cast_params=True)
    v = g.add("AsFloat64", [g.add("MulAdd", [v], mul=g.tensor(np.full(k, -0.5), "float64"),
                                  cast_params=True)])
    for t in [log_det] + terms:
        v = g.add("MulAdd", [v], add=g.tensor(t, "float64"))
    return v


@register(*CLASSES, kind="predictor")
def gaussian_mixture(est, ctx, x):
    g = ctx.graph
    w = _weighted_log_prob(est, ctx, x)
    # ArgMax reads one column as a sign: with one component, the first of two equal columns
    top = g.add("ArgMax", [w if est.means_.shape[0] > 1 else g.add("Concat", [w, w])])
    outputs = {"predict": (top, True),
               "predict_proba": (g.add("Exp", [g.add("LogSumExpNormalize", [w])]), False),
               "score_samples": (g.add("LogSumExp", [w]), True)}
    return Head(outputs, "density_estimator", dtypes={"predict": "int64"})
