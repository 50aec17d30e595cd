"""OneVsRestClassifier over linear binary classifiers (how scikit-learn >= 1.7 spells
one-vs-rest logistic regression)."""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, export_estimator, register
from mle_runtime.exporters.sklearn.linear import CLASSIFIERS, follows_input_dtype, positive_proba


@register("OneVsRestClassifier", kind="predictor")
def one_vs_rest(est, ctx, x):
    if str(est.label_binarizer_.y_type_).startswith("multilabel"):
        raise UnsupportedModelError("multilabel OneVsRestClassifier is not supported yet")
    subs = list(est.estimators_)
    for e in subs:
        if type(e).__name__ not in CLASSIFIERS or type(e).__module__.split(".")[0] != "sklearn":
            raise UnsupportedModelError(
                f"OneVsRestClassifier over {type(e).__name__} is not supported yet; supported "
                f"base estimators: {', '.join(CLASSIFIERS)}"
            )
    kinds = {(type(e).__name__, getattr(e, "loss", None)) for e in subs}
    if len(kinds) != 1:
        raise UnsupportedModelError("OneVsRestClassifier with mixed base estimators")
    rows = []
    bias = []
    for e in subs:
        c = as_float64(e.coef_, "coef_").reshape(-1)
        if c.shape[0] != est.n_features_in_:
            raise UnsupportedModelError("a binary estimator of OneVsRestClassifier is not binary")
        rows.append(c)
        bias.append(float(np.ravel(e.intercept_)[0]) if np.size(e.intercept_) else 0.0)
    g = ctx.graph
    ctx.refuses_nan(subs[0])
    # Each binary estimator computes float32 X @ float32 coef_ in float32 when it was fitted on
    # float32 data, and OneVsRestClassifier stacks those columns: keep the caller's dtype then.
    follow = all(follows_input_dtype(e) for e in subs)
    d = g.add("Linear", [x], weight=g.tensor(np.vstack(rows), "float64"),
              bias=g.tensor(np.array(bias), "float64"),
              follow_input_dtype=True if follow else None)
    k = len(subs)
    outputs = {"predict": (g.add("ArgMax", [d]), True)}
    if hasattr(subs[0], "decision_function"):
        outputs["decision_function"] = (d, k == 1)
    if hasattr(est, "predict_proba"):
        p = positive_proba(subs[0], ctx, d)
        proba = g.add("BinaryProba", [p]) if k == 1 else g.add("NormalizeRows", [p], zero_rows="keep")
        outputs["predict_proba"] = (proba, False)
    return Head(outputs, "classifier", np.asarray(est.classes_))


# -- OutputCodeClassifier ---------------------------------------------------------------------


def _code_score(owner, member, ctx, x):
    """multiclass._predict_binary(member, X) as one float64 column: the raveled
    decision_function, else predict_proba[:, 1] (the estimator must have one of them). A code column in which fit
    saw one class only holds a _ConstantPredictor (its y_ on every row)."""
    g = ctx.graph
    kind = type(member).__name__
    if kind == "_ConstantPredictor":
        y = np.asarray(member.y_, dtype=np.float64).reshape(-1)
        if y.shape != (1,) or not np.isfinite(y[0]):
            raise UnsupportedModelError(f"{owner}: a constant code predictor holds {y!r}; "
                                        "expected one finite value")
        return g.add("Constant", [x], values=g.tensor(y, "float64"))
    head = export_estimator(member, ctx, x)
    classes = np.asarray(getattr(member, "classes_", []))
    if classes.ndim != 1 or len(classes) != 2:
        raise UnsupportedModelError(
            f"{owner}: every member must be a binary classifier of the code bits; {kind} "
            f"has classes {classes.tolist()}")
    method = "decision_function" if hasattr(member, "decision_function") else "predict_proba"
    if method not in head.outputs:
        raise UnsupportedModelError(f"{owner}: its member {kind} has no exported {method}")
    value, one_d = head.outputs[method]
    if method == "predict_proba":
        value = g.add("Columns", [value], columns=g.tensor(np.array([1]), "int64"))
    elif not one_d:
        raise UnsupportedModelError(f"{owner}: member {kind}'s {method} has several columns; "
                                    "expected one per row")
    return g.add("AsFloat64", [value])


@register("OutputCodeClassifier", kind="predictor")
def output_code(est, ctx, x):
    """predict: the members' binary scores (``_predict_binary``) stacked into float64 rows
    and ``pairwise_distances_argmin(Y, code_book_)``, which ranks the code words by
    ``|c|^2 - 2 Y @ c`` (BLAS product, first strict minimum): the ``NearestRow`` op computes
    that through the same BLAS."""
    from sklearn.utils.extmath import row_norms

    owner = type(est).__name__
    classes = np.asarray(est.classes_)
    code_book = np.asarray(est.code_book_)
    members = list(est.estimators_)
    if classes.ndim != 1 or len(classes) < 2:
        raise UnsupportedModelError(f"{owner} needs at least two classes")
    if code_book.ndim != 2 or code_book.shape != (len(classes), len(members)):
        raise UnsupportedModelError(
            f"{owner}: code_book_ of shape {code_book.shape}; expected (n_classes, "
            f"n_estimators) = ({len(classes)}, {len(members)})")
    code_book = as_float64(code_book, f"{owner}.code_book_")
    g = ctx.graph
    scores = [_code_score(owner, m, ctx, x) for m in members]
    y = scores[0] if len(scores) == 1 else g.add("Concat", scores)
    pred = g.add("NearestRow", [y], rows=g.tensor(code_book, "float64"),
                 row_sq_norms=g.tensor(row_norms(code_book, squared=True), "float64"))
    ctx.accepts_inf = True  # check_is_fitted only: the members validate X
    return Head({"predict": (pred, True)}, "classifier", classes)
