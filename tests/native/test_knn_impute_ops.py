"""The KNNImpute op (docs/FORMAT.md 11.9): a hand-built node imputes as its specification
says (donors, weights, the column-mean fallback, kept and dropped empty columns, float32
kept), refuses an undetermined donor set at run time, and plan building refuses every
malformed node with a FormatError (a hostile file never crashes)."""

import numpy as np
import pytest

from mle_runtime.errors import InputError
from mle_runtime.ir import Graph

from native.test_plan_validation import refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json, load_graph as _load

DATA = np.array([[0.0, 0.0, np.nan], [1.0, 10.0, np.nan], [3.0, 30.0, np.nan],
                 [np.nan, 40.0, np.nan]])


def knn_graph(k=2, weights="uniform", keep=None, data=DATA, mean=None):
    g = Graph("KNNImputer", data.shape[1])
    g.allow_nan = True
    z = np.where(np.isnan(data), 0.0, data)
    if mean is None:
        count = (~np.isnan(data)).sum(axis=0)
        mean = z.sum(axis=0) / np.maximum(count, 1)
    node = g.add("KNNImpute", ["X"], data=g.tensor(np.ascontiguousarray(data), "float64"),
                 row_sq_norms=g.tensor(np.einsum("ij,ij->i", z, z), "float64"),
                 col_mean=g.tensor(np.asarray(mean, np.float64), "float64"),
                 n_neighbors=float(k), weights=weights, keep_empty=keep)
    g.output("transform", node)
    g.estimator_type = "transformer"
    return g


def test_imputes_as_specified(tmp_path):
    m = _load(tmp_path, knn_graph(k=2))
    # x = (0.9, nan): distances to rows 0..2 on column 0 (times 3 features / 1 present)
    got = m.transform(np.array([[0.9, np.nan, 5.0]]))
    np.testing.assert_array_equal(got, [[0.9, (10.0 + 0.0) / 2]])
    # nothing present in common with any row: the column mean
    got = m.transform(np.array([[np.nan, np.nan, 7.0]]))
    np.testing.assert_array_equal(got, [[4.0 / 3.0, 80.0 / 4.0]])
    # float32 stays float32
    assert m.transform(np.array([[0.9, np.nan, 5.0]], np.float32)).dtype == np.float32
    # distance weights: a donor at distance 0 weighs 1, the others 0
    m = _load(tmp_path, knn_graph(k=3, weights="distance"))
    np.testing.assert_array_equal(m.transform(np.array([[1.0, np.nan, 0.0]])), [[1.0, 10.0]])
    # keep_empty: the empty column given 0
    m = _load(tmp_path, knn_graph(k=1, keep=True))
    np.testing.assert_array_equal(m.transform(np.array([[3.0, np.nan, np.nan]])),
                                  [[3.0, 30.0, 0.0]])


def test_undetermined_donors_raise(tmp_path):
    m = _load(tmp_path, knn_graph(k=1))
    with pytest.raises(InputError, match="not determined by the distances"):
        m.transform(np.array([[0.5, np.nan, 0.0]]))  # rows 0 and 1 equally near
    m = _load(tmp_path, knn_graph(k=2))  # both taken: determined
    np.testing.assert_array_equal(m.transform(np.array([[0.5, np.nan, 0.0]])), [[0.5, 5.0]])


def _node(graph):
    return [n for n in graph["nodes"] if n[0] == "KNNImpute"][0]


def _tensor(graph, arrays, name, value):
    arrays[_node(graph)[3][name]] = value


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr, ar: _node(gr)[3].__setitem__("n_neighbors", 0.0), "n_neighbors"),
    (lambda gr, ar: _node(gr)[3].__setitem__("n_neighbors", 1.5), "n_neighbors"),
    (lambda gr, ar: _node(gr)[3].__setitem__("n_neighbors", 1e300), "n_neighbors"),
    (lambda gr, ar: _node(gr)[3].__setitem__("weights", "callable"), "weights"),
    (lambda gr, ar: _node(gr)[3].pop("col_mean"), "col_mean"),
    (lambda gr, ar: _node(gr)[3].__setitem__("spare", 1.0), "spare"),
    (lambda gr, ar: _node(gr)[1].append("X"), "input"),
    (lambda gr, ar: _node(gr)[1].clear(), "input"),
    (lambda gr, ar: _tensor(gr, ar, "data", np.zeros((4, 2))), "data"),
    (lambda gr, ar: _tensor(gr, ar, "data", np.full((4, 3), np.inf)), "infinite"),
    (lambda gr, ar: _tensor(gr, ar, "row_sq_norms", np.zeros(3)), "row_sq_norms"),
    (lambda gr, ar: _tensor(gr, ar, "row_sq_norms", np.full(4, -1.0)), "row_sq_norms"),
    (lambda gr, ar: _tensor(gr, ar, "col_mean", np.array([np.nan, 0.0, 0.0])), "col_mean"),
    (lambda gr, ar: _tensor(gr, ar, "col_mean", np.zeros(2)), "col_mean"),
    (lambda gr, ar: _tensor(gr, ar, "data", np.full((4, 3), np.nan)), "no output column"),
])
def test_refuses_malformed_nodes(refuse, edit, fragment):
    graph, arrays = _json(knn_graph())
    edit(graph, arrays)
    refuse(graph, arrays, fragment)


def test_refuses_integer_input(refuse):
    g = Graph("KNNImputer", 3)
    g.allow_nan = True
    d = np.zeros((2, 1))
    node = g.add("KNNImpute", [g.add("ArgMax", ["X"])], data=g.tensor(d, "float64"),
                 row_sq_norms=g.tensor(np.zeros(2), "float64"),
                 col_mean=g.tensor(np.zeros(1), "float64"), n_neighbors=1.0,
                 weights="uniform")
    g.output("transform", node)
    g.estimator_type = "transformer"
    graph, arrays = _json(g)
    refuse(graph, arrays, "(KNNImpute)")
