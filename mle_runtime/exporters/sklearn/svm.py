"""Support vector machines (sklearn.svm): SVC, NuSVC, SVR, NuSVR, OneClassSVM.

libsvm's decision value of a class pair (i, j) is ``sum(coef * K(x, sv)) - rho`` over the
support vectors of classes i and j; scikit-learn keeps libsvm's coefficients in
``_dual_coef_`` and ``-rho`` in ``_intercept_``. The graph is a ``RowKernel`` node (the
kernel values of X against ``support_vectors_``, with the fitted ``_gamma``, ``coef0`` and
``degree``), then, for regression, one-class and two classes, a ``Dense`` node of the single
coefficient row with bias ``_intercept_`` (summed in the dense layer's order: the values
agree with libsvm's to rounding, the tests assert 1e-9 relative to the largest term). With
more classes an ``OvoPairSums`` node holds ``_dual_coef_`` as libsvm does ((k-1) rows, one
value per support vector), ``_n_support`` and ``_intercept_``, and sums each pair's products
over class i's then class j's support vectors one by one, in libsvm's order.

- ``predict`` (SVC, NuSVC) is libsvm's vote: pair (i, j) votes for i when its value is > 0,
  else for j; the first class with the most votes wins. It is ``OvoDecision`` of the votes
  with zero confidences, then ``ArgMax``. Two classes: class 1 where ``-value >= 0``.
- ``decision_function``: two classes ``-value`` (scikit-learn flips the sign); more classes,
  shape "ovo" the pair values, shape "ovr" ``_ovr_decision_function(value < 0, -value, k)``
  (``OvoDecision``). ``break_ties`` with "ovr" and more than two classes: ``predict`` is the
  arg-max of that decision function.
- ``predict_proba`` (SVC, NuSVC fitted with ``probability=True``) is libsvm's
  ``predict_probability`` of the pair values with libsvm's sign (the unflipped value, which
  the Platt parameters ``probA_``/``probB_`` were fitted on, two classes included): the
  sigmoid of each pair, clipped to [1e-7, 1 - 1e-7], then libsvm's iterative pairwise
  coupling, for two classes too (op ``PairwiseCoupling``); the columns follow ``classes_``
  (scikit-learn's libsvm sorts the labels). ``predict_log_proba`` is its log. ``predict``
  stays the vote above, as in scikit-learn (it can disagree with the most probable class).
  A model whose ``probability`` was switched on after fitting without it (no ``probA_``:
  scikit-learn's ``predict_proba`` raises ``NotFittedError``) is refused.
- SVR, NuSVR: ``predict`` is the value. OneClassSVM: ``decision_function`` is the value,
  ``score_samples`` the value plus ``offset_``, ``predict`` 1 where the value is > 0, else -1.

Not supported (refused at dump): ``kernel="precomputed"`` or a callable kernel, and models
fitted on sparse matrices (libsvm's sparse predictor).
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

_KERNELS = ("linear", "poly", "rbf", "sigmoid")

ATTRIBUTES = {
    n: ("support_", "support_vectors_", "n_support_", "dual_coef_", "intercept_",
        "fit_status_", "shape_fit_", "n_features_in_", "feature_names_in_", "n_iter_")
    for n in ("SVC", "NuSVC", "SVR", "NuSVR", "OneClassSVM")
}
for _n in ("SVC", "NuSVC"):
    ATTRIBUTES[_n] = ATTRIBUTES[_n] + ("classes_", "class_weight_")
ATTRIBUTES["OneClassSVM"] = ATTRIBUTES["OneClassSVM"] + ("offset_",)


def _check(est):
    name = type(est).__name__
    if callable(est.kernel) or est.kernel not in _KERNELS:
        raise UnsupportedModelError(
            f"{name}(kernel={est.kernel!r}) is not supported; supported kernels: "
            f"{', '.join(_KERNELS)} (a precomputed or callable kernel needs the training "
            "rows or Python code at prediction time)")
    if getattr(est, "_sparse", False):
        raise UnsupportedModelError(
            f"{name} fitted on a scipy.sparse matrix is not supported (its predictions use "
            "libsvm's sparse code path); fit it on a dense array")
    if int(getattr(est, "fit_status_", 0)) != 0:
        raise UnsupportedModelError(f"{name} did not fit (fit_status_ is {est.fit_status_})")


def _values(est, ctx, x, n_classes):
    """The libsvm decision values: one column for regression, one-class and two classes,
    one per class pair (i < j, in order) otherwise."""
    name = type(est).__name__
    _check(est)
    sv = as_float64(est.support_vectors_, f"{name}.support_vectors_")
    coef = as_float64(est._dual_coef_, f"{name}._dual_coef_")
    rho_neg = as_float64(est._intercept_, f"{name}._intercept_").reshape(-1)
    n_sv, n_features = sv.shape
    if n_sv == 0:
        raise UnsupportedModelError(f"{name} has no support vectors")
    ctx.refuses_nan(est)
    g = ctx.graph
    if n_classes <= 2:
        if coef.shape != (1, n_sv) or rho_neg.shape != (1,):
            raise UnsupportedModelError(f"{name}: dual coefficients of shape {coef.shape} for "
                                        f"{n_sv} support vectors")
        weight = coef.copy()
    else:
        counts = np.asarray(est._n_support, dtype=np.int64)
        pairs = n_classes * (n_classes - 1) // 2
        if (counts.shape != (n_classes,) or counts.sum() != n_sv
                or coef.shape != (n_classes - 1, n_sv) or rho_neg.shape != (pairs,)):
            raise UnsupportedModelError(f"{name}: inconsistent support vector counts")
        if (counts < 0).any():
            raise UnsupportedModelError(f"{name}: negative support vector counts")
        if n_classes > 65536:
            raise UnsupportedModelError(f"{name} with {n_classes} classes: at most 65536 "
                                        "classes are supported")
        if not (np.isfinite(coef).all() and np.isfinite(rho_neg).all()):
            raise UnsupportedModelError(f"{name}: dual coefficients or intercepts are not "
                                        "finite")
    params = {"kernel": est.kernel}
    if est.kernel != "linear":
        params["gamma"] = float(est._gamma)
    if est.kernel in ("poly", "sigmoid"):
        params["coef0"] = float(est.coef0)
    if est.kernel == "poly":
        params["degree"] = float(est.degree)
    sq = np.einsum("ij,ij->i", sv, sv) if est.kernel == "rbf" else None
    k = g.add("RowKernel", [x], rows=g.tensor(sv, "float64"),
              row_sq_norms=None if sq is None else g.tensor(sq, "float64"), **params)
    if n_classes > 2:
        return g.add("OvoPairSums", [k], coef=g.tensor(np.ascontiguousarray(coef), "float64"),
                     counts=g.tensor(counts, "int64"), bias=g.tensor(rho_neg, "float64"))
    return g.add("Dense", [k], weight=g.tensor(np.ascontiguousarray(weight.T), "float64"),
                 bias=g.tensor(rho_neg, "float64"))


@register("SVC", "NuSVC", kind="predictor")
def svc(est, ctx, x):
    classes = np.asarray(est.classes_)
    k = len(classes)
    if k < 2:
        raise UnsupportedModelError(f"{type(est).__name__} fitted on one class")
    v = _values(est, ctx, x, k)
    g = ctx.graph
    if k == 2:
        d = g.add("Scale", [v], factor=-1.0)
        outputs = {"decision_function": (d, True), "predict": (g.add("ArgMax", [d], ge=True), True)}
        _probabilities(est, g, v, k, outputs)
        return Head(outputs, "classifier", classes)
    neg = g.add("Scale", [v], factor=-1.0)
    cols = [g.add("Columns", [neg], columns=g.tensor(np.array([c]), "int64"))
            for c in range(k * (k - 1) // 2)]
    votes_j = g.add("IndexConcat", [g.add("ArgMax", [c], ge=True) for c in cols])
    lt = g.add("IndexConcat", [g.add("ArgMax", [c]) for c in cols])
    zero = g.add("Scale", [v], factor=0.0)
    votes = g.add("OvoDecision", [votes_j, zero], n_classes=k)
    ovr = g.add("OvoDecision", [lt, neg], n_classes=k)
    shape_ovr = est.decision_function_shape == "ovr"
    pred = g.add("ArgMax", [ovr if (shape_ovr and est.break_ties) else votes])
    outputs = {"decision_function": (ovr if shape_ovr else v, False), "predict": (pred, True)}
    _probabilities(est, g, v, k, outputs)
    return Head(outputs, "classifier", classes)


def _has_proba(est):
    """Whether the fitted estimator offers predict_proba (as SVC._check_proba decides)."""
    p = getattr(est, "probability", False)
    return p != "deprecated" and bool(p)


def _probabilities(est, g, v, k, outputs):
    """predict_proba and predict_log_proba of a model fitted with probability=True: libsvm's
    predict_probability of the pair values ``v`` (libsvm's sign, which probA/probB apply to)."""
    if not _has_proba(est):
        return
    name = type(est).__name__
    pairs = k * (k - 1) // 2
    a = as_float64(getattr(est, "_probA", np.empty(0)), f"{name}.probA_").reshape(-1)
    b = as_float64(getattr(est, "_probB", np.empty(0)), f"{name}.probB_").reshape(-1)
    if a.size == 0 or b.size == 0:
        raise UnsupportedModelError(
            f"{name}(probability=True) was not fitted with probability estimates (its probA_ "
            "and probB_ are empty, so its predict_proba raises NotFittedError); refit it")
    if a.shape != (pairs,) or b.shape != (pairs,):
        raise UnsupportedModelError(f"{name}: probA_/probB_ of shapes {a.shape}, {b.shape} "
                                    f"for {k} classes")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise UnsupportedModelError(f"{name}: probA_/probB_ are not finite")
    if k > 4096:
        raise UnsupportedModelError(f"{name}(probability=True) with {k} classes: at most 4096 "
                                    "classes are supported")
    proba = g.add("PairwiseCoupling", [v], probA=g.tensor(a, "float64"),
                  probB=g.tensor(b, "float64"), n_classes=k)
    outputs["predict_proba"] = (proba, False)
    outputs["predict_log_proba"] = (g.add("Log", [proba]), False)  # np.log(predict_proba)


@register("SVR", "NuSVR", kind="predictor")
def svr(est, ctx, x):
    return Head({"predict": (_values(est, ctx, x, 1), True)}, "regressor")


@register("OneClassSVM", kind="predictor")
def one_class(est, ctx, x):
    g = ctx.graph
    v = _values(est, ctx, x, 1)
    offset = float(np.asarray(est.offset_).reshape(-1)[0])
    outputs = {"decision_function": (v, True),
               "score_samples": (g.add("SubDiv", [v], sub=g.tensor([-offset], "float64")), True),
               "predict": (g.add("OutlierLabel", [g.add(
                   "SubDiv", [g.add("AsFloat64", [g.add("ArgMax", [v])])],
                   sub=g.tensor([0.5], "float64"))]), True)}
    return Head(outputs, "outlier_detector")
