"""Linear models: every regressor whose prediction is ``X @ coef_.T + intercept_`` and every
linear classifier (decision function, labels, and probabilities where scikit-learn has them)."""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

REGRESSORS = (
    "LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet", "ElasticNetCV",
    "Lars", "LarsCV", "LassoLars", "LassoLarsCV", "LassoLarsIC", "OrthogonalMatchingPursuit",
    "OrthogonalMatchingPursuitCV", "BayesianRidge", "ARDRegression", "HuberRegressor",
    "TheilSenRegressor", "QuantileRegressor", "SGDRegressor", "LinearSVR",
    "PassiveAggressiveRegressor", "MultiTaskLasso", "MultiTaskLassoCV", "MultiTaskElasticNet",
    "MultiTaskElasticNetCV",
)

CLASSIFIERS = (
    "LogisticRegression", "LogisticRegressionCV", "SGDClassifier", "Perceptron",
    "RidgeClassifier", "RidgeClassifierCV", "LinearSVC", "PassiveAggressiveClassifier",
)


def follows_input_dtype(est):
    """Whether ``X @ coef_.T + intercept_`` is float32 for float32 X, as numpy computes it in
    scikit-learn's decision functions: coef_ must be float32 and adding intercept_ must not
    promote (a Python float or a float32 array does not; SGD's float64 intercept_ does)."""
    if np.asarray(est.coef_).dtype != np.float32:
        return False
    return (np.zeros(1, dtype=np.float32) + est.intercept_).dtype == np.float32


def linear_node(ctx, est, x):
    """Adds ``x @ coef_.T + intercept_``; returns (value, n_outputs, coef_was_1d)."""
    name = type(est).__name__
    coef_raw = est.coef_
    coef = as_float64(coef_raw, f"{name}.coef_")
    one_d = coef.ndim == 1
    coef2 = coef.reshape(1, -1) if one_d else coef
    if coef2.ndim != 2:
        raise UnsupportedModelError(f"{name}.coef_ has shape {coef.shape}; expected 1-D or 2-D")
    k = coef2.shape[0]
    intercept = as_float64(np.broadcast_to(np.asarray(est.intercept_), (k,)),
                           f"{name}.intercept_")
    g = ctx.graph
    ctx.refuses_nan(est)
    follow = follows_input_dtype(est)
    v = g.add("Linear", [x], weight=g.tensor(coef2, "float64"),
              bias=g.tensor(intercept, "float64") if np.any(intercept != 0) else None,
              follow_input_dtype=True if follow else None)
    return v, k, one_d


@register(*REGRESSORS, kind="predictor")
def linear_regressor(est, ctx, x):
    v, _, one_d = linear_node(ctx, est, x)
    return Head({"predict": (v, one_d)}, "regressor")


def positive_proba(est, ctx, d):
    """Adds the positive-class probability of a linear classifier from its decision values d,
    or returns None when the estimator has no predict_proba.

    Returns (value, normalise_mode) where normalise_mode says how multiclass rows are normalised
    by the estimator itself ("softmax" replaces the per-class link for multinomial models).
    """
    if not hasattr(est, "predict_proba"):
        return None
    g = ctx.graph
    name = type(est).__name__
    if name in ("LogisticRegression", "LogisticRegressionCV"):
        return g.add("Sigmoid", [d])
    if name == "SGDClassifier":
        if est.loss == "log_loss":
            return g.add("Sigmoid", [d])
        if est.loss == "modified_huber":
            return g.add("HuberScale", [d])
    raise UnsupportedModelError(f"{name}.predict_proba with these settings is not supported")


@register(*CLASSIFIERS, kind="predictor")
def linear_classifier(est, ctx, x):
    name = type(est).__name__
    lb = getattr(est, "_label_binarizer", None)
    if lb is not None and str(getattr(lb, "y_type_", "")).startswith("multilabel"):
        raise UnsupportedModelError(f"multilabel {name} is not supported yet")
    classes = np.asarray(est.classes_)
    d, k, _ = linear_node(ctx, est, x)
    if (k == 1) != (len(classes) == 2):
        raise UnsupportedModelError(
            f"{name} has {k} coefficient rows for {len(classes)} classes; expected 1 row for "
            "2 classes or one row per class"
        )
    g = ctx.graph
    outputs = {"decision_function": (d, k == 1), "predict": (g.add("ArgMax", [d]), True)}
    if hasattr(est, "predict_proba"):
        if name in ("LogisticRegression", "LogisticRegressionCV") and k > 1:
            proba = g.add("Softmax", [d])  # multinomial: sklearn.utils.extmath.softmax
        else:
            p = positive_proba(est, ctx, d)
            if k == 1:
                proba = g.add("BinaryProba", [p])
            else:  # one-vs-rest normalisation (_predict_proba_lr / modified_huber)
                proba = g.add("NormalizeRows", [p], zero_rows="uniform")
        outputs["predict_proba"] = (proba, False)
        if hasattr(est, "predict_log_proba"):
            outputs["predict_log_proba"] = (g.add("Log", [proba]), False)
    return Head(outputs, "classifier", classes)
