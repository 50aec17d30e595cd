"""Discriminant analysis (sklearn.discriminant_analysis).

LinearDiscriminantAnalysis (every solver): ``decision_function`` (``X @ coef_.T +
intercept_``), ``predict``, ``predict_proba`` (expit for two classes, softmax otherwise),
``predict_log_proba`` (its log, zeros lifted to the smallest normal number, op ``LogNonzero``)
and, for the "svd" and "eigen" solvers, ``transform`` (``(X - xbar_) @ scalings_`` or
``X @ scalings_``, first ``_max_components`` columns).

QuadraticDiscriminantAnalysis: ``_decision_function`` as scikit-learn computes it, with its
per-class rotations as Linear nodes: X is copied once per class (an exact 0/1 map),
``X - means_[i]`` subtracted per block (exact, as numpy), multiplied by the block-diagonal
``R_i * S_i ** -0.5``, and ``-0.5 * (sum of squares + u_i) + log(priors_[i])`` per class (op
``SegmentSumSquares``); ``decision_function`` (column 1 minus column 0 for two classes),
``predict``, ``predict_log_proba`` (op ``LogSoftmax``, which is scikit-learn's
``scores - max - log(sum(exp(...)))``) and ``predict_proba`` (its exponential).

Models fitted on float32 data keep float32 parameters and compute in float32 in scikit-learn;
they are refused.
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register
from mle_runtime.exporters.sklearn.linear import linear_node


def _refuse_float32(est, *names):
    for n in names:
        value = getattr(est, n, None)
        arrays = value if isinstance(value, list) else [value]
        if any(a is not None and np.asarray(a).dtype != np.float64 for a in arrays):
            raise UnsupportedModelError(
                f"{type(est).__name__} fitted on float32 data is not supported ({n} is "
                f"{np.asarray(arrays[0]).dtype}: scikit-learn then computes in float32); fit "
                "it on float64 data")


def _as_float64_value(g, x, c):
    """An exact float64 copy of x (the identity as a Linear node)."""
    return g.add("Linear", [x], weight=g.tensor(np.eye(c), "float64"))


@register("LinearDiscriminantAnalysis", kind="predictor")
def lda(est, ctx, x):
    _refuse_float32(est, "coef_", "intercept_", "scalings_", "xbar_")
    classes = np.asarray(est.classes_)
    d, k, _ = linear_node(ctx, est, x)
    if (k == 1) != (len(classes) == 2):
        raise UnsupportedModelError(f"LinearDiscriminantAnalysis has {k} coefficient rows for "
                                    f"{len(classes)} classes")
    g = ctx.graph
    if k == 1:
        proba = g.add("BinaryProba", [g.add("Sigmoid", [d])])
    else:
        proba = g.add("Softmax", [d])
    outputs = {"decision_function": (d, k == 1), "predict": (g.add("ArgMax", [d]), True),
               "predict_proba": (proba, False),
               "predict_log_proba": (g.add("LogNonzero", [proba]), False)}
    if est.solver in ("svd", "eigen"):
        m = int(est._max_components)
        scalings = as_float64(est.scalings_, "LinearDiscriminantAnalysis.scalings_")[:, :m]
        if m < 1 or scalings.shape[1] != m:
            raise UnsupportedModelError("LinearDiscriminantAnalysis.transform would return "
                                        "no columns")
        v = x
        if est.solver == "svd":
            xbar = as_float64(est.xbar_, "LinearDiscriminantAnalysis.xbar_")
            v = g.add("SubDiv", [_as_float64_value(g, x, len(xbar))],
                      sub=g.tensor(xbar, "float64"))
        outputs["transform"] = (g.add("Linear", [v], weight=g.tensor(
            np.ascontiguousarray(scalings.T), "float64")), False)
    return Head(outputs, "classifier", classes)


@register("QuadraticDiscriminantAnalysis", kind="predictor")
def qda(est, ctx, x):
    _refuse_float32(est, "means_", "rotations_", "scalings_", "priors_")
    classes = np.asarray(est.classes_)
    k = len(classes)
    if k < 2:
        raise UnsupportedModelError("QuadraticDiscriminantAnalysis fitted on one class is not "
                                    "supported")
    means = as_float64(est.means_, "QuadraticDiscriminantAnalysis.means_")
    c = means.shape[1]
    ctx.refuses_nan(est)
    g = ctx.graph
    # Exactly the factors of QuadraticDiscriminantAnalysis._decision_function.
    factors = [np.asarray(est.rotations_[i] * (est.scalings_[i] ** (-0.5)), dtype=np.float64)
               for i in range(k)]
    if any(f.ndim != 2 or f.shape[0] != c or f.shape[1] < 1 for f in factors):
        raise UnsupportedModelError("QuadraticDiscriminantAnalysis.rotations_ do not have "
                                    "shape (n_features, rank) per class")
    if not all(np.all(np.isfinite(f)) for f in factors):
        raise UnsupportedModelError("QuadraticDiscriminantAnalysis has a zero scaling (a "
                                    "degenerate class covariance; use reg_param): scikit-learn's "
                                    "decision values are not finite")
    ranks = [f.shape[1] for f in factors]
    u = np.asarray([np.sum(np.log(s)) for s in est.scalings_], dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_priors = np.log(np.asarray(est.priors_, dtype=np.float64))
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(log_priors))):
        raise UnsupportedModelError("QuadraticDiscriminantAnalysis has a zero scaling or prior: "
                                    "scikit-learn's decision values are not finite")
    copies = g.add("Linear", [x], weight=g.tensor(np.tile(np.eye(c), (k, 1)), "float64"))
    centred = g.add("SubDiv", [copies], sub=g.tensor(means.reshape(-1), "float64"))
    block = np.zeros((sum(ranks), k * c))
    row = 0
    for i, f in enumerate(factors):
        block[row:row + ranks[i], i * c:(i + 1) * c] = f.T
        row += ranks[i]
    rotated = g.add("Linear", [centred], weight=g.tensor(block, "float64"))
    scores = g.add("SegmentSumSquares", [rotated], segments=g.tensor(np.array(ranks), "int64"),
                   offset=g.tensor(u, "float64"), bias=g.tensor(log_priors, "float64"),
                   scale=-0.5)
    if k == 2:
        decision = g.add("Linear", [scores], weight=g.tensor(np.array([[-1.0, 1.0]]), "float64"))
    else:
        decision = scores
    log_proba = g.add("LogSoftmax", [scores])
    outputs = {"decision_function": (decision, k == 2), "predict": (g.add("ArgMax", [scores]), True),
               "predict_proba": (g.add("Exp", [log_proba]), False),
               "predict_log_proba": (log_proba, False)}
    return Head(outputs, "classifier", classes)
