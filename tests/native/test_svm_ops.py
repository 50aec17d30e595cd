"""PairwiseCoupling (docs/FORMAT.md 11.5): libsvm's predict_probability over the pair decision
values (the Platt sigmoid, the clipping to [1e-7, 1 - 1e-7] and multiclass_probability),
bit for bit against a transcription of libsvm's steps in Python; plan building refuses every
malformed node."""

import math

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime.ir import Graph

from native.test_plan_validation import encode, refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json


def _pairs(k):
    return k * (k - 1) // 2


def _params(k, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-4.0, -0.5, _pairs(k)), rng.uniform(-0.5, 0.5, _pairs(k))


def coupling_graph(k, a=None, b=None):
    if a is None:
        a, b = _params(k)
    g = Graph("SVC", _pairs(k))
    g.allow_nan = True
    g.allow_inf = True
    g.output("predict_proba", g.add("PairwiseCoupling", ["X"], probA=g.tensor(a, "float64"),
                                    probB=g.tensor(b, "float64"), n_classes=k))
    return g


def _load(g, tmp_path):
    graph, arrays = _json(g)
    path = tmp_path / "coupling.mle"
    path.write_bytes(encode(graph, arrays, {}))
    return mle.load(path)


def _lmin(x, y):
    return x if x < y else y


def _lmax(x, y):
    return x if x > y else y


def libsvm_probability(dec, a, b, k):
    """One row, as libsvm's svm_predict_probability computes it (every step in its order)."""
    r = [[0.0] * k for _ in range(k)]
    p = 0
    for i in range(k):
        for j in range(i + 1, k):
            f = dec[p] * a[p] + b[p]
            s = math.exp(-f) / (1.0 + math.exp(-f)) if f >= 0 else 1.0 / (1 + math.exp(f))
            r[i][j] = _lmin(_lmax(s, 1e-7), 1 - 1e-7)
            r[j][i] = 1 - r[i][j]
            p += 1
    q = [[0.0] * k for _ in range(k)]
    prob = [1.0 / k] * k
    for t in range(k):
        for j in range(t):
            q[t][t] += r[j][t] * r[j][t]
            q[t][j] = q[j][t]
        for j in range(t + 1, k):
            q[t][t] += r[j][t] * r[j][t]
            q[t][j] = -r[j][t] * r[t][j]
    qp = [0.0] * k
    for _ in range(max(100, k)):
        pqp = 0.0
        for t in range(k):
            qp[t] = 0.0
            for j in range(k):
                qp[t] += q[t][j] * prob[j]
            pqp += prob[t] * qp[t]
        if max(abs(qp[t] - pqp) for t in range(k)) < 0.005 / k:
            break
        for t in range(k):
            diff = (-qp[t] + pqp) / q[t][t]
            prob[t] += diff
            pqp = (pqp + diff * (diff * q[t][t] + 2 * qp[t])) / (1 + diff) / (1 + diff)
            for j in range(k):
                qp[j] = (qp[j] + diff * q[t][j]) / (1 + diff)
                prob[j] /= (1 + diff)
    return prob


@pytest.mark.parametrize("k", [2, 3, 4, 7])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_coupling_is_libsvms_bit_for_bit(k, dtype, tmp_path):
    a, b = _params(k, seed=k)
    model = _load(coupling_graph(k, a, b), tmp_path)
    rng = np.random.default_rng(k)
    X = rng.normal(size=(300, _pairs(k))) * 2
    X[:5] *= 40  # saturated sigmoids: the clipping to [1e-7, 1 - 1e-7]
    X[5] = 0.0
    X[6, 0] = np.nan  # libsvm's max(NaN, 1e-7) is 1e-7
    X[7, -1] = np.inf
    X = X.astype(dtype)
    got = model.predict_proba(X)
    assert got.shape == (300, k) and got.dtype == np.float64
    ref = np.array([libsvm_probability([float(v) for v in row], a, b, k) for row in X])
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(model.predict_proba(X[:1]), ref[:1])
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-2)


def test_coupling_of_many_classes_follows_libsvm(tmp_path):
    k = 12  # 66 pairs
    a, b = _params(k, seed=3)
    model = _load(coupling_graph(k, a, b), tmp_path)
    X = np.random.default_rng(4).normal(size=(40, _pairs(k)))
    ref = np.array([libsvm_probability(list(row), a, b, k) for row in X])
    np.testing.assert_array_equal(model.predict_proba(X), ref)


def _node(graph):
    return [n for n in graph["nodes"] if n[0] == "PairwiseCoupling"][0]


@pytest.mark.parametrize("n_classes, fragment", [
    (0, "'n_classes' must be an integer"),
    (1, "'n_classes' must be an integer"),
    (2.5, "'n_classes' must be an integer"),
    (-3, "'n_classes' must be an integer"),
    (5000, "'n_classes' must be an integer"),
    (2 ** 40, "'n_classes' must be an integer"),
    (1e300, "'n_classes' must be an integer"),
    (4, "input must hold 6 pair decision values, got 3"),
    (2, "input must hold 1 pair decision values, got 3"),
    ("3", "n_classes"),
    (True, "n_classes"),
])
def test_refuses_bad_class_counts(refuse, n_classes, fragment):
    graph, arrays = _json(coupling_graph(3))
    _node(graph)[3]["n_classes"] = n_classes
    refuse(graph, arrays, "PairwiseCoupling", fragment)


@pytest.mark.parametrize("which", ["probA", "probB"])
@pytest.mark.parametrize("bad, fragment", [
    (np.array([1.0, 2.0]), "'{}'"),
    (np.array([1.0, 2.0, 3.0, 4.0]), "'{}'"),
    (np.array([[1.0, 2.0, 3.0]]), "'{}'"),
    (np.array([1.0, 2.0, 3.0], dtype=np.float32), "'{}'"),
    (np.array([1, 2, 3], dtype=np.int64), "'{}'"),
    (np.array([1.0, np.nan, 3.0]), "probA and probB must be finite"),
    (np.array([1.0, 2.0, -np.inf]), "probA and probB must be finite"),
    (np.array([], dtype=np.float64), "'{}'"),
])
def test_refuses_bad_sigmoid_parameters(refuse, which, bad, fragment):
    graph, arrays = _json(coupling_graph(3))
    arrays[_node(graph)[3][which]] = bad
    refuse(graph, arrays, "(PairwiseCoupling)", fragment.format(which))


@pytest.mark.parametrize("mutate, fragment", [
    (lambda n: n[3].pop("probA"), "probA"),
    (lambda n: n[3].pop("n_classes"), "n_classes"),
    (lambda n: n[3].update(probA=99), "probA"),
    (lambda n: n[3].update(probA=-1), "probA"),
    (lambda n: n[3].update(extra=1), "extra"),
    (lambda n: n.__setitem__(1, []), "PairwiseCoupling"),
    (lambda n: n.__setitem__(1, ["X", "X"]), "PairwiseCoupling"),
])
def test_refuses_malformed_nodes(refuse, mutate, fragment):
    graph, arrays = _json(coupling_graph(3))
    mutate(_node(graph))
    refuse(graph, arrays, "PairwiseCoupling", fragment)


def test_refuses_an_integer_input(refuse):
    g = Graph("SVC", 3)
    g.allow_nan = True
    a, b = _params(2)
    idx = g.add("ArgMax", ["X"])
    g.output("predict_proba", g.add("PairwiseCoupling", [idx], probA=g.tensor(a, "float64"),
                                    probB=g.tensor(b, "float64"), n_classes=2))
    graph, arrays = _json(g)
    refuse(graph, arrays, "(PairwiseCoupling)", "floating point")
