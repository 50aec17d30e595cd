"""The sparse coding ops (docs/FORMAT.md 11.15): SparseEncode and RbmPseudoLikelihood on
hand-made graphs; plan building refuses every malformed node with a FormatError (a hostile
file never crashes), and a well-formed graph gives scikit-learn's sparse_encode."""

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime.ir import Graph

from native.test_plan_validation import encode, refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json


def _dictionary(k=3, d=4):
    rng = np.random.default_rng(0)
    D = rng.normal(size=(k, d))
    return D / np.linalg.norm(D, axis=1, keepdims=True)


def encode_graph(algo="omp", k=3, d=4, **extra):
    D = _dictionary(k, d)
    g = Graph("SparseCoder", d)
    attrs = {"algorithm": algo, "dictionary": g.tensor(D, "float64")}
    if algo != "threshold":
        attrs["gram"] = g.tensor(D @ D.T, "float64")
    if algo in ("omp", "lars"):
        attrs["n_nonzero_coefs"] = 2
    else:
        attrs["alpha"] = 0.1 if algo != "lasso_lars" else 0.1 / d
    if algo == "lasso_cd":
        attrs.update(max_iter=100, tol=1e-8)
    if algo == "lasso_lars":
        attrs.update(max_iter=100)
    attrs.update(extra)
    g.output("transform", g.add("SparseEncode", ["X"], **attrs))
    g.estimator_type = "transformer"
    return g


def rbm_graph(k=2, d=4, seed=0):
    rng = np.random.default_rng(1)
    g = Graph("BernoulliRBM", d)
    g.output("score_samples", g.add(
        "RbmPseudoLikelihood", ["X"], components=g.tensor(rng.normal(size=(k, d)), "float64"),
        intercept_hidden=g.tensor(rng.normal(size=k), "float64"),
        intercept_visible=g.tensor(rng.normal(size=d), "float64"), seed=seed), True)
    g.estimator_type = "transformer"
    return g


def _load(tmp_path, g):
    graph, arrays = _json(g)
    path = tmp_path / "m.mle"
    path.write_bytes(encode(graph, arrays, {"estimator_type": "transformer"}))
    return mle.load(path)


@pytest.mark.parametrize("algo", ["threshold", "omp", "lasso_cd", "lars", "lasso_lars"])
def test_sparse_encode_is_sklearns(tmp_path, algo):
    from sklearn.decomposition import sparse_encode

    model = _load(tmp_path, encode_graph(algo))
    X = np.random.default_rng(2).normal(size=(50, 4))
    reg = {"n_nonzero_coefs": 2} if algo in ("omp", "lars") else {"alpha": 0.1}
    expected = sparse_encode(X, _dictionary(), algorithm=algo, max_iter=100, **reg)
    np.testing.assert_allclose(model.transform(X), expected, rtol=1e-9, atol=1e-12)


def test_rbm_pseudo_likelihood_rows_in_order(tmp_path):
    model = _load(tmp_path, rbm_graph())
    X = (np.random.default_rng(3).random((300, 4)) > 0.5).astype(float)
    whole = model.score_samples(X)
    # a row's flipped feature is the draw at its position in the call
    np.testing.assert_array_equal(model.score_samples(X[:1]), whole[:1])
    np.testing.assert_array_equal(model.score_samples(X[:200]), whole[:200])
    np.testing.assert_array_equal(model.score_samples(X), whole)  # a fresh generator per call
    # threads take blocks out of order: each row still gets its own draw
    graph, arrays = _json(rbm_graph())
    path = tmp_path / "t.mle"
    path.write_bytes(encode(graph, arrays, {"estimator_type": "transformer"}))
    big = (np.random.default_rng(4).random((20000, 4)) > 0.5).astype(float)
    np.testing.assert_array_equal(mle.load(path, n_threads=4).score_samples(big),
                                  mle.load(path, n_threads=1).score_samples(big))
    from sklearn.neural_network import BernoulliRBM

    rbm = BernoulliRBM(n_components=2, random_state=0)
    rbm.components_, rbm.intercept_hidden_, rbm.intercept_visible_ = arrays
    rbm.n_features_in_ = 4
    np.testing.assert_allclose(mle.load(path, n_threads=4).score_samples(big),
                               rbm.score_samples(big), rtol=1e-12)


def _node(graph, op):
    return [n for n in graph["nodes"] if n[0] == op][0]


def _attrs(graph, op):
    return _node(graph, op)[3]


@pytest.mark.parametrize("algo, edit, fragment", [
    ("omp", lambda gr: _attrs(gr, "SparseEncode").update(algorithm="lar"), "algorithm"),
    ("lars", lambda gr: _attrs(gr, "SparseEncode").pop("n_nonzero_coefs"), "n_nonzero_coefs"),
    ("lars", lambda gr: _attrs(gr, "SparseEncode").update(positive=True), "positive"),
    ("lars", lambda gr: _attrs(gr, "SparseEncode").pop("gram"), "gram"),
    ("lasso_lars", lambda gr: _attrs(gr, "SparseEncode").pop("max_iter"), "max_iter"),
    ("lasso_lars", lambda gr: _attrs(gr, "SparseEncode").update(max_iter=-2), "max_iter"),
    ("lasso_lars", lambda gr: _attrs(gr, "SparseEncode").update(alpha=-0.5), "alpha"),
    ("omp", lambda gr: _attrs(gr, "SparseEncode").pop("gram"), "gram"),
    ("lasso_cd", lambda gr: _attrs(gr, "SparseEncode").pop("gram"), "gram"),
    ("omp", lambda gr: _attrs(gr, "SparseEncode").pop("n_nonzero_coefs"), "n_nonzero_coefs"),
    ("omp", lambda gr: _attrs(gr, "SparseEncode").update(n_nonzero_coefs=0), "n_nonzero_coefs"),
    ("omp", lambda gr: _attrs(gr, "SparseEncode").update(n_nonzero_coefs=4), "n_nonzero_coefs"),
    ("omp", lambda gr: _attrs(gr, "SparseEncode").update(n_nonzero_coefs=1.5),
     "n_nonzero_coefs"),
    ("omp", lambda gr: _attrs(gr, "SparseEncode").update(positive=True), "positive"),
    ("threshold", lambda gr: _attrs(gr, "SparseEncode").pop("alpha"), "alpha"),
    ("threshold", lambda gr: _attrs(gr, "SparseEncode").update(alpha=-1.0), "alpha"),
    ("lasso_cd", lambda gr: _attrs(gr, "SparseEncode").update(max_iter=-1), "max_iter"),
    ("lasso_cd", lambda gr: _attrs(gr, "SparseEncode").update(max_iter=2.0 ** 40), "max_iter"),
    ("lasso_cd", lambda gr: _attrs(gr, "SparseEncode").pop("tol"), "tol"),
    ("lasso_cd", lambda gr: _attrs(gr, "SparseEncode").update(tol=-1.0), "tol"),
    ("omp", lambda gr: _attrs(gr, "SparseEncode").update(dictionary=1), "dictionary"),
    ("omp", lambda gr: _attrs(gr, "SparseEncode").update(gram=0), "gram"),
    ("omp", lambda gr: _attrs(gr, "SparseEncode").update(dictionary=7), "dictionary"),
    ("omp", lambda gr: _attrs(gr, "SparseEncode").update(extra=1), "extra"),
    ("omp", lambda gr: _node(gr, "SparseEncode")[1].append("X"), "input"),
])
def test_sparse_encode_refuses_malformed_nodes(refuse, algo, edit, fragment):
    graph, arrays = _json(encode_graph(algo))
    edit(graph)
    refuse(graph, arrays, fragment)


def test_sparse_encode_refuses_non_finite_tensors(refuse):
    graph, arrays = _json(encode_graph("omp"))
    arrays[0] = arrays[0].copy()
    arrays[0][0, 0] = np.nan
    refuse(graph, arrays, "finite")
    graph, arrays = _json(encode_graph("lasso_cd"))
    arrays[1] = arrays[1].copy()
    arrays[1][1, 1] = np.inf
    refuse(graph, arrays, "finite")


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr: _attrs(gr, "RbmPseudoLikelihood").update(seed=-1), "seed"),
    (lambda gr: _attrs(gr, "RbmPseudoLikelihood").update(seed=2.0 ** 32), "seed"),
    (lambda gr: _attrs(gr, "RbmPseudoLikelihood").update(seed=0.5), "seed"),
    (lambda gr: _attrs(gr, "RbmPseudoLikelihood").pop("seed"), "seed"),
    (lambda gr: _attrs(gr, "RbmPseudoLikelihood").update(intercept_hidden=2), "intercept_hidden"),
    (lambda gr: _attrs(gr, "RbmPseudoLikelihood").update(intercept_visible=1),
     "intercept_visible"),
    (lambda gr: _attrs(gr, "RbmPseudoLikelihood").update(components=1), "components"),
    (lambda gr: _node(gr, "RbmPseudoLikelihood")[1].clear(), "input"),
])
def test_rbm_refuses_malformed_nodes(refuse, edit, fragment):
    graph, arrays = _json(rbm_graph())
    edit(graph)
    refuse(graph, arrays, fragment)
