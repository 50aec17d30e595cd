"""OneVsRestClassifier over linear binary classifiers (how scikit-learn >= 1.7 spells
one-vs-rest logistic regression)."""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register
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
