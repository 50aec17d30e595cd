"""Transformers towards a target distribution: QuantileTransformer (op ``QuantileTransform``),
PowerTransformer (op ``PowerTransform``, then its fitted StandardScaler as ``SubDiv``), and
the numpy functions FunctionTransformer and TransformedTargetRegressor may apply (op
``MathFn``), recognised by identity.

The model's transform returns an array of floats: where numpy keeps integer input integer
(np.square, np.abs, np.negative, np.sign) or FunctionTransformer(validate=False) hands back
the DataFrame it was given, the values are the same, as float64 / an ndarray."""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import as_float64, register
from mle_runtime.exporters.sklearn.preprocessing import standard_scaler

# numpy function name -> MathFn's fn. Only functions whose C library counterpart gives
# numpy's float64 result within 1e-12 relative (bit for bit for sqrt, square, abs, negative,
# reciprocal, sign; within a few ulps for the transcendental ones, where numpy's own SIMD
# implementations round differently).
NUMPY_FUNCS = {name: name for name in (
    "expm1", "log1p", "sqrt", "square", "exp", "log", "exp2", "log2", "log10", "cbrt",
    "abs", "negative", "reciprocal", "sign", "sin", "cos", "tanh", "sinh", "cosh",
    "arcsinh", "arctan")}
# Aliases numpy binds to the same function objects, and fabs (the same on floats).
_ALIASES = {"absolute": "abs", "fabs": "abs"}


def numpy_function(fn):
    """MathFn's fn for a numpy function recognised by identity, or None."""
    for name in NUMPY_FUNCS:
        if fn is getattr(np, name):
            return NUMPY_FUNCS[name]
    for alias, name in _ALIASES.items():
        if fn is getattr(np, alias, None):
            return name
    return None


def describe(fn):
    return getattr(fn, "__name__", None) or type(fn).__name__


def supported_functions():
    return ", ".join(f"np.{n}" for n in NUMPY_FUNCS)


def apply_function(g, fn, value, what):
    """The node applying numpy function ``fn`` to ``value`` elementwise; refuses others,
    naming the function."""
    name = numpy_function(fn)
    if name is None:
        raise UnsupportedModelError(
            f"{what}={describe(fn)}) is not supported; supported: None and the numpy "
            f"functions {supported_functions()}")
    return g.add("MathFn", [value], fn=name)


@register("FunctionTransformer", kind="transformer")
def function_transformer(est, ctx, x):
    """FunctionTransformer: the identity (``func=None``, also what a fitted ColumnTransformer
    holds for 'passthrough'), or a numpy function of NUMPY_FUNCS applied elementwise."""
    if est.func is None:
        return x
    if est.kw_args:
        raise UnsupportedModelError(
            f"FunctionTransformer(func={describe(est.func)}) with kw_args is not supported")
    out = apply_function(ctx.graph, est.func, x, "FunctionTransformer(func")
    if est.validate:
        ctx.refuses_nan(est)  # check_array: NaN and infinity refused
    else:
        ctx.accepts_inf = True  # func sees X as given
    return out


@register("QuantileTransformer", kind="transformer")
def quantile_transformer(est, ctx, x):
    if est.ignore_implicit_zeros:
        raise UnsupportedModelError(
            "QuantileTransformer(ignore_implicit_zeros=True) is not supported: it is for "
            "sparse data, which mle_runtime models do not take")
    if est.output_distribution not in ("uniform", "normal"):
        raise UnsupportedModelError(
            f"QuantileTransformer(output_distribution={est.output_distribution!r}) is not "
            "supported; supported: 'uniform', 'normal'")
    q = as_float64(est.quantiles_, "QuantileTransformer.quantiles_")
    refs = as_float64(est.references_, "QuantileTransformer.references_")
    if q.ndim != 2 or refs.shape != (q.shape[0],) or np.any(np.diff(q, axis=0) < 0):
        raise UnsupportedModelError("QuantileTransformer.quantiles_ is not a non-decreasing "
                                    "(n_quantiles, n_features) array matching references_")
    g = ctx.graph
    attrs = {}
    if est.output_distribution == "normal":
        # scikit-learn's clip bounds, from scipy's own ndtri (scipy, a scikit-learn
        # dependency, is imported at dump time only)
        from scipy import stats

        bound = 1e-7 - np.spacing(1)
        attrs = {"clip_min": float(stats.norm.ppf(bound)),
                 "clip_max": float(stats.norm.ppf(1 - bound))}
    return g.add("QuantileTransform", [x], quantiles=g.tensor(q, "float64"),
                 references=g.tensor(refs, "float64"),
                 output_distribution=est.output_distribution, **attrs)


@register("PowerTransformer", kind="transformer")
def power_transformer(est, ctx, x):
    if est.method not in ("yeo-johnson", "box-cox"):
        raise UnsupportedModelError(f"PowerTransformer(method={est.method!r}) is not "
                                    "supported; supported: 'yeo-johnson', 'box-cox'")
    g = ctx.graph
    lambdas = as_float64(est.lambdas_, "PowerTransformer.lambdas_")
    out = g.add("PowerTransform", [x], lambdas=g.tensor(lambdas, "float64"), method=est.method)
    if est.standardize:
        out = standard_scaler(est._scaler, ctx, out)
    return out
