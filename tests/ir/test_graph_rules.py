"""The prediction-rule records a Graph writes (docs/FORMAT.md 9.4 and 9.7)."""

import io

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime.format import writer
from mle_runtime.ir import Graph
from mle_testing import rules


def _classifier():
    g = Graph("Toy", 2)
    w = g.tensor(np.array([[1.0, 0.0], [-1.0, 2.0], [0.5, -0.5]]), "float64")
    scores = g.add("Linear", ["X"], weight=w)
    return g, scores


def test_records_are_left_out_when_unused():
    g, scores = _classifier()
    g.output("decision_function", scores)
    g.output("predict", g.add("ArgMax", [scores]), ravel=True)
    j = g.to_json([0])
    assert not {"estimator_type", "labels", "keywords", "inputs"} & set(j)
    assert j["outputs"] == [["decision_function", "v1"], ["predict", "v2", True]]


def test_records_round_trip_through_the_native_loader():
    g, scores = _classifier()
    g.estimator_type = "classifier"
    k = g.labels("<U3", ["cat", "dog", "eel"])
    assert g.labels("<U3", ["cat", "dog", "eel"]) == k  # stored once
    assert g.labels("<i8", [0, 1, 2]) == k + 1
    g.output("predict", g.add("ArgMax", [scores]), ravel=True, labels=k)
    g.output("decision_function", scores, dtype="float32", splits=[1, 2])
    g.keyword("predict", "raw", True, "decision_function")
    g.inputs = {"feature_names": ["a", "b"], "categories": {"b": ["x", "y"]},
                "unseen": "error"}
    j = g.to_json([0])
    assert j["outputs"][0] == ["predict", "v2", {"labels": 0, "ravel": True}]
    assert j["outputs"][1] == ["decision_function", "v1", {"splits": [1, 2], "dtype": "float32"}]
    model = mle.load(io.BytesIO(writer.encode({}, g)))
    assert rules(model) == {
        "estimator_type": "classifier",
        "labels": [["<U3", ["cat", "dog", "eel"]], ["<i8", [0, 1, 2]]],
        "outputs": {"predict": {"labels": 0},
                    "decision_function": {"splits": [1, 2], "dtype": "float32"}},
        "keywords": [["predict", "raw", True, "decision_function"]],
        "inputs": {"feature_names": ["a", "b"], "categories": {"b": ["x", "y"]},
                   "unseen": "error"},
    }
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(model.predict(X), ["cat", "dog"])
    np.testing.assert_array_equal(model.classes_, ["cat", "dog", "eel"])
    blocks = model.decision_function(X)
    assert [b.shape for b in blocks] == [(2, 1), (2, 2)] and blocks[0].dtype == np.float32
    assert model.predict(X, raw=True)[0].shape == (2, 1)


def test_duplicate_output_names_are_refused():
    g, scores = _classifier()
    g.output("predict", scores)
    with pytest.raises(ValueError, match="duplicate"):
        g.output("predict", scores, dtype="float32")


def test_multi_output_labels_need_one_set_per_segment():
    """SegmentArgMax bounds each column by its segment's size: a label set shorter than its
    segment is refused at load."""
    g = Graph("Toy", 2)
    w = g.tensor(np.ones((5, 2)), "float64")
    scores = g.add("Linear", ["X"], weight=w)
    pred = g.add("SegmentArgMax", [scores], segments=g.tensor(np.array([2, 3]), "int64"))
    a, b = g.labels("<i8", [0, 1]), g.labels("<i8", [5, 6])  # b: 2 labels for 3 indices
    g.output("predict", pred, labels=[a, b])
    with pytest.raises(mle.FormatError, match="column 1 gives class indices 0..2 but label "
                                              "set 1 has 2 labels"):
        mle.load(io.BytesIO(writer.encode({}, g)))
    g.label_sets[b] = ["<i8", [5, 6, 7]]
    model = mle.load(io.BytesIO(writer.encode({}, g)))
    assert model.predict(np.zeros((1, 2))).tolist() == [[0, 5]]
