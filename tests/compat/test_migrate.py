"""``mle_runtime.compat.migrate``: converting a directory tree of joblib/pickle files to .mle,
with predictions of every converted model equal to the original's on real data, a report
naming what needs pickle and what failed, and no partial files."""

import os
import sys
import textwrap

import joblib
import numpy as np
import pytest
from lightgbm import LGBMRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from xgboost import XGBClassifier

import mle_runtime as mle
from mle_runtime.compat import FileResult, MigrationReport, migrate
from mle_runtime.format import layout as L
from mle_runtime.runtime.proxies import MLEModel

migrate_module = sys.modules["mle_runtime.compat.migrate"]

CUSTOM_MODULE = '''
class ThresholdRule:
    """A user's own class: nothing mle_runtime can store natively."""

    def __init__(self, threshold, column):
        self.threshold = threshold
        self.column = column

    def predict(self, X):
        return (X[:, self.column] > self.threshold).astype(int)
'''


@pytest.fixture(scope="module")
def data():
    return {"breast_cancer": load_breast_cancer(return_X_y=True),
            "iris": load_iris(return_X_y=True),
            "diabetes": load_diabetes(return_X_y=True)}


@pytest.fixture(scope="module")
def custom_module(tmp_path_factory):
    """A module defining a user class, importable while the tests run (and by the CLI with
    PYTHONPATH), as the user's own code would be."""
    d = tmp_path_factory.mktemp("usercode")
    (d / "mle_migrate_usercode.py").write_text(textwrap.dedent(CUSTOM_MODULE))
    sys.path.insert(0, str(d))
    import mle_migrate_usercode

    yield mle_migrate_usercode, d
    sys.path.remove(str(d))
    sys.modules.pop("mle_migrate_usercode", None)


@pytest.fixture(scope="module")
def originals(data, custom_module):
    """The objects saved in the source tree, by relative path."""
    Xb, yb = data["breast_cancer"]
    Xi, yi = data["iris"]
    Xd, yd = data["diabetes"]
    mod, _ = custom_module
    return {
        "pipeline.joblib": make_pipeline(SimpleImputer(), StandardScaler(),
                                         LogisticRegression(max_iter=1000)).fit(Xb, yb),
        "forests/rf.pkl": RandomForestClassifier(n_estimators=15, max_depth=6,
                                                 random_state=0).fit(Xi, yi),
        "boosting/xgb.joblib": XGBClassifier(n_estimators=20, max_depth=3,
                                             random_state=0).fit(Xb, yb),
        "boosting/lgbm.jbl": LGBMRegressor(n_estimators=20, num_leaves=8, verbose=-1,
                                           random_state=0).fit(Xd, yd),
        "bundle.pickle": {"model": RandomForestClassifier(n_estimators=8, random_state=1)
                          .fit(Xb, yb), "threshold": 0.35,
                          "features": [f"f{i}" for i in range(Xb.shape[1])]},
        "arrays/means.joblib": np.ascontiguousarray(Xb.mean(axis=0)),
        "custom.joblib": {"rule": mod.ThresholdRule(0.5, 3), "version": 2},
    }


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory, originals):
    d = tmp_path_factory.mktemp("joblib-models")
    for rel, obj in originals.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(obj, d / rel, compress=3 if rel.endswith(".pkl") else 0)
    whole = (d / "pipeline.joblib").read_bytes()
    (d / "corrupt.joblib").write_bytes(whole[:len(whole) // 2])  # truncated mid-pickle
    (d / "notes.txt").write_text("not a model")                  # not matched
    return d


def _files(root):
    return sorted(os.path.relpath(os.path.join(dp, f), root)
                  for dp, _, fs in os.walk(root) for f in fs)


def _snapshot(root):
    return {rel: (root / rel).read_bytes() for rel in _files(root)}


def _check_converted_models(out, originals, data):
    Xb, _ = data["breast_cancer"]
    Xi, _ = data["iris"]
    Xd, _ = data["diabetes"]
    cases = [("pipeline.mle", originals["pipeline.joblib"], Xb),
             ("forests/rf.mle", originals["forests/rf.pkl"], Xi),
             ("boosting/xgb.mle", originals["boosting/xgb.joblib"], Xb),
             ("boosting/lgbm.mle", originals["boosting/lgbm.jbl"], Xd)]
    for rel, model, X in cases:
        proxy = mle.load(out / rel)
        assert isinstance(proxy, MLEModel), rel
        for rows in (X, X[:1], X.astype(np.float32)):
            expected = model.predict(rows)
            got = proxy.predict(rows)
            if expected.dtype.kind == "f":
                np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6, err_msg=rel)
            else:
                np.testing.assert_array_equal(got, expected, err_msg=rel)
            if hasattr(model, "predict_proba"):
                np.testing.assert_allclose(proxy.predict_proba(rows), model.predict_proba(rows),
                                           rtol=1e-6, atol=1e-6, err_msg=rel)
    bundle = mle.load(out / "bundle.mle")
    orig = originals["bundle.pickle"]
    assert list(bundle) == ["model", "threshold", "features"]
    assert bundle["threshold"] == 0.35 and bundle["features"] == orig["features"]
    np.testing.assert_array_equal(bundle["model"].predict(Xb), orig["model"].predict(Xb))
    np.testing.assert_allclose(bundle["model"].predict_proba(Xb),
                               orig["model"].predict_proba(Xb), rtol=0, atol=1e-9)
    means = mle.load(out / "arrays" / "means.mle")
    assert type(means) is np.ndarray and means.dtype == np.float64
    np.testing.assert_array_equal(means, originals["arrays/means.joblib"])


NATIVE = ["arrays/means.joblib", "boosting/lgbm.jbl", "boosting/xgb.joblib", "bundle.pickle",
          "forests/rf.pkl", "pipeline.joblib"]


def test_migrate_directory(source_tree, originals, data, tmp_path):
    before = _snapshot(source_tree)
    out = tmp_path / "out"
    report = migrate(source_tree, out, trust=True)
    assert isinstance(report, MigrationReport) and all(isinstance(r, FileResult) for r in report)
    by_src = {os.path.relpath(r.source, source_tree): r for r in report}
    assert sorted(by_src) == sorted(NATIVE + ["corrupt.joblib", "custom.joblib"])
    for rel in NATIVE:
        r = by_src[rel]
        assert r.status == "converted" and r.ok and r.problems == [] and r.error is None, r
        assert r.destination == os.path.join(str(out), os.path.splitext(rel)[0] + ".mle")
        assert r.size_before == (source_tree / rel).stat().st_size
        assert r.size_after == os.path.getsize(r.destination) > 0
        with open(r.destination, "rb") as f:
            assert f.read(8) == L.MAGIC
        mle.load(r.destination, allow_pickle=False)  # natively: no pickle section
    custom = by_src["custom.joblib"]
    assert custom.status == "needs_pickle" and not custom.ok and custom.size_after is None
    assert [(p, t) for p, t, _ in custom.problems] == \
        [("value['rule']", "mle_migrate_usercode.ThresholdRule")]
    assert "ThresholdRule" in custom.problems[0][2]
    corrupt = by_src["corrupt.joblib"]
    assert corrupt.status == "failed" and corrupt.error.startswith("cannot load:")
    assert corrupt.size_after is None
    # only the converted files, nothing partial, no temporary files; sources untouched
    assert _files(out) == sorted(os.path.splitext(rel)[0] + ".mle" for rel in NATIVE)
    assert _snapshot(source_tree) == before
    _check_converted_models(out, originals, data)
    assert not report.ok
    assert report.counts() == {"converted": 6, "pickled": 0, "needs_pickle": 1, "failed": 1,
                               "skipped": 0}
    assert [r.status for r in report.failed] == ["failed"]
    assert len(report.converted) == 6 and len(report.needs_pickle) == 1
    text = str(report)
    assert "6 converted natively" in text and "1 need pickle" in text and "1 failed" in text
    assert "value['rule'] (mle_migrate_usercode.ThresholdRule)" in text
    assert "custom.joblib" in text and "corrupt.joblib" in text and "cannot load" in text
    assert os.path.join("boosting", "xgb.joblib") in text
    assert "notes.txt" not in text


def test_trust_is_required(source_tree, tmp_path):
    for trust in (False, None, 1, "yes"):
        with pytest.raises(mle.PickleNotAllowedError) as info:
            migrate(source_tree, tmp_path / "out", trust=trust)
        assert "trust=True" in str(info.value) and "code" in str(info.value)
    with pytest.raises(mle.PickleNotAllowedError):
        migrate(source_tree / "pipeline.joblib", tmp_path / "one.mle")
    assert not (tmp_path / "out").exists() and not (tmp_path / "one.mle").exists()


def test_allow_pickle_converts_the_custom_class(source_tree, originals, tmp_path):
    out = tmp_path / "out"
    report = migrate(source_tree, out, trust=True, allow_pickle=True)
    by_src = {os.path.relpath(r.source, source_tree): r for r in report}
    r = by_src["custom.joblib"]
    assert r.status == "pickled" and r.ok and r.size_after > 0
    assert [(p, t) for p, t, _ in r.problems] == \
        [("value['rule']", "mle_migrate_usercode.ThresholdRule")]
    for rel in NATIVE:
        assert by_src[rel].status == "converted"  # natively, even with allow_pickle
        mle.load(by_src[rel].destination)
    assert by_src["corrupt.joblib"].status == "failed"
    assert report.counts()["pickled"] == 1 and not report.ok
    with pytest.raises(mle.PickleNotAllowedError, match="allow_pickle=True"):
        mle.load(out / "custom.mle")
    value = mle.load(out / "custom.mle", allow_pickle=True)
    assert value["version"] == 2
    rule = value["rule"]
    assert type(rule).__name__ == "ThresholdRule" and rule.threshold == 0.5
    X = load_iris().data
    np.testing.assert_array_equal(rule.predict(X), originals["custom.joblib"]["rule"].predict(X))
    assert mle.inspect_model(out / "custom.mle")["metadata"]["contents"]["pickled"] == \
        [{"path": "value['rule']", "type": "mle_migrate_usercode.ThresholdRule"}]
    assert "1 converted with a pickle section" in str(report)


def test_unsupported_estimator_is_named(data, tmp_path):
    Xi, yi = data["iris"]
    src = tmp_path / "src"
    src.mkdir()
    knn = KNeighborsClassifier(metric="cosine").fit(Xi, yi)
    joblib.dump({"scaler": StandardScaler().fit(Xi), "knn": knn}, src / "knn.joblib")
    report = migrate(src, trust=True)
    (r,) = report
    assert r.status == "needs_pickle"
    assert [(p, t) for p, t, _ in r.problems] == \
        [("value['knn']", "sklearn.neighbors._classification.KNeighborsClassifier")]
    assert "KNeighborsClassifier with metric='cosine' is not supported" in r.problems[0][2]
    assert not (src / "knn.mle").exists()
    assert "Supported:" not in str(report)  # the long list of models is left out of the table
    (r,) = migrate(src, trust=True, allow_pickle=True)
    assert r.status == "pickled" and r.destination == str(src / "knn.mle")
    value = mle.load(src / "knn.mle", allow_pickle=True)
    assert isinstance(value["scaler"], MLEModel)  # the scaler stays native
    np.testing.assert_array_equal(value["knn"].predict(Xi), knn.predict(Xi))


def test_next_to_the_sources_by_default(source_tree, tmp_path):
    import shutil

    src = tmp_path / "tree"
    shutil.copytree(source_tree, src)
    report = migrate(str(src), trust=True, recursive=False, patterns=["*.JOBLIB"])
    assert sorted(os.path.relpath(r.source, src) for r in report) == \
        ["corrupt.joblib", "custom.joblib", "pipeline.joblib"]  # top level, any case
    assert (src / "pipeline.mle").is_file() and not (src / "boosting" / "xgb.mle").exists()
    assert not (src / "corrupt.mle").exists() and not (src / "custom.mle").exists()


def test_single_file(source_tree, originals, data, tmp_path):
    Xb, _ = data["breast_cancer"]
    (r,) = migrate(source_tree / "pipeline.joblib", tmp_path / "p.mle", trust=True)
    assert r.status == "converted" and r.destination == str(tmp_path / "p.mle")
    np.testing.assert_array_equal(mle.load(tmp_path / "p.mle").predict(Xb),
                                  originals["pipeline.joblib"].predict(Xb))
    (tmp_path / "dir").mkdir()
    (r,) = migrate(source_tree / "boosting" / "xgb.joblib", tmp_path / "dir", trust=True)
    assert r.destination == str(tmp_path / "dir" / "xgb.mle") and r.ok
    report = migrate(source_tree / "notes.txt", tmp_path / "notes.mle", trust=True)
    assert report[0].status == "failed" and not (tmp_path / "notes.mle").exists()
    with pytest.raises(FileNotFoundError):
        migrate(tmp_path / "missing.joblib", trust=True)


def test_overwrite_and_existing_files(source_tree, tmp_path):
    out = tmp_path / "out"
    migrate(source_tree, out, trust=True)
    first = _snapshot(out)
    (out / "corrupt.mle").write_bytes(b"an older file")
    report = migrate(source_tree, out, trust=True)
    statuses = {os.path.basename(r.source): r.status for r in report}
    assert statuses.pop("custom.joblib") == "needs_pickle"  # no custom.mle: tried again
    assert set(statuses.values()) == {"skipped"}
    assert all("overwrite=True" in r.error for r in report.skipped)
    assert not report.ok and "7 skipped" in str(report)
    assert _snapshot(out) == {**first, "corrupt.mle": b"an older file"}
    report = migrate(source_tree, out, trust=True, overwrite=True)
    assert report.counts()["converted"] == 6
    # a failed conversion never damages the file it would have replaced
    assert (out / "corrupt.mle").read_bytes() == b"an older file"
    assert "corrupt.mle" not in first
    assert _files(out) == sorted(list(first) + ["corrupt.mle"])


def test_compress(source_tree, data, originals, tmp_path):
    Xi, _ = data["iris"]
    report = migrate(source_tree / "forests", tmp_path / "z", trust=True, compress=("zstd", 9))
    (r,) = report
    assert r.ok and mle.inspect_model(r.destination)["compression"] == {"method": "zstd",
                                                                        "level": 9}
    np.testing.assert_array_equal(mle.load(r.destination).predict(Xi),
                                  originals["forests/rf.pkl"].predict(Xi))
    with pytest.raises(ValueError, match="compress"):
        migrate(source_tree, tmp_path / "bad", trust=True, compress="lz4")
    assert not (tmp_path / "bad").exists()


def test_verification_failure_is_not_success(source_tree, tmp_path, monkeypatch):
    real_load = mle.load

    def wrong_load(*args, **kwargs):
        value = real_load(*args, **kwargs)
        if isinstance(value, dict) and "threshold" in value:
            value = dict(value, threshold=0.5)
        if isinstance(value, np.ndarray):
            value = value.copy()
            value[0] += 1
        return value

    monkeypatch.setattr(mle, "load", wrong_load)
    report = migrate(source_tree, tmp_path / "out", trust=True)
    by_src = {os.path.relpath(r.source, source_tree): r for r in report}
    for rel, where in (("bundle.pickle", "value['threshold']"), ("arrays/means.joblib",
                                                                 "value")):
        r = by_src[rel]
        assert r.status == "failed" and "loads back different" in r.error and where in r.error
        assert not os.path.exists(r.destination)
    assert by_src["pipeline.joblib"].status == "converted"


def test_write_failure_leaves_nothing(source_tree, tmp_path, monkeypatch):
    from mle_runtime.format import writer

    def failing(path, data):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(writer, "write_atomic", failing)
    report = migrate(source_tree / "pipeline.joblib", tmp_path / "p.mle", trust=True)
    assert report[0].status == "failed" and "No space left" in report[0].error
    assert os.listdir(tmp_path) == []


def test_name_collisions_and_mle_sources(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    joblib.dump({"a": 1}, src / "model.joblib")
    joblib.dump({"a": 2}, src / "model.pkl")
    mle.dump({"a": 3}, src / "already.pkl")  # an .mle file with a pickle-like name
    report = migrate(src, tmp_path / "out", trust=True)
    by_name = {os.path.basename(r.source): r for r in report}
    for name in ("model.joblib", "model.pkl"):
        assert by_name[name].status == "failed" and "same" in by_name[name].error
    assert by_name["already.pkl"].status == "skipped"
    assert "already an .mle file" in by_name["already.pkl"].error
    assert not (tmp_path / "out").exists()


def test_destination_inside_the_source_is_not_walked(source_tree, tmp_path):
    import shutil

    src = tmp_path / "tree"
    shutil.copytree(source_tree, src)
    (src / "mle").mkdir()
    joblib.dump({"inside": True}, src / "mle" / "stray.joblib")
    report = migrate(src, src / "mle", trust=True)
    assert not any("stray" in r.source for r in report)
    assert (src / "mle" / "pipeline.mle").is_file()


def test_destination_must_be_a_directory(source_tree, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        migrate(source_tree, tmp_path / "file", trust=True)


def test_empty_report(tmp_path):
    report = migrate(tmp_path, trust=True)
    assert report == [] and report.ok and "no files matching *.joblib" in str(report)


def test_report_module_constants():
    assert migrate_module.DEFAULT_PATTERNS == ("*.joblib", "*.pkl", "*.pickle", "*.jbl")
    assert set(migrate_module.STATUSES) == {"converted", "pickled", "needs_pickle", "failed",
                                            "skipped"}


def _pandas_pairs():
    import pandas as pd

    df = pd.DataFrame({"a": [1.0, np.nan], "b": pd.Categorical(["x", "y"])},
                      index=pd.Index([3, 4], name="id"))
    changed = df.copy()
    changed.loc[3, "a"] = 2.0
    renamed = df.copy()
    renamed.index.name = "other"
    f32 = df.copy()
    f32["a"] = f32["a"].astype(np.float32)
    s = pd.Series([1, 2], name="s")
    return [(df, df.copy(), True), (df, changed, False), (df, renamed, False),
            (df, f32, False), (s, s.copy(), True), (s, s.rename("t"), False),
            (pd.Index(["a", "b"]), pd.Index(["a", "b"], name="n"), False),
            (pd.Categorical(["a", "b"]), pd.Categorical(["a", "a"], categories=["a", "b"]),
             False), ([pd.NA, pd.NaT], [pd.NA, pd.NaT], True)]


def _plain_pairs():
    import collections
    import datetime

    return [({"x": [1, 2.5, float("nan")], "y": (np.float32(1),)},
             {"x": [1, 2.5, float("nan")], "y": (np.float32(1),)}, True),
            ({"x": 1}, {"y": 1}, False), ([1, 2], [1, 3], False), ([1, 2], (1, 2), False),
            ({"a": 1}, collections.OrderedDict(a=1), False),
            (np.array([1.0, np.nan]), np.array([1.0, np.nan]), True),
            (np.array([0.0]), np.array([-0.0]), False),
            (np.arange(4, dtype=np.int64), np.arange(4, dtype=np.int32), False),
            (np.zeros((2, 3)), np.zeros((3, 2)), False),
            (np.array([1, "a", None], dtype=object), np.array([1, "a", None], dtype=object),
             True),
            (np.array([1, "a"], dtype=object), np.array([1, "b"], dtype=object), False),
            (np.float32(1.5), np.float64(1.5), False), ({1, 2}, {1, 3}, False),
            (datetime.date(2020, 1, 1), datetime.date(2020, 1, 2), False),
            (b"ab", b"ab", True), (3 + 1j, 3 + 1j, True), (True, 1, False)]


@pytest.mark.parametrize("index", range(len(_plain_pairs()) + len(_pandas_pairs())))
def test_verification_compares_values(index):
    """The check run on each converted file before it is written: equal values pass, any
    difference in a value, type, dtype, shape, key or name is caught."""
    pairs = _plain_pairs() + _pandas_pairs()
    orig, got, same = pairs[index]
    out = []
    migrate_module._compare(orig, got, "value", out, 0)
    assert (out == []) is same, (orig, got, out)
