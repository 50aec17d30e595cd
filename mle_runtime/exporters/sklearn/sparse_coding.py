"""Sparse coding: SparseCoder, DictionaryLearning and MiniBatchDictionaryLearning (transform,
inverse_transform), and BernoulliRBM (transform).

The three sparse coders' ``transform`` is scikit-learn's ``sparse_encode`` of X against their
dictionary (``SparseCoder.dictionary``, the others' ``components_``), one ``SparseEncode``
node (docs/FORMAT.md, section 11.15) that reproduces, per row, what
``_sparse_encode_precomputed`` computes:

- ``"threshold"``: ``sign(c) * max(|c| - alpha, 0)``, ``c = dictionary @ x``, clipped at 0
  with ``positive_code``;
- ``"omp"``: ``orthogonal_mp_gram`` with ``n_nonzero_coefs`` (``transform_n_nonzero_coefs``,
  by default ``int(min(max(n_features / 10, 1), n_components))``) and no tolerance (scikit-learn
  passes ``tol=None``: ``transform_alpha`` is not used), on the Gram matrix
  ``dictionary @ dictionary.T`` in X's float type, as scikit-learn computes it;
- ``"lasso_cd"``: ``Lasso(alpha=alpha / n_features, precompute=gram, tol=1e-8,
  max_iter=transform_max_iter, positive=positive_code)``: cyclic coordinate descent on the
  Gram matrix with its duality gap stopping rule and gap safe screening, from zero, with
  ``l1_reg = (alpha / n_features) * n_features`` as scikit-learn computes it. scikit-learn
  refuses float32 X there (its Cython solver takes float64 only): the loaded model too.

- ``"lars"``, ``"lasso_lars"``: ``Lars(n_nonzero_coefs)`` / ``LassoLars(alpha / n_features,
  max_iter=transform_max_iter, positive=positive_code)`` with ``precompute=gram``,
  ``fit_path=False``: the least angle regression path on the Gram matrix. Rows whose path
  turns on rounding (a tie between atoms' correlations, a degenerate active set, more
  active atoms than features) are refused at prediction with an error, as is float32 X
  (scikit-learn then computes partly in float32).

``split_sign`` gives ``[max(code, 0), -min(code, 0)]``. ``inverse_transform`` is
``code @ dictionary`` (with ``split_sign``, of ``code[:, :k] - code[:, k:]``).

Refused at dump: dictionaries fitted on or given as float32, ``n_nonzero_coefs`` larger
than the number of atoms and ``positive_code`` with "omp" or "lars" (scikit-learn's
transform raises then).

BernoulliRBM.transform is ``expit(X @ components_.T + intercept_hidden_)`` (one ``Dense``
node, logistic). Its ``score_samples`` flips one feature per row, drawn with
``RandomState(random_state).randint(0, n_features, n_rows)`` created afresh on each call: a
row's feature is the draw at its position among the call's rows. ``RbmPseudoLikelihood``
reproduces that generator (MT19937, numpy's legacy seeding and masked draw) and the free
energies. Refused: a ``random_state`` that is not an int (None or a RandomState instance:
scikit-learn's result then changes from call to call), models fitted on float32 data.
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register
from mle_runtime.exporters.sklearn.inverse import inverse

CODERS = ("SparseCoder", "DictionaryLearning", "MiniBatchDictionaryLearning")
_LEARNED = ("n_features_in_", "feature_names_in_", "components_", "error_", "n_iter_",
            "n_steps_")
ATTRIBUTES = {
    "SparseCoder": ("n_features_in_", "feature_names_in_", "n_components_"),
    "DictionaryLearning": _LEARNED,
    "MiniBatchDictionaryLearning": _LEARNED,
    "BernoulliRBM": ("n_features_in_", "feature_names_in_", "components_",
                     "intercept_hidden_", "intercept_visible_", "h_samples_"),
}


def _dictionary(est):
    name = type(est).__name__
    d = est.dictionary if name == "SparseCoder" else est.components_
    if hasattr(d, "toarray"):
        raise UnsupportedModelError(f"{name} with a sparse dictionary is not supported; "
                                    "give a dense array")
    d = np.asarray(d)
    if d.dtype != np.float64:
        raise UnsupportedModelError(
            f"{name} with a {d.dtype} dictionary is not supported (scikit-learn then "
            "computes in that precision); supported: a float64 dictionary (fit on float64 "
            "data, or give SparseCoder a float64 array)")
    if d.ndim != 2 or d.shape[0] < 1 or d.shape[1] < 1:
        raise UnsupportedModelError(f"{name} needs a 2-D dictionary with at least one atom")
    return as_float64(d, f"{name} dictionary")


def _regularization(est, n_features, n_components):
    """(alpha, n_nonzero_coefs) as _BaseSparseCoding._transform and _sparse_encode choose them."""
    if hasattr(est, "alpha") and est.transform_alpha is None:
        alpha = est.alpha
    else:
        alpha = est.transform_alpha
    algo = est.transform_algorithm
    if algo in ("lars", "omp"):
        reg = est.transform_n_nonzero_coefs
        if reg is None:
            reg = min(max(n_features / 10, 1), n_components)
        return None, int(reg)
    return (1.0 if alpha is None else alpha), None


@register(*CODERS, kind="transformer")
def sparse_coder(est, ctx, x):
    name = type(est).__name__
    algo = est.transform_algorithm
    if algo not in ("omp", "threshold", "lasso_cd", "lars", "lasso_lars"):
        raise UnsupportedModelError(f"{name}(transform_algorithm={algo!r}) is not supported")
    if est.positive_code and algo in ("omp", "lars"):
        raise UnsupportedModelError(f"{name}: positive_code is not available with {algo!r} "
                                    "(scikit-learn raises)")
    dictionary = _dictionary(est)
    k, d = dictionary.shape
    alpha, n_nonzero = _regularization(est, d, k)
    ctx.refuses_nan(est)
    g = ctx.graph
    attrs = {"algorithm": algo, "dictionary": g.tensor(dictionary, "float64"),
             "positive": bool(est.positive_code), "split_sign": bool(est.split_sign)}
    if algo != "threshold":
        attrs["gram"] = g.tensor(np.dot(dictionary, dictionary.T), "float64")
    if algo in ("omp", "lars"):
        if not 1 <= n_nonzero <= k:
            raise UnsupportedModelError(
                f"{name}: transform_n_nonzero_coefs={n_nonzero} must be in [1, {k}] (the "
                "number of atoms); scikit-learn's transform raises otherwise")
        attrs["n_nonzero_coefs"] = n_nonzero
    elif algo == "threshold":
        attrs["alpha"] = float(alpha)
        if not np.isfinite(attrs["alpha"]) or attrs["alpha"] < 0:
            raise UnsupportedModelError(f"{name}: transform_alpha must be finite and >= 0")
    elif algo == "lasso_lars":
        a = float(alpha) / d  # LassoLars(alpha=alpha / n_features): lars_path's alpha_min
        max_iter = int(est.transform_max_iter)
        if not np.isfinite(a) or a < 0 or not 0 <= max_iter <= 2 ** 32 - 1:
            raise UnsupportedModelError(f"{name}: transform_alpha must be finite and >= 0 "
                                        "and transform_max_iter in [0, 2^32 - 1]")
        attrs.update(alpha=a, max_iter=max_iter)
    else:
        a = float(alpha) / d  # _sparse_encode_precomputed's "account for scaling"
        l1_reg = a * 1.0 * d  # enet_path's alpha * l1_ratio * n_samples
        if not np.isfinite(l1_reg) or l1_reg < 0:
            raise UnsupportedModelError(f"{name}: transform_alpha must be finite and >= 0")
        max_iter = int(est.transform_max_iter)
        if not 0 <= max_iter <= 2 ** 32 - 1:
            raise UnsupportedModelError(f"{name}: transform_max_iter={max_iter} is out of "
                                        "range [0, 2^32 - 1]")
        attrs.update(alpha=float(l1_reg), max_iter=max_iter, tol=1e-8)
    return g.add("SparseEncode", [x], **attrs)


@inverse(*CODERS)
def sparse_coder_inverse(est, g, y):
    """code @ dictionary; with split_sign, (code[:, :k] - code[:, k:]) @ dictionary."""
    dictionary = _dictionary(est)
    k = dictionary.shape[0]
    if est.split_sign:
        y = g.add("Dense", [y], weight=g.tensor(np.vstack((np.eye(k), -np.eye(k))), "float64"))
    return g.add("Dense", [y], weight=g.tensor(np.ascontiguousarray(dictionary), "float64")), True


def width_out(est):
    """The number of columns transform returns (split_sign doubles them)."""
    k = _dictionary(est).shape[0]
    return 2 * k if est.split_sign else k


def _rbm_arrays(est):
    name = type(est).__name__
    arrays = {}
    for n in ("components_", "intercept_hidden_", "intercept_visible_"):
        a = np.asarray(getattr(est, n))
        if a.dtype != np.float64:
            raise UnsupportedModelError(
                f"{name} fitted on {a.dtype} data ({n} is {a.dtype}) is not supported: "
                "scikit-learn then computes in that precision; fit it on float64 data")
        arrays[n] = as_float64(a, f"{name}.{n}")
    return arrays


@register("BernoulliRBM", kind="transformer")
def rbm_transform(est, ctx, x):
    a = _rbm_arrays(est)
    ctx.refuses_nan(est)
    g = ctx.graph
    return g.add("Dense", [x], weight=g.tensor(np.ascontiguousarray(a["components_"].T),
                                               "float64"),
                 bias=g.tensor(a["intercept_hidden_"], "float64"), activation="logistic")


@register("BernoulliRBM", kind="predictor")
def rbm_final(est, ctx, x):
    import numbers

    name = type(est).__name__
    seed = est.random_state
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (numbers.Integral,)):
        raise UnsupportedModelError(
            f"{name}(random_state={seed!r}) is not supported: score_samples draws from "
            "check_random_state(random_state), which then differs from call to call; "
            "set random_state to an int")
    seed = int(seed)
    if not 0 <= seed <= 2 ** 32 - 1:
        raise UnsupportedModelError(f"{name}: random_state={seed} is outside [0, 2**32 - 1] "
                                    "(numpy's RandomState refuses it)")
    a = _rbm_arrays(est)
    g = ctx.graph
    outputs = {"transform": (rbm_transform(est, ctx, x), False),
               "score_samples": (g.add("RbmPseudoLikelihood", [x],
                                       components=g.tensor(a["components_"], "float64"),
                                       intercept_hidden=g.tensor(a["intercept_hidden_"],
                                                                 "float64"),
                                       intercept_visible=g.tensor(a["intercept_visible_"],
                                                                  "float64"),
                                       seed=seed), True)}
    return Head(outputs, "transformer")
