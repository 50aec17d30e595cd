"""Hostile graphs for the op LabelIndex and the input rules target, sets, dicts and
new_missing (docs/FORMAT.md 9.7, 11.8): refused at load (FormatError) or, for input values,
as input errors; never a crash."""

import numpy as np
import pytest

from mle_runtime import FormatError, InputError, _native
from tests.native.test_simple_model_validation import build, encode, refused


def label_index(n_classes=3, labels=("a", "b", "c")):
    graph, arrays = build(1, "LabelIndex", {}, n_classes=3)
    graph["nodes"][0][3]["n_classes"] = n_classes  # past the writer's own checks
    graph["labels"] = [["<U1", list(labels)]]
    graph["outputs"] = [["out", graph["outputs"][0][1], {"labels": 0, "ravel": True}]]
    return graph, arrays


def test_valid_label_index_loads_and_refuses_bad_values():
    graph, arrays = label_index()
    model = _native.load_buffer(encode(graph, arrays))
    out = model.run(np.array([[0.0], [2.0], [1.0]]), 0, 1)
    np.testing.assert_array_equal(out.ravel(), [0, 2, 1])
    for bad, text in (([[3.0]], r"\[3\]"), ([[0.5]], r"\[0.5\]"), ([[-1.0], [7.0], [-1.0]],
                                                                     r"\[-1 7\]")):
        with pytest.raises(InputError, match="y contains previously unseen labels: " + text):
            model.run(np.array(bad), 0, 1)


@pytest.mark.parametrize("n", [0, -1, 1.5, 2.0 ** 40, "3", True, None])
def test_label_index_n_classes(n):
    graph, arrays = label_index(n)
    with pytest.raises(FormatError):
        _native.load_buffer(encode(graph, arrays))


def test_label_index_bound_exceeds_labels():
    graph, arrays = label_index(4)
    refused(graph, arrays, "labels")


def test_label_index_needs_one_column():
    graph, arrays = build(2, "LabelIndex", {}, n_classes=2)
    refused(graph, arrays, "one column")


def _with_inputs(n_features, inputs, labels=(("<U1", ["a", "b"]),)):
    graph, arrays = build(n_features, "Constant", {"values": np.ones(1)})
    graph["labels"] = [list(ls) for ls in labels]
    graph["inputs"] = inputs
    return graph, arrays


@pytest.mark.parametrize("rule", [[1, "error"], [0, "warn"], [0], 0, [-1, "ignore"],
                                  ["0", "error"], [0, "error", 1]])
def test_target_rule(rule):
    refused(*_with_inputs(1, {"target": rule}), "target")


def test_target_rule_needs_one_feature():
    refused(*_with_inputs(2, {"target": [0, "error"]}), "target")


@pytest.mark.parametrize("rule", [1, -1, [0], "0", 0.5])
def test_sets_rule(rule):
    refused(*_with_inputs(2, {"sets": rule}), "sets")


def test_sets_rule_width():
    refused(*_with_inputs(3, {"sets": 0}), "sets")


@pytest.mark.parametrize("rule", [[["a"], "="], [["a", 1], "="], [["a", "b"]], [["a", "b"], 1],
                                  [["a", "b"], "x" * 300], "ab"])
def test_dicts_rule(rule):
    refused(*_with_inputs(2, {"dicts": rule}), "dicts")


@pytest.mark.parametrize("rule", [[], [2], [1, 0], [0, 0], [-1], ["0"], 0])
def test_new_missing_rule(rule):
    refused(*_with_inputs(2, {"new_missing": rule}), "new_missing")


def test_valid_rules_load():
    for n, rule in ((1, {"target": [0, "ignore"]}), (2, {"sets": 0}),
                    (2, {"dicts": [["a", "b=c"], "="]}), (2, {"new_missing": [0, 1]})):
        _native.load_buffer(encode(*_with_inputs(n, rule)))
