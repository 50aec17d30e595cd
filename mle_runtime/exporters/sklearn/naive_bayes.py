"""Naive Bayes classifiers (sklearn.naive_bayes): GaussianNB, MultinomialNB, ComplementNB,
BernoulliNB and CategoricalNB.

Each exports its ``_joint_log_likelihood`` as scikit-learn computes it (``predict_joint_log_proba``),
``predict`` as its arg-max (first maximum on ties), ``predict_log_proba`` as
``jll - logsumexp(jll)`` with scikit-learn's own ``_logsumexp`` (op ``LogSumExpNormalize``)
and ``predict_proba`` as its exponential.
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

CLASSES = ("GaussianNB", "MultinomialNB", "ComplementNB", "BernoulliNB", "CategoricalNB")


def _check_classes(est):
    classes = np.asarray(est.classes_)
    if len(classes) < 2:
        raise UnsupportedModelError(
            f"{type(est).__name__} fitted on a single class is not supported (its predict "
            "would need no model); fit it on at least two classes")
    return classes


def _gaussian(est, g, x):
    theta = as_float64(est.theta_, "GaussianNB.theta_")
    var = as_float64(est.var_, "GaussianNB.var_")
    if np.any(var <= 0):
        raise UnsupportedModelError("GaussianNB.var_ has a zero variance (var_smoothing=0 on a "
                                    "constant feature): scikit-learn's predictions are NaN")
    prior = as_float64(est.class_prior_, "GaussianNB.class_prior_")
    k = theta.shape[0]
    # Exactly as GaussianNB._joint_log_likelihood computes its per-class constants.
    log_prior = np.array([np.log(prior[i]) for i in range(k)], dtype=np.float64)
    norm = np.array([-0.5 * np.sum(np.log(2.0 * np.pi * var[i, :])) for i in range(k)],
                    dtype=np.float64)
    return g.add("GaussianLogLikelihood", [x], theta=g.tensor(theta, "float64"),
                 var=g.tensor(var, "float64"), log_prior=g.tensor(log_prior, "float64"),
                 norm=g.tensor(norm, "float64"))


def _linear(g, x, weight, bias):
    return g.add("Linear", [x], weight=g.tensor(weight, "float64"),
                 bias=g.tensor(bias, "float64") if bias is not None else None)


def _categorical(est, g, x):
    flp = [as_float64(t, "CategoricalNB.feature_log_prob_") for t in est.feature_log_prob_]
    k = len(est.classes_)
    if len(flp) != est.n_features_in_ or any(t.ndim != 2 or t.shape[0] != k for t in flp):
        raise UnsupportedModelError("CategoricalNB.feature_log_prob_ does not have one "
                                    "(n_classes, n_categories) array per feature")
    offsets = np.concatenate([[0], np.cumsum([t.shape[1] for t in flp])]).astype(np.int64)
    table = np.ascontiguousarray(np.concatenate([t.T for t in flp], axis=0))
    clp = as_float64(est.class_log_prior_, "CategoricalNB.class_log_prior_")
    return g.add("CategoricalLogLikelihood", [x], offsets=g.tensor(offsets, "int64"),
                 table=g.tensor(table, "float64"), log_prior=g.tensor(clp, "float64"))


@register(*CLASSES, kind="predictor")
def naive_bayes(est, ctx, x):
    name = type(est).__name__
    classes = _check_classes(est)
    g = ctx.graph
    ctx.refuses_nan(est)
    if name == "GaussianNB":
        jll = _gaussian(est, g, x)
    elif name == "CategoricalNB":
        jll = _categorical(est, g, x)
    else:
        flp = as_float64(est.feature_log_prob_, f"{name}.feature_log_prob_")
        clp = as_float64(est.class_log_prior_, f"{name}.class_log_prior_")
        if name == "MultinomialNB":
            jll = _linear(g, x, flp, clp)
        elif name == "ComplementNB":
            jll = _linear(g, x, flp, None)  # ComplementNB adds its prior only for one class
        else:  # BernoulliNB
            if est.binarize is not None:
                x = g.add("Binarize", [x], threshold=float(est.binarize))
            with np.errstate(divide="ignore"):
                neg_prob = np.log(1 - np.exp(est.feature_log_prob_))
            weight = np.asarray(est.feature_log_prob_ - neg_prob, dtype=np.float64)
            bias = np.asarray(est.class_log_prior_ + neg_prob.sum(axis=1), dtype=np.float64)
            if not (np.all(np.isfinite(weight)) and np.all(np.isfinite(bias))):
                raise UnsupportedModelError(
                    "BernoulliNB has a feature probability of exactly 1 (alpha=0): its "
                    "log(1 - p) is -inf and scikit-learn's predictions are NaN")
            jll = _linear(g, x, weight, bias)
    log_proba = g.add("LogSumExpNormalize", [jll])
    outputs = {
        "predict": (g.add("ArgMax", [jll]), True),
        "predict_proba": (g.add("Exp", [log_proba]), False),
        "predict_log_proba": (log_proba, False),
        "predict_joint_log_proba": (jll, False),
    }
    return Head(outputs, "classifier", classes)
