"""The distribution ops (docs/FORMAT.md 11.5): QuantileTransform's inverse normal CDF agrees
with scipy.special.ndtri on the whole of (0, 1), PowerTransform with Box-Cox refuses
non-positive input, MathFn computes each of its numpy functions; plan building refuses every
malformed node with a FormatError (a hostile file never crashes)."""

import numpy as np
import pytest
from scipy import special

import mle_runtime as mle
from mle_runtime import _native
from mle_runtime.ir import Graph

from native.test_plan_validation import refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json, load_graph as _load

Q = np.array([[0.0, -2.0], [1.0, -1.0], [1.0, 0.5], [3.0, 4.0]])
R = np.linspace(0.0, 1.0, 4)


def quantile_graph(q=Q, refs=R, dist="normal", clip=(-5.2, 5.2)):
    g = Graph("QuantileTransformer", q.shape[1])
    g.allow_nan = True
    attrs = {"clip_min": clip[0], "clip_max": clip[1]} if dist == "normal" else {}
    g.output("transform", g.add("QuantileTransform", ["X"], quantiles=g.tensor(q, "float64"),
                                references=g.tensor(refs, "float64"),
                                output_distribution=dist, **attrs))
    g.estimator_type = "transformer"
    return g


def power_graph(lambdas=(0.5, -1.0), method="box-cox"):
    g = Graph("PowerTransformer", len(lambdas))
    g.allow_nan = True
    g.output("transform", g.add("PowerTransform", ["X"],
                                lambdas=g.tensor(np.asarray(lambdas, float), "float64"),
                                method=method))
    g.estimator_type = "transformer"
    return g


def _probabilities():
    rng = np.random.default_rng(0)
    p = np.concatenate([
        rng.uniform(0, 1, 20000),
        10.0 ** rng.uniform(-307, 0, 20000),             # lower tail
        1 - 10.0 ** rng.uniform(-16, 0, 5000),            # upper tail
        0.5 + rng.uniform(-1e-6, 1e-6, 2000),              # the centre
        10.0 ** rng.uniform(-323.5, -290, 2000),          # far tail, subnormals included
        [5e-324, 2.2250738585072014e-308, 1e-290, 0.02425, 0.25, 0.5, np.nextafter(0.5, 0),
         np.nextafter(0.5, 1), 1e-7 - np.spacing(1), 1 - (1e-7 - np.spacing(1)),
         np.nextafter(1.0, 0.0)]])
    return np.unique(p[(p > 0) & (p < 1)])


def test_inverse_normal_cdf_matches_scipy(tmp_path):
    # Quantiles equal to the references, and the probabilities themselves as input: both
    # interpolations return the input exactly, so the output is ndtri(p), clipped wide.
    p = _probabilities()
    knots = np.concatenate([[-1.0], p, [2.0]])
    g = quantile_graph(knots.reshape(-1, 1), knots, clip=(-1e300, 1e300))
    got = _load(tmp_path, g).transform(p.reshape(-1, 1)).ravel()
    expected = special.ndtri(p)
    assert got[p == 0.5] == 0.0
    rel = np.abs(got - expected) / np.maximum(np.abs(expected), 1e-300)
    assert rel.max() < 1e-15, (rel.max(), p[np.argmax(rel)])
    # the ends, NaN, and values in the uniform output
    X = np.array([[0.0], [1.0], [-0.5], [np.nan]])
    out = _load(tmp_path, quantile_graph(np.array([[0.0], [1.0]]), np.array([0.0, 1.0]),
                                         clip=(-1e300, 1e300))).transform(X).ravel()
    assert out[0] == -1e300 and out[1] == 1e300 and np.isnan(out[3])


def test_box_cox_refuses_non_positive_input_and_passes_nan(tmp_path):
    model = _load(tmp_path, power_graph())
    X = np.array([[2.0, 3.0], [np.nan, 0.5]])
    got = model.transform(X)
    np.testing.assert_array_equal(got[0], special.boxcox(X[0], [0.5, -1.0]))
    assert np.isnan(got[1, 0])
    for bad in (0.0, -1.0, -0.0):
        with pytest.raises(mle.InputError, match="strictly positive"):
            model.transform(np.array([[2.0, 3.0]] * 5 + [[bad, 1.0]]))


@pytest.mark.parametrize("fn", ["expm1", "log1p", "sqrt", "square", "exp", "log", "exp2",
                                "log2", "log10", "cbrt", "abs", "negative", "reciprocal",
                                "sign", "sin", "cos", "tanh", "sinh", "cosh", "arcsinh",
                                "arctan"])
def test_math_fn_is_numpys_function(tmp_path, fn):
    g = Graph("FunctionTransformer", 3)
    g.allow_nan = True
    g.allow_inf = True
    g.output("transform", g.add("MathFn", ["X"], fn=fn))
    g.estimator_type = "transformer"
    model = _load(tmp_path, g)
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.uniform(-3, 3, size=(300, 3)), [[0.0, -0.0, np.nan]],
                        [[np.inf, -np.inf, 1.0]]])
    with np.errstate(all="ignore"):
        expected = getattr(np, fn)(X)
        got = model.transform(X)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert model.transform(X.astype(np.float32)).dtype == np.float32


def _node(graph, op):
    return [n for n in graph["nodes"] if n[0] == op][0]


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr, a: a.__setitem__(0, np.array([[0.0, 1.0], [np.nan, 2.0], [3, 3], [4, 4]])),
     "finite"),
    (lambda gr, a: a.__setitem__(0, np.array([[0.0, 1.0], [-1.0, 2.0], [3, 3], [4, 4]])),
     "column 0 must be finite and non-decreasing"),
    (lambda gr, a: a.__setitem__(0, np.zeros((0, 2))), "at least one row"),
    (lambda gr, a: a.__setitem__(0, np.zeros((4, 3))), "quantiles"),
    (lambda gr, a: a.__setitem__(0, np.zeros(8)), "quantiles"),
    (lambda gr, a: a.__setitem__(0, np.zeros((4, 2), np.int64)), "quantiles"),
    (lambda gr, a: a.__setitem__(1, np.zeros(3)), "references"),
    (lambda gr, a: a.__setitem__(1, np.array([0.0, np.inf, 1.0, 1.0])), "'references'"),
    (lambda gr, a: _node(gr, "QuantileTransform")[3].pop("clip_min"), "clip_min"),
    (lambda gr, a: _node(gr, "QuantileTransform")[3].update(clip_min=9.0), "clip_min <="),
    (lambda gr, a: _node(gr, "QuantileTransform")[3].update(clip_max="5"), "clip_max"),
    (lambda gr, a: _node(gr, "QuantileTransform")[3].update(output_distribution="uniform"),
     "normal output only"),
    (lambda gr, a: _node(gr, "QuantileTransform")[3].update(output_distribution="lognormal"),
     "output_distribution"),
    (lambda gr, a: _node(gr, "QuantileTransform")[3].update(quantiles=99), "quantiles"),
    (lambda gr, a: _node(gr, "QuantileTransform")[3].update(references=None), "references"),
])
def test_quantile_transform_refuses_malformed_nodes(refuse, edit, fragment):
    graph, arrays = _json(quantile_graph())
    edit(graph, arrays)
    refuse(graph, arrays, "(QuantileTransform)", fragment)


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr, a: a.__setitem__(0, np.array([0.5, np.nan])), "'lambdas' entry 1 is not finite"),
    (lambda gr, a: a.__setitem__(0, np.array([0.5, 1.0, 2.0])), "lambdas"),
    (lambda gr, a: a.__setitem__(0, np.array([1, 2], np.int64)), "lambdas"),
    (lambda gr, a: _node(gr, "PowerTransform")[3].update(method="log"), "method"),
    (lambda gr, a: _node(gr, "PowerTransform")[3].pop("method"), "method"),
    (lambda gr, a: _node(gr, "PowerTransform")[3].update(lambdas=7), "lambdas"),
])
def test_power_transform_refuses_malformed_nodes(refuse, edit, fragment):
    graph, arrays = _json(power_graph())
    edit(graph, arrays)
    refuse(graph, arrays, "(PowerTransform)", fragment)


def test_math_fn_refuses_unknown_functions(refuse):
    g = Graph("FunctionTransformer", 2)
    g.allow_nan = True
    g.output("transform", g.add("MathFn", ["X"], fn="sqrt"))
    graph, arrays = _json(g)
    _node(graph, "MathFn")[3]["fn"] = "system"
    refuse(graph, arrays, "(MathFn)", "fn")


def test_vocabulary():
    ops = dict(_native.ops())
    assert ops["QuantileTransform"]["inputs"] == 1 and ops["PowerTransform"]["inputs"] == 1
    assert "arcsinh" in ops["MathFn"]["attrs"]["fn"]
