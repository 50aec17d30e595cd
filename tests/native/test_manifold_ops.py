"""Hostile graphs for the manifold ops (_native/src/kernels/manifold.cpp, docs/FORMAT.md
11.17): GeodesicKernel and Barycenter refuse every attribute and input a file could get wrong
with FormatError at load, a first input that is not a KNearest output of the stored rows makes
the call fail with an input error (never a read outside the stored arrays), and their scalar
arithmetic is the documented one."""


import numpy as np
import pytest
from scipy import linalg
from sklearn.neighbors import KDTree

import mle_runtime as mle
from mle_runtime import _native
from mle_runtime.format import writer
from mle_runtime.ir import Graph
from native.test_neighbors_ops import _doc, _encode, hostile  # one writer of test files

RNG = np.random.default_rng(7)
N = 30
DATA = RNG.normal(size=(N, 3))
DIST = np.abs(RNG.normal(size=(N, N))) + 1.0
EMB = RNG.normal(size=(N, 2))


def graph(op, k=4, near_op="KNearest"):
    g = Graph("test", 3)
    if near_op == "KNearest":
        tree = KDTree(DATA, leaf_size=4, metric="manhattan")
        _, idx, nodes, bounds = tree.get_arrays()
        table = np.stack([nodes["idx_start"], nodes["idx_end"], nodes["is_leaf"]], axis=1)
        near = g.add("KNearest", ["X"], data=g.tensor(DATA, "float64"), k=float(k),
                     metric="manhattan", algorithm="kd_tree",
                     tree_index=g.tensor(np.asarray(idx, dtype=np.int64), "int64"),
                     tree_nodes=g.tensor(np.ascontiguousarray(table, dtype=np.int64), "int64"),
                     tree_radius=g.tensor(np.asarray(nodes["radius"], dtype=np.float64),
                                          "float64"),
                     tree_bounds=g.tensor(np.ascontiguousarray(bounds), "float64"))
    else:  # two float64 columns that are not neighbour indices
        g.allow_nan = True
        near = g.add("Linear", ["X"], weight=g.tensor(np.eye(3)[:2], "float64"))
    if op == "GeodesicKernel":
        out = g.add(op, [near, "X"], dist_matrix=g.tensor(DIST, "float64"),
                    fit_rows=g.tensor(RNG.normal(size=N), "float64"), fit_all=0.25)
    else:
        out = g.add(op, [near, "X"], data=g.tensor(DATA, "float64"),
                    embedding=g.tensor(EMB, "float64"), reg=1e-3)
    g.output("transform", out)
    g.estimator_type = "transformer"
    return g


def _model(tmp_path, g):
    path = tmp_path / "m.mle"
    path.write_bytes(writer.model_file(g, {"estimator_type": "transformer"}))
    return mle.load(path)


def _neighbours(X, k):
    d = np.abs(X[:, None, :] - DATA[None]).sum(-1)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, idx, 1), idx


def test_geodesic_kernel_arithmetic(tmp_path):
    g = graph("GeodesicKernel")
    rows, fit_all = g.tensors[-1], 0.25
    model = _model(tmp_path, g)
    X = RNG.normal(size=(25, 3))
    for Q in (X, X.astype(np.float32)):
        d, idx = _neighbours(Q.astype(np.float64), 4)
        G = np.stack([np.min(DIST[idx[i]] + d[i][:, None], 0) for i in range(len(Q))])
        if Q.dtype == np.float32:
            G = G.astype(np.float32)
        K = (G ** 2 * -0.5).astype(np.float64)
        expected = K - rows - (K.sum(axis=1) / N)[:, None] + fit_all
        np.testing.assert_allclose(model.transform(Q), expected, rtol=1e-13, atol=1e-13)


def test_barycenter_arithmetic(tmp_path):
    model = _model(tmp_path, graph("Barycenter"))
    X = RNG.normal(size=(25, 3))
    X[0] = DATA[5]
    for Q in (X, X.astype(np.float32)):
        _, idx = _neighbours(Q.astype(np.float64), 4)
        expected = np.empty((len(Q), 2))
        for i, ind in enumerate(idx):
            C = DATA[ind] - Q[i].astype(np.float64)
            G = C @ C.T
            G.flat[::5] += 1e-3 * np.trace(G) if np.trace(G) > 0 else 1e-3
            w = linalg.solve(G, np.ones(4), assume_a="pos")
            w = (w / w.sum()).astype(Q.dtype)
            expected[i] = EMB[ind].T @ w
        np.testing.assert_allclose(model.transform(Q), expected, rtol=1e-12, atol=1e-13)


def test_barycenter_not_positive_definite_is_an_input_error(tmp_path):
    g = graph("Barycenter")
    g.nodes[-1].attrs["reg"] = -10.0  # the regularised Gram matrix is indefinite
    model = _model(tmp_path, g)
    with pytest.raises(mle.InputError, match="positive definite"):
        model.transform(RNG.normal(size=(2, 3)))


@pytest.mark.parametrize("op", ["GeodesicKernel", "Barycenter"])
def test_first_input_not_knearest_fails_the_call(op, tmp_path):
    model = _model(tmp_path, graph(op, near_op="Linear"))
    model.transform(np.array([[0.5, 3.0, 0.0]]))  # indices 3 (0.5 is a distance)
    for bad in ([[1.0, float(N), 0.0]], [[1.0, -1.0, 0.0]], [[1.0, np.nan, 0.0]],
                [[1.0, 1e300, 0.0]]):
        with pytest.raises(mle.InputError, match="neighbour index"):
            model.transform(np.array(bad))


def _attrs(doc):
    return doc["nodes"][1][3]


def _set_tensor(g, i, value):
    """Replaces the manifold op's i-th tensor (1, 2: its two tensors, after the search's)."""
    g.tensors[len(g.tensors) - 3 + i] = np.ascontiguousarray(value)


@pytest.mark.parametrize("op", ["GeodesicKernel", "Barycenter"])
def test_inputs_are_checked(op):
    _native.load_buffer(_encode(_doc(graph(op)), graph(op).tensors))

    def swap(d):
        d["nodes"][1][1] = list(reversed(d["nodes"][1][1]))
    hostile(graph(op), swap, "KNearest output")

    def one_input(d):
        d["nodes"][1][1] = d["nodes"][1][1][:1]
    hostile(graph(op), one_input, "input")

    def unknown(d):
        _attrs(d)["extra"] = 1.0
    hostile(graph(op), unknown, "extra")


@pytest.mark.parametrize("index, value, fragment", [
    (1, np.zeros((N, N - 1)), "dist_matrix"),
    (1, np.zeros(N), "dist_matrix"),
    (1, np.zeros((0, 0)), "dist_matrix"),
    (2, np.zeros(N - 1), "fit_rows"),
    (2, np.zeros((N, 1)), "fit_rows"),
    (1, np.zeros((N, N), dtype=np.int64), "dist_matrix"),
])
def test_geodesic_kernel_hostile_tensors(index, value, fragment):
    g = graph("GeodesicKernel")
    _set_tensor(g, index, value)
    hostile(g, lambda d: None, fragment)


def test_geodesic_kernel_hostile_numbers():
    def missing(d):
        del _attrs(d)["fit_all"]
    hostile(graph("GeodesicKernel"), missing, "fit_all")

    def text(d):
        _attrs(d)["fit_all"] = "0"
    hostile(graph("GeodesicKernel"), text, "fit_all")


@pytest.mark.parametrize("index, value, fragment", [
    (1, np.zeros((N, 2)), "data"),   # X has 3 columns
    (1, np.zeros((0, 3)), "data"),
    (2, np.zeros((N - 1, 2)), "embedding"),
    (2, np.zeros((N, 0)), "embedding"),
    (2, np.zeros(N), "embedding"),
])
def test_barycenter_hostile_tensors(index, value, fragment):
    g = graph("Barycenter")
    _set_tensor(g, index, value)
    hostile(g, lambda d: None, fragment)


def test_barycenter_hostile_numbers():
    def missing(d):
        del _attrs(d)["reg"]
    hostile(graph("Barycenter"), missing, "reg")

    def text(d):
        _attrs(d)["reg"] = [1.0]
    hostile(graph("Barycenter"), text, "reg")
