"""Hostile files for sparse neighbour graphs: the output option "sparse" (docs/FORMAT.md 9.4)
and RadiusNeighbors' output "graph" refuse every value a file could get wrong with
FormatError at load; column indices outside the graph's columns fail the call, never build a
wrong matrix."""


import numpy as np
import pytest
from sklearn.neighbors import KDTree

from mle_runtime import FormatError, _native
from mle_runtime.ir import Graph
from native.test_neighbors_ops import _doc, _encode  # one writer of test files

RNG = np.random.default_rng(0)
DATA = RNG.normal(size=(30, 3))


def _load(doc, g):
    return _native.load_buffer(_encode(doc, g.tensors))


def hostile(g, edit, *fragments):
    doc = _doc(g)
    edit(doc)
    with pytest.raises(FormatError) as info:
        _load(doc, g)
    for f in fragments:
        assert f in str(info.value), str(info.value)


def radius_graph(algorithm="kd_tree", sort=True, sparse=(30, "values")):
    g = Graph("test", 3)
    attrs = dict(data=g.tensor(DATA, "float64"), radius=1.0, metric="euclidean",
                 algorithm=algorithm, output="graph", sort_results=sort)
    if algorithm == "brute":
        attrs["row_sq_norms"] = g.tensor((DATA ** 2).sum(axis=1), "float64")
    else:
        tree = KDTree(DATA, leaf_size=4)
        _, idx, nodes, bounds = tree.get_arrays()
        attrs["tree_index"] = g.tensor(np.asarray(idx, dtype=np.int64), "int64")
        table = np.stack([nodes["idx_start"], nodes["idx_end"], nodes["is_leaf"]], axis=1)
        attrs["tree_nodes"] = g.tensor(np.ascontiguousarray(table, dtype=np.int64), "int64")
        attrs["tree_radius"] = g.tensor(np.asarray(nodes["radius"], dtype=np.float64),
                                        "float64")
        attrs["tree_bounds"] = g.tensor(np.ascontiguousarray(bounds), "float64")
    v = g.add("RadiusNeighbors", ["X"], **attrs)
    g.output("transform", v, splits=[30, 30], block_dtypes=["float64", "int64"], sparse=sparse)
    return g


def _opts(doc):
    return doc["outputs"][0][2]


def _attrs(doc):
    return doc["nodes"][0][3]


@pytest.mark.parametrize("algorithm", ["brute", "kd_tree"])
@pytest.mark.parametrize("sort", [True, False])
def test_valid_graph_loads_and_runs(algorithm, sort):
    from mle_runtime.runtime.proxies import MLEModel

    g = radius_graph(algorithm, sort)
    model = MLEModel(_load(_doc(g), g))
    out = model.transform(DATA[:5])
    tree = KDTree(DATA)
    ind, dist = tree.query_radius(DATA[:5], r=1.0, return_distance=True, sort_results=True)
    for r in range(5):
        row = out.getrow(r)
        assert sorted(row.indices.tolist()) == sorted(ind[r].tolist())
        if sort:
            np.testing.assert_allclose(row.data, dist[r], rtol=1e-12)


@pytest.mark.parametrize("value,fragment", [
    (30, "must be [n_columns"),
    ([30], "must be [n_columns"),
    ([0, "values"], "must be [n_columns"),
    ([30.5, "values"], "must be [n_columns"),
    ([30, "distances"], "must be [n_columns"),
    ([30, 1], "must be [n_columns"),
    ([2 ** 40, "values"], "must be [n_columns"),
])
def test_bad_sparse_values(value, fragment):
    hostile(radius_graph(), lambda d: _opts(d).__setitem__("sparse", value), fragment)


def test_sparse_needs_two_equal_blocks_of_values_and_indices():
    def unequal(d):
        _opts(d)["splits"] = [20, 40]
    hostile(radius_graph(), unequal, "'sparse' needs 'splits' of two equal blocks")

    def no_splits(d):
        del _opts(d)["splits"]
        del _opts(d)["block_dtypes"]
    hostile(radius_graph(), no_splits, "'sparse' needs")

    def wrong_dtypes(d):
        _opts(d)["block_dtypes"] = ["float64", "float64"]
    hostile(radius_graph(), wrong_dtypes, "'sparse' needs")

    def flat(d):
        _opts(d)["flat_blocks"] = [False, False]
    hostile(radius_graph(), flat, "'sparse' needs")

    def three(d):
        _opts(d)["splits"] = [20, 20, 20]
        _opts(d)["block_dtypes"] = ["float64", "int64", "int64"]
    hostile(radius_graph(), three, "'sparse' needs")


@pytest.mark.parametrize("key,value", [
    ("weights", "uniform"), ("n_classes", 2.0), ("outlier_index", -1.0),
    ("outlier_predict", 0.0), ("refuse_outliers", True)])
def test_graph_output_refuses_aggregation_attributes(key, value):
    hostile(radius_graph(), lambda d: _attrs(d).__setitem__(key, value),
            f"{key} is not used by output 'graph'")


def test_sort_results_only_for_graph_and_weights_required_otherwise():
    def mean(d):
        a = _attrs(d)
        a["output"] = "mean"
        a["weights"] = "uniform"
    hostile(radius_graph(), mean, "sort_results is only used by output 'graph'")

    def no_weights(d):
        a = _attrs(d)
        a["output"] = "mean"
        del a["sort_results"]
    hostile(radius_graph(), no_weights, "weights is required")

    hostile(radius_graph(), lambda d: _attrs(d).__setitem__("sort_results", 1.0))


def test_indices_outside_the_columns_fail_the_call():
    from mle_runtime.runtime.proxies import MLEModel

    # a graph whose "indices" block is the caller's X: values it cannot vouch for
    g = Graph("test", 2)
    g.output("transform", "X", splits=[1, 1], block_dtypes=["float64", "int64"],
             sparse=(4, "values"))
    model = MLEModel(_load(_doc(g), g))
    ok = model.transform(np.array([[0.5, 3.0], [0.25, -1.0]]))
    assert ok.toarray().tolist() == [[0, 0, 0, 0.5], [0, 0, 0, 0]]
    for bad in (4.0, -2.0):
        with pytest.raises(FormatError, match="column index outside"):
            model.transform(np.array([[0.5, bad]]))

