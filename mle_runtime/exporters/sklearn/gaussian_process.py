"""Gaussian processes (sklearn.gaussian_process): GaussianProcessRegressor (predict, and
predict(X, return_std=True)) and GaussianProcessClassifier (predict, predict_proba).

The fitted kernel ``kernel_`` becomes a ``GPKernel`` program (docs/FORMAT.md 11.16) against the
stored training rows: any composition (Sum, Product, Exponentiation) of ConstantKernel,
WhiteKernel, RBF and Matern (isotropic or anisotropic length scale; Matern with nu 0.5, 1.5,
2.5 or inf), RationalQuadratic, ExpSineSquared and DotProduct, evaluated elementwise as
scikit-learn's kernels compute (``cdist`` distances in feature order, the same scalar
expressions).

GaussianProcessRegressor: ``predict`` is ``K(X, X_train_) @ alpha_ * _y_train_std +
_y_train_mean`` (``Dense`` and ``MulAdd``); ``return_std=True`` adds ``GPVariance``: the
forward substitution ``L_ \\ K(X, X_train_).T`` per row, ``kernel_.diag(X)`` minus the squared
norm, negative variances set to 0, times ``_y_train_std ** 2``; the tuple ``(mean, std)`` has
scikit-learn's shapes (1-D for one target; ``std`` is 1-D also for several targets fitted
without ``normalize_y``, as scikit-learn returns it).

GaussianProcessClassifier: the binary Laplace approximation
(``_BinaryGaussianProcessClassifierLaplace``): ``f = K(X, X_train_) @ (y_train_ - pi_)``,
``predict`` is ``classes_[f > 0]``; ``predict_proba`` adds the latent variance (``GPVariance``
with ``W_sr_``) and ``GPLaplaceProba`` (scikit-learn's erf-based approximation with its
``LAMBDAS`` and ``COEFS``). Several classes with ``multi_class="one_vs_rest"``: one binary
model per class, ``predict`` the first class of largest P(class), ``predict_proba`` those
probabilities normalised to sum 1 (OneVsRestClassifier).

``multi_class="one_vs_one"``: ``predict`` (OneVsOneClassifier's vote over the pairwise
models); like scikit-learn, no ``predict_proba``.

Not stored: ``return_cov`` (the covariance couples the rows of one call; a loaded model's
``predict`` accepts ``return_cov=False`` only, and refuses ``return_cov=True`` with a
ValueError). Refused at
dump: the unfitted prior, Matern with another
``nu`` (scipy's Bessel function), PairwiseKernel, CompoundKernel and kernels of other classes,
models fitted on a list of objects
or on float32 data. The warning scikit-learn emits when it sets a negative variance to 0 is
not raised by the loaded model (the value is the same).
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

_COMMON = ("n_features_in_", "feature_names_in_")
ATTRIBUTES = {
    "GaussianProcessRegressor": _COMMON + ("X_train_", "y_train_", "L_", "alpha_",
                                           "log_marginal_likelihood_value_"),
    "GaussianProcessClassifier": _COMMON + ("classes_", "n_classes_",
                                            "log_marginal_likelihood_value_"),
}

_MATERN = {0.5: "M05", 1.5: "M15", 2.5: "M25", np.inf: "Minf"}


def _number(owner, what, v):
    arr = np.asarray(v)
    if arr.dtype.kind not in "biuf" or arr.size != 1 or not np.isfinite(arr).all():
        raise UnsupportedModelError(f"{owner}: kernel parameter {what}={v!r} is not a finite "
                                    "number")
    return float(arr.reshape(()))


def _length_scales(owner, k, d):
    """scikit-learn's _check_length_scale: one per feature (a scalar for every feature)."""
    ls = np.squeeze(np.asarray(k.length_scale, dtype=float))
    if ls.ndim > 1 or (ls.ndim == 1 and ls.shape[0] != d):
        raise UnsupportedModelError(f"{owner}: {type(k).__name__} has {ls.size} length scales "
                                    f"for {d} features")
    out = np.broadcast_to(ls, (d,)).astype(np.float64)
    if not (np.isfinite(out).all() and (out > 0).all()):
        raise UnsupportedModelError(f"{owner}: {type(k).__name__}'s length scales must be "
                                    "finite and positive")
    return out.tolist()


def kernel_program(owner, kernel, d):
    """The GPKernel program (postfix tokens) and parameters of a fitted kernel."""
    from sklearn.gaussian_process import kernels as K

    tokens, params = [], []

    def walk(k):
        cls = type(k)
        if cls is K.Sum or cls is K.Product:
            walk(k.k1)
            walk(k.k2)
            tokens.append("+" if cls is K.Sum else "*")
        elif cls is K.Exponentiation:
            walk(k.kernel)
            tokens.append("^")
            params.append(_number(owner, "exponent", k.exponent))
        elif cls is K.ConstantKernel:
            tokens.append("C")
            params.append(_number(owner, "constant_value", k.constant_value))
        elif cls is K.WhiteKernel:
            tokens.append("W")
            params.append(_number(owner, "noise_level", k.noise_level))
        elif cls is K.RBF:
            tokens.append("RBF")
            params.extend(_length_scales(owner, k, d))
        elif cls is K.Matern:
            nu = float(k.nu)
            if nu not in _MATERN:
                raise UnsupportedModelError(
                    f"{owner}: Matern(nu={k.nu}) is not supported (nu 0.5, 1.5, 2.5 and inf "
                    "are; another nu needs scipy's modified Bessel function)")
            tokens.append(_MATERN[nu])
            params.extend(_length_scales(owner, k, d))
        elif cls is K.RationalQuadratic:
            if np.ndim(k.length_scale) != 0:
                raise UnsupportedModelError(f"{owner}: RationalQuadratic with an anisotropic "
                                            "length scale cannot predict in scikit-learn")
            tokens.append("RQ")
            s = 2 * k.alpha * k.length_scale ** 2  # scikit-learn's expression, as it rounds
            params.extend([_number(owner, "alpha", k.alpha), _number(owner, "length_scale", s)])
            if not params[-1] > 0:
                raise UnsupportedModelError(f"{owner}: RationalQuadratic's scale is not positive")
        elif cls is K.ExpSineSquared:
            tokens.append("ESS")
            w = np.pi / k.periodicity
            params.extend([_number(owner, "periodicity", w),
                           _number(owner, "length_scale", k.length_scale)])
            if not params[-1] > 0:
                raise UnsupportedModelError(f"{owner}: ExpSineSquared's length scale is not "
                                            "positive")
        elif cls is K.DotProduct:
            tokens.append("DOT")
            params.append(_number(owner, "sigma_0", k.sigma_0 ** 2))
        else:
            raise UnsupportedModelError(
                f"{owner}: kernel {cls.__name__} is not supported (supported: sums, products "
                "and powers of ConstantKernel, WhiteKernel, RBF, Matern, RationalQuadratic, "
                "ExpSineSquared and DotProduct)")

    walk(kernel)
    if len(tokens) > 4096:
        raise UnsupportedModelError(f"{owner}: the kernel has more than 4096 parts")
    return " ".join(tokens), np.asarray(params, dtype=np.float64)


def _train_rows(owner, est):
    x = getattr(est, "X_train_", None)
    if x is None:
        raise UnsupportedModelError(f"{owner} is not fitted (the unfitted prior is not stored)")
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf" or arr.ndim != 2:
        raise UnsupportedModelError(f"{owner} was fitted on {arr.dtype} data of {arr.ndim} "
                                    "dimensions; only numeric 2-D training data is supported")
    if arr.dtype == np.float32:
        raise UnsupportedModelError(f"{owner} was fitted on float32 data (scikit-learn then "
                                    "evaluates the kernel partly in float32)")
    return as_float64(arr, f"{owner}.X_train_")


def _kernel(g, x, owner, kernel, rows_idx, d, diag=False):
    program, params = kernel_program(owner, kernel, d)
    if diag:
        return g.add("GPKernel", [x], program=program, params=g.tensor(params, "float64"),
                     diag=True)
    return g.add("GPKernel", [x], program=program, params=g.tensor(params, "float64"),
                 rows=rows_idx)


@register("GaussianProcessRegressor", kind="predictor")
def gaussian_process_regressor(est, ctx, x):
    name = type(est).__name__
    rows = _train_rows(name, est)
    m, d = rows.shape
    alpha = as_float64(est.alpha_, f"{name}.alpha_")
    lower = as_float64(est.L_, f"{name}.L_")
    if alpha.ndim not in (1, 2) or alpha.shape[0] != m or lower.shape != (m, m):
        raise UnsupportedModelError(f"{name}: alpha_ {alpha.shape} and L_ {lower.shape} do not "
                                    f"fit X_train_ {rows.shape}")
    t = 1 if alpha.ndim == 1 else alpha.shape[1]
    std = np.asarray(est._y_train_std, dtype=np.float64)
    mean = np.asarray(est._y_train_mean, dtype=np.float64)
    if std.size not in (1, t) or mean.size not in (1, t) or not (
            np.isfinite(std).all() and np.isfinite(mean).all()):
        raise UnsupportedModelError(f"{name}: _y_train_std / _y_train_mean do not fit "
                                    f"{t} target(s)")
    ctx.refuses_nan(est)
    g = ctx.graph
    rows_idx = g.tensor(rows, "float64")
    k = _kernel(g, x, name, est.kernel_, rows_idx, d)
    f = g.add("Dense", [k], weight=g.tensor(np.ascontiguousarray(alpha.reshape(m, t)),
                                            "float64"))
    # y_mean = _y_train_std * f + _y_train_mean (broadcast over the targets)
    pred = g.add("MulAdd", [f], mul=g.tensor(np.broadcast_to(std.ravel(), (t,)).copy(), "float64"),
                 add=g.tensor(np.broadcast_to(mean.ravel(), (t,)).copy(), "float64"))
    diag = _kernel(g, x, name, est.kernel_, None, d, diag=True)
    scale = np.atleast_1d(std ** 2).ravel()  # np.outer(y_var, _y_train_std ** 2)
    sd = g.add("GPVariance", [k, diag], L=g.tensor(np.ascontiguousarray(lower), "float64"),
               output="std", scale=g.tensor(scale, "float64"))
    both = g.add("Concat", [pred, sd])
    widths = [t, scale.size]
    return Head({"predict": (pred, t == 1), "predict_return_std": (both, False)}, "regressor",
                splits={"predict_return_std": widths},
                block_dtypes={"predict_return_std": ["float64", "float64"]},
                flat_blocks={"predict_return_std": [w == 1 for w in widths]},
                keywords=[["predict", "return_std", True, "predict_return_std"],
                          # accepted at False only (the covariance is not stored)
                          ["predict", "return_cov", False, "predict"]])


def _binary(g, x, owner, b, d, rows_idx):
    """The latent mean f (one column) and P(class 1) of one binary Laplace model, or a
    callable making P lazily: returns (f, proba builder)."""
    m = d_rows = np.asarray(b.X_train_).shape[0]
    k = _kernel(g, x, owner, b.kernel_, rows_idx, d)
    y = as_float64(b.y_train_, f"{owner}.y_train_")
    pi = as_float64(b.pi_, f"{owner}.pi_")
    w_sr = as_float64(b.W_sr_, f"{owner}.W_sr_")
    lower = as_float64(b.L_, f"{owner}.L_")
    if not (y.shape == pi.shape == w_sr.shape == (d_rows,) and lower.shape == (m, m)):
        raise UnsupportedModelError(f"{owner}: fitted arrays do not fit X_train_")
    f = g.add("Dense", [k], weight=g.tensor((y - pi).reshape(m, 1), "float64"))

    def proba():
        from sklearn.gaussian_process._gpc import COEFS, LAMBDAS

        diag = _kernel(g, x, owner, b.kernel_, None, d, diag=True)
        var = g.add("GPVariance", [k, diag], L=g.tensor(np.ascontiguousarray(lower), "float64"),
                    weight=g.tensor(w_sr, "float64"), output="variance")
        coefs = np.asarray(COEFS, dtype=np.float64)
        return g.add("GPLaplaceProba", [f, var],
                     lambdas=g.tensor(np.asarray(LAMBDAS, dtype=np.float64).ravel(), "float64"),
                     coefs=g.tensor(coefs.ravel(), "float64"),
                     offset=float(0.5 * coefs.sum()))

    return f, proba


@register("GaussianProcessClassifier", kind="predictor")
def gaussian_process_classifier(est, ctx, x):
    name = type(est).__name__
    base = getattr(est, "base_estimator_", None)
    if base is None:
        raise UnsupportedModelError(f"{name} is not fitted")
    classes = np.asarray(est.classes_)
    n = len(classes)
    if n > 2 and est.multi_class == "one_vs_one":
        return _one_vs_one(est, ctx, x, base)
    if n > 2 and est.multi_class != "one_vs_rest":
        raise UnsupportedModelError(
            f"{name}(multi_class={est.multi_class!r}) with {n} classes is not supported "
            "(one_vs_rest and one_vs_one are)")
    members = [base] if n == 2 else list(base.estimators_)
    if n > 2 and not np.array_equal(np.asarray(base.classes_), classes):
        raise UnsupportedModelError(f"{name}: its one_vs_rest classes_ differ from classes_")
    if n > 2 and len(members) != n:
        raise UnsupportedModelError(f"{name}: {len(members)} binary models for {n} classes")
    rows = _train_rows(name, members[0])
    d = rows.shape[1]
    ctx.refuses_nan(est)
    g = ctx.graph
    rows_idx = g.tensor(rows, "float64")
    if n == 2:
        f, proba = _binary(g, x, name, base, d, rows_idx)
        pred = g.add("ArgMax", [f])  # one column: 1 where f > 0
        return Head({"predict": (pred, True), "predict_proba": (proba(), False)}, "classifier",
                    classes=classes)
    cols = []
    for b in members:
        if not np.array_equal(np.asarray(b.X_train_), np.asarray(members[0].X_train_)):
            raise UnsupportedModelError(f"{name}: binary models fitted on different rows")
        _, proba = _binary(g, x, name, b, d, rows_idx)
        cols.append(g.add("Columns", [proba()], columns=g.tensor(np.array([1]), "int64")))
    y = g.add("Concat", cols)
    pred = g.add("ArgMax", [y])
    prob = g.add("NormalizeRows", [y], zero_rows="divide")
    # predict returns OneVsRestClassifier's classes_ (its label binarizer's dtype)
    return Head({"predict": (pred, True), "predict_proba": (prob, False)}, "classifier",
                classes=np.asarray(base.classes_))


def _one_vs_one(est, ctx, x, base):
    """multi_class="one_vs_one": OneVsOneClassifier.predict over the pairwise binary models
    (each fitted on its pair's rows, labels 0 and 1): the arg-max of _ovr_decision_function
    of their predictions and P(label 1). scikit-learn has no predict_proba for it (it raises),
    and the loaded model has none either."""
    name = type(est).__name__
    classes = np.asarray(base.classes_)
    k = len(classes)
    members = list(base.estimators_)
    if len(members) != k * (k - 1) // 2:
        raise UnsupportedModelError(f"{name}: {len(members)} binary models for {k} classes")
    ctx.refuses_nan(est)
    g = ctx.graph
    preds, confs = [], []
    for b in members:
        if not np.array_equal(np.asarray(b.classes_), np.arange(2)):
            raise UnsupportedModelError(f"{name}: a pairwise model is not fitted on the labels "
                                        "0 and 1")
        rows = _train_rows(name, b)
        f, proba = _binary(g, x, name, b, rows.shape[1], g.tensor(rows, "float64"))
        preds.append(g.add("ArgMax", [f]))  # the member's predict: 1 where f > 0
        confs.append(g.add("Columns", [proba()], columns=g.tensor(np.array([1]), "int64")))
    y = g.add("OvoDecision", [g.add("IndexConcat", preds), g.add("Concat", confs)],
              n_classes=k)
    return Head({"predict": (g.add("ArgMax", [y]), True)}, "classifier", classes=classes)
