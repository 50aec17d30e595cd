"""XGBoost exporter: XGBClassifier, XGBRegressor, XGBRFClassifier, XGBRFRegressor, XGBRanker and
raw Boosters, read from the booster's UBJSON model (``save_raw("ubj")``, XGBoost's fastest
serialisation; never from pickles), decoded natively with the trees' arrays gathered into one
column per field. xgboost itself is imported only when a model is exported.

Semantics kept exactly (XGBoost's CPU predictor):
- the input is read as float32; a node sends ``x < split_condition`` (float32) left, NaN (and
  the wrapper's ``missing`` value) along ``default_left``;
- categorical nodes send a category in the node's set right, any other valid category left,
  negative or too large values left (the category rule below);
- the margin starts at the base margin and adds each tree's leaf value in float32, in tree
  order (``accumulate="float32"``), so margins are bit-identical;
- links (sigmoid, softmax, exp) run in float32 as XGBoost computes them, and outputs are
  float32 arrays as XGBoost returns them.
"""

import json

import numpy as np

from mle_runtime import _native
from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head, apply_head, check_class, header
from mle_runtime.format import layout as L
from mle_runtime.ir.graph import Graph
from mle_runtime.ir.trees import CategoryRule, Tree, TreeBatch, add_ensemble

_WRAPPERS = ("XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor", "XGBRanker")
_CLASSES = _WRAPPERS + ("Booster",)

# The fitted attributes a loaded model offers (stored when the model has them; see
# mle_runtime.exporters.base.estimator_record): feature_importances_ as XGBoost computes it
# (its importance_type), best_iteration and best_score after early stopping.
ATTRIBUTES = {
    **{name: ("classes_", "n_classes_", "feature_importances_", "best_iteration", "best_score",
              "n_features_in_", "feature_names_in_", "intercept_") for name in _WRAPPERS},
    "Booster": ("best_iteration", "best_score", "feature_names", "feature_types"),
}

# objective -> link applied to the margin by predict (None: the margin itself)
_LINKS = {
    "reg:squarederror": None, "reg:linear": None, "reg:squaredlogerror": None,
    "reg:pseudohubererror": None, "reg:absoluteerror": None, "reg:quantileerror": None,
    "reg:logistic": "sigmoid", "binary:logistic": "sigmoid", "binary:logitraw": None,
    "binary:hinge": "hinge", "count:poisson": "exp", "reg:gamma": "exp", "reg:tweedie": "exp",
    "survival:cox": "exp", "survival:aft": "exp", "multi:softprob": "softmax",
    "multi:softmax": "argmax", "rank:pairwise": None, "rank:ndcg": None, "rank:map": None,
}


def supported():
    """Names of the supported XGBoost classes."""
    return sorted(_CLASSES)


def _floats(text):
    """learner_model_param's base_score: "5E-1" or "[5E-1,2E-1]"."""
    return [float(v) for v in str(text).strip("[]").split(",") if v.strip()]


# The per-node arrays of a tree record, gathered into columns by the UBJSON decoder.
_TREE_COLUMNS = ("left_children", "right_children", "parents", "split_indices",
                 "split_conditions", "split_type", "default_left", "base_weights",
                 "loss_changes", "sum_hessian", "leaf_weights", "categories",
                 "categories_nodes", "categories_segments", "categories_sizes")


def _read_model(booster):
    """The booster's model document from its UBJSON bytes, with ``columns``: each tree
    record's per-node arrays are ``(start, count)`` into ``columns[key]`` (float64 for
    XGBoost's float32 values, which widen exactly; int64 otherwise)."""
    return _native.ubjson_decode(booster.save_raw("ubj"), _TREE_COLUMNS)


def _field(t, key, columns, default=None):
    """A tree record's array ``key`` (a numpy view into its column), or ``default``."""
    ref = t.get(key)
    if ref is None:
        return default
    if isinstance(ref, tuple):
        start, count = ref
        return columns[key][start:start + count]
    return np.asarray(ref)


def _as_lists(t, columns):
    """A tree record with its arrays as lists again (JSON-serialisable)."""
    out = {}
    for k, v in t.items():
        if isinstance(v, tuple) and k in columns:
            arr = _field(t, k, columns)
            out[k] = arr.tolist()
        else:
            out[k] = v
    return out


def _base_margin(model, columns, n_features, n_groups):
    """The margin before any tree, exactly as XGBoost computes it (the objective's transform of
    base_score, in XGBoost's arithmetic): the booster cut to its first iteration with every leaf
    set to 0, asked for its margin on one row."""
    import xgboost as xgb

    cut = dict(model)
    learner = cut["learner"] = dict(model["learner"])
    gb = learner["gradient_booster"] = dict(learner["gradient_booster"])
    if gb["name"] == "dart":
        gb["gbtree"] = dict(gb["gbtree"])
        inner = gb["gbtree"]["model"] = dict(gb["gbtree"]["model"])
    else:
        inner = gb["model"] = dict(gb["model"])
    indptr = [int(v) for v in inner.get("iteration_indptr") or []]
    keep = indptr[1] if len(indptr) > 1 else len(inner["trees"])
    inner["trees"] = [_as_lists(t, columns) for t in inner["trees"][:keep]]
    inner["tree_info"] = inner["tree_info"][:keep]
    inner["iteration_indptr"] = [0, keep]
    inner["gbtree_model_param"] = dict(inner["gbtree_model_param"], num_trees=str(keep))
    for t in inner["trees"]:
        leaf = [c == -1 for c in t["left_children"]]
        t["split_conditions"] = [0.0 if is_leaf else v
                                 for is_leaf, v in zip(leaf, t["split_conditions"])]
        t["base_weights"] = [0.0] * len(t["base_weights"])
        if "leaf_weights" in t:
            t["leaf_weights"] = [0.0] * len(t["leaf_weights"])
    if gb["name"] == "dart":
        gb["weight_drop"] = [1.0] * keep
    # one thread: starting a pool costs more than predicting one row
    zeroed = xgb.Booster({"nthread": 1}, model_file=bytearray(json.dumps(cut).encode()))
    row = xgb.DMatrix(np.zeros((1, n_features), dtype=np.float32),
                      feature_names=learner.get("feature_names") or None,
                      feature_types=learner.get("feature_types") or None,
                      enable_categorical=True, nthread=1)
    margin = zeroed.predict(row, output_margin=True)
    margin = np.asarray(margin, dtype=np.float32).reshape(-1)
    if margin.size != n_groups:
        raise UnsupportedModelError(
            f"XGBoost returned {margin.size} base margins for a model with {n_groups} outputs")
    return margin.astype(np.float64)


def _decode_categories(enc):
    """Training categories of one feature from the model's "cats" record (XGBoost >= 3.1)."""
    offsets, values = enc.get("offsets") or [], enc.get("values") or []
    if offsets:  # strings, as UTF-8 bytes between offsets
        raw = bytes(int(v) & 0xFF for v in values)
        return [raw[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]
    return [v.item() if hasattr(v, "item") else v for v in values]


def _size_leaf(t):
    return int(t["tree_param"].get("size_leaf_vector", "1") or 1)


_NODE_KEYS = ("left_children", "right_children", "split_indices", "split_conditions",
              "default_left")


def _batch(records, columns, info, weights, base, inplace):
    """All trees at once as a TreeBatch, straight from the gathered columns, for the common
    models: scalar leaves and no categorical splits (None otherwise; those trees are read one
    by one by :func:`_tree`). Dart trees' leaves are scaled as :func:`_dart_leaves` does."""
    if any(_size_leaf(t) != 1 for t in records):
        return None
    refs = {}
    for key in _NODE_KEYS + ("split_type",):
        r = [t.get(key) for t in records]
        if key == "split_type" and all(v is None for v in r):
            continue
        if not all(isinstance(v, tuple) for v in r):
            return None
        refs[key] = np.asarray(r, dtype=np.int64).reshape(-1, 2)
    counts = refs["left_children"][:, 1]
    offsets = np.zeros(len(records) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    spans = {}
    for key, ref in refs.items():
        # each field's arrays must be the trees' own, one after another in the column
        if not np.array_equal(ref[:, 1], counts) or \
                not np.array_equal(ref[:, 0], ref[0, 0] + offsets[:-1]):
            return None
        spans[key] = columns[key][ref[0, 0]:ref[0, 0] + offsets[-1]]
    left = spans["left_children"].astype(np.int64)
    if "split_type" in spans and np.any((spans["split_type"] == 1) & (left >= 0)):
        return None
    cond = spans["split_conditions"]
    leaf = cond.reshape(-1, 1)
    if weights is not None:  # _dart_leaves, node by node
        f32 = np.float32
        w = np.repeat(np.asarray([f32(v) for v in weights], dtype=f32), counts)[:, None]
        lv = leaf.astype(f32)
        if inplace:
            b = base.astype(f32)[np.repeat(np.asarray(info, dtype=np.int64), counts)][:, None]
            lv = (lv + b).astype(f32) - b
        leaf = (lv.astype(f32) * w).astype(np.float64)
    n = len(left)
    return TreeBatch(offsets=offsets, left=left, right=spans["right_children"],
                     feature=spans["split_indices"], threshold=cond, leaf_value=leaf,
                     default_left=spans["default_left"].astype(bool),
                     missing=np.full(n, L.TREE_MISSING_NAN, dtype=np.int64))


def _tree(t, columns, sets):
    """One XGBoost tree record -> Tree (its categorical sets appended to ``sets``)."""
    left = np.asarray(_field(t, "left_children", columns), dtype=np.int64)
    right = np.asarray(_field(t, "right_children", columns), dtype=np.int64)
    n = len(left)
    size_leaf = _size_leaf(t)
    # XGBoost's float32 values (exact in float64)
    cond = np.asarray(_field(t, "split_conditions", columns), dtype=np.float32).astype(
        np.float64)
    if size_leaf > 1:
        # vector leaves (multi_strategy="multi_output_tree"): a leaf's right_children entry is
        # its row in leaf_weights
        rows = np.asarray(_field(t, "leaf_weights", columns), dtype=np.float32).astype(np.float64).reshape(
            -1, size_leaf)
        leaf_value = np.zeros((n, size_leaf))
        is_leaf = left < 0
        k = right[is_leaf]
        if np.any((k < 0) | (k >= len(rows))):
            raise UnsupportedModelError("an XGBoost vector leaf points outside leaf_weights")
        leaf_value[is_leaf] = rows[k]
        right = np.where(is_leaf, -1, right)
    else:
        leaf_value = cond.reshape(-1, 1)
    split_type = np.asarray(_field(t, "split_type", columns, np.zeros(n)), dtype=np.int64)
    categorical = (split_type == 1) & (left >= 0)
    cat_left = None
    if categorical.any():
        cat_left = np.full(n, -1, dtype=np.int64)
        cats = np.asarray(_field(t, "categories", columns), dtype=np.int64)
        for node, seg, size in zip(_field(t, "categories_nodes", columns),
                                   _field(t, "categories_segments", columns),
                                   _field(t, "categories_sizes", columns)):
            values = cats[int(seg):int(seg) + int(size)]
            if values.size and (values.min() < 0 or values.max() >= 2 ** 24):
                raise UnsupportedModelError("an XGBoost tree holds a category outside [0, 2**24)")
            words = np.zeros(int(values.max()) // 32 + 1 if values.size else 1, dtype=np.uint32)
            np.bitwise_or.at(words, values // 32, (1 << (values % 32)).astype(np.uint32))
            cat_left[int(node)] = len(sets)  # the set of categories going RIGHT (see module doc)
            sets.append(words)
        if np.any(cat_left[categorical] < 0):
            raise UnsupportedModelError("an XGBoost categorical node has no category list")
    return Tree(left=left, right=right,
                feature=np.asarray(_field(t, "split_indices", columns), dtype=np.int64),
                threshold=np.where(categorical, 0.0, cond), leaf_value=leaf_value,
                default_left=np.asarray(_field(t, "default_left", columns), dtype=bool),
                missing=np.full(n, L.TREE_MISSING_NAN), categorical=categorical,
                cat_left=cat_left)


def _dart_leaves(trees, groups, weights, base, inplace):
    """Scales dart trees' leaves by their weights as XGBoost's predictor does, in float32.

    ``Booster.predict`` (a DMatrix) adds ``leaf * w``; the scikit-learn wrappers predict in
    place, which adds ``((base + leaf) - base) * w`` (each tree's prediction carries the base
    margin, taken off again). Both are per-leaf values, computed here once."""
    f32 = np.float32
    for tr, g, w in zip(trees, groups, weights):
        leaf = tr.leaf_value.astype(f32)
        if inplace:
            b = base.astype(f32)[g] if leaf.shape[1] == 1 else base.astype(f32)
            leaf = (leaf + b).astype(f32) - b
        tr.leaf_value = (leaf.astype(f32) * f32(w)).astype(np.float64)


def _iteration_limit(obj, is_wrapper):
    """Iterations XGBoost's predict uses by default: best_iteration + 1 for the scikit-learn
    wrappers after early stopping, every iteration otherwise (Booster.predict)."""
    if not is_wrapper:
        return None
    try:
        return int(obj.best_iteration) + 1
    except (AttributeError, TypeError, ValueError):
        return None


def export(obj):
    """Returns (Graph, metadata dict) for a fitted XGBoost model."""
    return _export(obj)


def pipeline_step(est, ctx, x):
    """Exports an XGBoost scikit-learn model as the last step of a scikit-learn Pipeline (the
    registry's ``pipeline_step`` hook) on value x; returns its Head."""
    if type(est).__name__ == "Booster":
        raise UnsupportedModelError(
            "an xgboost.Booster cannot be a scikit-learn Pipeline step; use XGBClassifier, "
            "XGBRegressor, ... or export the Booster on its own")
    ctx.accepts_inf = True  # XGBoost takes infinity (and NaN) as they are
    return _export(est, ctx.graph, x)


def _export(obj, into=None, x="X"):
    """The model's graph (a new one, or its nodes added to graph ``into`` on value x, for a
    Pipeline step: then returns only the Head)."""
    import xgboost as xgb

    name = check_class(obj, "xgboost", _CLASSES, "XGBoost")
    is_wrapper = name != "Booster"
    try:
        booster = obj.get_booster() if is_wrapper else obj
    except xgb.core.XGBoostError as e:
        raise ValueError(f"{name} is not fitted: {e}") from None
    model, columns = _read_model(booster)
    learner = model["learner"]
    objective = learner["objective"]["name"]
    gb = learner["gradient_booster"]
    if gb["name"] == "gblinear":
        raise UnsupportedModelError(
            f"{name} with booster='gblinear' is not supported; supported: booster='gbtree' and "
            "'dart'")
    if gb["name"] not in ("gbtree", "dart"):
        raise UnsupportedModelError(f"XGBoost booster {gb['name']!r} is not supported")
    if objective not in _LINKS:
        raise UnsupportedModelError(
            f"XGBoost objective {objective!r} is not supported; supported: "
            f"{', '.join(sorted(_LINKS))}")
    inner = gb["gbtree"]["model"] if gb["name"] == "dart" else gb["model"]
    param = learner["learner_model_param"]
    n_features = int(param["num_feature"])
    n_class = int(param.get("num_class", "0") or 0)
    n_target = int(param.get("num_target", "1") or 1)
    n_groups = max(n_class, n_target, 1)
    records = inner["trees"]
    info = [int(v) for v in inner["tree_info"]]
    indptr = [int(v) for v in inner.get("iteration_indptr") or []]
    weights = [float(w) for w in gb.get("weight_drop", [])] if gb["name"] == "dart" else None

    limit = _iteration_limit(obj, is_wrapper)
    if limit is not None and indptr and limit < len(indptr):
        records, info = records[:indptr[limit]], info[:indptr[limit]]
        weights = weights[:indptr[limit]] if weights is not None else None
    if not records:
        raise UnsupportedModelError(f"{name} has no trees; nothing to predict with")

    sets = []
    base = _base_margin(model, columns, n_features, n_groups)
    trees = _batch(records, columns, info, weights, base, inplace=is_wrapper)
    vector = False
    if trees is None:
        trees = [_tree(t, columns, sets) for t in records]
        if weights is not None:
            _dart_leaves(trees, info, weights, base, inplace=is_wrapper)
        vector = trees[0].leaf_value.shape[1] > 1
        if any((tr.leaf_value.shape[1] > 1) != vector for tr in trees):
            raise UnsupportedModelError("XGBoost model mixes scalar and vector leaves")
        if vector and trees[0].leaf_value.shape[1] != n_groups:
            raise UnsupportedModelError("XGBoost vector leaves do not match the number of "
                                        "targets")
    if any(not 0 <= g < n_groups for g in info):
        raise UnsupportedModelError("an XGBoost tree's output group is out of range")

    graph = Graph(name, n_features) if into is None else into
    if into is None:
        graph.allow_nan = True
        graph.allow_inf = True
    missing = getattr(obj, "missing", np.nan) if is_wrapper else np.nan
    if missing is not None and not np.isnan(missing):
        # the wrapper's missing value counts as missing, as NaN does; XGBoost compares it with
        # the float32 value it stores
        x = graph.add("Impute", [x], fill=graph.tensor(np.full(n_features, np.nan), "float64"),
                      missing_is_nan=False, missing_value=float(np.float32(missing)),
                      compare_float32=True)
    multi = n_groups > 1 and not vector
    margin = add_ensemble(
        graph, x, trees, n_features=n_features, wide=False, compare="<", aggregate="sum",
        base=base, category_sets=sets or None,
        # common::Decision: the value as the float32 XGBoost stores; NaN takes the default
        # direction; a negative value or one from 2**24 on is no category and goes left, as a
        # category outside the node's set does; a category in the set goes right.
        category_rule=CategoryRule(cast="float32_truncate", nan="default", invalid="not_in_set",
                                   in_set="right"),
        targets=info if multi else None, n_outputs=n_groups if multi else None,
        accumulate="float32")
    head = _heads(obj, name, objective, graph, margin, n_groups, n_class)
    types = learner.get("feature_types") or []
    if into is not None:
        if any(t == "c" for t in types):
            raise UnsupportedModelError(
                f"{name} with categorical features cannot be a Pipeline step here (the steps "
                "before it would have to output category columns); export it on its own")
        return head
    apply_head(graph, head)
    meta = header("xgboost", xgb.__version__, name, objective=objective)
    names = learner.get("feature_names") or []
    if names:
        graph.inputs["feature_names"] = [str(n) for n in names]
    cat_cols = [i for i, t in enumerate(types) if t == "c"]
    if cat_cols and names:
        encs = (inner.get("cats") or {}).get("enc") or []
        cats = {}
        for i in cat_cols:
            values = _decode_categories(encs[i]) if i < len(encs) else []
            cats[str(names[i])] = values or None
        graph.inputs["categories"] = cats
        # XGBoost refuses categories it did not see in training (3.2 only detects some of
        # them and maps the others to a neighbouring category's code; here all are refused)
        graph.inputs["unseen"] = "error"
    return graph, meta


def _link(g, link, margin):
    """The value predict applies to the margin for the objective's link."""
    if link == "sigmoid":
        return g.add("SigmoidF32", [margin])
    if link == "softmax":
        return g.add("SoftmaxF32", [margin])
    if link == "exp":
        return g.add("ExpF32", [margin])
    if link in ("hinge", "argmax"):
        return g.add("ArgMax", [margin])  # hinge: margin > 0 -> 1
    return margin


def _classifier_head(obj, name, objective, g, margin, n_groups, n_class, head):
    """XGBClassifier / XGBRFClassifier: predict_proba and predict (class indices: classes_ is
    arange(n_classes_))."""
    link = _LINKS[objective]
    if n_class == 0 and n_groups > 1:
        raise UnsupportedModelError(
            f"multi-label {name} (binary objective with {n_groups} targets) is not "
            "supported yet")
    outputs, dtypes = head["outputs"], head["dtypes"]
    if objective == "multi:softmax":
        outputs["predict"] = (_link(g, link, margin), True)
        dtypes["predict"] = "int32"
    elif link in ("sigmoid", "softmax") and (link == "softmax" or n_groups == 1):
        proba = _link(g, link, margin)
        if link == "sigmoid":
            proba = g.add("BinaryProba", [proba])
        outputs["predict_proba"] = (proba, False)
        outputs["predict"] = (g.add("ArgMax", [proba]), True)
        dtypes["predict_proba"] = "float32"
    else:
        raise UnsupportedModelError(f"{name} with objective {objective!r} is not supported")
    n_classes = int(getattr(obj, "n_classes_", max(n_class, 2)))
    head["classes"] = np.arange(n_classes, dtype=np.int64)
    return "classifier"


def _value_head(kind):
    """Regressors, the ranker and the raw Booster: predict is the linked margin."""

    def build(obj, name, objective, g, margin, n_groups, n_class, head):
        link = _LINKS[objective]
        head["outputs"]["predict"] = (_link(g, link, margin), n_groups == 1 or link == "argmax")
        head["dtypes"]["predict"] = "float32"
        return kind

    return build


# class name -> head builder: adds the class's methods to the graph, returns its estimator type
_HEADS = {
    "XGBClassifier": _classifier_head,
    "XGBRFClassifier": _classifier_head,
    "XGBRegressor": _value_head("regressor"),
    "XGBRFRegressor": _value_head("regressor"),
    "XGBRanker": _value_head("ranker"),
    "Booster": _value_head("booster"),
}


def _heads(obj, name, objective, g, margin, n_groups, n_class):
    """The :class:`Head` of the class's methods (see ``_HEADS``); every class also offers the
    margin (``predict(X, output_margin=True)``)."""
    head = {"outputs": {"margin": (margin, n_groups == 1)}, "dtypes": {"margin": "float32"},
            "classes": None}
    kind = _HEADS[name](obj, name, objective, g, margin, n_groups, n_class, head)
    return Head(head["outputs"], kind, head["classes"], dtypes=head["dtypes"],
                keywords=[["predict", "output_margin", True, "margin"]])
