"""Hostile graphs for the nearest-neighbour ops (_native/src/kernels/neighbors.cpp):
KNearest, NeighborVote and NeighborMean refuse every attribute and index a file could get
wrong with FormatError at load, and an input that is not a KNearest output makes the call fail
with an input error (never a read outside the stored targets)."""

import copy

import numpy as np
import pytest
from sklearn.neighbors import BallTree, KDTree

import mle_runtime as mle
from mle_runtime import FormatError, _native
from mle_runtime.format import layout as L
from mle_runtime.format import writer
from mle_runtime.ir import Graph

RNG = np.random.default_rng(0)
DATA = RNG.normal(size=(40, 3))


def _encode(doc, tensors):
    blob, _, align = writer.pack_tensors(tensors)
    payloads = [(L.SECTION_META, writer.encode_json({"estimator_type": "regressor"})),
                (L.SECTION_GRAPH, writer.encode_json(doc))]
    if tensors:
        payloads.append((L.SECTION_DATA, blob, align))
    return writer.pack_sections(payloads)


def _doc(g):
    return copy.deepcopy(g.to_json(writer.pack_tensors(g.tensors)[1]))


def hostile(g, edit, *fragments):
    doc = _doc(g)
    edit(doc)
    with pytest.raises(FormatError) as info:
        _native.load_buffer(_encode(doc, g.tensors))
    for f in fragments:
        assert f in str(info.value), str(info.value)


def attrs_of(doc, i=0):
    return doc["nodes"][i][3]


def knearest_graph(algorithm="kd_tree", metric="euclidean", k=3, head="mean"):
    """tensors: 0 data; brute euclidean: 1 row_sq_norms; trees: 1 index, 2 nodes, 3 radius,
    4 bounds; then the head's y."""
    g = Graph("test", 3)
    attrs = dict(data=g.tensor(DATA, "float64"), k=float(k), metric=metric, algorithm=algorithm,
                 p=3.0 if metric == "minkowski" else None)
    if algorithm == "brute":
        if metric == "euclidean":
            attrs["row_sq_norms"] = g.tensor((DATA ** 2).sum(axis=1), "float64")
    else:
        tree = (KDTree if algorithm == "kd_tree" else BallTree)(DATA, leaf_size=4)
        _, idx, nodes, bounds = tree.get_arrays()
        attrs["tree_index"] = g.tensor(np.asarray(idx, dtype=np.int64), "int64")
        table = np.stack([nodes["idx_start"], nodes["idx_end"], nodes["is_leaf"]], axis=1)
        attrs["tree_nodes"] = g.tensor(np.ascontiguousarray(table, dtype=np.int64), "int64")
        attrs["tree_radius"] = g.tensor(np.asarray(nodes["radius"], dtype=np.float64),
                                        "float64")
        attrs["tree_bounds"] = g.tensor(np.ascontiguousarray(bounds), "float64")
    near = g.add("KNearest", ["X"], **attrs)
    if head == "mean":
        out = g.add("NeighborMean", [near], y=g.tensor(RNG.normal(size=(40, 2)), "float64"),
                    weights="distance")
    else:
        out = g.add("NeighborVote", [near], y=g.tensor(RNG.integers(0, 3, 40), "int64"),
                    n_classes=3.0, weights="uniform", output="proba")
    g.output("predict", out)
    return g


@pytest.mark.parametrize("algorithm", ["brute", "kd_tree", "ball_tree"])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev", "minkowski"])
@pytest.mark.parametrize("head", ["mean", "vote"])
def test_valid_graphs_load_and_run(algorithm, metric, head):
    g = knearest_graph(algorithm, metric, head=head)
    model = _native.load_buffer(_encode(_doc(g), g.tensors))
    assert model is not None


def _tensor_index(doc, key, i=0):
    return attrs_of(doc, i)[key]


@pytest.mark.parametrize("k,fragment", [(0, "k must"), (41, "k must"), (2.5, "k must"),
                                        (-1, "k must")])
def test_k_out_of_range(k, fragment):
    hostile(knearest_graph(), lambda d: attrs_of(d).update(k=k), fragment)


def test_data_of_wrong_width():
    g = knearest_graph("brute")
    g.tensors[0] = np.zeros((40, 2))
    hostile(g, lambda d: None, "data")


def test_no_stored_rows():
    g = knearest_graph("brute", "manhattan", k=1)
    g.tensors[0] = np.zeros((0, 3))
    hostile(g, lambda d: attrs_of(d).update(k=1), "no rows")


def test_minkowski_needs_a_valid_p():
    g = knearest_graph("brute", "minkowski")
    hostile(g, lambda d: attrs_of(d).pop("p"), "needs p")
    hostile(g, lambda d: attrs_of(d).update(p=0.5), "p must")
    hostile(knearest_graph("brute", "manhattan"), lambda d: attrs_of(d).update(p=2.0),
            "only for metric 'minkowski'")


def test_unknown_metric_and_algorithm():
    hostile(knearest_graph(), lambda d: attrs_of(d).update(metric="cosine"), "metric")
    hostile(knearest_graph(), lambda d: attrs_of(d).update(algorithm="lsh"), "algorithm")


def test_brute_euclidean_needs_norms_of_the_right_length():
    hostile(knearest_graph("brute"), lambda d: attrs_of(d).pop("row_sq_norms"), "row_sq_norms")
    g = knearest_graph("brute")
    g.tensors[1] = np.zeros(39)
    hostile(g, lambda d: None, "row_sq_norms")


@pytest.mark.parametrize("key", ["tree_index", "tree_nodes", "tree_radius", "tree_bounds"])
def test_tree_arrays_required_and_only_for_trees(key):
    hostile(knearest_graph("kd_tree"), lambda d: attrs_of(d).pop(key), key)
    g = knearest_graph("kd_tree")  # a brute search given one of a tree's arrays
    doc = _doc(g)
    for k in ("tree_index", "tree_nodes", "tree_radius", "tree_bounds"):
        if k != key:
            attrs_of(doc).pop(k)
    attrs_of(doc).update(algorithm="brute", metric="manhattan")
    with pytest.raises(FormatError, match=key):
        _native.load_buffer(_encode(doc, g.tensors))


@pytest.mark.parametrize("value,fragment", [(40, "tree_index"), (-1, "tree_index")])
def test_tree_index_out_of_range(value, fragment):
    g = knearest_graph("ball_tree")
    g.tensors[1] = g.tensors[1].copy()
    g.tensors[1][5] = value
    hostile(g, lambda d: None, fragment)


@pytest.mark.parametrize("row,fragment", [
    ([0, 41, 0], "point range"), ([5, 4, 1], "point range"), ([-1, 3, 1], "point range"),
    ([0, 40, 2], "is_leaf"),
])
def test_tree_node_ranges(row, fragment):
    g = knearest_graph("kd_tree")
    g.tensors[2] = g.tensors[2].copy()
    g.tensors[2][1] = row
    hostile(g, lambda d: None, fragment)


def test_inner_node_without_children():
    g = knearest_graph("kd_tree")
    nodes = g.tensors[2].copy()
    nodes[-1, 2] = 0  # the last node made inner: its children would lie past the table
    g.tensors[2] = nodes
    hostile(g, lambda d: None, "no children")


def test_tree_bounds_of_wrong_shape():
    g = knearest_graph("kd_tree")
    g.tensors[4] = g.tensors[4][:1].copy()  # a ball tree's shape for a kd tree
    hostile(g, lambda d: None, "tree_bounds")


def test_vote_class_index_out_of_range():
    g = knearest_graph(head="vote")
    g.tensors[-1] = np.full(40, 3, dtype=np.int64)
    hostile(g, lambda d: None, "class index")
    hostile(knearest_graph(head="vote"), lambda d: attrs_of(d, 1).update(n_classes=0),
            "n_classes")


def test_head_input_must_be_two_k_float_columns():
    g = Graph("test", 3)
    near = g.add("Columns", ["X"], columns=g.tensor(np.array([0, 1, 2]), "int64"))
    out = g.add("NeighborMean", [near], y=g.tensor(np.zeros((40, 1)), "float64"),
                weights="uniform")
    g.output("predict", out)
    hostile(g, lambda d: None, "KNearest output")


def test_head_over_a_value_that_is_not_knearest_fails_the_call(tmp_path):
    # Two columns that are not neighbour indices: an input error, not a read outside y.
    for op in ("NeighborMean", "NeighborVote"):
        gg = Graph("test", 2)
        gg.allow_nan = True
        two = gg.add("Linear", ["X"], weight=gg.tensor(np.eye(2), "float64"))  # float64 values
        if op == "NeighborMean":
            extra = dict(y=gg.tensor(np.zeros((4, 1)), "float64"), weights="uniform")
        else:
            extra = dict(y=gg.tensor(np.zeros(4, dtype=np.int64), "int64"), n_classes=2.0,
                         weights="distance", output="scores")
        gg.output("predict", gg.add(op, [two], **extra))
        path = tmp_path / f"{op}.mle"
        path.write_bytes(writer.model_file(gg, {"estimator_type": "regressor"}))
        model = mle.load(path)
        ok = np.array([[0.5, 3.0], [1.0, 0.0]])
        model.predict(ok)
        for bad in ([[1.0, 4.0]], [[1.0, -1.0]], [[1.0, np.nan]], [[1.0, 1e300]]):
            with pytest.raises(mle.InputError, match="neighbour index"):
                model.predict(np.array(bad))


def _kneighbors_graph():
    g = knearest_graph("ball_tree", "manhattan", k=2)
    g.outputs = []
    g.output("kneighbors", g.nodes[0].output, splits=[2, 2], block_dtypes=["float64", "int64"])
    return g


@pytest.mark.parametrize("opts,fragment", [
    ({"block_dtypes": ["float64", "int64"]}, "block_dtypes"),             # no splits
    ({"splits": [2, 2], "block_dtypes": ["float64"]}, "block_dtypes"),     # one per block
    ({"splits": [2, 2], "block_dtypes": ["float64", "int64"], "dtype": "float64"},
     "block_dtypes"),
    ({"splits": [2, 2], "block_dtypes": ["float64", "int8"]}, "block_dtypes"),
    ({"splits": [2, 2], "block_dtypes": []}, "block_dtypes"),
    ({"splits": [2, 2], "block_dtypes": "int64"}, "block_dtypes"),
])
def test_block_dtypes_option_is_validated(opts, fragment):
    g = _kneighbors_graph()
    _native.load_buffer(_encode(_doc(g), g.tensors))  # the valid one loads

    def edit(d):
        d["outputs"][0][2] = opts
    hostile(g, edit, fragment)


def test_kneighbors_returns_a_tuple_of_typed_blocks(tmp_path):
    g = _kneighbors_graph()
    path = tmp_path / "m.mle"
    path.write_bytes(writer.model_file(g, {"estimator_type": "regressor"}))
    dist, ind = mle.load(path).kneighbors(DATA[:5])
    assert dist.dtype == np.float64 and ind.dtype == np.int64
    np.testing.assert_array_equal(ind[:, 0], np.arange(5))
    np.testing.assert_array_equal(dist[:, 0], 0.0)


def radius_graph(output="predict", algorithm="ball_tree"):
    """RadiusNeighbors over the KNearest graph's stored rows; tensors as knearest_graph's,
    then y (mean) or codes."""
    g = knearest_graph(algorithm, "euclidean")
    attrs = {k: v for k, v in g.nodes[0].attrs.items() if k != "k"}
    g.nodes, g.outputs = [], []
    if output == "mean":
        extra = dict(y=g.tensor(RNG.normal(size=(40, 2)), "float64"))
    else:
        extra = dict(codes=g.tensor(RNG.integers(0, 3, 40), "int64"), n_classes=3.0,
                     outlier_index=-1.0, refuse_outliers=True)
        if output == "predict":
            extra["outlier_predict"] = 2.0
    v = g.add("RadiusNeighbors", ["X"], radius=1.5, weights="distance", output=output,
              **attrs, **extra)
    g.output("predict", v)
    return g


@pytest.mark.parametrize("output", ["mean", "proba", "predict"])
@pytest.mark.parametrize("algorithm", ["brute", "kd_tree", "ball_tree"])
def test_radius_graphs_load(output, algorithm):
    g = radius_graph(output, algorithm)
    _native.load_buffer(_encode(_doc(g), g.tensors))


@pytest.mark.parametrize("output,edit,fragment", [
    ("mean", lambda a: a.update(radius=-1.0), "radius"),
    ("mean", lambda a: a.pop("y"), "y is required"),
    ("mean", lambda a: a.update(n_classes=3.0), "n_classes is not used"),
    ("mean", lambda a: a.update(refuse_outliers=True), "refuse_outliers"),
    ("proba", lambda a: a.pop("codes"), "codes is required"),
    ("proba", lambda a: a.update(outlier_predict=1.0), "outlier_predict is not used"),
    ("proba", lambda a: a.update(outlier_index=3.0), "outlier_index"),
    ("proba", lambda a: a.update(outlier_index=-2.0), "outlier_index"),
    ("proba", lambda a: a.update(n_classes=2.0), "class index out of range"),
    ("predict", lambda a: a.pop("outlier_predict"), "outlier_predict is required"),
    ("predict", lambda a: a.update(outlier_predict=3.0), "outlier_predict"),
    ("predict", lambda a: a.update(output="mean"), "required by output 'mean'"),
    ("predict", lambda a: a.pop("tree_bounds"), "tree_bounds"),
])
def test_radius_hostile_attributes(output, edit, fragment):
    hostile(radius_graph(output), lambda d: edit(attrs_of(d)), fragment)


def test_radius_y_of_wrong_rows():
    g = radius_graph("mean")
    g.tensors[-1] = np.zeros((39, 2))
    hostile(g, lambda d: None, "y")


def test_radius_refuses_outliers_at_run(tmp_path):
    g = radius_graph("predict", "kd_tree")
    path = tmp_path / "m.mle"
    path.write_bytes(writer.model_file(g, {"estimator_type": "classifier"}))
    model = _native.load_buffer(_encode(_doc(g), g.tensors))
    assert model is not None
    proxy = mle.load(path)
    proxy.predict(DATA[:3])  # each is its own neighbour
    with pytest.raises(mle.InputError, match="No neighbors found"):
        proxy.predict(DATA[:3] + 100.0)


def lof_graph():
    g = knearest_graph("kd_tree", "euclidean", k=3)
    near = g.nodes[0].output
    g.nodes, g.outputs = g.nodes[:1], []
    v = g.add("LocalOutlierScore", [near, "X"],
              k_distance=g.tensor(RNG.uniform(0.1, 1, 40), "float64"),
              lrd=g.tensor(RNG.uniform(0.5, 2, 40), "float64"))
    g.output("score_samples", v)
    return g


def test_lof_graph_loads_and_hostile_attributes():
    g = lof_graph()
    _native.load_buffer(_encode(_doc(g), g.tensors))
    bad = lof_graph()
    bad.tensors[-1] = np.zeros(39)
    hostile(bad, lambda d: None, "lrd")

    def swap(d):  # the KNearest output must come first
        d["nodes"][1][1] = list(reversed(d["nodes"][1][1]))
    hostile(lof_graph(), swap, "KNearest output")

    def one_input(d):
        d["nodes"][1][1] = d["nodes"][1][1][:1]
    hostile(lof_graph(), one_input, "input")
