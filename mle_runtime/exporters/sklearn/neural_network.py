"""Multi-layer perceptrons: MLPClassifier and MLPRegressor.

scikit-learn's ``_forward_pass_fast`` is a chain of ``activation = X @ coefs_[i];
activation += intercepts_[i]`` followed by the hidden activation (identity, logistic, tanh,
relu) and, after the last layer, ``out_activation_`` (identity, logistic, softmax, and exp
for ``MLPRegressor(loss="poisson")``). Each layer
is one ``Dense`` node (the hidden activation, and a logistic output, applied in place as
scikit-learn does); a softmax output is the ``Softmax`` head (``inplace_softmax``: subtract
the row maximum, exponentiate, divide by the row sum).
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
OUT_ACTIVATIONS = ("identity", "logistic", "softmax", "exp")


def _check_float64(est):
    name = type(est).__name__
    for i, c in enumerate(est.coefs_):
        if np.asarray(c).dtype != np.float64:
            raise UnsupportedModelError(
                f"{name} fitted on {np.asarray(c).dtype} data (coefs_[{i}] is "
                f"{np.asarray(c).dtype}) is not supported yet: scikit-learn then computes in "
                "float32 for float32 input; supported: models fitted on float64 data")


def forward(est, ctx, x):
    """Adds the layers of ``_forward_pass_fast``; returns (value, out_activation_)."""
    name = type(est).__name__
    if est.activation not in ACTIVATIONS:
        raise UnsupportedModelError(f"{name}(activation={est.activation!r}) is not supported; "
                                    f"supported: {', '.join(ACTIVATIONS)}")
    out_act = est.out_activation_
    if out_act not in OUT_ACTIVATIONS:
        raise UnsupportedModelError(f"{name} with out_activation_={out_act!r} is not supported; "
                                    f"supported: {', '.join(OUT_ACTIVATIONS)}")
    _check_float64(est)
    g = ctx.graph
    ctx.refuses_nan(est)
    n_layers = len(est.coefs_)
    for i, (w, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        w = as_float64(w, f"{name}.coefs_[{i}]")
        b = as_float64(b, f"{name}.intercepts_[{i}]")
        if w.ndim != 2 or b.shape != (w.shape[1],):
            raise UnsupportedModelError(f"{name}.coefs_[{i}] has shape {w.shape} and "
                                        f"intercepts_[{i}] {b.shape}; expected (k, n) and (n,)")
        last = i == n_layers - 1
        act = est.activation if not last else ("logistic" if out_act == "logistic"
                                               else "identity")
        x = g.add("Dense", [x], weight=g.tensor(w, "float64"), bias=g.tensor(b, "float64"),
                  activation=None if act == "identity" else act)
    if out_act == "softmax":
        x = g.add("Softmax", [x])
    elif out_act == "exp":  # MLPRegressor(loss="poisson"): inplace_exp, np.exp
        x = g.add("Exp", [x])
    return x, out_act


@register("MLPRegressor", kind="predictor")
def mlp_regressor(est, ctx, x):
    y, _ = forward(est, ctx, x)
    return Head({"predict": (y, est.coefs_[-1].shape[1] == 1)}, "regressor")


@register("MLPClassifier", kind="predictor")
def mlp_classifier(est, ctx, x):
    name = type(est).__name__
    y_type = est._label_binarizer.y_type_
    p, out_act = forward(est, ctx, x)
    g = ctx.graph
    classes = np.asarray(est.classes_)
    if y_type == "multiclass" and out_act == "softmax":
        proba = p
        outputs = {"predict": (g.add("ArgMax", [proba]), True)}  # classes.take(argmax)
        head_classes, dtypes = classes, None
    elif y_type == "binary" and out_act == "logistic" and est.n_outputs_ == 1:
        # np.vstack([1 - p, p]).T; predict: classes[p > 0.5], which is the first maximum of
        # [1 - p, p] (1 - p is exact for p >= 0.5).
        proba = g.add("BinaryProba", [p])
        outputs = {"predict": (g.add("ArgMax", [proba]), True)}
        head_classes, dtypes = classes, None
    elif y_type == "multilabel-indicator" and out_act == "logistic":
        # LabelBinarizer.inverse_transform: (p > 0.5) as int64, one column per label.
        proba = p
        outputs = {"predict": (g.add("GreaterThan", [p], threshold=0.5), False)}
        head_classes, dtypes = None, {"predict": "int64"}
    else:
        raise UnsupportedModelError(
            f"{name} with target type {y_type!r} and out_activation_={out_act!r} is not "
            "supported; supported: binary (logistic), multiclass (softmax), "
            "multilabel-indicator (logistic)")
    outputs["predict_proba"] = (proba, False)
    outputs["predict_log_proba"] = (g.add("Log", [proba]), False)  # np.log(predict_proba)
    return Head(outputs, "classifier", head_classes, dtypes=dtypes)
