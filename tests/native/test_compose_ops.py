"""The column-routing ops (docs/FORMAT.md 11, "Column routing"): Columns gathers columns as
numpy indexing does, Concat stacks values as np.hstack does (dtype included), and plan building
refuses every malformed node."""

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import FormatError, _native
from mle_runtime.format import writer
from mle_runtime.ir import Graph

from native.test_plan_validation import encode, refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json

SUB = np.array([1.0, -2.0, 0.5, 4.0])
W = np.array([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.25]])


def routed():
    """transform(X) = hstack(X[:, [3, 0, 3]], SubDiv(X)[:, [1, 2]], Linear(X[:, [0, 2]]))."""
    g = Graph("ColumnTransformer", 4)
    g.allow_nan = True
    cols_a = g.tensor(np.array([3, 0, 3], dtype=np.int64), "int64")
    cols_b = g.tensor(np.array([1, 2], dtype=np.int64), "int64")
    cols_c = g.tensor(np.array([0, 2], dtype=np.int64), "int64")
    a = g.add("Columns", ["X"], columns=cols_a)
    s = g.add("SubDiv", ["X"], sub=g.tensor(SUB, "float64"))
    b = g.add("Columns", [s], columns=cols_b)
    c = g.add("Linear", [g.add("Columns", ["X"], columns=cols_c)],
              weight=g.tensor(W, "float64"))
    g.output("transform", g.add("Concat", [a, b, c]))
    g.output("predict", g.add("Concat", [a, b]))  # every input of the caller's float type
    g.output("decision_function", g.add("Concat", [a]))
    g.estimator_type = "transformer"
    return g


def reference(X):
    a = X[:, [3, 0, 3]]
    b = (X - SUB.astype(X.dtype) if X.dtype == np.float32 else X - SUB)[:, [1, 2]]
    c = X[:, [0, 2]].astype(np.float64) @ W.T
    return a, b, c


@pytest.fixture
def model(tmp_path):
    g = routed()
    _, offsets, _ = writer.pack_tensors(g.tensors)
    path = tmp_path / "routed.mle"
    path.write_bytes(encode(g.to_json(offsets), list(g.tensors), {}))
    return mle.load(path)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 7, 300])
def test_columns_and_concat_follow_numpy(model, dtype, n):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 4)).astype(dtype)
    X[::3, 2] = np.nan
    a, b, c = reference(X)
    full = model.transform(X)
    expected = np.hstack([a, b, c])
    assert full.dtype == np.float64 and full.shape == (n, 8)
    np.testing.assert_array_equal(full[:, :5], np.hstack([a, b]).astype(np.float64))
    np.testing.assert_allclose(full[:, 5:], c, rtol=1e-12, atol=1e-15)
    assert np.isnan(full).sum() == np.isnan(expected).sum()
    # all inputs of the caller's float type: np.hstack keeps float32 as float32
    same = model.predict(X)
    assert same.dtype == dtype
    np.testing.assert_array_equal(same, np.hstack([a, b]))
    np.testing.assert_array_equal(model.decision_function(X), a)


def test_vocabulary_says_one_or_more():
    ops = dict(_native.ops())
    assert ops["Concat"]["inputs"] == -1 and ops["Columns"]["inputs"] == 1


def test_graph_add_refuses_concat_without_inputs():
    g = Graph("x", 2)
    with pytest.raises(ValueError, match="one or more inputs"):
        g.add("Concat", [])


def _node(graph, op):
    return next(n for n in graph["nodes"] if n[0] == op)


@pytest.mark.parametrize("bad, fragment", [
    (np.array([0, 4], dtype=np.int64), "entry 1 is 4; the input has 4 column(s)"),
    (np.array([-1], dtype=np.int64), "entry 0 is -1"),
    (np.array([], dtype=np.int64), "at least one column"),
    (np.array([[0, 1]], dtype=np.int64), "columns"),
])
def test_columns_refuses_bad_indices(refuse, bad, fragment):
    graph, arrays = _json(routed())
    arrays[0] = bad
    refuse(graph, arrays, "(Columns)", fragment)


def test_columns_refuses_a_tensor_of_another_dtype(refuse):
    graph, arrays = _json(routed())
    arrays[0] = arrays[0].astype(np.int32)
    refuse(graph, arrays, "(Columns)", "must be int64")


def test_concat_refuses_an_integer_input(refuse):
    g = Graph("x", 2)
    g.allow_nan = True
    w = g.tensor(np.eye(2), "float64")
    d = g.add("Linear", ["X"], weight=w)
    g.output("predict", g.add("Concat", [d, g.add("ArgMax", [d])]))
    graph, arrays = _json(g)
    refuse(graph, arrays, "(Concat)", "input 1 must be floating point")


def test_concat_refuses_no_inputs_and_attributes(refuse):
    graph, arrays = _json(routed())
    node = _node(graph, "Concat")
    node[1] = []
    refuse(graph, arrays, "'inputs' must be a non-empty list")
    graph, arrays = _json(routed())
    _node(graph, "Concat").append({"axis": 1})
    refuse(graph, arrays, "(Concat)", "unknown attribute 'axis'")


def test_concat_refuses_inputs_defined_later(refuse):
    graph, arrays = _json(routed())
    node = _node(graph, "Concat")
    node[1] = node[1] + [node[2]]
    refuse(graph, arrays, "not defined")
