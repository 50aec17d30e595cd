"""FeatureHasher (transform), AdditiveChi2Sampler and PolynomialCountSketch (transform);
PatchExtractor is refused.

FeatureHasher: the samples (dicts, (name, value) pairs or strings) are hashed into the
``n_features`` columns by the input adapter (the input rule "hashed", docs/FORMAT.md 9.7,
``runtime/hashing.py``: scikit-learn's MurmurHash3 and its sign, string values as "f=v"
features, zero values skipped, a column's values summed in the hasher's dtype in the order
scipy's sum_duplicates adds them); the graph starts from those rows. transform returns them dense
(scikit-learn returns a scipy.sparse matrix), as HashingVectorizer's here.

AdditiveChi2Sampler.transform: the ``AdditiveChi2`` op (11.13): for each entry x > 0,
``sqrt(x * L)`` and, for j in 1..steps-1, ``sqrt(2 x L / cosh(pi j L)) * cos(j L log x)``
and ``... * sin(j L log x)``, zeros for x == 0, blocks of columns in scikit-learn's order;
negative entries are refused with its message.

PatchExtractor is refused with its reason: its transform returns one row per patch, more rows
than the images it is given, which a graph (one output row per input row) cannot return.

PolynomialCountSketch.transform: the ``CountSketch`` op (11.13): ``degree`` count sketches
of ``[sqrt(gamma) x, sqrt(coef0)]`` and their circular convolution, computed directly (it is
what scikit-learn's FFT product computes, up to the FFT's rounding).
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import refuse, register

ATTRIBUTES = {
    "FeatureHasher": (),
    "AdditiveChi2Sampler": ("n_features_in_", "feature_names_in_"),
    "PolynomialCountSketch": ("n_features_in_", "feature_names_in_", "indexHash_",
                              "bitHash_"),
}


def _hasher(est, ctx, x):
    """The rule "hashed" for a FeatureHasher; returns (x, dtype)."""
    if x != "X" or ctx.steps != ["FeatureHasher"]:
        raise UnsupportedModelError("FeatureHasher is supported as a model of its own or as "
                                    "the first step of a Pipeline (its input is samples of "
                                    "named features)")
    if est.input_type not in ("dict", "pair", "string"):
        raise UnsupportedModelError(f"FeatureHasher(input_type={est.input_type!r}) is not "
                                    "supported; supported: 'dict', 'pair', 'string'")
    dtype = np.dtype(est.dtype)
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise UnsupportedModelError(f"FeatureHasher(dtype={dtype.name}) is not supported; "
                                    "supported: float64 (the default), float32")
    n = int(est.n_features)
    if not 1 <= n <= 2 ** 31 - 1:
        raise UnsupportedModelError(f"FeatureHasher(n_features={n}): expected 1 to 2**31 - 1")
    if n != ctx.graph.n_features:
        raise UnsupportedModelError("FeatureHasher must be the model's first step")
    ctx.graph.inputs["hashed"] = [str(est.input_type), bool(est.alternate_sign), dtype.name]
    ctx.accepts_inf = True  # values are taken as they are (NaN and infinity included)
    return x, dtype


@register("FeatureHasher", kind="transformer")
def feature_hasher_step(est, ctx, x):
    x, dtype = _hasher(est, ctx, x)
    if dtype != np.float64:
        raise UnsupportedModelError(
            "FeatureHasher(dtype=float32) before another step is not supported (the next "
            "step would compute with float32 sparse rows); use dtype=float64 in a Pipeline")
    return x


@register("FeatureHasher", kind="predictor")
def feature_hasher(est, ctx, x):
    """FeatureHasher as the model's last step: transform returns the dense rows, in its
    dtype."""
    x, dtype = _hasher(est, ctx, x)
    dtypes = None if dtype == np.float64 else {"transform": dtype.name}
    return Head({"transform": (x, False)}, "transformer", dtypes=dtypes)


def _sample_interval(est):
    """The interval AdditiveChi2Sampler.transform uses (its defaults for 1, 2 and 3 steps)."""
    if est.sample_interval is not None:
        return float(est.sample_interval)
    defaults = {1: 0.8, 2: 0.5, 3: 0.4}
    if est.sample_steps not in defaults:
        raise UnsupportedModelError(
            f"AdditiveChi2Sampler(sample_steps={est.sample_steps}) needs a sample_interval "
            "(scikit-learn refuses it too)")
    return defaults[est.sample_steps]


@register("AdditiveChi2Sampler", kind="transformer")
def additive_chi2(est, ctx, x):
    steps = int(est.sample_steps)
    if steps != est.sample_steps or not 1 <= steps <= 64:
        raise UnsupportedModelError(f"AdditiveChi2Sampler(sample_steps={est.sample_steps}) is "
                                    "not supported; supported: an integer from 1 to 64")
    interval = _sample_interval(est)
    if not (np.isfinite(interval) and interval > 0 and np.float32(interval) > 0):
        raise UnsupportedModelError(f"AdditiveChi2Sampler(sample_interval={interval}) is not "
                                    "supported; supported: a positive number")
    ctx.refuses_nan(est)
    return ctx.graph.add("AdditiveChi2", [x], sample_steps=steps, sample_interval=interval)


@register("PolynomialCountSketch", kind="transformer")
def polynomial_count_sketch(est, ctx, x):
    name = "PolynomialCountSketch"
    index = np.asarray(est.indexHash_)
    bits = np.asarray(est.bitHash_)
    n = int(est.n_components)
    if not 1 <= n <= 16384:
        raise UnsupportedModelError(
            f"{name}(n_components={n}) is not supported: its convolution is computed directly "
            "(n_components**2 products per degree and row); supported: up to 16384")
    if not (np.isfinite(est.gamma) and est.gamma >= 0 and np.isfinite(est.coef0)
            and est.coef0 >= 0):
        raise UnsupportedModelError(f"{name}(gamma={est.gamma}, coef0={est.coef0}): expected "
                                    "finite, non-negative gamma and coef0")
    extra = 1 if est.coef0 != 0 else 0
    n_in = int(est.n_features_in_)
    if index.ndim != 2 or bits.shape != index.shape or not 1 <= index.shape[0] <= 64:
        raise UnsupportedModelError(f"{name}: indexHash_ and bitHash_ must be arrays of the "
                                    "same shape (degree from 1 to 64, features)")
    if index.shape[1] != n_in + extra:
        raise UnsupportedModelError(f"{name}: indexHash_ has {index.shape[1]} columns for "
                                    f"{n_in} input features")
    if index.min() < 0 or index.max() >= n or not np.isin(bits, (-1, 1)).all():
        raise UnsupportedModelError(f"{name}: indexHash_ must lie in [0, n_components) and "
                                    "bitHash_ hold -1 and 1 only")
    ctx.refuses_nan(est)
    g = ctx.graph
    c0 = float(np.sqrt(est.coef0) * 1.0) if extra else None
    return g.add("CountSketch", [x], n_components=n, gamma_sqrt=float(np.sqrt(est.gamma)),
                 coef0_sqrt=c0,
                 index_hash=g.tensor(np.ascontiguousarray(index, dtype=np.int64), "int64"),
                 bit_hash=g.tensor(bits.astype(np.float64), "float64"))


refuse("PatchExtractor",
       "scikit-learn class PatchExtractor is not supported: its transform returns one row per "
       "patch, more rows than the images (n_samples, height, width[, channels]) it is given, "
       "and a stored model returns one row per input row; extract the patches in your code "
       "(extract_patches_2d) and store the model that reads them")
