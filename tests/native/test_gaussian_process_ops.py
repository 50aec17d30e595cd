"""The Gaussian-process ops (docs/FORMAT.md 11.16): GPKernel evaluates scikit-learn's kernels
(a postfix program) against stored rows or on the diagonal, GPVariance solves the triangular
system per row, GPLaplaceProba is the binary Laplace approximation; plan building refuses every
malformed node with a FormatError (a hostile file never crashes), and the output option
flat_blocks is checked against the splits."""

import numpy as np
import pytest
from sklearn.gaussian_process.kernels import (RBF, ConstantKernel, DotProduct, ExpSineSquared,
                                              Matern, RationalQuadratic, WhiteKernel)

from mle_runtime.exporters.sklearn.gaussian_process import kernel_program
from mle_runtime.ir import Graph

from native.test_plan_validation import refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json, load_graph as _load


def kernel_graph(program, params, rows=None, c=3, diag=False):
    g = Graph("GaussianProcessRegressor", c)
    attrs = dict(program=program, params=g.tensor(np.asarray(params, float), "float64"))
    if rows is not None:
        attrs["rows"] = g.tensor(np.asarray(rows, float), "float64")
    if diag:
        attrs["diag"] = True
    g.output("predict", g.add("GPKernel", ["X"], **attrs))
    g.estimator_type = "regressor"
    return g


KERNELS = [
    RBF(0.7), RBF([0.5, 1.0, 2.0]), Matern(1.1, nu=0.5), Matern([1.0, 2.0, 0.5], nu=1.5),
    Matern(0.9, nu=2.5), Matern(1.3, nu=np.inf), RationalQuadratic(0.8, 1.7),
    ExpSineSquared(1.2, 3.0), DotProduct(0.4), ConstantKernel(2.5) * RBF(1.0) + WhiteKernel(0.3),
    (DotProduct(1.0) + ConstantKernel(0.2)) ** 2, RBF(1.0) ** 0.5 * Matern(2.0, nu=1.5),
]


@pytest.mark.parametrize("kernel", KERNELS, ids=str)
def test_kernels_are_scikit_learns(kernel, tmp_path):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(7, 3))
    X = np.vstack([rng.normal(size=(30, 3)), rows[:2]])  # distance 0 included
    program, params = kernel_program("test", kernel, 3)
    model = _load(tmp_path, kernel_graph(program, params, rows))
    np.testing.assert_allclose(model.predict(X), kernel(X, rows), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(model.predict(X.astype(np.float32)),
                               kernel(X.astype(np.float32).astype(float), rows), rtol=1e-13,
                               atol=1e-15)
    diag = _load(tmp_path, kernel_graph(program, params, diag=True))
    np.testing.assert_allclose(diag.predict(X)[:, 0], kernel.diag(X), rtol=1e-14)


def test_variance_and_laplace(tmp_path):
    rng = np.random.default_rng(1)
    m = 6
    a = rng.normal(size=(m, m))
    lower = np.linalg.cholesky(a @ a.T + m * np.eye(m))
    g = Graph("GaussianProcessRegressor", m + 1)
    k = g.add("Columns", ["X"], columns=g.tensor(np.arange(m), "int64"))
    d = g.add("Columns", ["X"], columns=g.tensor(np.array([m]), "int64"))
    w = rng.uniform(0.1, 0.5, size=m)
    var = g.add("GPVariance", [k, d], L=g.tensor(lower, "float64"), weight=g.tensor(w, "float64"),
                output="variance")
    sd = g.add("GPVariance", [k, d], L=g.tensor(lower, "float64"), output="std",
               scale=g.tensor(np.array([1.0, 4.0]), "float64"))
    lam, coef = np.array([0.41, 0.4]), np.array([1.5, -0.5])
    f0 = g.add("Columns", ["X"], columns=g.tensor(np.array([0]), "int64"))
    p = g.add("GPLaplaceProba", [f0, var], lambdas=g.tensor(lam, "float64"),
              coefs=g.tensor(coef, "float64"), offset=0.25)
    g.output("predict", g.add("Concat", [var, sd, p]))
    g.estimator_type = "regressor"
    model = _load(tmp_path, g)
    X = np.column_stack([rng.normal(size=(20, m)), rng.uniform(5, 10, size=20)])
    out = model.predict(X)
    v = np.linalg.solve(lower, (w[:, None] * X[:, :m].T))
    ref_var = X[:, m] - (v * v).sum(0)
    np.testing.assert_allclose(out[:, 0], ref_var, rtol=1e-12)
    u = np.linalg.solve(lower, X[:, :m].T)
    plain = np.maximum(X[:, m] - (u * u).sum(0), 0)
    np.testing.assert_allclose(out[:, 1:3], np.sqrt(np.outer(plain, [1.0, 4.0])), rtol=1e-12)
    from scipy.special import erf

    f, s = X[:, 0], ref_var
    al = 1 / (2 * s)
    integ = (np.sqrt(np.pi / al) * erf(lam[:, None] * f * np.sqrt(al / (al + lam[:, None] ** 2)))
             / (2 * np.sqrt(s * 2 * np.pi)))
    pi = (coef[:, None] * integ).sum(0) + 0.25
    np.testing.assert_allclose(out[:, 3:], np.column_stack([1 - pi, pi]), rtol=1e-12)


def _node(graph, op):
    return [n for n in graph["nodes"] if n[0] == op][0]


ROWS = np.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("program, params, fragment", [
    ("RBF", [1.0, 1.0], "reads past params"),
    ("RBF", [1.0, 1.0, 1.0, 2.0], "every entry of params"),
    ("RBF", [1.0, 0.0, 1.0], "positive"),
    ("XYZ", [], "unknown token"),
    ("+", [], "needs 2 kernels"),
    ("^", [2.0], "needs 1 kernels"),
    ("C C", [1.0, 2.0], "exactly one kernel"),
    ("", [], "exactly one kernel"),
    ("RQ", [1.0, -1.0], "RQ"),
    ("ESS", [1.0, 0.0], "ESS"),
    ("C", [np.nan], "finite"),
    (" ".join(["C"] + ["C *"] * 2100), [1.0] * 2101, "4096"),
])
def test_kernel_refuses_bad_programs(refuse, program, params, fragment):
    g = kernel_graph(program, np.array(params, dtype=float), ROWS)
    graph, arrays = _json(g)
    refuse(graph, arrays, "(GPKernel)", fragment)


def test_kernel_refuses_bad_rows(refuse):
    graph, arrays = _json(kernel_graph("C", [1.0], np.ones((2, 4))))
    refuse(graph, arrays, "(GPKernel)", "rows")
    graph, arrays = _json(kernel_graph("C", [1.0]))
    refuse(graph, arrays, "(GPKernel)", "rows")
    graph, arrays = _json(kernel_graph("C", [1.0], ROWS, diag=True))
    refuse(graph, arrays, "(GPKernel)", "diag")
    bad = ROWS.copy()
    bad[0, 0] = np.inf
    graph, arrays = _json(kernel_graph("C", [1.0], bad))
    refuse(graph, arrays, "(GPKernel)", "finite")


def variance_graph(m=3, lower=None, output="std", scale=(1.0,), weight=None, dcols=1):
    g = Graph("GaussianProcessRegressor", m + dcols)
    k = g.add("Columns", ["X"], columns=g.tensor(np.arange(m), "int64"))
    d = g.add("Columns", ["X"], columns=g.tensor(np.arange(m, m + dcols), "int64"))
    attrs = dict(L=g.tensor(np.eye(m) if lower is None else lower, "float64"), output=output)
    if scale is not None:
        attrs["scale"] = g.tensor(np.asarray(scale, float), "float64")
    if weight is not None:
        attrs["weight"] = g.tensor(np.asarray(weight, float), "float64")
    g.output("predict", g.add("GPVariance", [k, d], **attrs))
    g.estimator_type = "regressor"
    return g


@pytest.mark.parametrize("kw, fragment", [
    (dict(lower=np.eye(4)), "L"),
    (dict(lower=np.diag([1.0, 0.0, 1.0])), "zero on its diagonal"),
    (dict(lower=np.array([[1.0, 0, 0], [np.nan, 1, 0], [0, 0, 1]])), "finite"),
    (dict(scale=None), "scale"),
    (dict(scale=[-1.0]), "non-negative"),
    (dict(output="variance"), "no scale"),
    (dict(weight=[1.0, 2.0]), "weight"),
    (dict(dcols=2), "one column"),
])
def test_variance_refuses_malformed_nodes(refuse, kw, fragment):
    graph, arrays = _json(variance_graph(**kw))
    refuse(graph, arrays, "(GPVariance)", fragment)


def test_laplace_refuses_malformed_nodes(refuse):
    def graph_of(lam, coef, offset=0.0, width=1):
        g = Graph("GaussianProcessClassifier", 2)
        a = g.add("Columns", ["X"], columns=g.tensor(np.arange(width), "int64"))
        b = g.add("Columns", ["X"], columns=g.tensor(np.array([1]), "int64"))
        g.output("predict_proba", g.add("GPLaplaceProba", [a, b],
                                        lambdas=g.tensor(np.asarray(lam, float), "float64"),
                                        coefs=g.tensor(np.asarray(coef, float), "float64"),
                                        offset=offset))
        g.estimator_type = "classifier"
        return _json(g)

    refuse(*graph_of([0.4, 0.3], [1.0]), "(GPLaplaceProba)", "coefs")
    refuse(*graph_of([], []), "(GPLaplaceProba)", "empty")
    refuse(*graph_of([np.inf], [1.0]), "(GPLaplaceProba)", "finite")
    refuse(*graph_of([0.4], [1.0], width=2), "(GPLaplaceProba)", "one column")


def test_flat_blocks_rule(refuse, tmp_path):
    def graph_of(splits, flat):
        g = Graph("GaussianProcessRegressor", 3)
        g.output("predict", "X", splits=splits, flat_blocks=flat,
                 block_dtypes=["float64"] * len(splits))
        g.estimator_type = "regressor"
        return g

    model = _load(tmp_path, graph_of([1, 2], [True, False]))
    X = np.arange(6.0).reshape(2, 3)
    a, b = model.predict(X)
    assert a.shape == (2,) and b.shape == (2, 2)
    np.testing.assert_array_equal(a, X[:, 0])
    refuse(*_json(graph_of([1, 2], [True, True])), "flat_blocks", "one")
    refuse(*_json(graph_of([1, 2], [True])), "flat_blocks", "one flag per block")
