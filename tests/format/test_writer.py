"""``dump`` loads every model file it makes with the native loader before writing it
(``writer.verify_model``): an exporter that emits a node the loader refuses makes ``dump``
raise an internal error naming the exporter, and nothing is written (a previous file stays)."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle
from mle_runtime import FormatError, MLEError
from mle_runtime.exporters import sklearn as sklearn_exporter


@pytest.fixture(scope="module")
def fitted():
    X, y = load_iris(return_X_y=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y), X


def broken(node_edit):
    """The scikit-learn exporter, with ``node_edit(graph)`` applied to what it produces
    behind Graph.add's back (an exporter bug)."""
    real = sklearn_exporter.export

    def export(model):
        graph, meta = real(model)
        node_edit(graph)
        return graph, meta

    return export


def unknown_attribute(graph):
    graph.nodes[-1].attrs["axis"] = 1


def value_of_the_wrong_kind(graph):
    linear = next(n for n in graph.nodes if n.op == "Linear")
    linear.attrs["follow_input_dtype"] = "yes"


@pytest.mark.parametrize("edit", [unknown_attribute, value_of_the_wrong_kind])
def test_a_file_that_would_not_load_is_never_written(fitted, tmp_path, monkeypatch, edit):
    model, X = fitted
    path = tmp_path / "model.mle"
    mle.dump(model, path)
    before = path.read_bytes()
    monkeypatch.setattr(sklearn_exporter, "export", broken(edit))
    for target, kwargs in [(path, {}), (tmp_path / "new.mle", {}),
                           (path, {"compress": "zlib"}), (path, {"quantize": "fp16"})]:
        with pytest.raises(MLEError) as info:
            mle.dump(model, target, **kwargs)
        msg = str(info.value)
        assert "internal error" in msg and "sklearn exporter" in msg
        assert "sklearn.Pipeline" in msg and "graph node" in msg and "Nothing was written" in msg
        assert isinstance(info.value.__cause__, FormatError)
        assert not isinstance(info.value, FormatError)  # the file is not at fault: a bug is
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.mle"]  # no temporary left
    np.testing.assert_array_equal(mle.load(path).predict(X), model.predict(X))


def test_models_inside_a_value_are_each_verified(fitted, tmp_path, monkeypatch):
    model, _ = fitted
    monkeypatch.setattr(sklearn_exporter, "export", broken(unknown_attribute))
    with pytest.raises(MLEError, match="sklearn exporter produced a file"):
        mle.dump({"model": model, "note": "x"}, tmp_path / "value.mle")
    assert list(tmp_path.iterdir()) == []


def test_verification_accepts_what_every_dump_path_writes(fitted, tmp_path):
    """Plain, compressed and value files of a model that loads are written as before."""
    model, X = fitted
    for name, kwargs, value in [("plain.mle", {}, model), ("zlib.mle", {"compress": "zlib"}, model),
                                ("value.mle", {}, {"m": model})]:
        path = tmp_path / name
        mle.dump(value, path, **kwargs)
        loaded = mle.load(path)
        loaded = loaded["m"] if isinstance(loaded, dict) else loaded
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
