"""The KernelDensity op (docs/FORMAT.md 11.12): a graph built by hand from a fitted tree gives
scikit-learn's score_samples; plan building refuses every malformed node (attributes, the
stored tree, weights) with a FormatError (a hostile file never crashes)."""

import numpy as np
import pytest
from sklearn.neighbors import KernelDensity

from mle_runtime.ir import Graph

from native.test_plan_validation import refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json, load_graph as _load

X = np.random.RandomState(0).normal(size=(60, 3))


def kde_graph(algorithm="kd_tree", weights=None, **over):
    est = KernelDensity(bandwidth=0.7, algorithm=algorithm).fit(X, sample_weight=weights)
    data, idx, nodes, bounds = est.tree_.get_arrays()
    g = Graph("KernelDensity", 3)
    table = np.stack([nodes["idx_start"], nodes["idx_end"], nodes["is_leaf"]], 1)
    attrs = dict(
        data=g.tensor(np.asarray(data), "float64"), metric="euclidean", algorithm=algorithm,
        tree_index=g.tensor(np.asarray(idx, np.int64), "int64"),
        tree_nodes=g.tensor(table.astype(np.int64), "int64"),
        tree_radius=g.tensor(np.asarray(nodes["radius"]), "float64"),
        tree_bounds=g.tensor(np.ascontiguousarray(bounds), "float64"),
        kernel="gaussian", bandwidth=0.7, atol=0.0, rtol=0.0,
        sum_weight=float(est.tree_.sum_weight), breadth_first=True,
        weights=None if weights is None else g.tensor(np.asarray(weights, float), "float64"))
    attrs.update(over)
    g.output("score_samples", g.add("KernelDensity", ["X"], **{k: v for k, v in attrs.items()
                                                                if v is not None}), True)
    g.estimator_type = "density_estimator"
    return g, est


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
def test_hand_built_graph_is_scikit_learns(tmp_path, algorithm):
    g, est = kde_graph(algorithm)
    Q = np.vstack([X[:5] + 0.1, X.max(0) + 2])
    np.testing.assert_array_equal(_load(tmp_path, g).score_samples(Q), est.score_samples(Q))


def _attrs(graph):
    return [n for n in graph["nodes"] if n[0] == "KernelDensity"][0][3]


def _tensor(graph, arrays, key):
    return arrays[_attrs(graph)[key]]


@pytest.mark.parametrize("key, value, fragment", [
    ("algorithm", "brute", "algorithm"),
    ("kernel", "box", "kernel"),
    ("bandwidth", 0.0, "bandwidth"),
    ("bandwidth", -1.0, "bandwidth"),
    ("atol", -1e-3, "atol"),
    ("rtol", -1.0, "rtol"),
    ("sum_weight", 0.0, "sum_weight"),
    ("sum_weight", 59.0, "sum_weight"),
    ("breadth_first", 1, "breadth_first"),
    ("metric", "cosine", "metric"),
    ("p", 3.0, "p"),
    ("axis", 1, "axis"),
])
def test_refuses_malformed_attributes(refuse, key, value, fragment):
    g, _ = kde_graph()
    graph, arrays = _json(g)
    _attrs(graph)[key] = value
    refuse(graph, arrays, fragment)


@pytest.mark.parametrize("key", ["tree_index", "tree_nodes", "tree_radius", "tree_bounds",
                                 "kernel", "bandwidth", "sum_weight", "breadth_first"])
def test_refuses_missing_attributes(refuse, key):
    g, _ = kde_graph()
    graph, arrays = _json(g)
    del _attrs(graph)[key]
    refuse(graph, arrays, key)


def test_refuses_a_broken_tree(refuse):
    g, _ = kde_graph()
    graph, arrays = _json(g)
    arrays[_attrs(graph)["tree_index"]] = np.full(60, 99, np.int64)
    refuse(graph, arrays, "tree_index")
    g, _ = kde_graph()
    graph, arrays = _json(g)
    nodes = arrays[_attrs(graph)["tree_nodes"]].copy()
    nodes[-1] = [0, 1, 0]  # an inner node without children
    arrays[_attrs(graph)["tree_nodes"]] = nodes
    refuse(graph, arrays, "children")


def test_refuses_bad_weights(refuse):
    w = np.ones(60)
    g, _ = kde_graph(weights=w)
    graph, arrays = _json(g)
    bad = w.copy()
    bad[3] = -1.0
    arrays[_attrs(graph)["weights"]] = bad
    refuse(graph, arrays, "weights")
    g, _ = kde_graph(weights=w)
    graph, arrays = _json(g)
    arrays[_attrs(graph)["weights"]] = np.ones(5)
    refuse(graph, arrays, "weights")
