"""TargetEncoder, KNNImputer and IterativeImputer.

TargetEncoder: a loaded model runs ``transform``, which looks each category up in
``encodings_`` and gives a value that is not a category (unseen, or missing when missing was
not seen at fit) ``target_mean_``. That is exactly the ``CategoryMap`` op (kernels/encode.cpp)
with the categories of ``categories_`` (string columns as their codes, input rule "strings")
and the encodings as codes; with a multiclass target each feature gives one column per class
(feature-major, as scikit-learn orders them), so the input columns are first repeated by a
``Columns`` gather. ``fit_transform``'s cross fitting is training-only and is not stored.
"""

import math

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import as_float64, export_estimator, register
from mle_runtime.exporters.sklearn.compose import _gather
from mle_runtime.exporters.sklearn.encoders import _features, _sorted_tables
from mle_runtime.exporters.sklearn.preprocessing import _missing_mask, _simple_imputer

_COMMON = ("n_features_in_", "feature_names_in_")

ATTRIBUTES = {
    "TargetEncoder": _COMMON + ("encodings_", "categories_", "target_type_", "target_mean_",
                                "classes_"),
    "IterativeImputer": _COMMON + ("n_iter_", "n_features_with_missing_"),
}


@register("TargetEncoder", kind="transformer")
def target_encoder(est, ctx, x):
    what = "TargetEncoder"
    tt = est.target_type_
    if tt not in ("binary", "continuous", "multiclass"):
        raise UnsupportedModelError(
            f"TargetEncoder with target_type_={tt!r} is not supported; supported: 'binary', "
            "'continuous', 'multiclass'")
    cats, kinds, feats = _features(est, ctx, x, what)
    n = len(cats)
    n_classes = len(est.classes_) if tt == "multiclass" else 1
    enc = list(est.encodings_)
    if len(enc) != n * n_classes:
        raise UnsupportedModelError(
            f"{what}: encodings_ has {len(enc)} entries, expected {n * n_classes}")
    mean = np.atleast_1d(as_float64(est.target_mean_, "TargetEncoder.target_mean_"))
    if mean.shape != (n_classes,):
        raise UnsupportedModelError(
            f"{what}: target_mean_ has shape {mean.shape}, expected ({n_classes},)")
    per_cat, unknown, order = [], [], []
    for e_idx, e in enumerate(enc):
        f = e_idx // n_classes
        e = as_float64(e, f"TargetEncoder.encodings_[{e_idx}]")
        if e.shape != (len(cats[f]),):
            raise UnsupportedModelError(
                f"{what}: encodings_[{e_idx}] has shape {e.shape}, expected "
                f"({len(cats[f])},), one value per category")
        per_cat.append(e)
        unknown.append(mean[e_idx % n_classes])
        order.append(f)
    g = ctx.graph
    src = x
    if n_classes > 1:
        src = g.add("Columns", [x], columns=g.tensor(np.asarray(order, np.int64), "int64"))
    t_off, t_cat, t_codes, fix = _sorted_tables(g, [feats[f] for f in order], per_cat)
    ctx.fixups.append(fix)
    ctx.nan_possible = False
    return g.add("CategoryMap", [src], offsets=t_off, categories=t_cat, codes=t_codes,
                 unknown=g.tensor(np.asarray(unknown, np.float64), "float64"))


def _limit(v):
    v = float(v)
    return None if math.isinf(v) else v


@register("IterativeImputer", kind="transformer")
def iterative_imputer(est, ctx, x):
    """IterativeImputer.transform: the initial imputation (``initial_imputer_``, a
    SimpleImputer: the ``Impute`` op), then, for each (feat_idx, neighbor_feat_idx, estimator)
    of ``imputation_sequence_`` in order, the rows where feat_idx was missing take the
    estimator's prediction from the current imputation's neighbour columns, clipped to
    ``[_min_value, _max_value]`` (``ReplaceMissing``). Columns empty at fit are dropped (or,
    with keep_empty_features, keep their initial imputation); ``add_indicator`` appends the
    missing indicator of the input. scikit-learn returns the initial imputation when every
    entry of the batch (its kept columns) is missing: the input rule "all_missing" (9.7),
    with a Pipeline's later steps exported on both values (exporters/sklearn/pipeline.py)."""
    what = "IterativeImputer"
    if est.sample_posterior:
        raise UnsupportedModelError(
            f"{what}(sample_posterior=True) is not supported: its transform draws random "
            "samples from each estimator's predictive distribution; use sample_posterior=False")
    mv = est.missing_values
    nan_marker = isinstance(mv, (float, np.floating)) and math.isnan(mv)
    if not nan_marker and not (isinstance(mv, (int, float, np.integer, np.floating))
                               and not isinstance(mv, (bool, np.bool_))):
        raise UnsupportedModelError(
            f"{what}(missing_values={mv!r}) is not supported; use NaN or a number")
    if not nan_marker:
        ctx.refuses_nan(est)  # scikit-learn validates X with ensure_all_finite=True
    n = int(est.n_features_in_)
    empty = np.asarray(est._is_empty_feature, dtype=bool)
    keep_empty = bool(est.keep_empty_features)
    keep = np.arange(n) if keep_empty else np.flatnonzero(~empty)
    if keep.size == 0:
        raise UnsupportedModelError(f"{what}: every feature was missing at fit; its transform "
                                    "returns no columns")
    initial = est.initial_imputer_
    stats = np.asarray(initial.statistics_, dtype=np.float64)
    init_keep = np.arange(n) if initial.keep_empty_features else np.flatnonzero(~np.isnan(stats))
    if not np.array_equal(init_keep, keep):
        raise UnsupportedModelError(
            f"{what}(initial_strategy={est.initial_strategy!r}, keep_empty_features=False) "
            "with features missing throughout fit is not supported: its initial imputation "
            "keeps other columns than the iterative steps (scikit-learn mixes them up)")
    g = ctx.graph
    attrs = ({"missing_is_nan": True} if nan_marker
             else {"missing_is_nan": False, "missing_value": float(mv)})
    mask = g.add("MissingMask", [x], columns=g.tensor(keep.astype(np.int64), "int64"), **attrs)
    filled = _simple_imputer(initial, ctx, x)
    ctx.nan_possible = False
    cur = filled
    n_iter = int(est.n_iter_)
    seq = list(est.imputation_sequence_) if n_iter > 0 else []
    if seq:  # fit with max_iter=0 stops before the limits exist
        lo = np.asarray(est._min_value, dtype=np.float64)
        hi = np.asarray(est._max_value, dtype=np.float64)
    n_steps = len(ctx.steps)  # the estimators are parts of this step, not steps
    for trip in seq:
        f = int(trip.feat_idx)
        if keep_empty and empty[f]:
            continue  # marked as never missing: the step changes nothing
        nb = np.asarray(trip.neighbor_feat_idx, dtype=np.int64)
        if nb.size == 0:
            raise UnsupportedModelError(f"{what}: a step without neighbour features")
        sub = _gather(ctx, cur, nb)
        head = export_estimator(trip.estimator, ctx, sub)
        pred = head.outputs.get("predict")
        if pred is None or not pred[1]:
            raise UnsupportedModelError(
                f"{what}: estimator {type(trip.estimator).__name__} has no stored "
                "single-output predict")
        p = pred[0]
        cur = g.add("ReplaceMissing", [cur, p, mask], column=f, mask_column=f,
                    clip_min=_limit(lo[f]), clip_max=_limit(hi[f]))
    del ctx.steps[n_steps:]
    ctx.nan_possible = False
    ind = getattr(est, "indicator_", None) if est.add_indicator else None
    if ind is not None and len(ind.features_):
        m_ind = _missing_mask(ind, ctx, x)
        out = g.add("Concat", [cur, m_ind])
        alt = g.add("Concat", [filled, m_ind]) if seq else out
    else:
        out, alt = cur, filled
    if seq and not keep_empty or (seq and not empty.any()):
        src = ctx.source(x, n)
        if any(s is None for s in src[:n]) or ctx.imputed.get(x):
            raise UnsupportedModelError(
                f"{what} is supported on the model's input columns only (scikit-learn's "
                "transform returns the initial imputation when every entry of the batch is "
                "missing, which is checked on the input)")
        cols = sorted(int(src[k]) for k in keep)
        ctx.all_missing.append((out, alt, cols, None if nan_marker else float(mv), what, {}))
    return out
