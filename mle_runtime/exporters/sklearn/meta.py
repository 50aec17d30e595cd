"""Meta-estimators that combine the outputs of other supported models: VotingClassifier,
VotingRegressor, StackingClassifier, StackingRegressor, CalibratedClassifierCV (and
FrozenEstimator, a fitted model wrapped so that meta-estimators do not refit it).

Each member is exported into the same graph from the same input value (its ``Head`` gives its
output values) and those values are combined as scikit-learn's numpy code does:
``WeightedMean`` for np.average, ``Vote`` for np.argmax(np.bincount(...)), ``Concat`` for
np.hstack, ``Interp1D`` for the isotonic calibrators.
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, export_estimator, register
from mle_runtime.exporters.sklearn.distribution import numpy_function, supported_functions
from mle_runtime.ir.ops import METHODS


def _name(est):
    return type(est).__name__


def _member(est, member, ctx, x):
    """Exports one member from value x; its Head."""
    head = export_estimator(member, ctx, x)
    return head


def _output(head, member, method, owner):
    """The value of a member's method (scikit-learn's ``getattr(member, method)(X)``)."""
    if method not in head.outputs:
        raise UnsupportedModelError(
            f"{owner}: its member {_name(member)} has no exported {method}")
    value, _ = head.outputs[method]
    return value


def _dtype(head, method):
    return (head.dtypes or {}).get(method)


def _check_encoded_classes(owner, member, n_classes):
    """Members of VotingClassifier and StackingClassifier are fitted on the label-encoded
    target: their classes are 0 .. n_classes - 1, so their class indices are the owner's."""
    classes = getattr(member, "classes_", None)
    if classes is None or isinstance(classes, list) or \
            not np.array_equal(np.asarray(classes), np.arange(n_classes)):
        raise UnsupportedModelError(
            f"{owner}: member {_name(member)} does not predict the label-encoded classes "
            f"0..{n_classes - 1} (multi-output members are not supported)")


def _weights(est, n):
    w = getattr(est, "_weights_not_none", None)
    if w is None:
        return None
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or w.sum() == 0:
        raise UnsupportedModelError(
            f"{_name(est)} weights {est.weights!r}: expected one finite weight per member "
            "with a non-zero sum")
    return w


def _mean(ctx, values, weights, dtypes, owner):
    """np.average(np.asarray(values), axis=0, weights=weights)."""
    if weights is None and dtypes and all(d == "float32" for d in dtypes):
        # numpy would average float32 arrays in float32 arithmetic.
        raise UnsupportedModelError(
            f"unweighted {owner} over members that all return float32 is not supported yet "
            "(numpy averages them in float32)")
    g = ctx.graph
    return g.add("WeightedMean", values,
                 weights=None if weights is None else g.tensor(weights, "float64"))


def _methods(est, head):
    """Drops the methods the scikit-learn object does not offer (available_if); outputs that
    only keyword aliases name (``predict(X, raw_score=True)``) stay."""
    for name in list(head.outputs):
        if name in METHODS and not hasattr(est, name):
            del head.outputs[name]
    return head


@register("FrozenEstimator", kind="predictor")
def frozen(est, ctx, x):
    return _methods(est, export_estimator(est.estimator, ctx, x))


@register("VotingClassifier", kind="predictor")
def voting_classifier(est, ctx, x):
    owner = _name(est)
    classes = np.asarray(est.classes_)
    if classes.ndim != 1:
        raise UnsupportedModelError("multi-output VotingClassifier is not supported")
    k = len(classes)
    members = list(est.estimators_)
    heads = []
    for m in members:
        _check_encoded_classes(owner, m, k)
        heads.append(_member(est, m, ctx, x))
    weights = _weights(est, len(members))
    g = ctx.graph
    outputs = {}
    dtypes = {}
    if est.voting == "soft":
        if not est.flatten_transform:
            raise UnsupportedModelError(
                "VotingClassifier(voting='soft', flatten_transform=False): transform returns "
                "a 3-d array, which is not supported; use flatten_transform=True")
        probas = [_output(h, m, "predict_proba", owner) for h, m in zip(heads, members)]
        member_dtypes = [_dtype(h, "predict_proba") for h in heads]
        proba = _mean(ctx, probas, weights, member_dtypes, owner)
        outputs["predict_proba"] = (proba, False)
        outputs["predict"] = (g.add("ArgMax", [proba]), True)
        outputs["transform"] = (g.add("Concat", probas), False)
        if all(d == "float32" for d in member_dtypes):
            dtypes["transform"] = "float32"
    elif est.voting == "hard":
        votes = [_output(h, m, "predict", owner) for h, m in zip(heads, members)]
        outputs["predict"] = (g.add("Vote", votes, n_classes=k,
                                    weights=None if weights is None
                                    else g.tensor(weights, "float64")), True)
        outputs["transform"] = (g.add("Concat", [g.add("AsFloat64", [v]) for v in votes]),
                                False)
        dtypes["transform"] = "int64"
    else:
        raise UnsupportedModelError(f"VotingClassifier voting={est.voting!r}")
    ctx.accepts_inf = True  # the members validate X, not the voting classifier
    return _methods(est, Head(outputs, "classifier", classes, dtypes=dtypes))


@register("VotingRegressor", kind="predictor")
def voting_regressor(est, ctx, x):
    owner = _name(est)
    members = list(est.estimators_)
    heads = [_member(est, m, ctx, x) for m in members]
    preds = []
    for h, m in zip(heads, members):
        value = _output(h, m, "predict", owner)
        if not h.outputs["predict"][1]:
            raise UnsupportedModelError(f"{owner}: multi-output member {_name(m)}")
        preds.append(value)
    weights = _weights(est, len(members))
    member_dtypes = [_dtype(h, "predict") for h in heads]
    g = ctx.graph
    outputs = {"predict": (_mean(ctx, preds, weights, member_dtypes, owner), True),
               "transform": (g.add("Concat", preds), False)}
    dtypes = {"transform": "float32"} if all(d == "float32" for d in member_dtypes) else {}
    ctx.accepts_inf = True
    return _methods(est, Head(outputs, "regressor", dtypes=dtypes))


def _stack_features(est, ctx, x, classifier):
    """StackingClassifier/Regressor.transform: the members' stack_method_ outputs (one
    column for 1-d outputs; the binary case keeps predict_proba's second column), then X
    with passthrough (np.hstack)."""
    owner = _name(est)
    g = ctx.graph
    parts = []
    part_dtypes = []
    n_classes = len(est.classes_) if classifier else None
    members = [m for m in est.estimators_ if not (isinstance(m, str) and m == "drop")]
    if len(members) != len(est.stack_method_):
        raise UnsupportedModelError(f"{owner}: estimators_ and stack_method_ differ in length")
    for m, method in zip(members, est.stack_method_):
        if classifier:
            _check_encoded_classes(owner, m, n_classes)
        head = _member(est, m, ctx, x)
        value = _output(head, m, method, owner)
        if method == "predict":
            if not head.outputs["predict"][1]:
                raise UnsupportedModelError(f"{owner}: multi-output member {_name(m)}")
            if classifier:
                value = g.add("AsFloat64", [value])  # encoded labels, as numbers
                part_dtypes.append("int64")
            else:
                part_dtypes.append(_dtype(head, method))
        elif method == "predict_proba" and classifier and n_classes == 2:
            value = g.add("Columns", [value], columns=g.tensor(np.array([1]), "int64"))
            part_dtypes.append(_dtype(head, method))
        elif method in ("predict_proba", "decision_function"):
            part_dtypes.append(_dtype(head, method))
        else:
            raise UnsupportedModelError(f"{owner}: stack_method {method!r}")
        parts.append(value)
    if est.passthrough:
        parts.append(x)
        part_dtypes.append(None)
    ctx.accepts_inf = True
    return g.add("Concat", parts), part_dtypes


def _stack_dtype(part_dtypes):
    """np.hstack's dtype where the graph's float64 would differ from it."""
    if all(d == "float32" for d in part_dtypes):
        return "float32"
    if all(d == "int64" for d in part_dtypes):
        return "int64"
    return None


@register("StackingClassifier", kind="predictor")
def stacking_classifier(est, ctx, x):
    classes = np.asarray(est.classes_) if not isinstance(est.classes_, list) else None
    if classes is None or classes.ndim != 1:
        raise UnsupportedModelError("multilabel StackingClassifier is not supported yet")
    features, part_dtypes = _stack_features(est, ctx, x, True)
    _check_encoded_classes(_name(est), est.final_estimator_, len(classes))
    head = export_estimator(est.final_estimator_, ctx, features)
    head.outputs["transform"] = (features, False)
    dtypes = dict(head.dtypes or {})
    dtypes.pop("transform", None)
    if _stack_dtype(part_dtypes):
        dtypes["transform"] = _stack_dtype(part_dtypes)
    head.dtypes = dtypes
    head.classes = classes
    head.estimator_type = "classifier"
    ctx.accepts_inf = True
    return _methods(est, head)


@register("StackingRegressor", kind="predictor")
def stacking_regressor(est, ctx, x):
    features, part_dtypes = _stack_features(est, ctx, x, False)
    head = export_estimator(est.final_estimator_, ctx, features)
    head.outputs["transform"] = (features, False)
    dtypes = dict(head.dtypes or {})
    dtypes.pop("transform", None)
    if _stack_dtype(part_dtypes):
        dtypes["transform"] = _stack_dtype(part_dtypes)
    head.dtypes = dtypes
    head.estimator_type = "regressor"
    ctx.accepts_inf = True
    return _methods(est, head)


# -- CalibratedClassifierCV -----------------------------------------------------------------


def _calibrated_column(ctx, value, calibrator, method):
    """calibrator.predict(column) for one column value (float64 out)."""
    g = ctx.graph
    t = g.add("AsFloat64", [value])  # check_array / column_or_1d keep float64
    if method == "sigmoid":
        # expit(-(a_ * T + b_)); -(a*T + b) == (-a)*T + (-b) exactly.
        a = float(calibrator.a_)
        b = float(calibrator.b_)
        if not (np.isfinite(a) and np.isfinite(b)):
            raise UnsupportedModelError("CalibratedClassifierCV: a sigmoid calibrator has "
                                        "non-finite parameters")
        z = g.add("MulAdd", [t], mul=g.tensor([-a], "float64"), add=g.tensor([-b], "float64"))
        return g.add("Sigmoid", [z])
    if method == "isotonic":
        if _name(calibrator) != "IsotonicRegression" or calibrator.out_of_bounds != "clip":
            raise UnsupportedModelError(
                "CalibratedClassifierCV: isotonic calibrators must be IsotonicRegression with "
                "out_of_bounds='clip'")
        xs = np.asarray(calibrator.X_thresholds_)
        ys = np.asarray(calibrator.y_thresholds_)
        if xs.dtype != np.float64 or ys.dtype != np.float64:
            raise UnsupportedModelError(
                "CalibratedClassifierCV: isotonic thresholds of dtype "
                f"{xs.dtype}/{ys.dtype} are not supported (scipy interpolates those "
                "differently); expected float64")
        xs = as_float64(xs, "X_thresholds_")
        ys = as_float64(ys, "y_thresholds_")
        if xs.size > 1 and not np.all(np.diff(xs) > 0):
            raise UnsupportedModelError("CalibratedClassifierCV: isotonic thresholds are not "
                                        "strictly increasing")
        if xs.size > 1 and (float(calibrator.X_min_) != xs[0] or
                            float(calibrator.X_max_) != xs[-1]):
            raise UnsupportedModelError("CalibratedClassifierCV: isotonic X_min_/X_max_ differ "
                                        "from the first/last threshold")
        # IsotonicRegression.predict: np.clip(T, X_min_, X_max_), then interp1d
        return g.add("Interp1D", [t], x=g.tensor(xs, "float64"), y=g.tensor(ys, "float64"),
                     out_of_bounds="clip")
    raise UnsupportedModelError(
        f"CalibratedClassifierCV method={method!r} is not supported yet; supported: 'sigmoid', "
        "'isotonic'")


def _calibrated_proba(ctx, cc, x, classes):
    """_CalibratedClassifier.predict_proba."""
    g = ctx.graph
    base = cc.estimator
    method = cc.method
    head = export_estimator(base, ctx, x)
    response = "decision_function" if hasattr(base, "decision_function") else "predict_proba"
    value = _output(head, base, response, "CalibratedClassifierCV")
    base_classes = np.asarray(base.classes_)
    n_classes = len(classes)
    pos = np.searchsorted(classes, base_classes)
    if np.any(pos >= n_classes) or not np.array_equal(classes[np.minimum(pos, n_classes - 1)],
                                                      base_classes):
        raise UnsupportedModelError("CalibratedClassifierCV: the estimator saw classes the "
                                    "calibrated classifier does not know")
    if len(base_classes) <= 2:
        # _get_response_values, binary case: decision_function as is, predict_proba's column of
        # the positive class (classes_[-1]).
        if response == "predict_proba":
            value = g.add("Columns", [value], columns=g.tensor(np.array([len(base_classes) - 1]),
                                                               "int64"))
        n_cols = 1
    else:
        n_cols = len(base_classes)
    calibrators = list(cc.calibrators)
    columns = {}
    for j, (class_idx, calibrator) in enumerate(zip(pos, calibrators[:n_cols])):
        col = value if n_cols == 1 else g.add("Columns", [value],
                                              columns=g.tensor(np.array([j]), "int64"))
        if n_classes == 2:
            class_idx += 1
        columns[int(class_idx)] = _calibrated_column(ctx, col, calibrator, method)
    if n_classes == 2:
        if 1 not in columns:
            raise UnsupportedModelError("CalibratedClassifierCV: binary calibrator missing")
        return g.add("BinaryProba", [columns[1]])
    zero = None
    if len(columns) < n_classes:
        # Classes the estimator did not see in its fold keep probability 0 (calibrated values
        # are finite, so 0 * v is 0).
        zero = g.add("MulAdd", [next(iter(columns.values()))], mul=g.tensor([0.0], "float64"))
    proba = g.add("Concat", [columns.get(c, zero) for c in range(n_classes)])
    return g.add("NormalizeRows", [proba], zero_rows="uniform")


@register("CalibratedClassifierCV", kind="predictor")
def calibrated_classifier(est, ctx, x):
    classes = np.asarray(est.classes_)
    if classes.ndim != 1 or len(classes) < 2:
        raise UnsupportedModelError("CalibratedClassifierCV needs at least two classes")
    if est.method not in ("sigmoid", "isotonic"):
        raise UnsupportedModelError(
            f"CalibratedClassifierCV method={est.method!r} is not supported yet; supported: "
            "'sigmoid', 'isotonic'")
    if classes.dtype.kind not in "biufUSO":
        raise UnsupportedModelError(f"CalibratedClassifierCV classes of dtype {classes.dtype}")
    probas = [_calibrated_proba(ctx, cc, x, classes) for cc in est.calibrated_classifiers_]
    g = ctx.graph
    proba = g.add("WeightedMean", probas)  # mean_proba += ...; mean_proba /= n
    outputs = {"predict_proba": (proba, False), "predict": (g.add("ArgMax", [proba]), True)}
    ctx.accepts_inf = True
    return _methods(est, Head(outputs, "classifier", classes))


# -- delegating wrappers ---------------------------------------------------------------------


SEARCHES = ("GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV",
            "HalvingRandomSearchCV")


def refuse_search_without_refit(est):
    """A search fitted with refit=False has no best_estimator_: nothing that predicts."""
    if _name(est) in SEARCHES and (est.refit is False or not hasattr(est, "best_estimator_")):
        raise UnsupportedModelError(
            f"{_name(est)}(refit={est.refit!r}) has no best_estimator_: there is no fitted "
            "model to store, only the search results. Fit the search with refit=True (or a "
            "metric name or callable) to store the best model, or dump the results "
            "as a table (mle_runtime.dump(pandas.DataFrame(search.cv_results_), ...); the "
            "dict itself holds numpy masked arrays, which are not stored natively) or the best "
            "parameters (search.best_params_, where the search has them)")


@register(*SEARCHES, kind="predictor")
def search_cv(est, ctx, x):
    """A fitted search predicts with best_estimator_ (refit=True); best_params_,
    best_score_, best_index_ and cv_results_ are kept in the estimator record."""
    refuse_search_without_refit(est)
    head = export_estimator(est.best_estimator_, ctx, x)
    ctx.accepts_inf = True
    return _methods(est, head)


@register("SelfTrainingClassifier", kind="predictor")
def self_training(est, ctx, x):
    """predict, predict_proba, ... are estimator_'s (X validated with
    ensure_all_finite=False first: the estimator decides about NaN)."""
    head = export_estimator(est.estimator_, ctx, x)
    ctx.accepts_inf = True
    return _methods(est, head)


def _binary_score(owner, est, inner, head, ctx, pos_label):
    """_get_response_values_binary(inner, X, response_method, pos_label): the score column
    and the response method used."""
    g = ctx.graph
    classes = np.asarray(inner.classes_)
    methods = est._get_response_method()
    methods = [methods] if isinstance(methods, str) else list(methods)
    used = next((m for m in methods if hasattr(inner, m)), None)
    if used is None:
        raise UnsupportedModelError(f"{owner}: {_name(inner)} has none of {methods}")
    value = _output(head, inner, used, owner)
    pos = len(classes) - 1 if pos_label is None else int(np.flatnonzero(classes == pos_label)[0])
    if used == "predict_proba":
        value = g.add("Columns", [value], columns=g.tensor(np.array([pos]), "int64"))
    elif pos == 0:
        value = g.add("MulAdd", [value], mul=g.tensor([-1.0], "float64"))
    return value, used


@register("FixedThresholdClassifier", "TunedThresholdClassifierCV", kind="predictor")
def threshold_classifier(est, ctx, x):
    owner = _name(est)
    inner = est.estimator_
    classes = np.asarray(est.classes_)
    if classes.ndim != 1 or len(classes) != 2:
        raise UnsupportedModelError(f"{owner} needs a binary classifier")
    head = export_estimator(inner, ctx, x)
    if owner == "FixedThresholdClassifier":
        pos_label = est.pos_label
        score, used = _binary_score(owner, est, inner, head, ctx, pos_label)
        threshold = est.threshold
        if isinstance(threshold, str):
            threshold = 0.5 if used == "predict_proba" else 0.0
    else:
        pos_label = est._curve_scorer._get_pos_label()
        score, used = _binary_score(owner, est, inner, head, ctx, pos_label)
        threshold = est.best_threshold_
    threshold = float(threshold)
    if not np.isfinite(threshold):
        raise UnsupportedModelError(f"{owner}: threshold {threshold} is not finite")
    g = ctx.graph
    # classes_[map[(score >= threshold)]] with map = [0, 1], or [1, 0] when pos_label is
    # classes_[0]: then the label index is (score < threshold) = (threshold - score > 0).
    flipped = pos_label is not None and int(np.flatnonzero(classes == pos_label)[0]) == 0
    if flipped:
        d = g.add("MulAdd", [score], mul=g.tensor([-1.0], "float64"),
                  add=g.tensor([threshold], "float64"))
        pred = g.add("ArgMax", [d])
    else:
        d = g.add("SubDiv", [score], sub=g.tensor([threshold], "float64"))
        pred = g.add("ArgMax", [d], ge=True)
    outputs = {k: v for k, v in head.outputs.items()
               if k in ("predict_proba", "predict_log_proba", "decision_function")}
    outputs["predict"] = (pred, True)
    dtypes = {k: v for k, v in (head.dtypes or {}).items() if k in outputs and k != "predict"}
    ctx.accepts_inf = True
    return _methods(est, Head(outputs, "classifier", classes, dtypes=dtypes,
                              columns=tuple(c for c in head.columns if c in outputs)))


# -- targets and outputs ----------------------------------------------------------------------

# The inverse functions TransformedTargetRegressor may name (recognised by identity) and the
# op computing each.
def _inverse_transform(owner, transformer, ctx, value):
    """transformer.inverse_transform(value) for the supported target transformers."""
    g = ctx.graph
    kind = _name(transformer)
    if kind == "FunctionTransformer":
        if transformer.inv_kw_args:
            raise UnsupportedModelError(f"{owner}: inverse_func keyword arguments "
                                        "(inv_kw_args) are not supported")
        fn = transformer.inverse_func
        if fn is None:
            return value
        name = numpy_function(fn)
        if name is None:
            raise UnsupportedModelError(
                f"{owner}: inverse_func {getattr(fn, '__name__', fn)!r} is not supported; "
                f"supported: None and the numpy functions {supported_functions()}")
        return g.add("MathFn", [value], fn=name)
    if kind == "StandardScaler":
        mul = None if transformer.scale_ is None else g.tensor(
            as_float64(transformer.scale_, "scale_"), "float64")
        add = None if transformer.mean_ is None or not transformer.with_mean else g.tensor(
            as_float64(transformer.mean_, "mean_"), "float64")
        return value if mul is None and add is None else g.add("MulAdd", [value], mul=mul,
                                                               add=add)
    if kind == "RobustScaler":
        mul = None if transformer.scale_ is None else g.tensor(
            as_float64(transformer.scale_, "scale_"), "float64")
        add = None if transformer.center_ is None else g.tensor(
            as_float64(transformer.center_, "center_"), "float64")
        return value if mul is None and add is None else g.add("MulAdd", [value], mul=mul,
                                                               add=add)
    if kind == "MaxAbsScaler":
        return g.add("MulAdd", [value], mul=g.tensor(as_float64(transformer.scale_, "scale_"),
                                                     "float64"))
    if kind == "MinMaxScaler":
        return g.add("SubDiv", [value], sub=g.tensor(as_float64(transformer.min_, "min_"),
                                                     "float64"),
                     div=g.tensor(as_float64(transformer.scale_, "scale_"), "float64"))
    raise UnsupportedModelError(
        f"{owner} with transformer {kind} is not supported yet; supported: StandardScaler, "
        "RobustScaler, MaxAbsScaler, MinMaxScaler, FunctionTransformer and func/inverse_func "
        f"among the numpy functions {supported_functions()}")


@register("TransformedTargetRegressor", kind="predictor")
def transformed_target(est, ctx, x):
    owner = _name(est)
    head = export_estimator(est.regressor_, ctx, x)
    value = _output(head, est.regressor_, "predict", owner)
    transformer = est.transformer_
    identity = _name(transformer) == "FunctionTransformer" and transformer.inverse_func is None
    if _dtype(head, "predict") == "float32" and not identity:
        raise UnsupportedModelError(
            f"{owner}: the regressor returns float32, which the inverse transform would "
            "compute in float32; not supported yet")
    out = _inverse_transform(owner, transformer, ctx, value)
    ravel = est._training_dim == 1 and head.outputs["predict"][1]
    dtypes = {"predict": "float32"} if identity and _dtype(head, "predict") == "float32" else {}
    ctx.accepts_inf = True
    return Head({"predict": (out, ravel)}, "regressor", dtypes=dtypes)


@register("MultiOutputRegressor", kind="predictor")
def multi_output_regressor(est, ctx, x):
    owner = _name(est)
    heads = [export_estimator(e, ctx, x) for e in est.estimators_]
    preds = []
    for h, e in zip(heads, est.estimators_):
        if not h.outputs.get("predict", (None, False))[1]:
            raise UnsupportedModelError(f"{owner}: member {_name(e)} is multi-output")
        preds.append(_output(h, e, "predict", owner))
    g = ctx.graph
    dtypes = {"predict": "float32"} if all(_dtype(h, "predict") == "float32"
                                           for h in heads) else {}
    ctx.accepts_inf = True
    return Head({"predict": (g.add("Concat", preds), False)}, "regressor", dtypes=dtypes)


@register("MultiOutputClassifier", kind="predictor")
def multi_output_classifier(est, ctx, x):
    owner = _name(est)
    members = list(est.estimators_)
    heads = [export_estimator(e, ctx, x) for e in members]
    g = ctx.graph
    classes = []
    for h, e in zip(heads, members):
        if isinstance(h.classes, list) or h.classes is None:
            raise UnsupportedModelError(f"{owner}: member {_name(e)} is multi-output")
        classes.append(np.asarray(h.classes))
    preds = [_output(h, e, "predict", owner) for h, e in zip(heads, members)]
    outputs = {"predict": (g.add("IndexConcat", preds), False)}
    splits = {}
    if all("predict_proba" in h.outputs for h in heads):
        outputs["predict_proba"] = (g.add("Concat", [h.outputs["predict_proba"][0]
                                                     for h in heads]), False)
        splits["predict_proba"] = [len(c) for c in classes]
    ctx.accepts_inf = True
    return _methods(est, Head(outputs, "classifier", classes, splits=splits))


def _chain_response(owner, head, member, method, classifier, ctx):
    """_get_response_values(member, X_aug, method) as one float64 column."""
    g = ctx.graph
    value = _output(head, member, method, owner)
    if not classifier:
        if not head.outputs["predict"][1]:
            raise UnsupportedModelError(f"{owner}: member {_name(member)} is multi-output")
        return g.add("AsFloat64", [value])
    classes = np.asarray(member.classes_)
    if len(classes) != 2 or not np.array_equal(classes, np.arange(2)):
        raise UnsupportedModelError(
            f"{owner}: every member must be a binary classifier of the labels 0 and 1; "
            f"{_name(member)} has classes {classes.tolist()}")
    if method in ("predict_proba", "predict_log_proba"):
        value = g.add("Columns", [value], columns=g.tensor(np.array([1]), "int64"))
    return g.add("AsFloat64", [value])


def _chain(est, ctx, x, classifier):
    owner = _name(est)
    g = ctx.graph
    ctx.refuses_nan(est)  # validate_data with the default ensure_all_finite=True
    order = np.asarray(est.order_, dtype=np.int64)
    members = list(est.estimators_)
    if sorted(order.tolist()) != list(range(len(members))):
        raise UnsupportedModelError(f"{owner}: order_ is not a permutation of the outputs")
    chain_method = getattr(est, "chain_method_", "predict")
    if classifier:
        methods = [m for m in ("predict", "predict_proba", "decision_function")
                   if hasattr(est, m)]
    else:
        methods = ["predict"]
    xf = g.add("AsFloat64", [x])  # np.hstack((X, float64 predictions)) is float64
    features = []
    outputs = {m: [] for m in methods}
    for member in members:
        aug = g.add("Concat", [xf] + features) if features else xf
        head = export_estimator(member, ctx, aug)
        features.append(_chain_response(owner, head, member, chain_method, classifier, ctx))
        for m in methods:
            if m == chain_method:
                outputs[m].append(features[-1])
            else:
                outputs[m].append(_chain_response(owner, head, member, m, classifier, ctx))
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    result = {}
    for m in methods:
        stacked = g.add("Concat", outputs[m])
        result[m] = (g.add("Columns", [stacked], columns=g.tensor(inverse, "int64")), False)
    if classifier and "predict_proba" in result:
        result["predict_log_proba"] = (g.add("Log", [result["predict_proba"][0]]), False)
    return _methods(est, Head(result, "classifier" if classifier else "regressor"))


@register("ClassifierChain", kind="predictor")
def classifier_chain(est, ctx, x):
    """ClassifierChain: predict returns the 0/1 labels as float64, as scikit-learn does."""
    return _chain(est, ctx, x, True)


@register("RegressorChain", kind="predictor")
def regressor_chain(est, ctx, x):
    return _chain(est, ctx, x, False)


@register("OneVsOneClassifier", kind="predictor")
def one_vs_one(est, ctx, x):
    """decision_function is _ovr_decision_function of the pairwise predictions and
    confidences (_predict_binary: decision_function, else predict_proba[:, 1]); predict is
    its arg-max (binary: Y[:, 1] > threshold)."""
    owner = _name(est)
    if getattr(est, "pairwise_indices_", None) is not None:
        raise UnsupportedModelError(f"{owner} over a precomputed-kernel estimator is not "
                                    "supported")
    classes = np.asarray(est.classes_)
    k = len(classes)
    members = list(est.estimators_)
    if len(members) != k * (k - 1) // 2:
        raise UnsupportedModelError(f"{owner}: expected {k * (k - 1) // 2} estimators")
    g = ctx.graph
    preds, confs = [], []
    for m in members:
        head = export_estimator(m, ctx, x)
        if not np.array_equal(np.asarray(getattr(m, "classes_", [])), np.arange(2)):
            raise UnsupportedModelError(f"{owner}: member {_name(m)} is not a binary "
                                        "classifier of the labels 0 and 1")
        preds.append(_output(head, m, "predict", owner))
        if hasattr(m, "decision_function"):
            confs.append(_output(head, m, "decision_function", owner))
        else:
            proba = _output(head, m, "predict_proba", owner)
            confs.append(g.add("Columns", [proba], columns=g.tensor(np.array([1]), "int64")))
    y = g.add("OvoDecision", [g.add("IndexConcat", preds), g.add("Concat", confs)],
              n_classes=k)
    if k == 2:
        decision = g.add("Columns", [y], columns=g.tensor(np.array([1]), "int64"))
        threshold = 0.0 if hasattr(members[0], "decision_function") else 0.5
        pred = g.add("ArgMax", [g.add("SubDiv", [decision],
                                      sub=g.tensor([threshold], "float64"))])
        outputs = {"decision_function": (decision, True), "predict": (pred, True)}
    else:
        outputs = {"decision_function": (y, False), "predict": (g.add("ArgMax", [y]), True)}
    ctx.accepts_inf = True
    return _methods(est, Head(outputs, "classifier", classes))
