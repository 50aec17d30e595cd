"""The ops that combine models' outputs (docs/FORMAT.md 11, "Combining models"): WeightedMean
is np.average over the members, Vote is np.argmax(np.bincount(x, weights)), AsFloat64 is an
exact float64 copy, Interp1D is interp1d on every element; plan building refuses every malformed node."""

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import _native
from mle_runtime.ir import Graph

from native.test_plan_validation import encode, refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json

PERMS = [[0, 1, 2], [2, 0, 1], [1, 1, 0]]
XS = np.array([-1.0, 0.0, 0.5, 2.0, 7.0])
YS = np.array([0.0, 0.1, 0.1, 0.9, 1.0])
WEIGHTS = np.array([0.5, 2.0, 1.25])


def combined():
    """Three 'members' (columns of X, 3 each) combined every way."""
    g = Graph("VotingClassifier", 3)
    g.allow_nan = True
    g.allow_inf = True
    members = [g.add("Columns", ["X"], columns=g.tensor(np.array(p), "int64")) for p in PERMS]
    idx = [g.add("ArgMax", [m]) for m in members]
    g.output("predict_proba", g.add("WeightedMean", members))
    g.output("decision_function", g.add("WeightedMean", members,
                                        weights=g.tensor(WEIGHTS, "float64")))
    g.output("predict", g.add("Vote", idx, n_classes=3), ravel=True)
    g.output("score_samples", g.add("Vote", idx, n_classes=3,
                                    weights=g.tensor(np.array([1.0, 0.5, 0.5]), "float64")),
             ravel=True)
    g.output("transform", g.add("Concat", [g.add("AsFloat64", [i]) for i in idx]))
    g.output("predict_log_proba", g.add("Interp1D", ["X"], x=g.tensor(XS, "float64"),
                                        y=g.tensor(YS, "float64"), out_of_bounds="clip"))
    g.estimator_type = "classifier"
    return g


@pytest.fixture
def model(tmp_path):
    graph, arrays = _json(combined())
    path = tmp_path / "combined.mle"
    path.write_bytes(encode(graph, arrays, {}))
    return mle.load(path)


def _members(X):
    return [X[:, p] for p in PERMS]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 9, 400])
def test_combining_follows_numpy(model, dtype, n):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 3)) * 3
    X[::4] = np.round(X[::4])  # ties between members
    X = X.astype(dtype)
    members = _members(X)
    mean = model.predict_proba(X)
    assert mean.dtype == dtype  # numpy averages float32 members in float32
    np.testing.assert_array_equal(mean, np.average(np.asarray(members), axis=0))
    np.testing.assert_array_equal(model.decision_function(X),
                                  np.average(np.asarray(members), axis=0, weights=WEIGHTS))
    idx = np.asarray([m.argmax(axis=1) for m in members]).T
    votes = np.apply_along_axis(lambda x: np.argmax(np.bincount(x)), 1, idx)
    np.testing.assert_array_equal(model.predict(X), votes)
    weighted = np.apply_along_axis(
        lambda x: np.argmax(np.bincount(x, weights=[1.0, 0.5, 0.5])), 1, idx)
    np.testing.assert_array_equal(model.score_samples(X), weighted)
    np.testing.assert_array_equal(model.transform(X), idx.astype(np.float64))


def _interp1d_clip(X, xs, ys):
    """IsotonicRegression.predict with out_of_bounds="clip" (np.clip, then interp1d)."""
    from scipy.interpolate import interp1d

    if len(xs) == 1:
        return np.full(X.shape, ys[0])
    return interp1d(xs, ys, kind="linear")(np.clip(X, xs[0], xs[-1]))


def test_interp_on_every_element_follows_interp1d(model):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.uniform(-3, 9, size=(200, 3)),
                        np.array([XS[:3], XS[2:], [np.nan, np.inf, -np.inf]])])
    np.testing.assert_array_equal(model.predict_log_proba(X), _interp1d_clip(X, XS, YS))
    X32 = X.astype(np.float32)
    np.testing.assert_array_equal(model.predict_log_proba(X32),
                                  _interp1d_clip(X32.astype(np.float64), XS, YS))


def test_interp_of_one_point(tmp_path):
    g = Graph("IsotonicRegression", 1)
    g.allow_nan = True
    g.output("predict", g.add("Interp1D", ["X"], x=g.tensor([2.0], "float64"),
                              y=g.tensor([0.25], "float64"), out_of_bounds="clip"), ravel=True)
    graph, arrays = _json(g)
    path = tmp_path / "one.mle"
    path.write_bytes(encode(graph, arrays, {}))
    X = np.array([[-1.0], [2.0], [5.0], [np.nan]])
    np.testing.assert_array_equal(mle.load(path).predict(X), np.full(4, 0.25))


def test_vocabulary_says_one_or_more():
    ops = dict(_native.ops())
    assert ops["WeightedMean"]["inputs"] == -1 and ops["Vote"]["inputs"] == -1
    assert ops["AsFloat64"]["inputs"] == 1 and ops["Interp1D"]["inputs"] == 1


def _node(graph, op, k=0):
    return [n for n in graph["nodes"] if n[0] == op][k]


def _tensor_of(graph, op, attr, k=0):
    return _node(graph, op, k)[3][attr]


@pytest.mark.parametrize("bad, fragment", [
    (np.array([1.0, 2.0]), "weights"),
    (np.array([1.0, np.nan, 2.0]), "'weights' entry 1 is not finite"),
    (np.array([1.0, -1.0, 0.0]), "non-zero sum"),
    (np.array([1e308, 1e308, 1e308]), "non-zero sum"),
    (np.array([1, 2, 3], dtype=np.int64), "weights"),
])
def test_weighted_mean_refuses_bad_weights(refuse, bad, fragment):
    graph, arrays = _json(combined())
    arrays[_tensor_of(graph, "WeightedMean", "weights", 1)] = bad
    refuse(graph, arrays, "(WeightedMean)", fragment)


def test_weighted_mean_refuses_mismatched_and_integer_inputs(refuse):
    g = Graph("x", 2)
    g.allow_nan = True
    a = g.add("Linear", ["X"], weight=g.tensor(np.eye(2), "float64"))
    b = g.add("Linear", ["X"], weight=g.tensor(np.ones((3, 2)), "float64"))
    g.output("predict", g.add("WeightedMean", [a, b]))
    graph, arrays = _json(g)
    refuse(graph, arrays, "(WeightedMean)", "input 1 has 3 column(s); input 0 has 2")
    g = Graph("x", 2)
    g.allow_nan = True
    a = g.add("Linear", ["X"], weight=g.tensor(np.eye(2), "float64"))
    g.output("predict", g.add("WeightedMean", [a, g.add("ArgMax", [a])]))
    graph, arrays = _json(g)
    refuse(graph, arrays, "(WeightedMean)", "input 1 must be floating point")


def test_empty_input_lists_are_refused(refuse):
    for op in ("WeightedMean", "Vote"):
        graph, arrays = _json(combined())
        _node(graph, op)[1] = []
        refuse(graph, arrays, op)


@pytest.mark.parametrize("n_classes, fragment", [
    (2, "input 0 is not a class index below 'n_classes'"),
    (0, "'n_classes' must be an integer"),
    (2.5, "'n_classes' must be an integer"),
    (2 ** 40, "'n_classes' must be an integer"),
    (-3, "'n_classes' must be an integer"),
])
def test_vote_refuses_bad_class_counts(refuse, n_classes, fragment):
    graph, arrays = _json(combined())
    _node(graph, "Vote")[3]["n_classes"] = n_classes
    refuse(graph, arrays, "(Vote)", fragment)


def test_vote_refuses_inputs_that_are_not_class_indices(refuse):
    graph, arrays = _json(combined())
    node = _node(graph, "Vote")
    node[1] = [node[1][0], _node(graph, "Columns")[2]]
    refuse(graph, arrays, "(Vote)", "input 1 must be one column of class indices")
    g = Graph("x", 2)
    g.allow_nan = True
    d = g.add("Linear", ["X"], weight=g.tensor(np.ones((1, 2)), "float64"))
    g.output("predict", g.add("Vote", [g.add("OutlierLabel", [d])], n_classes=3))
    graph, arrays = _json(g)
    refuse(graph, arrays, "(Vote)", "not a class index")


def test_vote_refuses_bad_weights(refuse):
    graph, arrays = _json(combined())
    arrays[_tensor_of(graph, "Vote", "weights", 1)] = np.array([1.0, np.inf, 0.0])
    refuse(graph, arrays, "(Vote)", "'weights' entry 1 is not finite")
    arrays[_tensor_of(graph, "Vote", "weights", 1)] = np.array([1.0, 0.0])
    refuse(graph, arrays, "(Vote)", "weights")


def test_as_float64_refuses_unbounded_integers(refuse):
    g = Graph("x", 2)
    g.allow_nan = True
    d = g.add("Linear", ["X"], weight=g.tensor(np.ones((1, 2)), "float64"))
    g.output("predict", g.add("AsFloat64", [g.add("OutlierLabel", [d])]))
    graph, arrays = _json(g)
    refuse(graph, arrays, "(AsFloat64)", "must hold class indices")


@pytest.mark.parametrize("xs, ys, fragment", [
    (np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.5, 1.0]), "strictly increasing"),
    (np.array([1.0, 0.0]), np.array([0.0, 1.0]), "strictly increasing"),
    (np.array([0.0, np.nan]), np.array([0.0, 1.0]), "finite"),
    (np.array([0.0, 1.0]), np.array([0.0, 1.0, 2.0]), "'y'"),
    (np.array([], dtype=np.float64), np.array([], dtype=np.float64), "x is empty"),
    (np.array([[0.0, 1.0]]), np.array([0.0, 1.0]), "'x'"),
    (np.array([0.0, 1.0], dtype=np.float32), np.array([0.0, 1.0]), "'x'"),
])
def test_interp_refuses_bad_tables(refuse, xs, ys, fragment):
    graph, arrays = _json(combined())
    arrays[_tensor_of(graph, "Interp1D", "x")] = xs
    arrays[_tensor_of(graph, "Interp1D", "y")] = ys
    refuse(graph, arrays, "(Interp1D)", fragment)


def test_interp_refuses_an_integer_input(refuse):
    graph, arrays = _json(combined())
    _node(graph, "Interp1D")[1] = [_node(graph, "ArgMax")[2]]
    refuse(graph, arrays, "(Interp1D)", "floating point")


def _one_op(op, inputs_fn, n_features=3, **attrs):
    g = Graph("x", n_features)
    g.allow_nan = True
    g.allow_inf = True
    g.output("predict", g.add(op, inputs_fn(g), **attrs))
    return g


@pytest.mark.parametrize("fn", ["expm1", "log1p", "sqrt", "square"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_math_fn_follows_numpy(fn, dtype, tmp_path):
    g = _one_op("MathFn", lambda g: ["X"], fn=fn)
    graph, arrays = _json(g)
    path = tmp_path / "m.mle"
    path.write_bytes(encode(graph, arrays, {}))
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(size=(50, 3)) * 3, [[np.nan, np.inf, -np.inf],
                                                       [0.0, -0.0, -1.0]]]).astype(dtype)
    with np.errstate(all="ignore"):
        expected = getattr(np, fn)(X.astype(np.float64)).astype(dtype)
    got = mle.load(path).predict(X)
    assert got.dtype == dtype
    if fn in ("sqrt", "square") or dtype == np.float32:  # correctly rounded
        np.testing.assert_array_equal(got, expected)
    else:  # numpy's own expm1/log1p and the C library's may differ by an ulp
        np.testing.assert_allclose(got, expected, rtol=4e-16, atol=0)


def test_math_fn_refuses_unknown_functions(refuse):
    graph, arrays = _json(_one_op("MathFn", lambda g: ["X"], fn="sqrt"))
    graph["nodes"][0][3]["fn"] = "rint"
    refuse(graph, arrays, "(MathFn)", "fn")


def test_index_concat_keeps_each_bound(tmp_path):
    def inputs(g):
        a = g.add("Linear", ["X"], weight=g.tensor(np.eye(3), "float64"))
        b = g.add("Columns", ["X"], columns=g.tensor(np.array([0, 1]), "int64"))
        return [g.add("ArgMax", [a]), g.add("ArgMax", [b])]

    g = _one_op("IndexConcat", inputs)
    graph, arrays = _json(g)
    path = tmp_path / "m.mle"
    path.write_bytes(encode(graph, arrays, {}))
    X = np.random.default_rng(2).normal(size=(20, 3))
    np.testing.assert_array_equal(mle.load(path).predict(X),
                                  np.column_stack([X.argmax(axis=1), X[:, :2].argmax(axis=1)]))


def test_index_concat_refuses_values_that_are_not_class_indices(refuse):
    def floats(g):
        return ["X"]

    graph, arrays = _json(_one_op("IndexConcat", floats))
    refuse(graph, arrays, "(IndexConcat)", "input 0 must hold class indices")

    def unbounded(g):
        d = g.add("Linear", ["X"], weight=g.tensor(np.ones((1, 3)), "float64"))
        return [g.add("OutlierLabel", [d])]

    graph, arrays = _json(_one_op("IndexConcat", unbounded))
    refuse(graph, arrays, "(IndexConcat)", "must hold class indices")
    graph["nodes"][-1][1] = []
    refuse(graph, arrays, "(IndexConcat)")


def _ovo_graph(n_classes=3, pairs=3):
    g = Graph("OneVsOneClassifier", 3)
    g.allow_nan = True
    preds = [g.add("ArgMax", [g.add("Columns", ["X"], columns=g.tensor(np.array([i]),
                                                                        "int64"))])
             for i in range(pairs)]
    g.output("decision_function", g.add("OvoDecision", [g.add("IndexConcat", preds), "X"],
                                        n_classes=n_classes))
    return g


def test_ovo_decision_follows_scikit_learn(tmp_path):
    from sklearn.utils.multiclass import _ovr_decision_function

    graph, arrays = _json(_ovo_graph())
    path = tmp_path / "ovo.mle"
    path.write_bytes(encode(graph, arrays, {}))
    X = np.random.default_rng(3).normal(size=(100, 3))
    X[::5, 1] = 0.0
    expected = _ovr_decision_function((X > 0).astype(int), X, 3)
    np.testing.assert_array_equal(mle.load(path).decision_function(X), expected)


@pytest.mark.parametrize("n_classes, fragment", [
    (4, "input 0 must hold 6 columns"), (1, "'n_classes' must be an integer"),
    (2.5, "'n_classes' must be an integer"), (10 ** 6, "'n_classes' must be an integer"),
])
def test_ovo_decision_refuses_bad_shapes(refuse, n_classes, fragment):
    graph, arrays = _json(_ovo_graph())
    graph["nodes"][-1][3]["n_classes"] = n_classes
    refuse(graph, arrays, "(OvoDecision)", fragment)


def test_ovo_decision_refuses_bad_inputs(refuse):
    graph, arrays = _json(_ovo_graph())
    node = graph["nodes"][-1]
    node[1] = ["X", "X"]
    refuse(graph, arrays, "(OvoDecision)", "input 0 must hold 3 columns of class indices")
    graph, arrays = _json(_ovo_graph())
    node = graph["nodes"][-1]
    node[1] = [node[1][0], node[1][0]]
    refuse(graph, arrays, "(OvoDecision)", "input 1 must hold 3 floating-point columns")
