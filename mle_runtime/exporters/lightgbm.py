"""LightGBM exporter: ``LGBMClassifier``, ``LGBMRegressor``, ``LGBMRanker`` and a raw
``lightgbm.Booster``, read from the booster's text model (``Booster.model_to_string()``, its
fastest serialisation; never from pickles) onto the shared TreeEnsemble kernel: the header
lines are read in Python, the trees' number lines natively (``_native.text_columns``) and
converted with numpy over all trees at once. Importing this module does not import LightGBM; :func:`export` does.

LightGBM's prediction semantics, kept exactly (LightGBM 4.x, ``include/LightGBM/tree.h`` and
the C API's dense-row readers):

- Input rows are read as double (float32 input widens exactly). Every value with
  ``|x| <= kZeroThreshold`` (``1e-35f`` widened to double) is dropped from the sparse row the
  predictor builds, so the trees see it as ``0.0``. Numerical thresholds are rewritten once, at
  export, so that comparing the caller's value gives the comparison LightGBM makes with the
  zeroed one (:func:`zeroed_threshold`); no per-value work is added at predict time.
- ``NumericalDecision``: missing_type ``None``: NaN counts as 0 and is compared
  (``TREE_MISSING_AS_ZERO``); ``Zero``: NaN and ``|x| <= kZeroThreshold`` take the default
  direction (``TREE_MISSING_ZERO``, whose kernel test is LightGBM's ``IsZero``); ``NaN``: NaN
  takes the default direction. Otherwise ``x <= threshold`` (double) goes left.
- ``CategoricalDecision`` (``decision_type "=="``, threshold ``"1||3||5"``): the category
  rule given to ``add_ensemble`` below.
- Raw scores: the trees' leaf values added in tree order in double, starting from 0, per
  output column (``num_tree_per_iteration`` trees per iteration); ``boosting="rf"``
  (``average_output``) divides the sums by the number of iterations before the output
  transform, but not the raw scores (as ``GBDT::PredictRaw`` does not). The iterations used are
  those ``Booster.predict`` uses by default: the first ``best_iteration`` when early stopping
  set it, else all.
- Objectives' output transforms (``ObjectiveFunction::ConvertOutput``), applied unless
  ``raw_score=True`` (a graph keyword record: graph output ``"raw"``).

The scikit-learn models may also end a scikit-learn Pipeline (:func:`pipeline_step`, reached
through the scikit-learn exporter), except when fitted on pandas category columns. Refused with
UnsupportedModelError: linear trees, custom (callable) objectives, objectives other than the
supported ones, subclasses of the LightGBM classes, and category-dtype columns that cannot be
matched to the model's categorical features (ordered categoricals, explicit
``categorical_feature`` lists naming other columns).
"""

import numpy as np

from mle_runtime import _native
from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head, apply_head, check_class, header
from mle_runtime.format import layout as L
from mle_runtime.ir.graph import Graph
from mle_runtime.ir.trees import CategoryRule, TreeBatch, add_ensemble, preorder

_CLASSES = {
    "LGBMClassifier": "classifier",
    "LGBMRegressor": "regressor",
    "LGBMRanker": "ranker",
    "Booster": "booster",
}

# The fitted attributes a loaded model offers (stored when the model has them; see
# mle_runtime.exporters.base.estimator_record): feature_importances_ as LightGBM computes it
# (its importance_type), best_iteration_ and best_score_ after early stopping.
ATTRIBUTES = {
    **{name: ("classes_", "n_classes_", "feature_importances_", "best_iteration_",
              "best_score_", "n_estimators_", "n_iter_", "objective_", "n_features_in_",
              "feature_names_in_", "feature_name_")
       for name in ("LGBMClassifier", "LGBMRegressor", "LGBMRanker")},
    "Booster": ("best_iteration", "best_score"),
}

# LightGBM's kZeroThreshold: ``const double kZeroThreshold = 1e-35f;``
ZERO_THRESHOLD = float(np.float32(1e-35))

# objective name -> output transform (see ObjectiveFunction::ConvertOutput)
_IDENTITY_SQRT = ("regression", "regression_l1", "huber", "fair", "quantile", "mape")
_EXP = ("poisson", "gamma", "tweedie")
_RANKING = ("lambdarank", "rank_xendcg")
_SIGMOID = ("binary", "multiclassova", "cross_entropy")
_SUPPORTED_OBJECTIVES = (_IDENTITY_SQRT + _EXP + _RANKING + _SIGMOID
                         + ("multiclass", "cross_entropy_lambda"))

_MISSING = {"None": L.TREE_MISSING_AS_ZERO, "Zero": L.TREE_MISSING_ZERO,
            "NaN": L.TREE_MISSING_NAN}


def supported():
    """Names of the supported LightGBM classes."""
    return sorted(_CLASSES)


def zeroed_threshold(t):
    """The threshold t' with ``x <= t'  <=>  z(x) <= t`` for every x, where z(x) is 0 when
    ``|x| <= kZeroThreshold`` and x otherwise (what LightGBM's predictor feeds the trees).

    t >= 0: z(x) <= t holds for x <= t and for every x in [-k, k], so t' = max(t, k).
    t < 0: z(x) <= t needs x <= t and x outside [-k, k], i.e. x <= t and x < -k, so
    t' = t when t < -k and the largest double below -k otherwise.
    NaN is not affected (missing_type None maps it to 0, and 0 <= t' iff 0 <= t).
    """
    k = ZERO_THRESHOLD
    if t >= 0:
        return max(t, k)
    if t < -k:
        return t
    return float(np.nextafter(-k, -np.inf))


def _parse_objective(text):
    """(name, options dict, flags set) from the model's objective string, e.g.
    ``"binary sigmoid:1"`` or ``"regression sqrt"``."""
    if not text:
        raise UnsupportedModelError(
            "LightGBM models with a custom (callable) objective are not supported: the model "
            "does not record how predictions are computed. Supported objectives: "
            f"{', '.join(_SUPPORTED_OBJECTIVES)}."
        )
    name, *rest = str(text).split()
    opts = dict(p.split(":", 1) for p in rest if ":" in p)
    flags = {p for p in rest if ":" not in p}
    if name not in _SUPPORTED_OBJECTIVES:
        raise UnsupportedModelError(
            f"LightGBM objective {name!r} is not supported. Supported objectives: "
            f"{', '.join(_SUPPORTED_OBJECTIVES)}. Retrain with one of them, or store the model "
            "with joblib."
        )
    return name, opts, flags


def _bitset(categories):
    cats = np.asarray(categories, dtype=np.int64)
    if cats.size == 0:
        return np.zeros(1, dtype=np.uint32)
    if cats.min() < 0 or cats.max() >= 2**31:
        raise UnsupportedModelError("a LightGBM categorical split lists a category outside "
                                    "[0, 2**31)")
    words = np.zeros(int(cats.max()) // 32 + 1, dtype=np.uint64)
    np.bitwise_or.at(words, cats // 32, np.uint64(1) << (cats % 32).astype(np.uint64))
    return words.astype(np.uint32)


# missing type bits of a node's decision_type (LightGBM's tree.h: bit 0 categorical, bit 1
# default left, bits 2-3 missing type None / Zero / NaN)
_MISSING_BY_CODE = np.array([L.TREE_MISSING_AS_ZERO, L.TREE_MISSING_ZERO, L.TREE_MISSING_NAN])

_TREE_KEYS = ("Tree", "num_leaves", "split_feature", "threshold", "decision_type",
              "left_child", "right_child", "leaf_value", "cat_boundaries", "cat_threshold",
              "is_linear")


def zeroed_thresholds(t):
    """:func:`zeroed_threshold` of every value of the float64 array ``t``."""
    k = ZERO_THRESHOLD
    t = np.asarray(t, dtype=np.float64)
    return np.where(t >= 0, np.maximum(t, k),
                    np.where(t < -k, t, np.nextafter(-k, -np.inf)))


def _not_understood(what):
    return UnsupportedModelError(f"the LightGBM model text is not understood ({what}); store "
                                 "the model with joblib and report this with the LightGBM "
                                 "version")


def read_model(booster):
    """The booster's text model (the iterations ``Booster.predict`` uses by default) as
    ``(dump, columns)``: ``dump`` holds the header entries ``build`` and the input records
    need, in ``dump_model()``'s form (``objective``, ``num_tree_per_iteration``,
    ``max_feature_idx``, ``average_output``, ``feature_names``, ``feature_infos``,
    ``pandas_categorical``, and ``tree_info`` with each tree's ``tree_index``); ``columns``
    the trees' number lines (``_native.text_columns``)."""
    text = booster.model_to_string(num_iteration=booster.best_iteration)
    first = text.find("\nTree=")
    header = text if first < 0 else text[:first]
    end = -1 if first < 0 else text.find("\nend of trees", first)
    body = "" if first < 0 else text[first + 1:end if end >= 0 else len(text)]
    entries, flags = {}, set()
    for line in header.split("\n"):
        key, sep, value = line.strip().partition("=")
        if sep:
            entries[key] = value
        elif key:
            flags.add(key)
    columns = _native.text_columns(body.encode("utf-8"), _TREE_KEYS)
    names = entries.get("feature_names", "").split(" ") if entries.get("feature_names") else []
    infos = {}
    for name, info in zip(names, entries.get("feature_infos", "").split(" ")):
        categorical = info not in ("", "none") and not info.startswith("[")
        infos[name] = {"values": [int(v) for v in info.split(":")] if categorical else []}
    dump = {
        "num_tree_per_iteration": int(entries.get("num_tree_per_iteration", "1")),
        "max_feature_idx": int(entries.get("max_feature_idx", "-1")),
        "average_output": "average_output" in flags,
        "feature_names": names,
        "feature_infos": infos,
        "pandas_categorical": getattr(booster, "pandas_categorical", None),
        "tree_info": [{"tree_index": int(i)} for i in columns["Tree"][0]],
    }
    if entries.get("objective"):
        dump["objective"] = entries["objective"]
    return dump, columns


def _trees(columns, sets):
    """All trees as one TreeBatch in the numbering internal nodes first, then leaves (the
    depth-first renumbering makes the packed layout independent of it); categorical splits
    append their left sets to ``sets`` (deduplicated), in depth-first order."""
    tree_lines = columns["Tree"][2]
    T = len(tree_lines)

    def per_tree(key):
        values, counts, lines = columns[key]
        if len(counts) != T or (T and (np.any(lines < tree_lines) or np.any(
                lines[:-1] > tree_lines[1:]))):
            raise _not_understood(f"{len(counts)} '{key}' lines for {T} trees")
        return values, counts

    n_leaves = per_tree("num_leaves")[0].astype(np.int64)
    linear, _ = per_tree("is_linear")
    if np.any(linear != 0):
        raise UnsupportedModelError(
            "LightGBM linear trees (linear_tree=True) are not supported: their leaves "
            "evaluate a linear model of the features. Retrain with linear_tree=False, or "
            "store the model with joblib."
        )
    n_int = n_leaves - 1
    if np.any(n_leaves < 1):
        raise _not_understood("a tree without leaves")
    fields = {}
    for key in ("split_feature", "threshold", "decision_type", "left_child", "right_child"):
        values, counts = per_tree(key)
        if not np.array_equal(counts, n_int):
            raise _not_understood(f"'{key}' does not have num_leaves - 1 values")
        fields[key] = values
    leaf_values, counts = per_tree("leaf_value")
    if not np.array_equal(counts, n_leaves):
        raise _not_understood("'leaf_value' does not have num_leaves values")
    sizes = n_int + n_leaves
    offsets = np.zeros(T + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    n = int(offsets[-1])
    tree_of_int = np.repeat(np.arange(T), n_int)
    int_start = np.concatenate([[0], np.cumsum(n_int)[:-1]]).astype(np.int64)
    leaf_start = np.concatenate([[0], np.cumsum(n_leaves)[:-1]]).astype(np.int64)
    # field positions: internal node i of tree t at offsets[t] + i, leaf j after them
    int_pos = offsets[tree_of_int] + (np.arange(len(tree_of_int)) - int_start[tree_of_int])
    tree_of_leaf = np.repeat(np.arange(T), n_leaves)
    leaf_pos = (offsets[tree_of_leaf] + n_int[tree_of_leaf]
                + (np.arange(len(tree_of_leaf)) - leaf_start[tree_of_leaf]))

    def child(c):
        c = c.astype(np.int64)
        return np.where(c >= 0, c, n_int[tree_of_int] + (-c - 1))

    dt = fields["decision_type"].astype(np.int64)
    cat = (dt & 1) != 0
    code = (dt >> 2) & 3
    if np.any(code == 3):
        raise UnsupportedModelError("unknown LightGBM missing_type (decision_type "
                                    f"{int(dt[code == 3][0])})")
    left = np.full(n, -1, dtype=np.int64)
    right = np.full(n, -1, dtype=np.int64)
    feature = np.zeros(n, dtype=np.int64)
    threshold = np.zeros(n)
    leaf_value = np.zeros(n)
    default_left = np.zeros(n, dtype=bool)
    missing = np.full(n, L.TREE_MISSING_NONE, dtype=np.int64)
    categorical = np.zeros(n, dtype=bool)
    cat_left = np.zeros(n, dtype=np.int64)
    left[int_pos] = child(fields["left_child"])
    right[int_pos] = child(fields["right_child"])
    feature[int_pos] = fields["split_feature"].astype(np.int64)
    threshold[int_pos] = np.where(cat, 0.0, zeroed_thresholds(fields["threshold"]))
    default_left[int_pos] = (dt & 2) != 0
    missing[int_pos] = np.where(cat, L.TREE_MISSING_NONE, _MISSING_BY_CODE[np.minimum(code, 2)])
    categorical[int_pos] = cat
    leaf_value[leaf_pos] = leaf_values
    if cat.any():
        bounds, bound_counts, bound_lines = columns["cat_boundaries"]
        words, word_counts, _ = columns["cat_threshold"]
        owner = np.searchsorted(tree_lines, bound_lines, side="right") - 1
        b_start = np.concatenate([[0], np.cumsum(bound_counts)]).astype(np.int64)
        w_start = np.concatenate([[0], np.cumsum(word_counts)]).astype(np.int64)
        where = {int(t): k for k, t in enumerate(owner)}
        set_index = {}
        for t in np.unique(tree_of_int[cat]):
            k = where.get(int(t))
            if k is None:
                raise _not_understood(f"tree {t} has categorical splits but no cat_boundaries")
            tb = bounds[b_start[k]:b_start[k + 1]].astype(np.int64)
            tw = words[w_start[k]:w_start[k + 1]].astype(np.int64)
            a, b = int(offsets[t]), int(offsets[t + 1])
            for node in preorder(left[a:b], right[a:b]) + a:
                if not categorical[node]:
                    continue
                i = int(fields["threshold"][int_start[t] + node - a])
                if not 0 <= i < len(tb) - 1 or not 0 <= tb[i] <= tb[i + 1] <= len(tw):
                    raise _not_understood("a categorical split's set is out of range")
                w = tw[tb[i]:tb[i + 1]].astype(np.uint64)
                bits = (w[:, None] >> np.arange(32, dtype=np.uint64)) & np.uint64(1)
                key = tuple(int(c) for c in np.flatnonzero(bits.reshape(-1)))
                if key not in set_index:
                    set_index[key] = len(sets)
                    sets.append(_bitset(key))
                cat_left[node] = set_index[key]
    return TreeBatch(offsets=offsets, left=left, right=right, feature=feature,
                     threshold=threshold, leaf_value=leaf_value.reshape(n, 1),
                     default_left=default_left, missing=missing, categorical=categorical,
                     cat_left=cat_left, cat_known=np.full(n, -1, dtype=np.int64))


def _sigmoid_factor(booster, dump_value, n_features, K):
    """The sigmoid parameter the booster predicts with.

    The objective string keeps it with 6 significant digits (C++ stream default). A booster
    reloaded from its text (what ``lightgbm.train`` returns by default, and every loaded model)
    predicts with that rounded value; one kept as trained (``keep_training_booster=True``)
    with its exact parameter. When the two candidates differ, the booster's own predictions
    decide.
    """
    params = getattr(booster, "params", None) or {}
    exact = params.get("sigmoid")
    try:
        exact = float(exact) if exact is not None else None
    except (TypeError, ValueError):
        exact = None
    if exact is None or exact == dump_value:
        return dump_value
    import math

    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, n_features)) * 3.0
    raw = np.asarray(booster.predict(X, raw_score=True), dtype=np.float64).reshape(-1)
    prob = np.asarray(booster.predict(X), dtype=np.float64).reshape(-1)
    for s in (dump_value, exact):
        # math.exp is the C library's exp, as LightGBM's std::exp (numpy's may differ by an ulp)
        if all(1.0 / (1.0 + math.exp(-s * r)) == p for r, p in zip(raw.tolist(), prob.tolist())):
            return s
    raise UnsupportedModelError(
        f"cannot tell which sigmoid parameter this LightGBM model predicts with ({exact!r} or "
        f"the rounded {dump_value!r}); reload the model from its text "
        "(lightgbm.Booster(model_str=booster.model_to_string())) before exporting it"
    )


def _pandas_categories(dump):
    """``{feature name: categories}`` for the DataFrame's category columns (the graph's input
    ``categories``), or None.

    LightGBM keeps the category lists of the training DataFrame's category-dtype columns in
    column order (``pandas_categorical``) without their names; the categorical features of the
    model (those whose feature_infos list values) are those columns when the counts agree.
    """
    lists = dump.get("pandas_categorical")
    if not lists:
        return None
    names = dump["feature_names"]
    infos = dump.get("feature_infos") or {}
    cat_names = [n for n in names if isinstance(infos.get(n), dict) and infos[n].get("values")]
    if len(cat_names) != len(lists):
        raise UnsupportedModelError(
            f"this LightGBM model was trained on a DataFrame with {len(lists)} category-dtype "
            f"column(s) but has {len(cat_names)} categorical feature(s) ({cat_names}); which "
            "columns hold which categories cannot be told from the model (ordered categoricals "
            "or an explicit categorical_feature list cause this). Supported: unordered "
            "category columns as the only categorical features."
        )
    out = {}
    for name, values in zip(cat_names, lists):
        vals = []
        for v in values:
            if isinstance(v, (bool, np.bool_)):
                vals.append(bool(v))
            elif isinstance(v, (int, np.integer)):
                vals.append(int(v))
            elif isinstance(v, (float, np.floating)):
                vals.append(float(v))
            elif isinstance(v, str):
                vals.append(v)
            else:
                raise UnsupportedModelError(
                    f"category values of type {type(v).__name__} (column {name!r}) are not "
                    "supported; use str, int or float categories")
        out[name] = vals
    return out


def build(booster, graph, x, n_features):
    """Adds the model's ensemble and output transform over value ``x``.

    Returns ``(raw, transformed, K, objective name, dump)``: raw scores (K columns), the values
    ``Booster.predict`` returns by default, and the model's header entries (:func:`read_model`).
    """
    dump, columns = read_model(booster)
    name, opts, flags = _parse_objective(dump.get("objective"))
    K = int(dump["num_tree_per_iteration"])
    infos = dump["tree_info"]
    if not infos:
        raise UnsupportedModelError("the LightGBM model has no trees")
    if int(dump["max_feature_idx"]) + 1 != n_features:
        raise UnsupportedModelError("the LightGBM model's feature count is inconsistent")
    sets = []
    trees = _trees(columns, sets)
    targets = [int(info["tree_index"]) % K for info in infos]
    if len(infos) % K:
        raise UnsupportedModelError("the LightGBM model's tree count is not a multiple of "
                                    "num_tree_per_iteration")
    g = graph
    raw = add_ensemble(g, x, trees, n_features=n_features, wide=True, compare="<=",
                       aggregate="sum", category_sets=sets,
                       # CategoricalDecision: the value truncated to an int; NaN, values
                       # <= -1 and from 2**31 on (INT_MIN on x86-64) go right, as categories
                       # outside the node's set do; a category in the set goes left.
                       category_rule=CategoryRule(cast="truncate_int32", nan="not_in_set",
                                                  invalid="not_in_set", in_set="left"),
                       targets=targets if K > 1 else None, n_outputs=K if K > 1 else None)
    score = raw
    if dump.get("average_output"):
        # GBDT::Predict divides by the iteration count; PredictRaw (raw_score=True) does not
        iterations = len(infos) // K
        score = g.add("SubDiv", [raw], div=g.tensor(np.full(K, float(iterations)), "float64"))
    if name in _IDENTITY_SQRT:
        out = g.add("SignedSquare", [score]) if "sqrt" in flags else score
    elif name in _EXP:
        out = g.add("Exp", [score])
    elif name in _RANKING:
        out = score
    elif name == "multiclass":
        out = g.add("Softmax", [score])
    elif name == "cross_entropy_lambda":
        out = g.add("Log1pExp", [score])
    elif name == "cross_entropy":
        out = g.add("Sigmoid", [score])
    else:  # binary, multiclassova: 1 / (1 + exp(-sigmoid * score))
        s = _sigmoid_factor(booster, float(opts.get("sigmoid", "1")), n_features, K)
        out = g.add("Sigmoid", [score if s == 1.0 else g.add("Scale", [score], factor=s)])
    return raw, out, K, name, dump


def _feature_names(obj, dump, wrapper):
    """Column names to match DataFrame input against, or None for models fitted on arrays."""
    if wrapper:
        names = getattr(obj, "feature_names_in_", None)
        return None if names is None else [str(n) for n in np.asarray(names)]
    names = [str(n) for n in dump["feature_names"]]
    if names == [f"Column_{i}" for i in range(len(names))]:
        return None  # LightGBM's names for unnamed (array) columns
    return names


def _fitted_booster(obj):
    """(booster, kind) of a LightGBM model; refuses other classes and unfitted models."""
    cls = type(obj)
    kind = _CLASSES[check_class(obj, "lightgbm", _CLASSES, "LightGBM")]
    if kind == "booster":
        return obj, kind
    if not obj.__sklearn_is_fitted__():
        raise ValueError(f"{cls.__name__} is not fitted; call fit before dumping it")
    if callable(getattr(obj, "objective", None)):
        _parse_objective(None)
    return obj.booster_, kind


def _heads(obj, kind, graph, x, n_features):
    """Graph outputs ``{name: (value, ravel)}``, the keyword records, the objective
    name, the classes (classifiers) and the model's header entries (:func:`read_model`)."""
    booster = obj if kind == "booster" else obj.booster_
    raw, out, K, objective, dump = build(booster, graph, x, n_features)
    classes = None
    if kind == "classifier":
        classes = np.asarray(obj.classes_)
        multiclass = len(classes) > 2
        if multiclass != (K > 1) or (multiclass and K != len(classes)):
            raise UnsupportedModelError(
                f"LGBMClassifier with {len(classes)} classes and objective {objective!r} "
                f"({K} trees per iteration) is not supported")
        # LGBMClassifier.predict_proba: [1 - p, p] for one column; predict: the first arg-max
        # of predict_proba's rows, mapped to classes_
        proba = out if multiclass else graph.add("BinaryProba", [out])
        outputs = {"predict": (graph.add("ArgMax", [proba]), True),
                   "predict_proba": (proba, False)}
        keyword = [["predict", "raw_score", True, "raw"],
                   ["predict_proba", "raw_score", True, "raw"]]
    else:
        outputs = {"predict": (out, K == 1)}
        keyword = [["predict", "raw_score", True, "raw"]]
    outputs["raw"] = (raw, K == 1)
    return outputs, keyword, objective, classes, dump


def pipeline_step(est, ctx, x):
    """Exports a LightGBM scikit-learn model as the last step of a scikit-learn Pipeline (the
    registry's ``pipeline_step`` hook); returns its Head."""
    booster, kind = _fitted_booster(est)
    if kind == "booster":
        raise UnsupportedModelError(
            "a lightgbm.Booster cannot be a scikit-learn Pipeline step; use LGBMClassifier, "
            "LGBMRegressor or LGBMRanker, or export the Booster on its own")
    if booster.pandas_categorical:
        raise UnsupportedModelError(
            f"{type(est).__name__} fitted on pandas category columns cannot be a Pipeline step "
            "here (the steps before it would have to output those columns); export the "
            "LightGBM model on its own")
    ctx.accepts_inf = True  # LightGBM takes infinity (and NaN) as they are
    outputs, keyword, objective, classes, _ = _heads(est, kind, ctx.graph, x,
                                                     int(booster.num_feature()))
    return Head(outputs, kind, classes, keywords=keyword, meta={"objective": objective})


def export(obj):
    """Returns (Graph, metadata dict) for a fitted LightGBM model."""
    import lightgbm

    booster, kind = _fitted_booster(obj)
    cls = type(obj)
    n_features = int(booster.num_feature())
    graph = Graph(cls.__name__, n_features)
    graph.allow_nan = True
    graph.allow_inf = True
    outputs, keyword, objective, classes, dump = _heads(obj, kind, graph, "X", n_features)
    apply_head(graph, Head(outputs, kind, classes, keywords=keyword))
    meta = header("lightgbm", lightgbm.__version__, cls.__name__, objective=objective)
    names = _feature_names(obj, dump, kind != "booster")
    if names is not None:
        graph.inputs["feature_names"] = names
    cats = _pandas_categories(dump)
    if cats is not None:
        graph.inputs["categories"] = cats
    return graph, meta
