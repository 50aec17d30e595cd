"""TargetEncoder, KNNImputer and IterativeImputer.

TargetEncoder: a loaded model runs ``transform``, which looks each category up in
``encodings_`` and gives a value that is not a category (unseen, or missing when missing was
not seen at fit) ``target_mean_``. That is exactly the ``CategoryMap`` op (kernels/encode.cpp)
with the categories of ``categories_`` (string columns as their codes, input rule "strings")
and the encodings as codes; with a multiclass target each feature gives one column per class
(feature-major, as scikit-learn orders them), so the input columns are first repeated by a
``Columns`` gather. ``fit_transform``'s cross fitting is training-only and is not stored.
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import as_float64, register
from mle_runtime.exporters.sklearn.encoders import _features, _sorted_tables

_COMMON = ("n_features_in_", "feature_names_in_")

ATTRIBUTES = {
    "TargetEncoder": _COMMON + ("encodings_", "categories_", "target_type_", "target_mean_",
                                "classes_"),
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
