"""Versioned metadata (creation time, content hash, user metadata, model version, lineage),
``inspect_model`` without a plan, and the proxy's ``get_model_info``."""

import hashlib
import io
import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

import mle_runtime as mle
from mle_runtime.format import container
from mle_runtime.format import layout as L


@pytest.fixture(scope="module")
def clf():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=500).fit(X, y), X


def test_recorded_keys(clf, tmp_path):
    model, X = clf
    path = tmp_path / "m.mle"
    mle.dump(model, path, metadata={"team": "risk", "tags": ["a", 1, None], "n": {"x": 1.5}},
             model_version="2.1.0-rc.1+build.5")
    info = mle.inspect_model(path)
    assert info["format_version"] == "1.5"  # the compressed estimator record
    assert info["mle_runtime_version"] == mle.__version__
    assert info["framework"] == "sklearn"
    import sklearn

    assert info["framework_version"] == sklearn.__version__
    assert info["model_class"] == "sklearn.LogisticRegression"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["created"])
    assert info["user_metadata"] == {"team": "risk", "tags": ["a", 1, None], "n": {"x": 1.5}}
    assert info["model_version"] == "2.1.0-rc.1+build.5"
    assert info["parent"] is None
    assert info["graph"]["n_features"] == 4
    assert set(info["graph"]["outputs"]) >= {"predict", "predict_proba"}
    assert info["signature"] is None and info["compression"] is None
    assert info["encryption"] is None
    assert info["metadata"]["user"]["team"] == "risk"


def test_content_hash_is_sha256_of_graph_and_tensors(clf, tmp_path):
    model, _ = clf
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    c = container.parse(path.read_bytes())
    h = hashlib.sha256(bytes(c.payload(c.find(L.SECTION_GRAPH))) +
                       bytes(c.payload(c.find(L.SECTION_DATA)))).hexdigest()
    assert mle.inspect_model(path)["content_hash"] == "sha256:" + h
    # the hash depends on the model only: not on time, user metadata, compression or keys
    mle.dump(model, tmp_path / "b.mle", metadata={"x": 1}, compress=3)
    assert mle.inspect_model(tmp_path / "b.mle")["content_hash"] == "sha256:" + h
    other = LogisticRegression(max_iter=500, C=0.1).fit(*_iris())
    mle.dump(other, tmp_path / "c.mle")
    assert mle.inspect_model(tmp_path / "c.mle")["content_hash"] != "sha256:" + h


def _iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def test_lineage(clf, tmp_path):
    model, X = clf
    parent = tmp_path / "parent.mle"
    mle.dump(model, parent)
    h = mle.inspect_model(parent)["content_hash"]
    child = LogisticRegression(max_iter=500, C=0.5).fit(*_iris())
    for p in (h, parent, str(parent), mle.load(parent)):
        mle.dump(child, tmp_path / "child.mle", parent=p, model_version="1.1.0")
        info = mle.inspect_model(tmp_path / "child.mle")
        assert info["parent"] == h
        assert info["metadata"]["lineage"] == {"parent": h}


@pytest.mark.parametrize("kwargs, err", [
    ({"metadata": {"x": float("nan")}}, TypeError),
    ({"metadata": {"x": object()}}, TypeError),
    ({"metadata": {1: "a"}}, TypeError),
    ({"metadata": ["a"]}, TypeError),
    ({"model_version": "1.0"}, ValueError),
    ({"model_version": "v1.0.0"}, ValueError),
    ({"model_version": "01.0.0"}, ValueError),
    ({"model_version": 1}, ValueError),
    ({"parent": "sha256:xyz"}, OSError),
    ({"parent": 42}, TypeError),
])
def test_bad_metadata_arguments(kwargs, err, clf, tmp_path):
    model, _ = clf
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    before = path.read_bytes()
    with pytest.raises(err):
        mle.dump(model, path, **kwargs)
    assert path.read_bytes() == before


def test_source_date_epoch(clf, tmp_path, monkeypatch):
    model, _ = clf
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    mle.dump(model, tmp_path / "m.mle")
    assert mle.inspect_model(tmp_path / "m.mle")["created"] == "1970-01-01T00:00:00Z"


def test_inspect_builds_no_plan(clf, tmp_path, monkeypatch):
    """inspect_model works on a file whose graph the native plan builder would refuse."""
    from mle_runtime import _native

    model, _ = clf
    path = tmp_path / "m.mle"
    mle.dump(model, path)

    def no(*a, **k):
        raise AssertionError("inspect_model built a plan")

    monkeypatch.setattr(_native, "load_path", no)
    monkeypatch.setattr(_native, "load_buffer", no)
    info = mle.inspect_model(path)
    assert info["model_class"] == "sklearn.LogisticRegression"
    assert mle.inspect_model(io.BytesIO(path.read_bytes()))["content_hash"] == \
        info["content_hash"]
    assert mle.inspect_model(path.read_bytes())["content_hash"] == info["content_hash"]


def test_inspect_refuses_damaged_files(clf, tmp_path):
    model, _ = clf
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    data = bytearray(path.read_bytes())
    c = container.parse(bytes(data))
    data[c.find(L.SECTION_META).offset + 3] ^= 1
    with pytest.raises(mle.FormatError, match="checksum"):
        mle.inspect_model(bytes(data))
    with pytest.raises(mle.FormatError):
        mle.inspect_model(b"\x80\x04junk" * 10)


def test_get_model_info(clf, tmp_path):
    model, X = clf
    path = tmp_path / "m.mle"
    mle.dump(model, path, metadata={"a": 1}, model_version="3.0.0")
    proxy = mle.load(path)
    info = proxy.get_model_info()
    file_info = mle.inspect_model(path)
    for key in ("mle_runtime_version", "framework", "framework_version", "model_class",
                "estimator_type", "created", "content_hash", "model_version", "parent",
                "user_metadata"):
        assert info[key] == file_info[key], key
    # format 1.3: the estimator type is a graph record, not a metadata key
    assert info["estimator_type"] == "classifier" and "estimator_type" not in info["metadata"]
    assert info["n_features"] == 4
    assert "predict_proba" in info["outputs"]
    info["metadata"]["a"] = 2  # a copy
    assert proxy.get_model_info()["metadata"]["user"] == {"a": 1}


def test_older_files_without_new_keys(tmp_path):
    """Files written before these keys existed load and inspect (values None)."""
    from mle_runtime.exporters import export
    from mle_runtime.format import writer

    X, y = _iris()
    graph, meta = export(Ridge().fit(X, y))
    path = tmp_path / "old.mle"
    path.write_bytes(writer.encode(meta, graph))
    info = mle.inspect_model(path)
    assert info["content_hash"] is None and info["created"] is None
    assert mle.load(path).get_model_info()["content_hash"] is None
    np.testing.assert_allclose(mle.load(path).predict(X), Ridge().fit(X, y).predict(X))
