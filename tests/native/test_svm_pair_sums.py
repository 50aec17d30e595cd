"""OvoPairSums (docs/FORMAT.md 11.6): libsvm's per-pair decision values of a multi-class SVC
from the kernel values against the support vectors, bit for bit against a transcription of
svm_predict_values in Python; plan building refuses every malformed node."""

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime.format import writer
from mle_runtime.ir import Graph

from native.test_plan_validation import encode, refuse  # noqa: F401  (refuse: a fixture)


def _params(counts, seed=0):
    rng = np.random.default_rng(seed)
    k, n = len(counts), int(sum(counts))
    return rng.normal(size=(k - 1, n)) * 3, rng.normal(size=k * (k - 1) // 2)


def pair_graph(counts, coef=None, bias=None):
    if coef is None:
        coef, bias = _params(counts)
    g = Graph("SVC", int(sum(counts)))
    g.allow_nan = True
    g.allow_inf = True
    g.output("decision_function", g.add(
        "OvoPairSums", ["X"], coef=g.tensor(coef, "float64"),
        counts=g.tensor(np.asarray(counts, dtype=np.int64), "int64"),
        bias=g.tensor(bias, "float64")))
    return g


def _json(g):
    _, offsets, _ = writer.pack_tensors(g.tensors)
    return g.to_json(offsets), list(g.tensors)


def _load(g, tmp_path):
    graph, arrays = _json(g)
    path = tmp_path / "pairs.mle"
    path.write_bytes(encode(graph, arrays, {}))
    return mle.load(path)


def libsvm_pair_values(kvalue, coef, bias, counts):
    """One row, as libsvm's svm_predict_values sums it (every step in its order)."""
    start = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    k = len(counts)
    out = []
    p = 0
    for i in range(k):
        for j in range(i + 1, k):
            s = 0.0
            for t in range(start[i], start[i + 1]):
                s += float(coef[j - 1][t]) * float(kvalue[t])
            for t in range(start[j], start[j + 1]):
                s += float(coef[i][t]) * float(kvalue[t])
            out.append(s + float(bias[p]))
            p += 1
    return out


@pytest.mark.parametrize("counts", [[2, 3], [3, 1, 4], [5, 0, 2, 6], [1, 1, 1, 1, 1, 1, 1],
                                    [40, 17, 33, 8, 21]])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pair_sums_are_libsvms_bit_for_bit(counts, dtype, tmp_path):
    coef, bias = _params(counts, seed=len(counts))
    model = _load(pair_graph(counts, coef, bias), tmp_path)
    rng = np.random.default_rng(len(counts))
    X = rng.uniform(-1, 1, size=(200, sum(counts))) ** 3 * 1e3
    X[3] = 0.0
    X = X.astype(dtype)
    got = model.decision_function(X)
    k = len(counts)
    assert got.shape == (200, k * (k - 1) // 2) and got.dtype == np.float64
    ref = np.array([libsvm_pair_values(row, coef, bias, counts) for row in X])
    np.testing.assert_array_equal(got.reshape(ref.shape), ref)
    np.testing.assert_array_equal(model.decision_function(X[:1]).reshape(1, -1), ref[:1])


def test_nan_and_inf_propagate(tmp_path):
    counts = [2, 2, 2]
    coef, bias = _params(counts, seed=1)
    model = _load(pair_graph(counts, coef, bias), tmp_path)
    X = np.ones((2, 6))
    X[0, 0] = np.nan  # class 0's vector: pairs (0, 1) and (0, 2)
    X[1, 5] = np.inf  # class 2's vector: pairs (0, 2) and (1, 2)
    got = model.decision_function(X)
    assert np.isnan(got[0, :2]).all() and np.isfinite(got[0, 2])
    assert np.isfinite(got[1, 0]) and not np.isfinite(got[1, 1:]).any()


def _node(graph):
    return [n for n in graph["nodes"] if n[0] == "OvoPairSums"][0]


@pytest.mark.parametrize("counts, fragment", [
    (np.array([6], dtype=np.int64), "'counts' must hold one count per class"),
    (np.array([], dtype=np.int64), "'counts'"),
    (np.array([2, 2, 3], dtype=np.int64), "'counts' must"),
    (np.array([2, 2, 1], dtype=np.int64), "'counts' must sum to the input's 6 columns, got 5"),
    (np.array([7, -1, 0], dtype=np.int64), "'counts' must be non-negative"),
    (np.array([2 ** 62, 2 ** 62, 6], dtype=np.int64), "'counts' must"),
    (np.array([-2 ** 63, 2, 2], dtype=np.int64), "'counts' must"),
    (np.array([[2, 2, 2]], dtype=np.int64), "'counts'"),
    (np.array([2, 2, 2], dtype=np.int32), "'counts'"),
    (np.array([2.0, 2.0, 2.0]), "'counts'"),
])
def test_refuses_bad_counts(refuse, counts, fragment):
    graph, arrays = _json(pair_graph([2, 2, 2]))
    arrays[_node(graph)[3]["counts"]] = counts
    refuse(graph, arrays, "(OvoPairSums)", fragment)


def test_refuses_more_classes_than_supported(refuse):
    graph, arrays = _json(pair_graph([2, 2, 2]))
    counts = np.zeros(65537, dtype=np.int64)
    counts[:3] = 2
    arrays[_node(graph)[3]["counts"]] = counts
    refuse(graph, arrays, "(OvoPairSums)", "2 to 65536 classes, got 65537")


@pytest.mark.parametrize("which, bad, fragment", [
    ("coef", np.zeros((3, 6)), "'coef'"),
    ("coef", np.zeros((2, 5)), "'coef'"),
    ("coef", np.zeros(12), "'coef'"),
    ("coef", np.zeros((2, 6), dtype=np.float32), "'coef'"),
    ("coef", np.where(np.eye(2, 6) > 0, np.nan, 1.0), "'coef' must be finite"),
    ("coef", np.where(np.eye(2, 6) > 0, -np.inf, 1.0), "'coef' must be finite"),
    ("bias", np.zeros(2), "'bias'"),
    ("bias", np.zeros(4), "'bias'"),
    ("bias", np.zeros((1, 3)), "'bias'"),
    ("bias", np.zeros(3, dtype=np.int64), "'bias'"),
    ("bias", np.array([0.0, np.nan, 1.0]), "'bias' must be finite"),
    ("bias", np.array([0.0, 1.0, np.inf]), "'bias' must be finite"),
])
def test_refuses_bad_coefficients(refuse, which, bad, fragment):
    graph, arrays = _json(pair_graph([2, 2, 2]))
    arrays[_node(graph)[3][which]] = bad
    refuse(graph, arrays, "(OvoPairSums)", fragment)


@pytest.mark.parametrize("mutate, fragment", [
    (lambda n: n[3].pop("coef"), "coef"),
    (lambda n: n[3].pop("counts"), "counts"),
    (lambda n: n[3].pop("bias"), "bias"),
    (lambda n: n[3].update(coef=99), "coef"),
    (lambda n: n[3].update(counts=-1), "counts"),
    (lambda n: n[3].update(bias="x"), "bias"),
    (lambda n: n[3].update(n_classes=3), "n_classes"),
    (lambda n: n.__setitem__(1, []), "OvoPairSums"),
    (lambda n: n.__setitem__(1, ["X", "X"]), "OvoPairSums"),
])
def test_refuses_malformed_nodes(refuse, mutate, fragment):
    graph, arrays = _json(pair_graph([2, 2, 2]))
    mutate(_node(graph))
    refuse(graph, arrays, "OvoPairSums", fragment)


def test_refuses_an_integer_input(refuse):
    g = Graph("SVC", 3)
    g.allow_nan = True
    coef, bias = _params([1, 0])
    g.output("decision_function", g.add(
        "OvoPairSums", [g.add("ArgMax", ["X"])], coef=g.tensor(coef, "float64"),
        counts=g.tensor(np.array([1, 0], dtype=np.int64), "int64"),
        bias=g.tensor(bias, "float64")))
    graph, arrays = _json(g)
    refuse(graph, arrays, "(OvoPairSums)", "floating point")


@pytest.mark.parametrize("rows", [1, 2, 15, 16, 17, 31, 32, 33, 100])
def test_row_blocks_and_tails_agree(rows, tmp_path):
    # Blocks of rows take the vectorised path, the remaining rows the one-row path: each row's
    # values are the same bits either way.
    counts = [7, 3, 9, 5]
    coef, bias = _params(counts, seed=5)
    model = _load(pair_graph(counts, coef, bias), tmp_path)
    X = np.random.default_rng(rows).normal(size=(rows, sum(counts))) * 10
    ref = np.array([libsvm_pair_values(row, coef, bias, counts) for row in X])
    got = model.decision_function(X).reshape(ref.shape)
    np.testing.assert_array_equal(got, ref)
    for r in range(rows):
        np.testing.assert_array_equal(model.decision_function(X[r:r + 1]).reshape(-1), ref[r])
