"""BaggingClassifier and BaggingRegressor over any supported estimator (bagged trees are packed
into one tree ensemble by exporters/sklearn/trees.py instead).

Each member is exported on its own feature subset (``Columns`` of ``estimators_features_``)
and the members' outputs are combined as scikit-learn's ``_parallel_predict_*`` functions do:
probabilities (or one-hot votes of members without ``predict_proba``) added in member order
in float64 and divided by the number of members (``WeightedMean`` of float64 values), a
member that saw a subset of the classes scattered into its classes' columns (a ``Dense``
product with a 0/1 matrix, exact), decision functions averaged the same way.
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import export_estimator
from mle_runtime.exporters.sklearn.compose import _gather


def _members(est, ctx, x):
    """(member, its Head) per member, each exported on its feature subset."""
    out = []
    n = est.n_features_in_
    for member, features in zip(est.estimators_, est.estimators_features_):
        features = np.asarray(features, dtype=np.int64)
        xm = x if np.array_equal(features, np.arange(n)) else _gather(ctx, x, features)
        out.append((member, export_estimator(member, ctx, xm)))
    return out


def _output(owner, member, head, method):
    if method not in head.outputs:
        raise UnsupportedModelError(
            f"{owner} over {type(member).__name__}: the member's {method} is not stored")
    return head.outputs[method][0]


def _scatter(g, value, member_classes, k):
    """Columns of value (one per member class, encoded 0..k-1) placed into k columns."""
    idx = np.asarray(member_classes, dtype=np.int64)
    if idx.size == k:
        return value
    weight = np.zeros((idx.size, k))
    weight[np.arange(idx.size), idx] = 1.0
    return g.add("Dense", [value], weight=g.tensor(weight, "float64"))


def bagging_classifier(est, ctx, x):
    owner = type(est).__name__
    classes = np.asarray(est.classes_)
    if classes.ndim != 1:
        raise UnsupportedModelError(f"multi-output {owner} is not supported")
    k = len(classes)
    g = ctx.graph
    probas, decisions, subset = [], [], False
    for member, head in _members(est, ctx, x):
        mc = np.asarray(member.classes_)
        if mc.ndim != 1 or not np.isin(mc, np.arange(k)).all():
            raise UnsupportedModelError(
                f"{owner}: member {type(member).__name__} does not predict the label-encoded "
                "classes")
        subset = subset or len(mc) != k
        if hasattr(member, "predict_proba"):
            p = g.add("AsFloat64", [_output(owner, member, head, "predict_proba")])
            p = _scatter(g, p, mc, k)
        else:  # scikit-learn's vote: proba[i, predictions[i]] += 1
            pred = g.add("AsFloat64", [_output(owner, member, head, "predict")])
            p = g.add("OneHot", [pred],
                      offsets=g.tensor(np.array([0, len(mc)], dtype=np.int64), "int64"),
                      categories=g.tensor(np.arange(len(mc), dtype=np.float64), "float64"),
                      columns=g.tensor(mc.astype(np.int64), "int64"),
                      unknown=g.tensor(np.array([-1], dtype=np.int64), "int64"),
                      width=g.tensor(np.array([k], dtype=np.int64), "int64"))
        probas.append(p)
        if hasattr(est, "decision_function"):
            decisions.append(g.add("AsFloat64", [_output(owner, member, head,
                                                         "decision_function")]))
    proba = g.add("WeightedMean", probas)
    outputs = {"predict_proba": (proba, False), "predict": (g.add("ArgMax", [proba]), True)}
    if hasattr(est, "predict_log_proba"):
        # log(mean of the probabilities); scikit-learn's logaddexp of the members'
        # log-probabilities minus log(n) is the same number to rounding.
        outputs["predict_log_proba"] = (g.add("Log", [proba]), False)
    # A member that saw only some of the classes has a decision_function of another shape:
    # scikit-learn's sum of them raises on every call, so the loaded model has none.
    if decisions and not subset:
        outputs["decision_function"] = (g.add("WeightedMean", decisions), k == 2)
    ctx.accepts_inf = True  # the members validate X, not the bagging estimator
    return Head(outputs, "classifier", classes)


def bagging_regressor(est, ctx, x):
    owner = type(est).__name__
    g = ctx.graph
    preds = []
    for member, head in _members(est, ctx, x):
        if not head.outputs.get("predict", (None, False))[1]:
            raise UnsupportedModelError(f"{owner}: multi-output member "
                                        f"{type(member).__name__} is not supported")
        preds.append(g.add("AsFloat64", [_output(owner, member, head, "predict")]))
    ctx.accepts_inf = True
    return Head({"predict": (g.add("WeightedMean", preds), True)}, "regressor")
