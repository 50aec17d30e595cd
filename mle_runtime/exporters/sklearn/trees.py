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
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn import bagging
from mle_runtime.exporters.sklearn.common import register
from mle_runtime.format import layout as L
from mle_runtime.ir.trees import CategoryRule, Tree, add_ensemble, largest_float32_not_above


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


def _tree_proba(est):
    """DecisionTreeClassifier.predict_proba's per-leaf rows: scikit-learn (>= 1.4) stores the
    class fractions in tree_.value and returns them as they are. Multi-output trees: the
    outputs' class columns side by side."""
    if est.n_outputs_ == 1:
        return np.asarray(est.tree_.value[:, 0, :est.n_classes_], dtype=np.float64)
    return np.concatenate([est.tree_.value[:, k, :n] for k, n in enumerate(est.n_classes_)],
                          axis=1).astype(np.float64)


def _sk_ensemble(ctx, x, trees, aggregate, n_features, base=None, median_weights=None,
                 targets=None, n_outputs=None):
    if x == "X":  # scikit-learn's trees cast X to float32 and refuse what overflows it
        ctx.graph.cast_float32 = True
    return add_ensemble(ctx.graph, x, trees, n_features=n_features, wide=False,
                        compare="<=", aggregate=aggregate, base=base,
                        threshold32=largest_float32_not_above, median_weights=median_weights,
                        targets=targets, n_outputs=n_outputs)


def _nan_policy(ctx, est):
    if not _allows_nan(est):
        ctx.refuses_nan(est)


def _classifier_head(ctx, proba, est, log_proba=True):
    """predict / predict_proba / predict_log_proba over class probabilities; multi-output
    models return lists of per-output blocks, as scikit-learn does."""
    g = ctx.graph
    if getattr(est, "n_outputs_", 1) == 1:
        predict = (g.add("ArgMax", [proba]), True)
        classes, splits = np.asarray(est.classes_), None
    else:
        sizes = [int(n) for n in est.n_classes_]
        predict = (g.add("SegmentArgMax", [proba], segments=g.tensor(sizes, "int64")), False)
        classes = [np.asarray(c) for c in est.classes_]
        splits = {"predict_proba": sizes, "predict_log_proba": sizes}
    outputs = {"predict": predict, "predict_proba": (proba, False)}
    if log_proba and hasattr(est, "predict_log_proba"):
        outputs["predict_log_proba"] = (g.add("Log", [proba]), False)
    return Head(outputs, "classifier", classes, splits)


@register("DecisionTreeClassifier", "ExtraTreeClassifier", kind="predictor")
def decision_tree_classifier(est, ctx, x):
    _nan_policy(ctx, est)
    proba = _sk_ensemble(ctx, x, [_sk_tree(est.tree_, _tree_proba(est))], "sum",
                         est.n_features_in_)
    return _classifier_head(ctx, proba, est)


@register("DecisionTreeRegressor", "ExtraTreeRegressor", kind="predictor")
def decision_tree_regressor(est, ctx, x):
    _nan_policy(ctx, est)
    t = est.tree_
    v = _sk_ensemble(ctx, x, [_sk_tree(t, t.value[:, :, 0])], "sum", est.n_features_in_)
    return Head({"predict": (v, est.n_outputs_ == 1)}, "regressor")


@register("RandomForestClassifier", "ExtraTreesClassifier", kind="predictor")
def forest_classifier(est, ctx, x):
    _nan_policy(ctx, est)
    trees = [_sk_tree(e.tree_, _tree_proba(e)) for e in est.estimators_]
    return _classifier_head(ctx, _sk_ensemble(ctx, x, trees, "mean", est.n_features_in_), est)


@register("RandomForestRegressor", "ExtraTreesRegressor", kind="predictor")
def forest_regressor(est, ctx, x):
    _nan_policy(ctx, est)
    trees = [_sk_tree(e.tree_, e.tree_.value[:, :, 0]) for e in est.estimators_]
    return Head({"predict": (_sk_ensemble(ctx, x, trees, "mean", est.n_features_in_),
                             est.n_outputs_ == 1)},
                "regressor")


def _gb_base(est):
    """The init estimator's raw prediction, when it is the same for every row."""
    init = est.init_
    if isinstance(init, str) and init == "zero":
        return np.zeros(est.n_trees_per_iteration_)
    if type(init).__name__ in ("DummyClassifier", "DummyRegressor") and \
            type(init).__module__.startswith("sklearn.") and \
            getattr(init, "strategy", None) != "stratified":  # the others are constant
        return np.asarray(est._raw_predict_init(np.zeros((1, est.n_features_in_))))[0]
    # Any other init estimator is fitted by scikit-learn on X cast to float32 and predicts in
    # float32 arithmetic (BLAS order); near-saturated probabilities then make the link's
    # logits differ by whole units, so it is refused rather than approximated.
    raise UnsupportedModelError(
        f"{type(est).__name__} with init={type(init).__name__} is not supported; supported: "
        "init=None (the default), 'zero', or a DummyClassifier/DummyRegressor with a constant "
        "prediction (every strategy but 'stratified', which draws at random). Other init "
        "estimators predict in float32 arithmetic whose rounding cannot be reproduced exactly"
    )


def _gb_raw(est, ctx, x):
    K = est.n_trees_per_iteration_
    lr = float(est.learning_rate)
    trees, targets = [], []
    for stage in est.estimators_:
        for k in range(K):
            t = stage[k].tree_
            # the same product predict_stages forms; the tree adds to column k only
            trees.append(_sk_tree(t, (lr * t.value[:, 0, 0]).reshape(-1, 1)))
            targets.append(k)
    ctx.refuses_nan(est)
    multi = K > 1  # a single column needs no per-tree targets
    return _sk_ensemble(ctx, x, trees, "sum", est.n_features_in_, base=_gb_base(est),
                        targets=targets if multi else None, n_outputs=K if multi else None), K


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


def _hgb_preprocess(est, ctx, x):
    """HistGradientBoosting's own ColumnTransformer for categorical features: an OrdinalEncoder
    on the categorical columns (placed first), the numerical columns after them."""
    pp = est._preprocessor
    names = [name for name, _, _ in pp.transformers_]
    if names[:2] != ["encoder", "numerical"]:
        raise UnsupportedModelError(f"unexpected {type(est).__name__} preprocessor {names}")
    enc = pp.named_transformers_["encoder"]
    columns, offsets, cats = [], [0], []
    strings = {}  # position in cats -> (input column, string categories): codes come later
    for (name, _, cols), kind in zip(pp.transformers_[:2], ("encoder", "numerical")):
        idx = np.flatnonzero(np.asarray(cols)) if np.asarray(cols).dtype == bool else \
            np.asarray(cols, dtype=np.int64)
        for k, c in enumerate(idx):
            columns.append(int(c))
            if kind == "encoder":
                values = np.asarray(enc.categories_[k])
                known = [v for v in values.tolist() if not (isinstance(v, float) and v != v)]
                if values.dtype.kind in "OU" and all(isinstance(v, str) for v in known):
                    # pandas category columns of strings: encoded on the input (rule
                    # "strings"); the categories are sorted, and so are their codes
                    col = ctx.string_column(x, int(c), type(est).__name__)
                    ctx.vocab[col].update(known)
                    strings[len(cats)] = (col, known)
                    cats.append(np.zeros(len(known)))
                    offsets.append(offsets[-1] + len(cats[-1]))
                    continue
                if values.dtype.kind not in "biuf":
                    raise UnsupportedModelError(
                        f"{type(est).__name__} with categories of dtype {values.dtype} is not "
                        "supported; supported: numbers and strings")
                values = values.astype(np.float64)
                cats.append(values[~np.isnan(values)])
            else:
                cats.append(np.zeros(0))
            offsets.append(offsets[-1] + len(cats[-1]))
    g = ctx.graph
    if x == "X":  # the OrdinalEncoder refuses infinity in the categorical columns
        g.finite_columns = columns[:len(enc.categories_)]
    t_cats = g.tensor(np.concatenate(cats), "float64")
    if strings:
        def fix():
            for i, (col, known) in strings.items():
                cats[i] = np.array([ctx.code(col, v) for v in known])
            g.tensors[t_cats] = np.ascontiguousarray(np.concatenate(cats), dtype="<f8")

        ctx.fixups.append(fix)
    return g.add("OrdinalEncode", [x], columns=g.tensor(columns, "int64"),
                 cat_offsets=g.tensor(offsets, "int64"), categories=t_cats)


def _hgb_raw(est, ctx, x):
    K = est.n_trees_per_iteration_
    sets = []
    if getattr(est, "_preprocessor", None) is not None:
        x = _hgb_preprocess(est, ctx, x)
    is_cat = getattr(est._bin_mapper, "is_categorical_", None)
    if is_cat is not None and np.any(is_cat):
        known, f_idx_map = est._bin_mapper.make_known_categories_bitsets()
        sets = [row for row in np.asarray(known, dtype=np.uint32)]  # set k: known of cat feature k
    else:
        f_idx_map = None
    trees, targets = [], []
    for iteration in est._predictors:
        for k, predictor in enumerate(iteration):
            n = predictor.nodes
            leaf = np.asarray(n["value"], dtype=np.float64).reshape(-1, 1)
            targets.append(k)
            is_leaf = n["is_leaf"].astype(bool)
            cat = n["is_categorical"].astype(bool) & ~is_leaf
            cat_left = cat_known = None
            if cat.any():
                first = len(sets)
                sets += [row for row in np.asarray(predictor.raw_left_cat_bitsets, np.uint32)]
                cat_left = first + n["bitset_idx"].astype(np.int64)
                cat_known = np.asarray(f_idx_map, dtype=np.int64)[n["feature_idx"]]
            trees.append(Tree(
                left=np.where(is_leaf, -1, n["left"].astype(np.int64)),
                right=np.where(is_leaf, -1, n["right"].astype(np.int64)),
                feature=n["feature_idx"].astype(np.int64), threshold=n["num_threshold"],
                leaf_value=leaf, default_left=n["missing_go_to_left"].astype(bool),
                missing=np.full(len(n), L.TREE_MISSING_NAN), categorical=cat,
                cat_left=cat_left, cat_known=cat_known))
    base = np.asarray(est._baseline_prediction, dtype=np.float64).reshape(-1)
    ctx.accepts_inf = True
    raw = add_ensemble(ctx.graph, x, trees, n_features=est.n_features_in_, wide=True,
                       compare="<=", aggregate="sum", base=np.broadcast_to(base, (K,)),
                       category_sets=sets,
                       # _predictor.pyx: NaN and negative values are missing (the default
                       # direction); a category is the value's 8-bit bin; the left set goes
                       # left, a known category right, an unknown one is missing.
                       category_rule=CategoryRule(cast="truncate_uint8", nan="default",
                                                  invalid="default", in_set="left",
                                                  known_sets=True),
                       targets=targets if K > 1 else None, n_outputs=K if K > 1 else None)
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


_TREE_CLASSIFIERS = ("DecisionTreeClassifier", "ExtraTreeClassifier")
_TREE_REGRESSORS = ("DecisionTreeRegressor", "ExtraTreeRegressor")


def _require_trees(est, names):
    for e in est.estimators_:
        if type(e).__name__ not in names or not type(e).__module__.startswith("sklearn."):
            raise UnsupportedModelError(
                f"{type(est).__name__} over {type(e).__name__} is not supported yet; supported "
                f"base estimators: {', '.join(names)}"
            )


def _remap_features(tree, features):
    """A tree trained on X[:, features], re-expressed on the columns of X."""
    features = np.asarray(features, dtype=np.int64)
    internal = tree.left >= 0
    tree.feature = np.where(internal, features[np.where(internal, tree.feature, 0)], 0)
    return tree


@register("AdaBoostClassifier", kind="predictor")
def adaboost_classifier(est, ctx, x):
    _require_trees(est, _TREE_CLASSIFIERS)
    _nan_policy(ctx, est.estimators_[0])
    classes = np.asarray(est.classes_)
    K = len(classes)
    if K < 2:
        raise UnsupportedModelError("AdaBoostClassifier fitted on a single class")
    trees = []
    for e, w in zip(est.estimators_, est.estimator_weights_):
        if not np.array_equal(np.asarray(e.classes_), classes):
            raise UnsupportedModelError("an AdaBoost estimator saw a different set of classes")
        t = e.tree_
        # decision_function's term for this estimator: w for the predicted class, else
        # -1 / (K - 1) * w, with the estimator's predicted class argmax(value) at each leaf.
        onehot = np.arange(K)[np.newaxis, :] == np.argmax(t.value[:, 0, :], axis=1)[:, np.newaxis]
        trees.append(_sk_tree(t, np.where(onehot, w, -1 / (K - 1) * w)))
    g = ctx.graph
    pred = _sk_ensemble(ctx, x, trees, "sum", est.n_features_in_)
    pred = g.add("SubDiv", [pred], div=g.tensor(np.full(K, est.estimator_weights_.sum()),
                                                 "float64"))
    if K == 2:
        decision = g.add("Linear", [pred], weight=g.tensor([[-1.0, 1.0]], "float64"))
        z = g.add("Linear", [decision], weight=g.tensor([[-1.0], [1.0]], "float64"))
        z = g.add("SubDiv", [z], div=g.tensor([2.0, 2.0], "float64"))
    else:
        decision = pred
        z = g.add("SubDiv", [pred], div=g.tensor(np.full(K, float(K - 1)), "float64"))
    proba = g.add("Softmax", [z])
    outputs = {"decision_function": (decision, K == 2),
               "predict": (g.add("ArgMax", [decision]), True),
               "predict_proba": (proba, False),
               "predict_log_proba": (g.add("Log", [proba]), False)}
    return Head(outputs, "classifier", classes)


@register("AdaBoostRegressor", kind="predictor")
def adaboost_regressor(est, ctx, x):
    _require_trees(est, _TREE_REGRESSORS)
    _nan_policy(ctx, est.estimators_[0])
    n = len(est.estimators_)
    trees = [_sk_tree(e.tree_, e.tree_.value[:, :, 0]) for e in est.estimators_]
    v = _sk_ensemble(ctx, x, trees, "weighted_median", est.n_features_in_,
                     median_weights=np.asarray(est.estimator_weights_[:n], dtype=np.float64))
    return Head({"predict": (v, True)}, "regressor")


def _all_trees(est, names):
    return all(type(e).__name__ in names and type(e).__module__.startswith("sklearn.")
               for e in est.estimators_)


@register("BaggingClassifier", kind="predictor")
def bagging_classifier(est, ctx, x):
    if not _all_trees(est, _TREE_CLASSIFIERS):  # any other supported member
        return bagging.bagging_classifier(est, ctx, x)
    _nan_policy(ctx, est.estimators_[0])
    K = len(est.classes_)
    trees = []
    for e, features in zip(est.estimators_, est.estimators_features_):
        proba = _tree_proba(e)
        full = np.zeros((proba.shape[0], K))
        full[:, np.asarray(e.classes_, dtype=np.int64)] = proba  # estimators see encoded y
        trees.append(_remap_features(_sk_tree(e.tree_, full), features))
    return _classifier_head(ctx, _sk_ensemble(ctx, x, trees, "mean", est.n_features_in_), est)


@register("BaggingRegressor", kind="predictor")
def bagging_regressor(est, ctx, x):
    if not _all_trees(est, _TREE_REGRESSORS):
        return bagging.bagging_regressor(est, ctx, x)
    _nan_policy(ctx, est.estimators_[0])
    trees = [_remap_features(_sk_tree(e.tree_, e.tree_.value[:, :, 0]), f)
             for e, f in zip(est.estimators_, est.estimators_features_)]
    if any(e.n_outputs_ != 1 for e in est.estimators_):
        raise UnsupportedModelError("multi-output BaggingRegressor is not supported yet")
    return Head({"predict": (_sk_ensemble(ctx, x, trees, "mean", est.n_features_in_), True)},
                "regressor")


@register("IsolationForest", kind="predictor")
def isolation_forest(est, ctx, x):
    from sklearn.ensemble._iforest import _average_path_length

    _require_trees(est, _TREE_REGRESSORS)
    subsample = est._max_features != est.n_features_in_
    trees = []
    for i, (e, features) in enumerate(zip(est.estimators_, est.estimators_features_)):
        leaf = (est._decision_path_lengths[i] + est._average_path_length_per_tree[i] - 1.0)
        tree = _sk_tree(e.tree_, leaf.reshape(-1, 1))
        trees.append(_remap_features(tree, features) if subsample else tree)
    denominator = len(est.estimators_) * _average_path_length([est._max_samples])
    if not np.all(denominator != 0):
        raise UnsupportedModelError("IsolationForest with max_samples=1 is not supported")
    ctx.accepts_inf = True  # score_samples validates with ensure_all_finite=False
    g = ctx.graph
    depths = _sk_ensemble(ctx, x, trees, "sum", est.n_features_in_)
    score = g.add("AnomalyScore", [g.add("SubDiv", [depths],
                                         div=g.tensor(np.asarray(denominator, np.float64).reshape(1),
                                                      "float64"))])
    decision = g.add("SubDiv", [score], sub=g.tensor([float(est.offset_)], "float64"))
    outputs = {"score_samples": (score, True), "decision_function": (decision, True),
               "predict": (g.add("OutlierLabel", [decision]), True)}
    return Head(outputs, "outlier_detector")
