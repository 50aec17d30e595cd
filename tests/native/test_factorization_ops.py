"""The factorization ops (docs/FORMAT.md 11.14): NMFTransform computes each call's rows as one
batch (beyond the executor's row blocks, on any thread count), LDATransform row by row with
scikit-learn's digamma; plan building refuses every malformed node with a FormatError (a
hostile file never crashes), and input errors are reported, not computed."""

import numpy as np
import pytest

from mle_runtime import _native
from mle_runtime.ir import Graph

from native.test_plan_validation import refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json, load_graph as _load

H = np.array([[1.0, 0.5, 0.0, 2.0], [0.25, 1.5, 1.0, 0.0]])


def nmf_graph(solver="mu", beta=2.0, order=None, max_iter=30, h_sum=True, tol=1e-4):
    g = Graph("NMF", H.shape[1])
    attrs = dict(components=g.tensor(H, "float64"), hht=g.tensor(H @ H.T, "float64"),
                 solver=solver, name="NMF", beta=beta, gamma=1.0, tol=tol, max_iter=max_iter,
                 l1=0.0, l2=0.0, nonnegative=True)
    if h_sum:
        attrs["h_sum"] = g.tensor(H.sum(axis=1), "float64")
    if order is not None:
        attrs["order"] = g.tensor(np.asarray(order, dtype=np.int64), "int64")
    g.output("transform", g.add("NMFTransform", ["X"], **attrs))
    g.estimator_type = "transformer"
    return g


def lda_graph(max_iter=20):
    g = Graph("LatentDirichletAllocation", H.shape[1])
    g.output("transform", g.add("LDATransform", ["X"],
                                exp_topic_word=g.tensor(H + 0.1, "float64"),
                                exp_doc_topic_init=g.tensor(np.full(2, 0.3), "float64"),
                                doc_topic_prior=0.5, tol=1e-3, max_iter=max_iter))
    g.estimator_type = "transformer"
    return g


def _attrs(graph, op):
    node = [n for n in graph["nodes"] if n[0] == op][0]
    return next(x for x in node if isinstance(x, dict))


def _node(graph, op):
    return [n for n in graph["nodes"] if n[0] == op][0]


def test_nmf_is_one_batch_beyond_the_row_blocks(tmp_path):
    model = _load(tmp_path, nmf_graph())
    rng = np.random.default_rng(0)
    X = rng.random((700, 4)) * 3
    whole = model.transform(X)
    # the mean of the whole batch starts every row: not the same as 128-row pieces
    pieces = np.vstack([model.transform(X[i:i + 128]) for i in range(0, 700, 128)])
    assert not np.array_equal(whole, pieces)
    for threads in (1, 2, 4):
        np.testing.assert_array_equal(model.transform(X, n_threads=threads), whole)


def test_nmf_input_errors(tmp_path):
    model = _load(tmp_path, nmf_graph())
    X = np.ones((3, 4))
    with pytest.raises(ValueError, match="float64"):
        model.transform(X.astype(np.float32))
    X[1, 2] = -1.0
    with pytest.raises(ValueError, match="Negative values in data passed to NMF"):
        model.transform(X)
    model = _load(tmp_path, nmf_graph(beta=0.0, h_sum=False))
    with pytest.raises(ValueError, match="beta_loss <= 0"):
        model.transform(np.zeros((2, 4)))
    assert model.transform(np.ones((2, 4))).shape == (2, 2)


def test_nmf_cd_with_an_order(tmp_path):
    order = [[1, 0]] * 5
    model = _load(tmp_path, nmf_graph("cd", order=order, max_iter=5))
    out = model.transform(np.random.default_rng(1).random((9, 4)))
    assert out.shape == (9, 2) and np.all(out >= 0)


def test_lda_rows_are_independent_and_refuse_negatives(tmp_path):
    model = _load(tmp_path, lda_graph())
    X = np.random.default_rng(2).integers(0, 5, size=(300, 4)).astype(np.float64)
    X[0] = 0
    whole = model.transform(X)
    np.testing.assert_allclose(whole.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(np.vstack([model.transform(X[i:i + 1]) for i in (0, 7, 299)]),
                                  whole[[0, 7, 299]])
    np.testing.assert_array_equal(model.transform(X.astype(np.float32)), whole)
    X[5, 1] = -2
    with pytest.raises(ValueError, match="Negative values"):
        model.transform(X)


def test_lda_without_iterations_is_uniform(tmp_path):
    model = _load(tmp_path, lda_graph(max_iter=0))
    np.testing.assert_array_equal(model.transform(np.ones((2, 4))), np.full((2, 2), 0.5))


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr: _attrs(gr, "NMFTransform").__setitem__("solver", "als"), "solver"),
    (lambda gr: _attrs(gr, "NMFTransform").__setitem__("max_iter", -1), "max_iter"),
    (lambda gr: _attrs(gr, "NMFTransform").__setitem__("max_iter", 2.5), "max_iter"),
    (lambda gr: _attrs(gr, "NMFTransform").__setitem__("max_iter", 1e300), "max_iter"),
    (lambda gr: _attrs(gr, "NMFTransform").__setitem__("tol", "small"), "tol"),
    (lambda gr: _attrs(gr, "NMFTransform").__setitem__("nonnegative", 1), "nonnegative"),
    (lambda gr: _attrs(gr, "NMFTransform").pop("hht"), "hht"),
    (lambda gr: _attrs(gr, "NMFTransform").__setitem__("hht", 0), "hht"),
    (lambda gr: _attrs(gr, "NMFTransform").__setitem__("h_sum", 0), "h_sum"),
    (lambda gr: _attrs(gr, "NMFTransform").__setitem__("components", 99), "components"),
    (lambda gr: _attrs(gr, "NMFTransform").__setitem__("order", 0), "order"),
    (lambda gr: _attrs(gr, "NMFTransform").__setitem__("extra", 1), "extra"),
    (lambda gr: _node(gr, "NMFTransform")[1].append("X"), "input"),
])
def test_nmf_refuses_malformed_nodes(refuse, edit, fragment):
    graph, arrays = _json(nmf_graph(beta=1.0))
    edit(graph)
    refuse(graph, arrays, fragment)


def test_nmf_refuses_inconsistent_solvers(refuse):
    graph, arrays = _json(nmf_graph("cd", beta=1.0))
    refuse(graph, arrays, "beta 2")
    graph, arrays = _json(nmf_graph("mu", beta=1.0, h_sum=False))
    refuse(graph, arrays, "h_sum")
    graph, arrays = _json(nmf_graph("mu", order=[[0, 1]] * 30))
    refuse(graph, arrays, "order")
    graph, arrays = _json(nmf_graph("cd", order=[[0, 0]] * 30))
    refuse(graph, arrays, "permutation")
    graph, arrays = _json(nmf_graph("cd", order=[[0, 2]] * 30))
    refuse(graph, arrays, "permutation")
    graph, arrays = _json(nmf_graph("cd", order=[[0, 1]] * 3))
    refuse(graph, arrays, "order")


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr: _attrs(gr, "LDATransform").__setitem__("max_iter", -3), "max_iter"),
    (lambda gr: _attrs(gr, "LDATransform").pop("doc_topic_prior"), "doc_topic_prior"),
    (lambda gr: _attrs(gr, "LDATransform").__setitem__("exp_doc_topic_init", 0),
     "exp_doc_topic_init"),
    (lambda gr: _attrs(gr, "LDATransform").__setitem__("exp_topic_word", 1), "exp_topic_word"),
    (lambda gr: _node(gr, "LDATransform")[1].clear(), "input"),
])
def test_lda_refuses_malformed_nodes(refuse, edit, fragment):
    graph, arrays = _json(lda_graph())
    edit(graph)
    refuse(graph, arrays, fragment)


def test_vocabulary():
    ops = dict(_native.ops())
    assert ops["NMFTransform"]["inputs"] == 1
    assert ops["NMFTransform"]["attrs"]["order?"] == "tensor:int64"
    assert ops["LDATransform"]["attrs"]["exp_topic_word"] == "tensor:float64"
