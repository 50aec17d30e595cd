"""Scalers, Normalizer and SimpleImputer (dense numeric data). FunctionTransformer is in
distribution.py, with the numpy functions it may apply."""

import math

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import as_float64, register


def _vec(g, arr):
    return None if arr is None else g.tensor(arr, "float64")


@register("StandardScaler", kind="transformer")
def standard_scaler(est, ctx, x):
    mean = as_float64(est.mean_, "StandardScaler.mean_") if est.with_mean else None
    scale = as_float64(est.scale_, "StandardScaler.scale_") if est.with_std else None
    if mean is None and scale is None:
        return x
    g = ctx.graph
    # scikit-learn casts mean_/scale_ to X's dtype before the in-place arithmetic.
    return g.add("SubDiv", [x], sub=_vec(g, mean), div=_vec(g, scale), cast_params=True)


@register("RobustScaler", kind="transformer")
def robust_scaler(est, ctx, x):
    center = as_float64(est.center_, "RobustScaler.center_") if est.with_centering else None
    scale = as_float64(est.scale_, "RobustScaler.scale_") if est.with_scaling else None
    if center is None and scale is None:
        return x
    g = ctx.graph
    return g.add("SubDiv", [x], sub=_vec(g, center), div=_vec(g, scale))


@register("MaxAbsScaler", kind="transformer")
def max_abs_scaler(est, ctx, x):
    g = ctx.graph
    return g.add("SubDiv", [x], div=_vec(g, as_float64(est.scale_, "MaxAbsScaler.scale_")))


@register("MinMaxScaler", kind="transformer")
def min_max_scaler(est, ctx, x):
    g = ctx.graph
    lo, hi = (float(v) for v in est.feature_range)
    return g.add(
        "MulAdd", [x],
        mul=_vec(g, as_float64(est.scale_, "MinMaxScaler.scale_")),
        add=_vec(g, as_float64(est.min_, "MinMaxScaler.min_")),
        clip=bool(est.clip), clip_min=lo if est.clip else None, clip_max=hi if est.clip else None,
    )


@register("Normalizer", kind="transformer")
def normalizer(est, ctx, x):
    if est.norm not in ("l1", "l2", "max"):
        raise UnsupportedModelError(f"Normalizer(norm={est.norm!r}) is not supported")
    ctx.refuses_nan(est)
    return ctx.graph.add("Normalize", [x], norm=est.norm)


def _is_nan_marker(v):
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v)) or (
        type(v).__name__ in ("NAType", "NaTType"))


def _string_stat(v):
    """A fill value of a string column (None too: it is a value, not missing, unless
    missing_values=None)."""
    return isinstance(v, str) or v is None


@register("SimpleImputer", kind="transformer")
def simple_imputer(est, ctx, x):
    indicator = getattr(est, "indicator_", None) if getattr(est, "add_indicator", False) \
        else None
    imputed = _simple_imputer(est, ctx, x)
    if indicator is None or len(indicator.features_) == 0:
        return imputed
    # scikit-learn: hstack((imputed, indicator)), the indicator of the columns that had
    # missing values at fit, computed on the imputer's input
    mask = _missing_mask(indicator, ctx, x)
    out = ctx.graph.add("Concat", [imputed, mask])
    ctx.carry[out] = ctx.carried(imputed)
    return out


def _missing_mask(ind, ctx, x):
    g = ctx.graph
    mv = ind.missing_values
    if _is_nan_marker(mv) and mv is not None:
        attrs = {"missing_is_nan": True}
    elif isinstance(mv, (int, float, np.integer, np.floating)) and not isinstance(mv, bool):
        attrs = {"missing_is_nan": False, "missing_value": float(mv)}
    else:
        raise UnsupportedModelError(
            f"MissingIndicator(missing_values={mv!r}) is not supported; use NaN or a number")
    return g.add("MissingMask", [x], columns=g.tensor(np.asarray(ind.features_, np.int64),
                                                      "int64"), **attrs)


def _new_missing(est, ctx, x):
    """MissingIndicator(error_on_new=True): NaN in a column without missing values at fit
    raises ValueError naming the columns, as scikit-learn does. Its columns must be the
    input's own (the message names them by position)."""
    n = int(est.n_features_in_)
    if ctx.source(x, n) != list(range(n)) or ctx.graph.n_features != n:
        raise UnsupportedModelError(
            "MissingIndicator(features='missing-only', error_on_new=True) is supported on the "
            "model's input columns only; supported elsewhere: error_on_new=False")
    mv = est.missing_values
    if not (_is_nan_marker(mv) and mv is not None):
        raise UnsupportedModelError(
            f"MissingIndicator(missing_values={mv!r}, error_on_new=True) is not supported; "
            "supported: missing_values=np.nan, or error_on_new=False")
    fitted = set(int(c) for c in np.asarray(est.features_))
    new = set(c for c in range(n) if c not in fitted)
    if new:
        g = ctx.graph
        g.inputs["new_missing"] = sorted(new | set(g.inputs.get("new_missing", ())))


@register("MissingIndicator", kind="transformer")
def missing_indicator(est, ctx, x):
    """MissingIndicator inside a pipeline (its bool output becomes the next step's numbers).
    ``error_on_new=True`` (scikit-learn's default) refuses, at transform, missing values in
    columns that had none at fit: checked on the input (the input rule "new_missing")."""
    if len(est.features_) == 0:
        raise UnsupportedModelError("MissingIndicator found no missing values at fit: its "
                                    "output has no columns")
    if est.error_on_new and est.features == "missing-only":
        _new_missing(est, ctx, x)
    out = _missing_mask(est, ctx, x)
    ctx.nan_possible = False  # NaN is what it reports, never what it returns
    ctx.value_dtypes[out] = "bool"  # transform returns a bool array
    return out


@register("Binarizer", kind="transformer")
def binarizer(est, ctx, x):
    ctx.refuses_nan(est)
    threshold = float(est.threshold)
    if not math.isfinite(threshold):
        raise UnsupportedModelError(
            f"Binarizer(threshold={threshold}) is not supported: the threshold must be finite")
    return ctx.graph.add("Binarize", [x], threshold=threshold)


def _simple_imputer(est, ctx, x):
    fill_dtype = np.dtype(getattr(est, "_fill_dtype", np.float64))
    stats = np.asarray(est.statistics_)
    if fill_dtype.kind == "O" or stats.dtype.kind in "OUS":
        # Object data (strings, with numbers for numeric columns), or strategy="constant"
        # storing an object array such as [-3, nan, -3] (NaN for the columns empty at fit).
        vals = stats.tolist()
        if est.strategy not in ("most_frequent", "constant") and fill_dtype.kind == "O":
            raise UnsupportedModelError(
                f"SimpleImputer(strategy={est.strategy!r}) on object data is not supported")
        for v in vals:
            if not (_string_stat(v) or (isinstance(v, (int, float, np.integer, np.floating))
                                        and not isinstance(v, (bool, np.bool_)))):
                raise UnsupportedModelError(
                    f"SimpleImputer statistics_ of type {type(v).__name__} are not supported; "
                    "supported: numbers and strings")
        is_empty = np.array([(not _string_stat(v)) and math.isnan(float(v)) for v in vals],
                            dtype=bool)
    elif fill_dtype.kind not in "biuf" or stats.dtype.kind not in "biuf":
        raise UnsupportedModelError(
            f"SimpleImputer fitted on {fill_dtype} data is not supported; only numbers and "
            "strings are")
    else:
        vals = stats.astype(np.float64).tolist()
        is_empty = np.isnan(stats.astype(np.float64))
    if est.keep_empty_features:
        keep = np.arange(len(vals))
    else:
        keep = np.flatnonzero(~is_empty)
    g = ctx.graph
    src = ctx.source(x, len(vals))
    string_cols = {}
    fill = np.zeros(len(keep))
    for i, k in enumerate(keep):
        v = vals[k]
        if _string_stat(v):
            string_cols[i] = ctx.string_column(x, int(k), "SimpleImputer")
            if v is not None:
                ctx.vocab[string_cols[i]].add(v)
        else:
            # scikit-learn casts the statistics to the dtype seen at fit before filling.
            fv = float(v)
            fill[i] = float(np.asarray(fv).astype(fill_dtype)) if fill_dtype.kind != "O" else fv
    if not np.all(np.isfinite(fill)):
        raise UnsupportedModelError("SimpleImputer fill values are not finite")
    mv = est.missing_values
    # pd.NA in numeric columns is NaN on our input; in string columns it is its own value
    if _is_nan_marker(mv) and mv is not None and not (string_cols and
                                                      type(mv).__name__ == "NAType"):
        ctx.nan_possible = False
        attrs = {"missing_is_nan": True}
        marker = float("nan")
    elif mv is None and len(string_cols) == len(keep):
        attrs = {"missing_is_nan": False, "missing_value": -2.0}  # None's code
        marker = None
    elif isinstance(mv, str) and len(string_cols) == len(keep):
        attrs = {"missing_is_nan": False, "missing_value": 0.0}  # the string's code, below
        marker = mv
        for c in string_cols.values():
            ctx.vocab[c].add(mv)
    elif isinstance(mv, (int, float, np.integer, np.floating)) and not isinstance(mv, bool) \
            and not string_cols:
        # scikit-learn refuses NaN in X when missing_values is a number.
        ctx.refuses_nan(est)
        attrs = {"missing_is_nan": False, "missing_value": float(mv)}
        marker = float(mv)
    else:
        raise UnsupportedModelError(
            f"SimpleImputer(missing_values={mv!r}) is not supported on these columns; "
            "supported: NaN or a number (numeric columns), NaN, None or a string (string "
            "columns)")
    identity = keep.shape[0] == len(vals)
    t_fill = g.tensor(fill, "float64")
    out = g.add("Impute", [x], columns=None if identity else g.tensor(keep, "int64"),
                fill=t_fill, **attrs)
    node = g.nodes[-1]
    if string_cols:
        def fix():
            f = g.tensors[t_fill].copy()
            for i, c in string_cols.items():
                f[i] = ctx.code(c, vals[keep[i]])
            g.tensors[t_fill] = f
            if isinstance(marker, str):
                codes = {ctx.code(c, marker) for c in string_cols.values()}
                if len(codes) != 1:
                    raise UnsupportedModelError(
                        f"SimpleImputer(missing_values={marker!r}) over string columns with "
                        "different vocabularies is not supported")
                node.attrs["missing_value"] = codes.pop()

        ctx.fixups.append(fix)
    ctx.sources[out] = [src[k] if k < len(src) else None for k in keep]
    ctx.carry[out] = {s for s in ctx.sources[out] if s is not None}
    before = ctx.imputed.get(x, {})
    ctx.imputed[out] = {i: set(before.get(int(k), ())) | {marker} for i, k in enumerate(keep)}
    return out
