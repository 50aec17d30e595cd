"""The mixture ops (docs/FORMAT.md 11.8): LogSumExp is scipy.special.logsumexp of each row
(ties, infinities and NaN included, float32 input kept float32), AsInputType rounds a float64
value to the caller's float type, ManhattanDistances sums absolute differences in feature
order, ShiftedLog is log(x + shift) in the data's type and refuses x <= -shift, SegmentMedian is
np.median of groups of columns; plan building refuses every malformed node with a
FormatError (a hostile file never crashes)."""

import numpy as np
import pytest
from scipy import special

import mle_runtime as mle
from mle_runtime import _native
from mle_runtime.ir import Graph

from native.test_plan_validation import refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json, load_graph as _load


def lse_graph(c=4):
    g = Graph("GaussianMixture", c)
    g.allow_nan = True
    g.allow_inf = True
    g.output("score_samples", g.add("LogSumExp", ["X"]), True)
    g.estimator_type = "density_estimator"
    return g


def test_log_sum_exp_is_scipys(tmp_path):
    rng = np.random.default_rng(0)
    X = np.vstack([
        rng.normal(scale=30.0, size=(500, 4)),
        rng.normal(scale=1e-3, size=(50, 4)) - 700.0,
        [[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, -1.0, 2.0], [-np.inf] * 4,
         [-np.inf, 0.0, -np.inf, 1.0], [np.inf, 0.0, 1.0, 2.0], [np.nan, 0.0, 1.0, 2.0],
         [-1e308, -1e308, 0.0, 0.0], [-800.0, -801.0, -799.5, -2000.0]]])
    model = _load(tmp_path, lse_graph())
    with np.errstate(all="ignore"):
        expected = special.logsumexp(X, axis=1)
    got = model.score_samples(X)
    assert got.shape == (len(X),) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    # one row at a time: the same
    for i in (0, 520, len(X) - 1):
        np.testing.assert_allclose(model.score_samples(X[i:i + 1]), expected[i:i + 1],
                                   rtol=1e-15)
    # float32 input: computed in binary64, rounded once to float32
    X32 = X[:500].astype(np.float32)
    got32 = model.score_samples(X32)
    assert got32.dtype == np.float32
    np.testing.assert_array_equal(
        got32, special.logsumexp(X32.astype(np.float64), axis=1).astype(np.float32))


def test_log_sum_exp_of_one_column_is_the_column(tmp_path):
    model = _load(tmp_path, lse_graph(1))
    x = np.array([[-3.5], [0.0], [7.25], [-np.inf]])
    np.testing.assert_array_equal(model.score_samples(x), x.ravel())


def _node(graph, op):
    return [n for n in graph["nodes"] if n[0] == op][0]


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr: _node(gr, "LogSumExp").append({"axis": 1}), "axis"),
    (lambda gr: _node(gr, "LogSumExp")[1].append("X"), "input"),
    (lambda gr: _node(gr, "LogSumExp")[1].clear(), "input"),
    (lambda gr: _node(gr, "LogSumExp")[1].__setitem__(0, "nowhere"), "nowhere"),
])
def test_log_sum_exp_refuses_malformed_nodes(refuse, edit, fragment):
    graph, arrays = _json(lse_graph())
    edit(graph)
    refuse(graph, arrays, fragment)


def test_log_sum_exp_refuses_integer_input(refuse):
    g = Graph("GaussianMixture", 3)
    g.allow_nan = True
    g.output("score_samples", g.add("LogSumExp", [g.add("ArgMax", ["X"])]), True)
    g.estimator_type = "density_estimator"
    graph, arrays = _json(g)
    refuse(graph, arrays, "(LogSumExp)")


def input_type_graph(c=3):
    g = Graph("GaussianMixture", c)
    g.allow_nan = True
    g.allow_inf = True
    w = g.tensor(np.eye(c) * (1.0 + 2.0 ** -40), "float64")
    g.output("transform", g.add("AsInputType", [g.add("Dense", ["X"], weight=w)]))
    g.estimator_type = "transformer"
    return g


def test_as_input_type_rounds_to_the_callers_float_type(tmp_path):
    model = _load(tmp_path, input_type_graph())
    X = np.random.default_rng(2).normal(size=(40, 3)) * 1e3
    X[0] = [-0.0, 1e-30, 1e39]  # 1e39 overflows float32
    exact = X * (1.0 + 2.0 ** -40)
    got = model.transform(X)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, exact)
    X32 = X[1:].astype(np.float32)
    got32 = model.transform(X32)
    assert got32.dtype == np.float32
    np.testing.assert_array_equal(got32, (X32.astype(np.float64) * (1.0 + 2.0 ** -40)).astype(
        np.float32))


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr: _node(gr, "AsInputType").append({"dtype": "float32"}), "dtype"),
    (lambda gr: _node(gr, "AsInputType")[1].append("X"), "input"),
    (lambda gr: _node(gr, "AsInputType")[1].clear(), "input"),
])
def test_as_input_type_refuses_malformed_nodes(refuse, edit, fragment):
    graph, arrays = _json(input_type_graph())
    edit(graph)
    refuse(graph, arrays, fragment)


def test_as_input_type_refuses_integer_input(refuse):
    g = Graph("GaussianMixture", 3)
    g.allow_nan = True
    g.output("predict", g.add("AsInputType", [g.add("ArgMax", ["X"])]), True)
    g.estimator_type = "density_estimator"
    graph, arrays = _json(g)
    refuse(graph, arrays, "(AsInputType)")


def test_vocabulary():
    ops = dict(_native.ops())
    assert ops["LogSumExp"] == {"inputs": 1, "attrs": {}}
    assert ops["AsInputType"] == {"inputs": 1, "attrs": {}}
    assert ops["ManhattanDistances"] == {"inputs": 1, "attrs": {"rows": "tensor:float64"}}
    assert ops["ShiftedLog"] == {"inputs": 1, "attrs": {"shift": "number"}}
    assert ops["SegmentMedian"]["attrs"] == {"columns": "tensor:int64",
                                             "segments": "tensor:int64"}


ROWS = np.array([[0.0, 1.0, -2.0], [3.5, 0.25, 1.0]])


def manhattan_graph(rows=ROWS):
    g = Graph("NearestCentroid", rows.shape[1])
    g.output("transform", g.add("ManhattanDistances", ["X"], rows=g.tensor(rows, "float64")))
    g.estimator_type = "transformer"
    return g


def test_manhattan_distances_are_sums_in_feature_order(tmp_path):
    from scipy.spatial.distance import cdist

    model = _load(tmp_path, manhattan_graph())
    X = np.random.default_rng(4).normal(size=(300, 3)) * [1.0, 1e8, 1e-8]
    expected = np.stack([np.abs(X - r)[:, 0] + np.abs(X - r)[:, 1] + np.abs(X - r)[:, 2]
                         for r in ROWS], axis=1)
    got = model.transform(X)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(got, cdist(X, ROWS, "cityblock"), rtol=1e-15)
    got32 = model.transform(X.astype(np.float32))
    assert got32.dtype == np.float64
    x64 = X.astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(got32, np.stack(
        [np.abs(x64 - r)[:, 0] + np.abs(x64 - r)[:, 1] + np.abs(x64 - r)[:, 2] for r in ROWS],
        axis=1))


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr, a: a.__setitem__(0, np.zeros((2, 4))), "rows"),
    (lambda gr, a: a.__setitem__(0, np.zeros((0, 3))), "rows"),
    (lambda gr, a: a.__setitem__(0, np.zeros(3)), "rows"),
    (lambda gr, a: a.__setitem__(0, np.zeros((2, 3), np.float32)), "rows"),
    (lambda gr, a: _node(gr, "ManhattanDistances")[3].update(rows=5), "rows"),
    (lambda gr, a: _node(gr, "ManhattanDistances")[3].pop("rows"), "rows"),
    (lambda gr, a: _node(gr, "ManhattanDistances")[3].update(p=1), "p"),
])
def test_manhattan_distances_refuse_malformed_nodes(refuse, edit, fragment):
    graph, arrays = _json(manhattan_graph())
    edit(graph, arrays)
    refuse(graph, arrays, "(ManhattanDistances)", fragment)


def shifted_log_graph(shift=0.5, c=2):
    g = Graph("SkewedChi2Sampler", c)
    g.allow_nan = True
    g.allow_inf = True
    g.output("transform", g.add("ShiftedLog", ["X"], shift=shift))
    g.estimator_type = "transformer"
    return g


def test_shifted_log(tmp_path):
    model = _load(tmp_path, shifted_log_graph())
    X = np.array([[0.0, 3.0], [np.nextafter(-0.5, 0.0), 1e300], [np.nan, np.inf]])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(model.transform(X), np.log(X + 0.5))
    X32 = np.abs(np.random.default_rng(1).normal(size=(50, 2))).astype(np.float32)
    got = model.transform(X32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.log((X32 + np.float32(0.5)).astype(np.float64))
                                  .astype(np.float32))
    for bad in (-0.5, -1.0, -np.inf):
        with pytest.raises(mle.InputError, match="smaller than -skewedness"):
            model.transform(np.array([[1.0, 2.0]] * 4 + [[1.0, bad]]))
    # float32 data is compared with -shift rounded to float32
    shift = 0.7
    model = _load(tmp_path, shifted_log_graph(shift))
    edge = np.float32(-shift)  # above -0.7 in binary64, equal to it in float32
    assert np.float64(edge) > -shift
    with pytest.raises(mle.InputError):
        model.transform(np.array([[1.0, edge]], dtype=np.float32))
    model.transform(np.array([[1.0, float(edge)]]))  # float64: above the bound


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr: _node(gr, "ShiftedLog")[3].update(shift=0.0), "shift"),
    (lambda gr: _node(gr, "ShiftedLog")[3].update(shift=-1.0), "shift"),
    (lambda gr: _node(gr, "ShiftedLog")[3].update(shift=1e39), "shift"),
    (lambda gr: _node(gr, "ShiftedLog")[3].update(shift="1"), "shift"),
    (lambda gr: _node(gr, "ShiftedLog")[3].pop("shift"), "shift"),
])
def test_shifted_log_refuses_malformed_nodes(refuse, edit, fragment):
    graph, arrays = _json(shifted_log_graph())
    edit(graph)
    refuse(graph, arrays, "(ShiftedLog)", fragment)


COLS = np.array([4, 0, 2, 1, 3, 0], dtype=np.int64)
SEGS = np.array([3, 2, 1], dtype=np.int64)


def median_graph(cols=COLS, segs=SEGS, c=5):
    g = Graph("FeatureAgglomeration", c)
    g.output("transform", g.add("SegmentMedian", ["X"], columns=g.tensor(cols, "int64"),
                                segments=g.tensor(segs, "int64")))
    g.estimator_type = "transformer"
    return g


def test_segment_median_is_numpys(tmp_path):
    model = _load(tmp_path, median_graph())
    X = np.random.default_rng(6).normal(size=(200, 5)) * 1e3
    X[:20] = np.round(X[:20] / 500)  # ties
    expected = np.stack([np.median(X[:, COLS[0:3]], axis=1), np.median(X[:, COLS[3:5]], axis=1),
                         X[:, COLS[5]]], axis=1)
    np.testing.assert_array_equal(model.transform(X), expected)
    X32 = X.astype(np.float32)
    got = model.transform(X32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.stack(
        [np.median(X32[:, COLS[0:3]], axis=1), np.median(X32[:, COLS[3:5]], axis=1),
         X32[:, COLS[5]]], axis=1))


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr, a: a.__setitem__(0, np.array([0, 5, 1, 1, 1, 1], np.int64)), "column"),
    (lambda gr, a: a.__setitem__(0, np.array([0, -1, 1, 1, 1, 1], np.int64)), "column"),
    (lambda gr, a: a.__setitem__(1, np.array([3, 2, 2], np.int64)), "segments"),
    (lambda gr, a: a.__setitem__(1, np.array([3, 2], np.int64)), "segments"),
    (lambda gr, a: a.__setitem__(1, np.array([3, 0, 3], np.int64)), "segments"),
    (lambda gr, a: a.__setitem__(1, np.array([7, -1], np.int64)), "segments"),
    (lambda gr, a: a.__setitem__(1, np.zeros(0, np.int64)), "segments"),
    (lambda gr, a: a.__setitem__(1, SEGS.astype(np.float64)), "segments"),
    (lambda gr, a: _node(gr, "SegmentMedian")[3].update(columns=99), "columns"),
    (lambda gr, a: _node(gr, "SegmentMedian")[3].pop("segments"), "segments"),
])
def test_segment_median_refuses_malformed_nodes(refuse, edit, fragment):
    graph, arrays = _json(median_graph())
    edit(graph, arrays)
    refuse(graph, arrays, "(SegmentMedian)", fragment)
