"""IterativeImputer's ops and input rule (docs/FORMAT.md 11.12, 9.7): ReplaceMissing replaces
one column, where the mask says missing, by the clipped prediction (NaN kept, float32 data
kept float32); the input rule "all_missing" runs its paired output when every entry of its
columns in the batch is missing; plan building refuses every malformed node or rule with a
FormatError (a hostile file never crashes)."""

import numpy as np
import pytest

from mle_runtime.ir import Graph

from native.test_plan_validation import refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json, load_graph as _load


def replace_graph(c=3, column=1, lo=-2.0, hi=2.0, rule=False):
    g = Graph("IterativeImputer", c)
    g.allow_nan = True
    mask = g.add("MissingMask", ["X"], columns=g.tensor(np.arange(c), "int64"),
                 missing_is_nan=True)
    filled = g.add("Impute", ["X"], fill=g.tensor(np.zeros(c), "float64"), missing_is_nan=True)
    w = np.zeros((1, c))
    w[0, 0] = 3.0
    pred = g.add("Linear", [filled], weight=g.tensor(w, "float64"))
    out = g.add("ReplaceMissing", [filled, pred, mask], column=column, mask_column=column,
                clip_min=lo, clip_max=hi)
    g.output("transform", out)
    if rule:
        g.output("transform@all_missing", filled)
        g.inputs["all_missing"] = [list(range(c)), None, [["transform", "transform@all_missing"]]]
    g.estimator_type = "transformer"
    return g


def test_replace_missing_replaces_the_masked_rows_with_the_clipped_prediction(tmp_path):
    model = _load(tmp_path, replace_graph())
    X = np.array([[0.5, np.nan, 1.0], [-1.0, np.nan, 0.0], [0.1, 7.0, np.nan],
                  [np.nan, np.nan, np.nan], [0.3, 0.25, 0.0]])
    got = model.transform(X)
    expected = np.nan_to_num(X, nan=0.0)
    expected[:, 1] = np.where(np.isnan(X[:, 1]), np.clip(3.0 * expected[:, 0], -2.0, 2.0),
                              expected[:, 1])
    np.testing.assert_array_equal(got, expected)
    got32 = model.transform(X.astype(np.float32))
    assert got32.dtype == np.float32
    np.testing.assert_array_equal(got32, expected.astype(np.float32))


def test_replace_missing_without_limits_and_nan_predictions(tmp_path):
    g = Graph("IterativeImputer", 2)
    g.allow_nan = True
    mask = g.add("MissingMask", ["X"], columns=g.tensor(np.arange(2), "int64"),
                 missing_is_nan=True)
    pred = g.add("Columns", ["X"], columns=g.tensor(np.array([0]), "int64"))
    out = g.add("ReplaceMissing", ["X", pred, mask], column=1, mask_column=1, clip_min=0.0)
    g.output("transform", g.add("Columns", [out], columns=g.tensor(np.arange(2), "int64")))
    g.estimator_type = "transformer"
    model = _load(tmp_path, g)
    X = np.array([[np.nan, np.nan], [-5.0, np.nan], [1e300, np.nan], [2.0, 3.0]])
    got = model.transform(X)
    # the prediction is column 0: NaN stays NaN (np.clip), -5 clipped to 0, no upper limit
    np.testing.assert_array_equal(got, [[np.nan, np.nan], [-5.0, 0.0], [1e300, 1e300],
                                        [2.0, 3.0]])


def test_all_missing_rule_runs_the_paired_output(tmp_path):
    model = _load(tmp_path, replace_graph(rule=True))
    allnan = np.full((3, 3), np.nan)
    np.testing.assert_array_equal(model.transform(allnan), np.zeros((3, 3)))
    mixed = np.vstack([allnan, [[1.0, np.nan, 2.0]]])
    got = model.transform(mixed)
    np.testing.assert_array_equal(got[:, 1], [0.0, 0.0, 0.0, 2.0])


def _node(graph, op):
    return [n for n in graph["nodes"] if n[0] == op][0]


def _attrs(graph, op):
    return _node(graph, op)[3]


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr: _attrs(gr, "ReplaceMissing").__setitem__("column", 3), "column"),
    (lambda gr: _attrs(gr, "ReplaceMissing").__setitem__("column", -1), "column"),
    (lambda gr: _attrs(gr, "ReplaceMissing").__setitem__("column", 0.5), "column"),
    (lambda gr: _attrs(gr, "ReplaceMissing").__setitem__("mask_column", 9), "mask_column"),
    (lambda gr: _attrs(gr, "ReplaceMissing").pop("column"), "column"),
    (lambda gr: _attrs(gr, "ReplaceMissing").__setitem__("clip_min", 5.0), "clip_min"),
    (lambda gr: _attrs(gr, "ReplaceMissing").__setitem__("clip_max", "1"), "clip_max"),
    (lambda gr: _attrs(gr, "ReplaceMissing").__setitem__("axis", 1), "axis"),
    (lambda gr: _node(gr, "ReplaceMissing")[1].pop(), "input"),
    (lambda gr: _node(gr, "ReplaceMissing")[1].__setitem__(1, "X"), "one column"),
])
def test_replace_missing_refuses_malformed_nodes(refuse, edit, fragment):
    graph, arrays = _json(replace_graph())
    edit(graph)
    refuse(graph, arrays, fragment)


def test_replace_missing_refuses_integer_input(refuse):
    g = Graph("IterativeImputer", 3)
    g.allow_nan = True
    mask = g.add("MissingMask", ["X"], columns=g.tensor(np.arange(3), "int64"),
                 missing_is_nan=True)
    g.output("transform", g.add("ReplaceMissing", ["X", g.add("ArgMax", ["X"]), mask],
                                column=0, mask_column=0))
    g.estimator_type = "transformer"
    graph, arrays = _json(g)
    refuse(graph, arrays, "floating-point")


@pytest.mark.parametrize("rule, fragment", [
    ([[0, 1, 2], None], "all_missing"),
    ([[], None, [["transform", "transform@all_missing"]]], "all_missing"),
    ([[2, 1], None, [["transform", "transform@all_missing"]]], "strictly increasing"),
    ([[0, 3], None, [["transform", "transform@all_missing"]]], "strictly increasing"),
    ([[0], "nan", [["transform", "transform@all_missing"]]], "all_missing"),
    ([[0], None, [["transform", "nowhere"]]], "pair"),
    ([[0], None, [["transform", "transform"]]], "pair"),
    ([[0], None, []], "all_missing"),
    ([[0], None, [["transform", "transform@all_missing"], ["transform",
                                                            "transform@all_missing"]]], "twice"),
])
def test_all_missing_rule_refuses_malformed_rules(refuse, rule, fragment):
    graph, arrays = _json(replace_graph(rule=True))
    graph["inputs"]["all_missing"] = rule
    refuse(graph, arrays, fragment)
