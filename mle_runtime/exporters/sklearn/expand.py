"""KBinsDiscretizer, PolynomialFeatures and SplineTransformer: feature expansions computed by
the ``Digitize``, ``Monomials`` and ``BSplineBasis`` ops (kernels/expand.cpp), in the same
order of floating-point operations as scikit-learn's ``transform``.

KBinsDiscretizer: only ``bin_edges_`` reaches ``transform`` (the strategy, ``quantile_method``,
``subsample`` and the sample weights only decide the edges at fit), so every strategy is
stored. A value's bin is ``searchsorted(bin_edges_[f][1:-1], v, side="right")``, exactly;
``encode="onehot"`` (a sparse matrix in scikit-learn) is returned as the same values in a
dense array, as the other sparse encoders here are (the runtime imports no scipy);
"onehot-dense" and "ordinal" are returned as scikit-learn returns them. The one-hot columns are
written by ``Digitize`` itself rather than by the encoders' ``OneHot`` op: scikit-learn returns
them in X's float dtype (float32 for float32 input, which a next step then computes with),
and ``OneHot`` returns float64. NaN is refused, as scikit-learn refuses it.

PolynomialFeatures: each output column of ``powers_`` is the product of its input columns,
multiplied in the order scikit-learn's dense transform multiplies them; ``order`` only
decides the memory layout, so "C" and "F" give the same values (a C-ordered array).

SplineTransformer: the B-spline bases of ``bsplines_`` (their knots and degree), evaluated
natively by the Cox-de Boor recursion scipy's ``BSpline`` uses, with every ``extrapolation``;
the boundary values and slopes that "constant" and "linear" extrapolation continue are
computed here, at dump, by the fitted splines themselves. ``sparse_output=True`` is returned
dense, in float64 as scipy's design matrix is (with ``extrapolation="error"`` the inputs
scikit-learn refuses are refused, with the message of its dense path).
``handle_missing="zeros"`` gives NaN zeros (and, as scikit-learn, accepts infinity).
"""

import warnings

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

_COMMON = ("n_features_in_", "feature_names_in_")

ATTRIBUTES = {
    "KBinsDiscretizer": _COMMON + ("n_bins_", "bin_edges_"),
    "PolynomialFeatures": _COMMON + ("n_output_features_", "powers_"),
    "SplineTransformer": _COMMON + ("n_features_out_",),
}


# -- KBinsDiscretizer -------------------------------------------------------------------------

def _kbins_dtype(est):
    if est.dtype is None:
        return None
    dt = np.dtype(est.dtype)
    if dt not in (np.float32, np.float64):
        raise UnsupportedModelError(f"KBinsDiscretizer(dtype={dt.name}) is not supported; "
                                    "supported: None, np.float32, np.float64")
    return dt.name


def _kbins(est, ctx, x):
    if est.encode not in ("onehot", "onehot-dense", "ordinal"):
        raise UnsupportedModelError(f"KBinsDiscretizer(encode={est.encode!r}) is not supported")
    dtype = _kbins_dtype(est)
    n_features = int(est.n_features_in_)
    edges = list(est.bin_edges_)
    if len(edges) != n_features:
        raise UnsupportedModelError("KBinsDiscretizer.bin_edges_ does not have one entry per "
                                    "feature")
    inner, offsets = [], [0]
    for f, e in enumerate(edges):
        e = np.asarray(e, dtype=np.float64)
        if e.ndim != 1 or e.shape[0] < 2:
            raise UnsupportedModelError(f"KBinsDiscretizer.bin_edges_[{f}] has fewer than 2 "
                                        "edges")
        mid = e[1:-1]  # the outer edges never decide a bin: transform searches e[1:-1]
        if not np.all(np.isfinite(mid)) or np.any(np.diff(mid) < 0):
            raise UnsupportedModelError(f"KBinsDiscretizer.bin_edges_[{f}] is not finite and "
                                        "sorted")
        n_bins = int(np.asarray(est.n_bins_)[f])
        if "onehot" in est.encode and n_bins != mid.shape[0] + 1:
            raise UnsupportedModelError(f"KBinsDiscretizer.n_bins_[{f}] disagrees with "
                                        "bin_edges_")
        inner.append(mid)
        offsets.append(offsets[-1] + mid.shape[0])
    _check_binning(est, inner, dtype)
    ctx.refuses_nan(est)
    g = ctx.graph
    return g.add(
        "Digitize", [x],
        offsets=g.tensor(np.asarray(offsets, np.int64), "int64"),
        edges=g.tensor(np.concatenate(inner) if inner else np.zeros(0), "float64"),
        encode="ordinal" if est.encode == "ordinal" else "onehot",
        round_float32=True if dtype == "float32" else None,
        float64=True if dtype == "float64" else None,
    ), dtype


def _check_binning(est, inner, dtype):
    """Refuses a KBinsDiscretizer whose transform does not bin as ``Digitize`` does: every
    inner edge, and its neighbours one ulp away, through the fitted estimator's own transform
    (old scikit-learn releases added a tolerance to X and clipped to the last bin, which moves
    values just below an edge into the next bin)."""
    cols = []
    for mid in inner:
        cols.append(np.concatenate([mid, np.nextafter(mid, -np.inf), np.nextafter(mid, np.inf)])
                    if mid.size else np.zeros(1))
    n = max(len(c) for c in cols)
    P = np.column_stack([np.resize(c, n) for c in cols])
    V = P.astype(np.float32).astype(np.float64) if dtype == "float32" else P
    bins = np.column_stack([np.searchsorted(mid, V[:, f], side="right")
                            for f, mid in enumerate(inner)])
    if est.encode == "ordinal":
        expected = bins.astype(np.float64)
    else:
        expected = np.zeros((n, sum(m.size + 1 for m in inner)))
        base = 0
        for f, mid in enumerate(inner):
            expected[np.arange(n), base + bins[:, f]] = 1.0
            base += mid.size + 1
    names = getattr(est, "feature_names_in_", None)
    if names is not None:
        import pandas as pd  # dump time only: the estimator was fitted on a DataFrame

        P = pd.DataFrame(P, columns=list(names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = est.transform(P)
    got = np.asarray(got.toarray() if hasattr(got, "toarray") else got, dtype=np.float64)
    if got.shape != expected.shape or not np.array_equal(got, expected):
        raise UnsupportedModelError(
            "KBinsDiscretizer: this scikit-learn version's transform bins values at the bin "
            "edges differently from searchsorted(bin_edges_[f][1:-1], x, side='right'), the "
            "rule that is stored; supported: scikit-learn releases that bin by that rule")


@register("KBinsDiscretizer", kind="transformer")
def kbins_discretizer(est, ctx, x):
    out, dtype = _kbins(est, ctx, x)
    if dtype == "float32":
        # scikit-learn hands the next step float32 values, which it may compute with in
        # float32; the graph's intermediate values are the caller's float type or float64.
        raise UnsupportedModelError(
            "KBinsDiscretizer(dtype=np.float32) is supported as the model or the last step of "
            "a pipeline only (the next step would compute on float32 values); supported "
            "before other steps: dtype=None or np.float64")
    return out


@register("KBinsDiscretizer", kind="predictor")
def kbins_discretizer_last(est, ctx, x):
    out, dtype = _kbins(est, ctx, x)
    return Head({"transform": (out, False)}, "transformer",
                dtypes={"transform": "float32"} if dtype == "float32" else None)


# -- PolynomialFeatures -----------------------------------------------------------------------

@register("PolynomialFeatures", kind="transformer")
def polynomial_features(est, ctx, x):
    powers = np.asarray(est.powers_)
    n_features = int(est.n_features_in_)
    if powers.ndim != 2 or powers.shape[1] != n_features or powers.shape[0] < 1 or \
            powers.dtype.kind not in "iu" or np.any(powers < 0):
        raise UnsupportedModelError("PolynomialFeatures.powers_ is not a non-negative integer "
                                    "matrix of one row per output and one column per feature")
    if powers.shape[0] != int(est.n_output_features_):
        raise UnsupportedModelError("PolynomialFeatures.powers_ disagrees with "
                                    "n_output_features_")
    ctx.refuses_nan(est)
    counts = powers.sum(axis=1).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    # each row's factors in increasing column order (x[i1] * (x[i2] * ...)): np.repeat over
    # the flattened rows keeps row-major order
    cols = np.tile(np.arange(n_features, dtype=np.int64), powers.shape[0])
    factors = np.repeat(cols, powers.reshape(-1).astype(np.int64))
    g = ctx.graph
    return g.add("Monomials", [x], offsets=g.tensor(offsets, "int64"),
                 factors=g.tensor(factors.astype(np.int64), "int64"))


# -- SplineTransformer ------------------------------------------------------------------------

_EXTRAPOLATIONS = ("error", "constant", "linear", "continue", "periodic")


@register("SplineTransformer", kind="transformer")
def spline_transformer(est, ctx, x):
    extrapolation = est.extrapolation
    if extrapolation not in _EXTRAPOLATIONS:
        raise UnsupportedModelError(
            f"SplineTransformer(extrapolation={extrapolation!r}) is not supported")
    handle_missing = getattr(est, "handle_missing", "error")
    if handle_missing not in ("error", "zeros"):
        raise UnsupportedModelError(
            f"SplineTransformer(handle_missing={handle_missing!r}) is not supported")
    degree = int(est.degree)
    splines = list(est.bsplines_)
    n_features = int(est.n_features_in_)
    if len(splines) != n_features:
        raise UnsupportedModelError("SplineTransformer.bsplines_ does not have one spline per "
                                    "feature")
    if degree == 0 and extrapolation == "constant":
        raise UnsupportedModelError(
            "SplineTransformer(degree=0, extrapolation='constant') is not supported: "
            "scikit-learn's transform raises on any value above the last knot")
    knots = np.stack([as_float64(s.t, "SplineTransformer.bsplines_[].t") for s in splines])
    if any(int(s.k) != degree for s in splines):
        raise UnsupportedModelError("SplineTransformer.bsplines_ disagree with degree")
    nt = knots.shape[1]
    n_coef = nt - degree - 1
    n_splines = n_coef - degree if extrapolation == "periodic" else n_coef
    eye = np.eye(n_splines)
    expected = np.concatenate([eye, eye[:degree]]) if extrapolation == "periodic" else eye
    for s in splines:
        c = np.asarray(s.c)
        if c.shape != expected.shape or not np.array_equal(c, expected):
            raise UnsupportedModelError(
                "SplineTransformer.bsplines_ coefficients are not the basis matrix "
                "SplineTransformer fits")
    if np.any(np.diff(knots, axis=1) < 0):
        raise UnsupportedModelError("SplineTransformer knots are not sorted")
    boundary = limits = ends = None
    if extrapolation in ("constant", "linear"):
        boundary, limits, ends = _boundary(splines, degree, n_splines, extrapolation)
    if handle_missing == "zeros":
        ctx.accepts_inf = True  # scikit-learn checks no finiteness then
        ctx.nan_possible = False  # NaN becomes zeros: the next steps never see it
    else:
        ctx.refuses_nan(est)
    g = ctx.graph
    return g.add(
        "BSplineBasis", [x], knots=g.tensor(knots, "float64"), degree=degree,
        extrapolation=extrapolation, include_bias=bool(est.include_bias),
        missing_zeros=handle_missing == "zeros",
        boundary=None if boundary is None else g.tensor(boundary, "float64"),
        limits=None if limits is None else g.tensor(limits, "float64"),
        ends=None if ends is None else g.tensor(ends, "int64"),
        # sparse output: scipy's design matrix, float64 whatever X's dtype
        float64=True if getattr(est, "sparse_output", False) else None,
    )


def _boundary(splines, degree, n_splines, extrapolation):
    """Per feature: the bases and their slopes at the ends of the range evaluated as splines,
    that range, and how many end bases are continued beyond it, as scikit-learn's transform
    computes them. Its loop over the features raises the degree it uses by one when it is at
    most 1 under "linear" extrapolation, and keeps the raised value for the next features
    (where it also picks the range's knots): reproduced here feature by feature."""
    rows, limits, ends = [], [], []
    deg = degree
    for s in splines:
        xmin, xmax = s.t[deg], s.t[-deg - 1]
        rows.append(np.stack([s(xmin), s(xmax), s(xmin, nu=1), s(xmax, nu=1)]))
        limits.append([xmin, xmax])
        if extrapolation == "linear" and deg <= 1:
            deg += 1
        ends.append(deg)
        if deg > n_splines:
            raise UnsupportedModelError(
                f"SplineTransformer(degree={degree}, extrapolation={extrapolation!r}) with "
                f"{n_splines} basis function(s) per feature is not supported: scikit-learn "
                "extrapolates more end bases than there are")
    return (as_float64(np.stack(rows), "SplineTransformer boundary values"),
            as_float64(np.asarray(limits), "SplineTransformer limits"),
            np.asarray(ends, np.int64))
