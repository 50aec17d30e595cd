"""Factorizations whose transform runs an iterative solver: NMF, MiniBatchNMF (transform,
inverse_transform) and LatentDirichletAllocation (transform), as the ops ``NMFTransform`` and
``LDATransform`` (kernels/factorization.cpp, docs/FORMAT.md 11.14).

NMF.transform is ``_fit_transform(X, H=components_, update_H=False)``: solver "cd" starts from
W = 0 and sweeps ``_update_cdnmf_fast`` with ``H H^T`` (plus the L2 term on its diagonal)
computed here as scikit-learn computes it; with ``shuffle=True`` the sweep order is drawn by
``check_random_state(random_state).permutation(k)`` once per iteration, a fresh generator per
call when random_state is an int: those orders are drawn here, the same way, and stored (a
None or RandomState random_state draws differently on every call: refused). Solver "mu"
starts from ``sqrt(X.mean() / k)`` over the call's batch, as scikit-learn does, so a row's
result depends on the other rows it is transformed with. MiniBatchNMF.transform is
``_solve_W``. The regularisation of W is ``_compute_regularization``'s (it does not depend on
the batch). inverse_transform is ``Y @ components_`` (no input check, as scikit-learn).

LatentDirichletAllocation.transform runs ``_update_doc_distribution`` with the constant start
(``random_state=None`` in transform): ``exp(_dirichlet_expectation_2d(ones))``, computed here
with scikit-learn's function, then its digamma (kernels/factorization.cpp) and the row's
normalisation.

NMF and MiniBatchNMF after a text vectorizer are refused (documents run in chunks, the
transform needs the whole batch). Models fitted on float32 data compute in float32 in
scikit-learn: refused. NMF and MiniBatchNMF take float64 X only (scikit-learn raises TypeError for float32 X on NMF, and computes
MiniBatchNMF's W in float32): the loaded model refuses float32 X with that explanation.
"""

import numbers

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import as_float64, register
from mle_runtime.exporters.sklearn.inverse import inverse

_NMF_FITTED = ("n_features_in_", "feature_names_in_", "components_", "n_components_",
               "reconstruction_err_", "n_iter_")
ATTRIBUTES = {
    "NMF": _NMF_FITTED,
    "MiniBatchNMF": _NMF_FITTED + ("n_steps_",),
    "LatentDirichletAllocation": ("n_features_in_", "feature_names_in_", "components_",
                                  "exp_dirichlet_component_", "n_batch_iter_", "n_iter_",
                                  "bound_", "doc_topic_prior_", "topic_word_prior_"),
}

# scikit-learn checks these at fit; the iterations need them this way
_MAX_ORDER = 1 << 24  # stored sweep orders (max_iter * n_components)


def _float64_components(est, attr="components_"):
    name = type(est).__name__
    a = np.asarray(getattr(est, attr))
    if a.dtype != np.float64:
        raise UnsupportedModelError(
            f"{name} fitted on {a.dtype} data ({attr} is {a.dtype}) is not supported: "
            "scikit-learn's transform then iterates in float32 arithmetic, which is not "
            "reproduced; fit it on float64 data")
    return as_float64(a, f"{name}.{attr}")


def _f64(g, a):
    return g.tensor(np.ascontiguousarray(a, dtype=np.float64), "float64")


def _gamma(beta):
    if beta < 1:
        return 1.0 / (2.0 - beta)
    if beta > 2:
        return 1.0 / (beta - 1.0)
    return 1.0


@register("NMF", "MiniBatchNMF", kind="transformer")
def nmf(est, ctx, x):
    from sklearn.decomposition._nmf import _beta_loss_to_float

    name = type(est).__name__
    H = _float64_components(est)
    k, f = H.shape
    beta = float(_beta_loss_to_float(est.beta_loss))
    l1, _, l2, _ = est._compute_regularization(np.zeros((1, f)))
    ctx.refuses_nan(est)
    g = ctx.graph
    if any(n.op in ("TextCounts", "TextLinear") for n in g.nodes):
        # documents run in chunks of token ids; a whole-batch transform needs every row at once
        raise UnsupportedModelError(
            f"{name} after a text vectorizer is not supported: its transform depends on the "
            "whole batch, and documents are computed in chunks; vectorize the documents "
            "first and store the model that starts at the counts")
    attrs = dict(name=name, beta=beta, gamma=_gamma(beta), tol=float(est.tol),
                 l1=float(l1), l2=float(l2), components=_f64(g, H))
    if name == "MiniBatchNMF":
        max_iter = est.max_iter if est.transform_max_iter is None else est.transform_max_iter
        attrs.update(solver="minibatch", nonnegative=False, max_iter=int(max_iter),
                     hht=_f64(g, np.dot(H, H.T)))
        if beta == 1:
            attrs["h_sum"] = _f64(g, np.sum(H, axis=1))
    elif est.solver == "cd":
        max_iter = int(est.max_iter)
        Ht = np.ascontiguousarray(H.T)
        hht = np.dot(Ht.T, Ht)
        if l2 != 0.0:
            hht.flat[:: k + 1] += l2
        attrs.update(solver="cd", nonnegative=True, max_iter=max_iter, hht=_f64(g, hht))
        if est.shuffle:
            rs = est.random_state
            if not isinstance(rs, numbers.Integral) or isinstance(rs, bool):
                raise UnsupportedModelError(
                    f"{name}(solver='cd', shuffle=True) with random_state={rs!r} is not "
                    "supported: transform then draws a new coordinate order on every call; "
                    "set random_state to an int (or shuffle=False)")
            if max_iter * k > _MAX_ORDER:
                raise UnsupportedModelError(
                    f"{name}(solver='cd', shuffle=True) with max_iter * n_components = "
                    f"{max_iter * k} is not supported (the stored coordinate orders are "
                    f"limited to {_MAX_ORDER} entries)")
            rng = np.random.RandomState(rs)
            order = np.array([rng.permutation(k) for _ in range(max_iter)],
                             dtype=np.int64).reshape(max_iter, k)
            attrs["order"] = g.tensor(order, "int64")
    elif est.solver == "mu":
        attrs.update(solver="mu", nonnegative=True, max_iter=int(est.max_iter),
                     hht=_f64(g, np.dot(H, H.T)))
        if beta == 1:
            attrs["h_sum"] = _f64(g, np.sum(H, axis=1))
    else:
        raise UnsupportedModelError(f"{name}(solver={est.solver!r}) is not supported")
    return g.add("NMFTransform", [x], **attrs)


@inverse("NMF", "MiniBatchNMF")
def nmf_inverse(est, g, y):
    # X @ components_, no check of Y (NaN and infinity pass)
    H = _float64_components(est)
    return g.add("Dense", [y], weight=_f64(g, H)), False


@register("LatentDirichletAllocation", kind="transformer")
def lda(est, ctx, x):
    from sklearn.decomposition._online_lda_fast import _dirichlet_expectation_2d

    name = type(est).__name__
    _float64_components(est)
    e = _float64_components(est, "exp_dirichlet_component_")
    k = e.shape[0]
    init = np.exp(_dirichlet_expectation_2d(np.ones((1, k), dtype=np.float64)))[0]
    ctx.refuses_nan(est)
    g = ctx.graph
    return g.add("LDATransform", [x], exp_topic_word=_f64(g, e),
                 exp_doc_topic_init=_f64(g, init),
                 doc_topic_prior=float(est.doc_topic_prior_),
                 tol=float(est.mean_change_tol), max_iter=int(est.max_doc_update_iter))
