"""Tree models: decision trees, random forests / extra trees, gradient boosting and
histogram gradient boosting, all on the one TreeEnsemble kernel.

Split semantics kept exactly:
- decision trees and everything built on them: X is cast to float32 and ``x <= threshold``
  (float64) goes left; stored as the largest float32 not above the threshold, an equivalent
  float32 comparison. NaN follows ``missing_go_to_left``.
- HistGradientBoosting: X stays float64, ``x <= num_threshold`` goes left, NaN follows
  ``missing_go_to_left``.
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import Head, register
from mle_runtime.format import layout as L
from mle_runtime.ir.trees import Tree, add_ensemble, largest_float32_not_above


def _allows_nan(est):
    try:
        return bool(est.__sklearn_tags__().input_tags.allow_nan)
    except AttributeError:
        return False


def _sk_tree(tree_, leaf_value):
    """Tree in scikit-learn numbering (tree_ is a sklearn.tree._tree.Tree)."""
    return Tree(
        left=np.asarray(tree_.children_left), right=np.asarray(tree_.children_right),
        feature=np.asarray(tree_.feature), threshold=np.asarray(tree_.threshold),
        leaf_value=leaf_value,
        default_left=np.asarray(getattr(tree_, "missing_go_to_left",
                                        np.zeros(tree_.node_count, dtype=bool))).astype(bool),
        missing=np.full(tree_.node_count, L.TREE_MISSING_NAN),
    )


def _normalized_proba(tree_):
    """DecisionTreeClassifier.predict_proba's per-leaf rows, computed with numpy's own ops."""
    proba = np.array(tree_.value[:, 0, :], dtype=np.float64)
    normalizer = proba.sum(axis=1)[:, np.newaxis]
    normalizer[normalizer == 0.0] = 1.0
    proba /= normalizer
    return proba


def _sk_ensemble(ctx, x, trees, aggregate, base=None):
    return add_ensemble(ctx.graph, x, trees, wide=False, compare="<=", aggregate=aggregate,
                        base=base, threshold32=largest_float32_not_above)


def _check_single_output(est):
    if getattr(est, "n_outputs_", 1) != 1 and hasattr(est, "classes_"):
        raise UnsupportedModelError(
            f"multi-output {type(est).__name__} is not supported yet (single-output "
            "classifiers and multi-output regressors are)"
        )


def _nan_policy(ctx, est):
    if not _allows_nan(est):
        ctx.refuses_nan(est)


def _classifier_head(ctx, proba, est, log_proba=True):
    g = ctx.graph
    outputs = {"predict": (g.add("ArgMax", [proba]), True), "predict_proba": (proba, False)}
    if log_proba and hasattr(est, "predict_log_proba"):
        outputs["predict_log_proba"] = (g.add("Log", [proba]), False)
    return Head(outputs, "classifier", np.asarray(est.classes_))


@register("DecisionTreeClassifier", "ExtraTreeClassifier", kind="predictor")
def decision_tree_classifier(est, ctx, x):
    _check_single_output(est)
    _nan_policy(ctx, est)
    g = ctx.graph
    t = est.tree_
    raw = _sk_ensemble(ctx, x, [_sk_tree(t, t.value[:, 0, :])], "sum")
    proba = _sk_ensemble(ctx, x, [_sk_tree(t, _normalized_proba(t))], "sum")
    head = _classifier_head(ctx, proba, est)
    head.outputs["predict"] = (g.add("ArgMax", [raw]), True)  # argmax of the raw counts
    return head


@register("DecisionTreeRegressor", "ExtraTreeRegressor", kind="predictor")
def decision_tree_regressor(est, ctx, x):
    _nan_policy(ctx, est)
    t = est.tree_
    v = _sk_ensemble(ctx, x, [_sk_tree(t, t.value[:, :, 0])], "sum")
    return Head({"predict": (v, est.n_outputs_ == 1)}, "regressor")


@register("RandomForestClassifier", "ExtraTreesClassifier", kind="predictor")
def forest_classifier(est, ctx, x):
    _check_single_output(est)
    _nan_policy(ctx, est)
    trees = [_sk_tree(e.tree_, _normalized_proba(e.tree_)) for e in est.estimators_]
    return _classifier_head(ctx, _sk_ensemble(ctx, x, trees, "mean"), est)


@register("RandomForestRegressor", "ExtraTreesRegressor", kind="predictor")
def forest_regressor(est, ctx, x):
    _nan_policy(ctx, est)
    trees = [_sk_tree(e.tree_, e.tree_.value[:, :, 0]) for e in est.estimators_]
    return Head({"predict": (_sk_ensemble(ctx, x, trees, "mean"), est.n_outputs_ == 1)},
                "regressor")


def _gb_base(est):
    """The init estimator's raw prediction, when it is the same for every row."""
    init = est.init_
    if isinstance(init, str) and init == "zero":
        return np.zeros(est.n_trees_per_iteration_)
    if type(init).__name__ in ("DummyClassifier", "DummyRegressor") and \
            type(init).__module__.startswith("sklearn."):
        return np.asarray(est._raw_predict_init(np.zeros((1, est.n_features_in_))))[0]
    raise UnsupportedModelError(
        f"{type(est).__name__} with init={type(init).__name__} is not supported yet; "
        "supported: init=None (the default), 'zero', or a DummyClassifier/DummyRegressor"
    )


def _gb_raw(est, ctx, x):
    K = est.n_trees_per_iteration_
    lr = float(est.learning_rate)
    trees = []
    for stage in est.estimators_:
        for k in range(K):
            t = stage[k].tree_
            leaf = np.zeros((t.node_count, K))
            leaf[:, k] = lr * t.value[:, 0, 0]  # the same product predict_stages forms
            trees.append(_sk_tree(t, leaf))
    ctx.refuses_nan(est)
    return _sk_ensemble(ctx, x, trees, "sum", base=_gb_base(est)), K


@register("GradientBoostingRegressor", kind="predictor")
def gradient_boosting_regressor(est, ctx, x):
    raw, _ = _gb_raw(est, ctx, x)
    return Head({"predict": (raw, True)}, "regressor")


@register("GradientBoostingClassifier", kind="predictor")
def gradient_boosting_classifier(est, ctx, x):
    raw, K = _gb_raw(est, ctx, x)
    g = ctx.graph
    loss = est.loss
    if K == 1:
        z = g.add("Scale", [raw], factor=2.0) if loss == "exponential" else raw
        proba = g.add("BinaryProba", [g.add("Sigmoid", [z])])
        predict = g.add("ArgMax", [raw], ge=True)
    else:
        proba = g.add("Softmax", [raw])
        predict = g.add("ArgMax", [raw])
    outputs = {"decision_function": (raw, K == 1), "predict": (predict, True),
               "predict_proba": (proba, False),
               "predict_log_proba": (g.add("Log", [proba]), False)}
    return Head(outputs, "classifier", np.asarray(est.classes_))


def _hgb_raw(est, ctx, x):
    if getattr(est, "_preprocessor", None) is not None or \
            getattr(est, "is_categorical_", None) is not None and np.any(est.is_categorical_):
        raise UnsupportedModelError(
            f"{type(est).__name__} with categorical features is not supported yet"
        )
    K = est.n_trees_per_iteration_
    trees = []
    for iteration in est._predictors:
        for k, predictor in enumerate(iteration):
            n = predictor.nodes
            leaf = np.zeros((len(n), K))
            leaf[:, k] = n["value"]
            is_leaf = n["is_leaf"].astype(bool)
            trees.append(Tree(
                left=np.where(is_leaf, -1, n["left"].astype(np.int64)),
                right=np.where(is_leaf, -1, n["right"].astype(np.int64)),
                feature=n["feature_idx"].astype(np.int64), threshold=n["num_threshold"],
                leaf_value=leaf, default_left=n["missing_go_to_left"].astype(bool),
                missing=np.full(len(n), L.TREE_MISSING_NAN)))
    base = np.asarray(est._baseline_prediction, dtype=np.float64).reshape(-1)
    ctx.accepts_inf = True
    raw = add_ensemble(ctx.graph, x, trees, wide=True, compare="<=", aggregate="sum",
                       base=np.broadcast_to(base, (K,)))
    return raw, K


@register("HistGradientBoostingRegressor", kind="predictor")
def hist_gradient_boosting_regressor(est, ctx, x):
    raw, _ = _hgb_raw(est, ctx, x)
    link = type(est._loss.link).__name__
    if link == "IdentityLink":
        pred = raw
    elif link == "LogLink":
        pred = ctx.graph.add("Exp", [raw])
    else:
        raise UnsupportedModelError(
            f"HistGradientBoostingRegressor(loss={est.loss!r}) uses a {link} that is not "
            "supported yet"
        )
    return Head({"predict": (pred, True)}, "regressor")


@register("HistGradientBoostingClassifier", kind="predictor")
def hist_gradient_boosting_classifier(est, ctx, x):
    raw, K = _hgb_raw(est, ctx, x)
    g = ctx.graph
    if K == 1:
        proba = g.add("BinaryProba", [g.add("Sigmoid", [raw])])
    else:
        proba = g.add("Softmax", [raw])
    outputs = {"decision_function": (raw, K == 1), "predict": (g.add("ArgMax", [raw]), True),
               "predict_proba": (proba, False)}
    return Head(outputs, "classifier", np.asarray(est.classes_))
