"""CatBoost exporter: ``CatBoostClassifier``, ``CatBoostRegressor``, ``CatBoostRanker`` and the
plain ``CatBoost`` model, read from CatBoost's own JSON export (``save_model(format="json")``),
never from pickles. Importing this module does not import catboost; ``export`` does.

The trees become one ``ObliviousEnsemble`` node (kernels/oblivious.cpp), which keeps CatBoost's
rules exactly: input values are rounded to float32, a level's bit is ``x > border``, NaN is
below every border (nan_mode "Min" and "Forbidden") or above every border (nan_mode "Max"),
leaf values are summed in tree order in double precision, then ``scale * sum + bias``. The raw
values are therefore bit-identical to ``predict(prediction_type="RawFormulaVal")``.

Output heads follow CatBoost's prediction types:

- classifiers: ``predict`` (labels, "Class"), ``predict_proba`` ("Probability"),
  ``predict_log_proba`` ("LogProbability"), ``predict(X, prediction_type=...)`` for
  "RawFormulaVal" (and "Exponent" for binary models);
- regressors: ``predict`` as CatBoostRegressor's default (the exponent for Poisson and Tweedie,
  mean and variance for RMSEWithUncertainty, the raw value otherwise), and "RawFormulaVal" /
  "Exponent" through ``prediction_type``;
- rankers: raw values, and "Exponent";
- plain ``CatBoost`` models (also those made by ``catboost.sum_models``): raw values whatever
  the loss, as ``CatBoost.predict`` gives by default, and "Exponent" for one-dimensional
  models.

Trees grown with grow_policy "Depthwise" or "Lossguide" (non-symmetric) are padded to complete
binary trees and run on the same kernel with one split per node (``complete=True``); trees too
unbalanced to pad (more than ``_MAX_PADDING`` times their leaves) become a ``TreeEnsemble``
node with the same float32 comparison and NaN rule, followed by CatBoost's scale and bias.
Either way the sum is bit-identical to CatBoost's.

Not supported (UnsupportedModelError): categorical, text and embedding features, and loss
functions outside the lists below.
"""

import json
import math
import os
import tempfile

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head, check_class, header
from mle_runtime.exporters.classes import label_set
from mle_runtime.format import layout as L
from mle_runtime.ir.graph import Graph
from mle_runtime.ir.trees import Tree, add_ensemble

_CLASSES = ("CatBoost", "CatBoostClassifier", "CatBoostRegressor", "CatBoostRanker")

# The fitted attributes a loaded model offers (stored when the model has them; see
# mle_runtime.exporters.base.estimator_record).
ATTRIBUTES = {name: ("classes_", "feature_importances_", "best_iteration_", "best_score_",
                     "tree_count_", "feature_names_") for name in _CLASSES}

_BINARY_LOSSES = ("Logloss", "CrossEntropy")
_MULTI_LOSSES = ("MultiClass", "MultiClassOneVsAll")
_REGRESSION_LOSSES = ("RMSE", "MAE", "Quantile", "Expectile", "LogLinQuantile", "Poisson",
                      "Tweedie", "MAPE", "Huber", "RMSEWithUncertainty", "LogCosh", "Lq",
                      "FairLoss", "Cox", "SurvivalAft", "MultiRMSE", "MultiQuantile")
_RANKING_LOSSES = ("YetiRank", "YetiRankPairwise", "PairLogit", "PairLogitPairwise", "QueryRMSE",
                   "QuerySoftMax", "QueryCrossEntropy", "StochasticFilter", "StochasticRank",
                   "GroupQuantile", "LambdaMart")
# CatBoostRegressor.predict's default prediction type is "Exponent" for these losses.
_EXPONENT_LOSSES = ("Poisson", "Tweedie")


def supported():
    """Names of the supported CatBoost classes."""
    return sorted(_CLASSES)


def _unsupported(model_class, what, advice="Retrain without it, or keep this model in "
                                           "CatBoost's own format."):
    losses = ", ".join(_BINARY_LOSSES + _MULTI_LOSSES)
    return UnsupportedModelError(
        f"{model_class} with {what} is not supported. Supported: CatBoost models with numeric "
        f"features only, with losses {losses} (CatBoostClassifier), "
        f"{', '.join(_REGRESSION_LOSSES)} (CatBoostRegressor), "
        f"{', '.join(_RANKING_LOSSES)} (CatBoostRanker). {advice}")


_CATEGORICAL_ADVICE = (
    "CatBoost keeps only hashes of the training categories in its export, so they cannot be "
    "matched to input values exactly; encode such columns as numbers (e.g. ordinal codes) and "
    "retrain, or keep this model in CatBoost's own format.")


def _json_export(model):
    """The model's JSON export as a dict (written to a temporary file and read back)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.json")
        model.save_model(path, format="json")
        with open(path, encoding="utf-8") as f:
            return json.load(f)


def _float32_exact(values, what):
    arr = np.asarray(values, dtype=np.float64)
    f32 = arr.astype(np.float32)
    if not np.array_equal(f32.astype(np.float64), arr):
        raise UnsupportedModelError(f"{what}: borders are not float32 values; this CatBoost "
                                    "export is not understood")
    return f32


def _add_trees(graph, doc, model_class, x="X", n_features=None):
    """Adds the trees (an ObliviousEnsemble node, or a TreeEnsemble one for unbalanced
    non-symmetric trees); returns (raw value name, dimension)."""
    info = doc.get("features_info", {})
    for key, what in (("categorical_features", "categorical features"),
                      ("text_features", "text features"),
                      ("embedding_features", "embedding features")):
        if info.get(key):
            raise _unsupported(model_class, what, _CATEGORICAL_ADVICE
                               if key == "categorical_features" else
                               "Retrain without them, or keep this model in CatBoost's own "
                               "format.")
    if "ctr_data" in doc:
        raise _unsupported(model_class, "CTR-based categorical features", _CATEGORICAL_ADVICE)
    floats = info.get("float_features", [])
    scale, bias = doc.get("scale_and_bias") or (1.0, np.zeros(_dimension(doc)))
    bias = np.atleast_1d(np.asarray(bias, dtype=np.float64))
    dim = len(bias)
    if "oblivious_trees" not in doc and "trees" not in doc:
        raise _unsupported(model_class, "an export without trees")

    # Used features: those with borders, in float-feature order.
    slots, columns, offsets, borders, nan_true = {}, [], [0], [], []
    for ff in floats:
        b = _float32_exact(ff.get("borders") or [], model_class)
        if not len(b):
            continue
        b = np.unique(b)  # sorted, strictly increasing
        slots[int(ff["feature_index"])] = (len(columns), b)
        columns.append(int(ff["flat_feature_index"]))
        borders.append(b)
        offsets.append(offsets[-1] + len(b))
        treatment = ff.get("nan_value_treatment", "AsIs")
        if treatment not in ("AsIs", "AsFalse", "AsTrue"):
            raise _unsupported(model_class, f"nan_value_treatment {treatment!r}")
        nan_true.append(1 if treatment == "AsTrue" else 0)

    def split_ref(s, t):
        kind = s.get("split_type")
        if kind != "FloatFeature":
            raise _unsupported(model_class, f"split type {kind!r} (tree {t})")
        slot, b = slots[int(s["float_feature_index"])]
        border = _float32_exact([s["border"]], model_class)[0]
        j = int(np.searchsorted(b, border))
        if j >= len(b) or b[j] != border:
            raise UnsupportedModelError(f"{model_class}: tree {t} splits on a border that "
                                        "its feature does not list; the export is damaged")
        return slot, j

    splits, depths, leaves = [], [], []
    complete = "oblivious_trees" not in doc
    if complete:
        for t, root in enumerate(doc["trees"]):
            tree = _complete_tree(root, t, dim, split_ref, model_class)
            if tree is None:  # too unbalanced to pad: walk the nodes instead
                return _add_nonsymmetric(graph, doc, floats, float(scale), bias,
                                         model_class, x, n_features), dim
            splits += tree[0]
            depths.append(tree[1])
            leaves.append(tree[2])
    oblivious = doc.get("oblivious_trees") or []
    if oblivious:
        splits += _oblivious_splits(oblivious, slots, model_class)
    for t, tree in enumerate(oblivious):
        tsplits = tree.get("splits") or []
        depths.append(len(tsplits))
        lv = np.asarray(tree["leaf_values"], dtype=np.float64)
        if lv.size != (1 << len(tsplits)) * dim:
            raise UnsupportedModelError(f"{model_class}: tree {t} has {lv.size} leaf values, "
                                        f"expected {(1 << len(tsplits)) * dim}")
        leaves.append(lv.reshape(-1, dim))
    if not depths:
        raise UnsupportedModelError(f"{model_class} has no trees; is it fitted?")

    g = graph
    raw = g.add(
        "ObliviousEnsemble", [x],
        features=g.tensor(np.asarray(columns, dtype=np.int32), "int32"),
        border_offsets=g.tensor(np.asarray(offsets, dtype=np.int32), "int32"),
        borders=g.tensor(np.concatenate(borders) if borders else np.zeros(0, np.float32),
                         "float32"),
        nan_as_true=g.tensor(np.asarray(nan_true, dtype=np.uint8), "uint8"),
        splits=g.tensor(np.asarray(splits, dtype=np.int32).reshape(-1, 2), "int32"),
        depths=g.tensor(np.asarray(depths, dtype=np.int32), "int32"),
        leaves=g.tensor(np.concatenate(leaves), "float64"),
        bias=g.tensor(bias, "float64"),
        scale=float(scale),
        complete=True if complete else None,
    )
    return raw, dim


def _oblivious_splits(trees, slots, model_class):
    """``[(slot, border index)]`` of every oblivious tree's splits, tree after tree (what
    ``split_ref`` gives one split, for all of them at once)."""
    per_tree = [tree.get("splits") or [] for tree in trees]
    ends = np.cumsum([len(ts) for ts in per_tree])
    flat = [s for ts in per_tree for s in ts]
    if not flat:
        return []

    def tree_of(i):
        return int(np.searchsorted(ends, i, side="right"))

    for i, s in enumerate(flat):
        if s.get("split_type") != "FloatFeature":
            raise _unsupported(model_class,
                               f"split type {s.get('split_type')!r} (tree {tree_of(i)})")
    feature = np.asarray([int(s["float_feature_index"]) for s in flat], dtype=np.int64)
    border = _float32_exact([s["border"] for s in flat], model_class)
    slot = np.zeros(len(flat), dtype=np.int64)
    index = np.zeros(len(flat), dtype=np.int64)
    for f in np.unique(feature):
        at = np.flatnonzero(feature == f)
        if int(f) not in slots:
            raise UnsupportedModelError(f"{model_class}: tree {tree_of(at[0])} splits on a "
                                        "feature without borders; the export is damaged")
        k, b = slots[int(f)]
        j = np.searchsorted(b, border[at])
        bad = (j >= len(b)) | (b[np.minimum(j, len(b) - 1)] != border[at])
        if bad.any():
            raise UnsupportedModelError(f"{model_class}: tree {tree_of(at[bad][0])} splits on "
                                        "a border that its feature does not list; the export "
                                        "is damaged")
        slot[at] = k
        index[at] = j
    return list(zip(slot.tolist(), index.tolist()))


_MAX_PADDING = 4  # a padded tree may hold at most this many times its real leaves (+ 64)


def _complete_tree(root, t, dim, split_ref, model_class):
    """A non-symmetric tree as a complete binary tree of its depth D: (splits of its 2^D - 1
    nodes level by level, D, leaf values [2^D, dim]); None when padding would make it too big.
    A leaf above level D becomes a subtree of placeholder splits whose leaves all hold its
    value, so every path of the original tree reaches the same value."""
    def depth_and_leaves(node, d):
        if "split" not in node:
            return d, 1
        a, na = depth_and_leaves(node["left"], d + 1)
        b, nb = depth_and_leaves(node["right"], d + 1)
        return max(a, b), na + nb

    if _tree_too_deep(root):
        return None
    depth, n_leaves = depth_and_leaves(root, 0)
    if depth > 16 or (1 << depth) > _MAX_PADDING * n_leaves + 64:
        return None
    splits = [None] * ((1 << depth) - 1)
    leaves = np.zeros(((1 << depth), dim))
    placeholder = None

    def fill(node, level, pos):
        nonlocal placeholder
        if "split" not in node:
            v = np.atleast_1d(np.asarray(node["value"], dtype=np.float64))
            if v.shape != (dim,):
                raise UnsupportedModelError(f"{model_class}: tree {t} has leaves of {v.size} "
                                            f"values, expected {dim}")
            span = 1 << (depth - level)
            leaves[pos * span:(pos + 1) * span] = v
            return
        ref = split_ref(node["split"], t)
        placeholder = placeholder or ref
        splits[(1 << level) - 1 + pos] = ref
        fill(node["left"], level + 1, 2 * pos)  # float32(x) <= border
        fill(node["right"], level + 1, 2 * pos + 1)  # float32(x) > border

    fill(root, 0, 0)
    return [s if s is not None else placeholder for s in splits], depth, leaves


def _tree_too_deep(root, limit=64):
    stack = [(root, 0)]
    while stack:
        node, d = stack.pop()
        if d > limit:
            return True
        if "split" in node:
            stack += [(node["left"], d + 1), (node["right"], d + 1)]
    return False


def _dimension(doc):
    """Values per leaf, from the first tree (for exports without "scale_and_bias")."""
    if doc.get("oblivious_trees"):
        tree = doc["oblivious_trees"][0]
        return len(tree["leaf_values"]) >> len(tree.get("splits") or [])
    node = (doc.get("trees") or [{"value": 0.0}])[0]
    while "split" in node:
        node = node["left"]
    return np.size(node["value"])


def _add_nonsymmetric(graph, doc, floats, scale, bias, model_class, x="X", n_features=None):
    """Trees grown with grow_policy "Depthwise" or "Lossguide" (each node has its own split):
    a TreeEnsemble node with float32 thresholds, ``float32(x) <= border`` going left
    (CatBoost sends ``x > border`` right) and NaN going left, or right for features whose
    nan treatment is "AsTrue"; then ``scale * sum + bias`` as CatBoost applies it."""
    by_index = {int(ff["feature_index"]): ff for ff in floats}
    dim = len(bias)
    trees = []
    for t, root in enumerate(doc["trees"]):
        left, right, feature, threshold, dleft, values = [], [], [], [], [], []

        def visit(node, depth):
            if depth > 64:
                raise UnsupportedModelError(f"{model_class}: tree {t} is deeper than 64 levels")
            i = len(left)
            left.append(-1)
            right.append(-1)
            feature.append(0)
            threshold.append(0.0)
            dleft.append(True)
            values.append(np.zeros(dim))
            if "split" not in node:
                v = np.atleast_1d(np.asarray(node["value"], dtype=np.float64))
                if v.shape != (dim,):
                    raise UnsupportedModelError(f"{model_class}: tree {t} has leaves of "
                                                f"{v.size} values, expected {dim}")
                values[i] = v
                return i
            s = node["split"]
            if s.get("split_type") != "FloatFeature":
                raise _unsupported(model_class, f"split type {s.get('split_type')!r} "
                                   f"(tree {t})")
            ff = by_index[int(s["float_feature_index"])]
            treatment = ff.get("nan_value_treatment", "AsIs")
            if treatment not in ("AsIs", "AsFalse", "AsTrue"):
                raise _unsupported(model_class, f"nan_value_treatment {treatment!r}")
            feature[i] = int(ff["flat_feature_index"])
            threshold[i] = float(_float32_exact([s["border"]], model_class)[0])
            dleft[i] = treatment != "AsTrue"
            left[i] = visit(node["left"], depth + 1)
            right[i] = visit(node["right"], depth + 1)
            return i

        visit(root, 0)
        n = len(left)
        trees.append(Tree(left=np.asarray(left), right=np.asarray(right),
                          feature=np.asarray(feature), threshold=np.asarray(threshold),
                          leaf_value=np.asarray(values).reshape(n, dim),
                          default_left=np.asarray(dleft),
                          missing=np.full(n, L.TREE_MISSING_NAN)))
    if not trees:
        raise UnsupportedModelError(f"{model_class} has no trees; is it fitted?")
    raw = add_ensemble(graph, x, trees, n_features=n_features or graph.n_features, wide=False, compare="<=",
                       aggregate="sum")
    if scale != 1.0 or np.any(bias != 0.0):
        raw = graph.add("MulAdd", [raw],
                        mul=None if scale == 1.0 else graph.tensor(np.full(dim, scale), "float64"),
                        add=graph.tensor(bias, "float64"))
    return raw


def _loss(doc):
    lf = (doc.get("model_info", {}).get("params") or {}).get("loss_function", {})
    return lf.get("type") if isinstance(lf, dict) else None


def _classifier_head(graph, raw, dim, loss, name, model, doc, meta, pt):
    """CatBoostClassifier: labels, probabilities and log-probabilities."""
    # Binary labels: raw > logit(threshold), CatBoost's "Class" rule (the threshold is the
    # probability set with set_probability_threshold, 0.5 by default).
    threshold = float(doc.get("model_info", {}).get("binclass_probability_threshold", 0.5))
    if not 0.0 < threshold < 1.0:
        raise _unsupported(name, f"a probability threshold of {threshold}")
    classes = model.classes_
    if loss in _BINARY_LOSSES and dim == 1:
        graph.output("raw", raw, ravel=True)
        decision = raw
        if threshold != 0.5:  # raw - logit > 0 exactly when raw > logit
            logit = math.log(threshold / (1.0 - threshold))
            decision = graph.add("MulAdd", [raw], add=graph.tensor(np.array([-logit]), "float64"))
        graph.output("predict", graph.add("ArgMax", [decision]), ravel=True,
                     labels=label_set(graph, classes))
        graph.output("predict_proba", graph.add("BinaryProba", [graph.add("Sigmoid", [raw])]))
        graph.output("predict_log_proba", graph.add("BinaryLogProba", [raw]))
        graph.output("exponent", graph.add("Exp", [raw]), ravel=True)
        pt("Exponent", "exponent")
    elif loss in _MULTI_LOSSES and dim > 1:
        graph.output("raw", raw)
        # CatBoost returns multiclass labels as a column (n, 1)
        graph.output("predict", graph.add("ArgMax", [raw]), ravel=True, column=True,
                     labels=label_set(graph, classes))
        if loss == "MultiClass":
            graph.output("predict_proba", graph.add("Softmax", [raw]))
            graph.output("predict_log_proba", graph.add("LogSoftmax", [raw]))
        else:  # one-vs-all: an independent sigmoid per class
            graph.output("predict_proba", graph.add("Sigmoid", [raw]))
            graph.output("predict_log_proba", graph.add("LogSigmoid", [raw]))
    else:
        raise _unsupported(name, f"loss function {loss!r}")
    if len(classes) != max(dim, 2):
        raise UnsupportedModelError(f"{name}: {len(classes)} classes_ for {dim} raw "
                                    "values; this export is not understood")
    pt("Class", "predict")
    pt("RawFormulaVal", "raw")
    pt("Probability", "predict_proba")
    pt("LogProbability", "predict_log_proba")
    return "classifier"


def _booster_head(graph, raw, dim, loss, name, model, doc, meta, pt):
    """CatBoost: predict gives raw values by default, whatever the loss (also for models made
    by sum_models, whose export names no loss)."""
    graph.output("predict", raw, ravel=dim == 1)
    pt("RawFormulaVal", "predict")
    if dim == 1:
        graph.output("exponent", graph.add("Exp", [raw]), ravel=True)
        pt("Exponent", "exponent")
    return ("regressor" if loss in _REGRESSION_LOSSES else
            "ranker" if loss in _RANKING_LOSSES else None)


def _regressor_head(graph, raw, dim, loss, name, model, doc, meta, pt):
    """CatBoostRegressor: predict is the loss's default prediction type."""
    if loss not in _REGRESSION_LOSSES:
        raise _unsupported(name, f"loss function {loss!r}")
    expected = 2 if loss == "RMSEWithUncertainty" else (
        None if loss in ("MultiRMSE", "MultiQuantile") else 1)
    if expected is not None and dim != expected:
        raise UnsupportedModelError(f"{name}: {dim} raw values per row for loss {loss}; "
                                    "this export is not understood")
    graph.output("raw", raw, ravel=dim == 1)
    pt("RawFormulaVal", "raw")
    if dim == 1:
        graph.output("exponent", graph.add("Exp", [raw]), ravel=True)
        pt("Exponent", "exponent")
    default = "raw"
    if loss == "RMSEWithUncertainty":
        graph.output("uncertainty", graph.add("MeanVariance", [raw]))
        pt("RMSEWithUncertainty", "uncertainty")
        default = "uncertainty"
    elif loss.split(":")[0] in _EXPONENT_LOSSES:
        default = "exponent"
    first = next(o for o in graph.outputs if o["name"] == default)
    graph.output("predict", first["value"], first["ravel"])
    return "regressor"


def _ranker_head(graph, raw, dim, loss, name, model, doc, meta, pt):
    """CatBoostRanker: raw scores and their exponent."""
    if loss not in _RANKING_LOSSES or dim != 1:
        raise _unsupported(name, f"loss function {loss!r}")
    graph.output("predict", raw, ravel=True)
    graph.output("exponent", graph.add("Exp", [raw]), ravel=True)
    pt("RawFormulaVal", "predict")
    pt("Exponent", "exponent")
    return "ranker"


# class name -> head builder: adds the class's methods to the graph (and their
# prediction_type aliases through ``pt``), returns its estimator type
_HEADS = {
    "CatBoostClassifier": _classifier_head,
    "CatBoost": _booster_head,
    "CatBoostRegressor": _regressor_head,
    "CatBoostRanker": _ranker_head,
}

_UNSUPPORTED_FEATURES = (
    ("get_cat_feature_indices", "categorical features (cat_features, one-hot or CTR-encoded)",
     _CATEGORICAL_ADVICE),
    ("get_text_feature_indices", "text features (text_features)",
     "Retrain without them, or keep this model in CatBoost's own format."),
    ("get_embedding_feature_indices", "embedding features (embedding_features)",
     "Retrain without them, or keep this model in CatBoost's own format."),
)


def _n_features(model, info, name):
    """Input columns: every one is listed in the export (unused ones with no borders); a model
    read back with load_model() reports n_features_in_ as 0."""
    flat = [int(f.get("flat_feature_index", -1)) for k in info if isinstance(info[k], list)
            for f in info[k] if isinstance(f, dict)]
    n_features = max(flat, default=-1) + 1
    declared = getattr(model, "_n_features_in", None)  # absent on sum_models results
    if declared and declared != n_features:
        raise UnsupportedModelError(f"{name} has n_features_in_={declared} but its export "
                                    f"lists {n_features} features; not understood")
    return int(n_features)


def export(model):
    """Returns (Graph, metadata dict) for a fitted CatBoost model."""
    return _export(model)


def pipeline_step(est, ctx, x):
    """Exports a CatBoost scikit-learn model as the last step of a scikit-learn Pipeline (the
    registry's ``pipeline_step`` hook) on value x; its outputs and keywords are written to
    the pipeline's graph, and the returned Head carries only the estimator type."""
    ctx.accepts_inf = True  # CatBoost takes infinity (and NaN) as they are
    return Head({}, _export(est, ctx.graph, x))


def _export(model, into=None, x="X"):
    import catboost

    name = check_class(model, "catboost", _CLASSES, "CatBoost")
    if not model.is_fitted():
        raise ValueError(f"{name} is not fitted; call fit() before dumping it")
    for getter, what, advice in _UNSUPPORTED_FEATURES:
        if list(getattr(model, getter)() or []):
            raise _unsupported(name, what, advice)
    doc = _json_export(model)
    loss = _loss(doc)
    info = doc.get("features_info", {})
    n_features = _n_features(model, info, name)
    if into is None:
        graph = Graph(name, n_features)
        graph.allow_nan = True  # CatBoost's nan treatments are part of the kernel
        graph.allow_inf = True
    else:
        graph = into
    raw, dim = _add_trees(graph, doc, name, x, n_features)
    meta = header("catboost", catboost.__version__, name)
    def pt(value, output):  # predict(X, prediction_type=value) returns graph output `output`
        graph.keyword("predict", "prediction_type", value, output)

    kind = _HEADS[name](graph, raw, dim, loss, name, model, doc, meta, pt)
    if into is not None:
        return kind
    graph.estimator_type = kind
    names = [ff.get("feature_id") for ff in info.get("float_features", [])]
    if names and all(isinstance(n, str) and n for n in names) and len(names) == n_features:
        graph.inputs["feature_names"] = list(names)
    if loss is not None:
        meta["loss_function"] = loss
    return graph, meta
