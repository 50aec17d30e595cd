"""Hostile graphs for the feature-expansion ops (Digitize, Monomials, BSplineBasis): every
attribute and index the kernels follow is validated at load (FormatError), never trusted. A
valid graph is built through ir.Graph, then its tensors or attributes are replaced."""

import math

import numpy as np
import pytest

from mle_runtime import FormatError, _native
from mle_runtime.format import writer
from mle_runtime.ir import Graph

NAN = math.nan
INF = math.inf


def load(g):
    return _native.load_buffer(writer.encode({}, g, hash_key="content_hash"))


def digitize(offsets=(0, 2, 3), edges=(0.0, 1.0, 5.0), encode="ordinal", n=2, **extra):
    g = Graph("KBinsDiscretizer", n)
    g.allow_nan = g.allow_inf = True
    v = g.add("Digitize", ["X"], offsets=g.tensor(np.array(offsets, np.int64), "int64"),
              edges=g.tensor(np.array(edges, np.float64), "float64"), encode=encode, **extra)
    g.output("transform", v)
    return g


def monomials(offsets=(0, 0, 1, 3), factors=(1, 0, 1), n=2):
    g = Graph("PolynomialFeatures", n)
    v = g.add("Monomials", ["X"], offsets=g.tensor(np.array(offsets, np.int64), "int64"),
              factors=g.tensor(np.array(factors, np.int64), "int64"))
    g.output("transform", v)
    return g


KNOTS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)  # degree 2: 4 bases, range [-1, 1]


def bspline(knots=(KNOTS,), degree=2, extrapolation="continue", include_bias=True,
            missing_zeros=False, boundary=None, limits=None, ends=None, n=1, **extra):
    g = Graph("SplineTransformer", n)
    g.allow_nan = g.allow_inf = True  # the kernel itself sees NaN and infinity
    t = np.array(knots, np.float64)
    attrs = dict(knots=g.tensor(t, "float64"), degree=degree, extrapolation=extrapolation,
                 include_bias=include_bias, missing_zeros=missing_zeros, **extra)
    if boundary is not None:
        attrs["boundary"] = g.tensor(np.array(boundary, np.float64), "float64")
    if limits is not None:
        attrs["limits"] = g.tensor(np.array(limits, np.float64), "float64")
    if ends is not None:
        attrs["ends"] = g.tensor(np.array(ends, np.int64), "int64")
    v = g.add("BSplineBasis", ["X"], **attrs)
    g.output("transform", v)
    return g


def test_valid_graphs_compute():
    m = load(digitize())
    X = np.array([[-1.0, 5.0], [0.0, 4.9], [1.0, 7.0], [0.5, -0.0]])
    np.testing.assert_array_equal(m.run(X, 0, 1), [[0, 1], [1, 0], [2, 1], [1, 0]])
    m = load(digitize(encode="onehot"))
    np.testing.assert_array_equal(m.run(X[:2], 0, 1), [[1, 0, 0, 0, 1], [0, 1, 0, 1, 0]])
    m = load(monomials())
    out = m.run(np.array([[2.0, 3.0]]), 0, 1)
    np.testing.assert_array_equal(out, [[1.0, 3.0, 6.0]])
    m = load(bspline())
    out = m.run(np.array([[0.0], [5.0]]), 0, 1)
    assert out.shape == (2, 4) and np.allclose(out[0].sum(), 1.0)


def test_digitize_float32_rounding_refuses_overflow():
    m = load(digitize(round_float32=True))
    with pytest.raises(ValueError, match="too large for dtype"):
        m.run(np.array([[0.0, 1e39]]), 0, 1)


def test_digitize_float32_rounding_matches_numpy_at_the_range_end():
    """Just below the midpoint between float32's largest value and 2**128 a value rounds to
    the largest float32 (accepted, last bin); from the midpoint on it is infinity (refused)."""
    below = float.fromhex("0x1.fffffefffffffp127")
    mid = float.fromhex("0x1.ffffffp127")
    assert np.isfinite(np.float64(below).astype(np.float32))
    with np.errstate(over="ignore"):
        assert np.isinf(np.float64(mid).astype(np.float32))
    m = load(digitize(round_float32=True))
    assert m.run(np.array([[below, -below]]), 0, 1).tolist() == [[2, 0]]
    for v in (mid, -mid):
        with pytest.raises(ValueError, match="too large for dtype"):
            m.run(np.array([[0.0, v]]), 0, 1)


def test_error_extrapolation_refuses_outside_the_knots():
    m = load(bspline(extrapolation="error"))
    m.run(np.array([[-1.0], [1.0]]), 0, 1)
    for v in (-1.5, 1.0000001, NAN):
        with pytest.raises(ValueError, match="beyond the limits of the knots"):
            m.run(np.array([[0.0], [v]]), 0, 1)


@pytest.mark.parametrize("kw, message", [
    (dict(offsets=(1, 2, 3)), r"offsets\[0\] must be 0"),
    (dict(offsets=(0, 3, 2)), "non-decreasing"),
    (dict(offsets=(0, 2, 4)), "end at the length"),
    (dict(offsets=(0, 2)), "offsets"),
    (dict(offsets=(0, 2, 3, 3)), "offsets"),
    (dict(edges=(1.0, 0.0, 5.0)), "finite and sorted"),
    (dict(edges=(0.0, NAN, 5.0)), "finite and sorted"),
    (dict(edges=(0.0, 1.0, INF)), "finite and sorted"),
    (dict(offsets=(0, 0, 0), edges=()), None),  # valid: one bin per feature
])
def test_hostile_digitize(kw, message):
    if message is None:
        m = load(digitize(**kw))
        np.testing.assert_array_equal(m.run(np.array([[3.0, -3.0]]), 0, 1), [[0, 0]])
        return
    with pytest.raises(FormatError, match=message):
        load(digitize(**kw))


@pytest.mark.parametrize("kw, message", [
    (dict(offsets=(0,), factors=()), "at least 2 entries"),
    (dict(offsets=(1, 1, 2, 3)), r"offsets\[0\] must be 0"),
    (dict(offsets=(0, 2, 1, 3)), "non-decreasing"),
    (dict(offsets=(0, 0, 1, 4)), "end at the length"),
    (dict(factors=(1, 1, 0)), "non-decreasing order"),
    (dict(factors=(2, 0, 1)), "input columns"),
    (dict(factors=(-1, 0, 1)), "input columns"),
    (dict(factors=(1, 0, 1 << 40)), "input columns"),
])
def test_hostile_monomials(kw, message):
    with pytest.raises(FormatError, match=message):
        load(monomials(**kw))


GOOD_BOUNDARY = np.zeros((1, 4, 4))


@pytest.mark.parametrize("kw, message", [
    (dict(degree=-1), "degree must be an integer"),
    (dict(degree=2.5), "degree must be an integer"),
    (dict(degree=65), "degree must be an integer"),
    (dict(degree=3), "at least 2 \\* degree \\+ 2"),
    (dict(degree=3, extrapolation="periodic"), "at least 2 \\* degree \\+ 2"),
    (dict(knots=((0.0, 1.0, 2.0),), degree=1, extrapolation="periodic"), "at least"),
    (dict(knots=(KNOTS, KNOTS)), "knots"),
    (dict(knots=((-3.0, -2.0, 1.0, 0.0, 1.0, 2.0, 3.0),)), "finite and sorted"),
    (dict(knots=((-3.0, -2.0, NAN, 0.0, 1.0, 2.0, 3.0),)), "finite and sorted"),
    (dict(knots=((-INF, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0),)), "finite and sorted"),
    (dict(knots=((0.0, 1.0, 2.0, 3.0, 4.0, 5.0),), degree=2, include_bias=False), None),
    (dict(extrapolation="linear"), "boundary"),
    (dict(extrapolation="constant", boundary=GOOD_BOUNDARY, limits=[[-1.0, 1.0]]), "ends"),
    (dict(extrapolation="constant", boundary=GOOD_BOUNDARY, ends=[2]), "limits"),
    (dict(extrapolation="linear", boundary=np.zeros((1, 4, 3)), limits=[[-1.0, 1.0]],
          ends=[2]), "boundary"),
    (dict(extrapolation="linear", boundary=np.full((1, 4, 4), NAN), limits=[[-1.0, 1.0]],
          ends=[2]), "finite"),
    (dict(extrapolation="linear", boundary=GOOD_BOUNDARY, limits=[[-2.0, 1.0]], ends=[2]),
     "limits must lie within"),
    (dict(extrapolation="linear", boundary=GOOD_BOUNDARY, limits=[[1.0, -1.0]], ends=[2]),
     "limits must lie within"),
    (dict(extrapolation="linear", boundary=GOOD_BOUNDARY, limits=[[NAN, 1.0]], ends=[2]),
     "limits must lie within"),
    (dict(extrapolation="linear", boundary=GOOD_BOUNDARY, limits=[[-1.0, 1.0]], ends=[5]),
     "ends must be between"),
    (dict(extrapolation="linear", boundary=GOOD_BOUNDARY, limits=[[-1.0, 1.0]], ends=[-1]),
     "ends must be between"),
    (dict(extrapolation="continue", boundary=GOOD_BOUNDARY), "only for constant and linear"),
    (dict(extrapolation="periodic", ends=[1]), "only for constant and linear"),
])
def test_hostile_bspline(kw, message):
    if message is None:
        m = load(bspline(**kw))
        assert m.run(np.array([[2.5]]), 0, 1).shape == (1, 2)
        return
    with pytest.raises(FormatError, match=message):
        load(bspline(**kw))


def test_one_basis_without_bias_has_no_output():
    # knots of degree 0: 1 basis; include_bias=False leaves none
    with pytest.raises(FormatError, match="no columns"):
        load(bspline(knots=((0.0, 1.0),), degree=0, include_bias=False))


def test_extreme_values_never_read_outside():
    """Infinities, NaN and huge values go through the interval search and the recursion
    without reading outside the knots (the results are whatever the arithmetic gives)."""
    X = np.array([[INF], [-INF], [NAN], [1e308], [-1e308], [0.0]])
    for ex in ("continue", "periodic"):
        with np.errstate(all="ignore"):
            out = load(bspline(extrapolation=ex, missing_zeros=True)).run(X, 0, 1)
        assert out.shape == (6, 4 if ex == "continue" else 2)
        np.testing.assert_array_equal(out[2], 0.0)  # NaN -> zeros with missing_zeros
    m = load(digitize(n=2))
    assert m.run(np.array([[INF, -INF]]), 0, 1).tolist() == [[2, 0]]
