"""Scalers, Normalizer and SimpleImputer (dense numeric data)."""

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


@register("SimpleImputer", kind="transformer")
def simple_imputer(est, ctx, x):
    if getattr(est, "add_indicator", False):
        raise UnsupportedModelError(
            "SimpleImputer(add_indicator=True) is not supported yet; use add_indicator=False"
        )
    fill_dtype = np.dtype(getattr(est, "_fill_dtype", np.float64))
    if fill_dtype.kind not in "biuf":
        raise UnsupportedModelError(
            f"SimpleImputer fitted on {fill_dtype} data is not supported; only numeric data "
            "(ints and floats) is"
        )
    stats = np.asarray(est.statistics_)
    if stats.dtype.kind == "O":
        # strategy="constant" stores an object array such as [-3, nan, -3] (the fill value,
        # NaN for the columns that were empty at fit); numbers only are supported.
        if not all(isinstance(v, (int, float, np.integer, np.floating))
                   and not isinstance(v, (bool, np.bool_)) for v in stats.tolist()):
            raise UnsupportedModelError("SimpleImputer statistics_ are not numeric")
    elif stats.dtype.kind not in "biuf":
        raise UnsupportedModelError("SimpleImputer statistics_ are not numeric")
    stats = stats.astype(np.float64)
    if est.keep_empty_features:
        keep = np.arange(stats.shape[0])
    else:
        keep = np.flatnonzero(~np.isnan(stats))
    # scikit-learn casts the statistics to the dtype seen at fit before filling.
    fill = stats[keep].astype(fill_dtype).astype(np.float64)
    if not np.all(np.isfinite(fill)):
        raise UnsupportedModelError("SimpleImputer fill values are not finite")
    mv = est.missing_values
    g = ctx.graph
    if _is_nan_marker(mv):
        ctx.nan_possible = False
        attrs = {"missing_is_nan": True}
    elif isinstance(mv, (int, float, np.integer, np.floating)) and not isinstance(mv, bool):
        # scikit-learn refuses NaN in X when missing_values is a number.
        ctx.refuses_nan(est)
        attrs = {"missing_is_nan": False, "missing_value": float(mv)}
    else:
        raise UnsupportedModelError(
            f"SimpleImputer(missing_values={mv!r}) is not supported; use NaN or a number"
        )
    identity = keep.shape[0] == stats.shape[0]
    return g.add("Impute", [x], columns=None if identity else g.tensor(keep, "int64"),
                 fill=g.tensor(fill, "float64"), **attrs)
