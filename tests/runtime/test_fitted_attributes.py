"""Fitted attributes of loaded models (the estimator record, docs/FORMAT.md section 19):
each compared with the original estimator's; arrays are read-only views into the loaded file;
an attribute that is not stored raises AttributeError naming what is."""

import json
import zlib

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMRegressor
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier, \
    RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler
from sklearn.tree import DecisionTreeRegressor
from xgboost import XGBClassifier

import mle_runtime as mle
from mle_runtime.format import container, layout as L, writer
from mle_runtime.runtime.protocol import StoredEstimator
from mle_runtime.runtime.proxies import MLEModel


def _from_file(arr):
    """Whether ``arr`` is a read-only view of a loaded model's section (no copy)."""
    if arr.flags.writeable or arr.flags.owndata:
        return False
    base = arr
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return type(base).__name__ == "SectionBuffer"


def _same(got, want, name, view=True):
    if isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), name
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert not got.flags.writeable, f"{name} is writeable"
        # arrays of at most 64 bytes are stored inline in the record's JSON (FORMAT.md 19.2)
        if view and want.dtype.kind in "fiub" and want.nbytes > 64:
            assert _from_file(got), f"{name} is a copy, not a view of the file"
    elif isinstance(want, dict):
        assert got.keys() == want.keys(), name
        for k in want:
            _same(got[k], want[k], f"{name}[{k!r}]")
    elif isinstance(want, float):
        assert type(got) is float and (got == want or np.isnan(got) and np.isnan(want)), name
    else:
        assert got == want and type(got) is type(want) or (
            isinstance(want, np.integer) and got == want), name


def _check(model, proxy, names):
    for name in names:
        # the loaded model's own classes_ are the graph's label records (read-only arrays
        # made at load from the graph section), not tensors
        view = not (isinstance(proxy, MLEModel) and name == "classes_")
        _same(getattr(proxy, name), getattr(model, name), name, view)


def test_linear_classifier(dataset, roundtrip):
    X, y = dataset("iris")
    model = LogisticRegression(max_iter=300).fit(X, y)
    proxy = roundtrip(model)
    _check(model, proxy, ("coef_", "intercept_", "classes_", "n_features_in_", "n_iter_", "C",
                          "max_iter"))
    with pytest.raises(ValueError, match="read-only"):
        proxy.coef_[0, 0] = 1.0


def test_linear_regressor_and_feature_names(dataset, roundtrip):
    X, y = dataset("diabetes")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = Ridge(alpha=0.3).fit(frame, y)
    proxy = roundtrip(model)
    _check(model, proxy, ("coef_", "intercept_", "n_features_in_", "alpha"))
    np.testing.assert_array_equal(proxy.feature_names_in_, model.feature_names_in_)
    # coef_ (10,) is the graph's (1, 10) weight tensor, viewed with the estimator's shape
    assert proxy.coef_.shape == (10,)


def test_scalers_and_imputer_as_pipeline_steps(dataset, roundtrip):
    X, y = dataset("wine")
    X = X.copy()
    X[::7, 2] = np.nan
    steps = [("impute", SimpleImputer(strategy="median")), ("std", StandardScaler()),
             ("minmax", MinMaxScaler()), ("maxabs", MaxAbsScaler()), ("robust", RobustScaler()),
             ("clf", LogisticRegression(max_iter=2000))]
    model = Pipeline(steps).fit(X, y)
    proxy = roundtrip(model)
    assert list(proxy.named_steps) == [n for n, _ in steps]
    assert [n for n, _ in proxy.steps] == [n for n, _ in steps]
    assert len(proxy) == len(model)
    names = {"impute": ("statistics_", "n_features_in_", "strategy"),
             "std": ("mean_", "scale_", "var_", "n_samples_seen_", "with_mean"),
             "minmax": ("min_", "scale_", "data_min_", "data_max_", "data_range_",
                        "n_samples_seen_", "feature_range"),
             "maxabs": ("max_abs_", "scale_", "n_samples_seen_"),
             "robust": ("center_", "scale_", "quantile_range"),
             "clf": ("coef_", "intercept_", "classes_", "n_features_in_")}
    for i, (name, step) in enumerate(steps):
        got = proxy.named_steps[name]
        assert isinstance(got, StoredEstimator)
        assert got is not None and proxy[i]._record() == got._record() == proxy[name]._record()
        assert repr(got) == repr(model.named_steps[name])
        _check(model.named_steps[name], got, names[name])
    assert proxy.named_steps.std.mean_.shape == (X.shape[1],)  # attribute access, as Bunch
    _check(model, proxy, ("classes_", "n_features_in_"))
    with pytest.raises(TypeError, match="cannot be sliced"):
        proxy[:-1]
    with pytest.raises(AttributeError, match="runs only in the loaded model"):
        proxy.named_steps["std"].transform(X)


def test_trees_and_ensembles(dataset, roundtrip):
    X, y = dataset("clf_multiclass")
    forest = RandomForestClassifier(n_estimators=15, max_depth=5, random_state=0).fit(X, y)
    proxy = roundtrip(forest)
    _check(forest, proxy, ("feature_importances_", "classes_", "n_classes_", "n_outputs_",
                           "n_features_in_", "n_estimators", "max_depth"))
    assert repr(proxy.estimator_) == repr(forest.estimator_)
    gb = GradientBoostingClassifier(n_estimators=30, max_depth=2, n_iter_no_change=3,
                                    random_state=0).fit(X, y)
    _check(gb, roundtrip(gb), ("feature_importances_", "n_estimators_", "train_score_",
                               "classes_", "n_estimators"))
    Xr, yr = dataset("regression")
    tree = DecisionTreeRegressor(max_depth=4, random_state=0).fit(Xr, yr)
    _check(tree, roundtrip(tree), ("feature_importances_", "max_features_", "n_outputs_"))
    rf = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(Xr, yr)
    _check(rf, roundtrip(rf), ("feature_importances_", "n_estimators", "n_features_in_"))


def test_one_vs_rest_sub_estimators(dataset, roundtrip):
    X, y = dataset("iris")
    model = OneVsRestClassifier(LogisticRegression(max_iter=300)).fit(X, y)
    proxy = roundtrip(model)
    assert len(proxy.estimators_) == len(model.estimators_) == 3
    for got, want in zip(proxy.estimators_, model.estimators_):
        _check(want, got, ("coef_", "intercept_", "classes_"))


def test_xgboost_booster(dataset, roundtrip):
    X, y = dataset("breast_cancer")
    model = XGBClassifier(n_estimators=200, max_depth=3, early_stopping_rounds=5,
                          random_state=0)
    model.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])], verbose=False)
    proxy = roundtrip(model)
    assert model.best_iteration < 199
    _check(model, proxy, ("best_iteration", "best_score", "feature_importances_", "classes_",
                          "n_classes_", "n_estimators", "max_depth"))


def test_lightgbm_booster(dataset, roundtrip):
    from lightgbm import early_stopping

    X, y = dataset("diabetes")
    model = LGBMRegressor(n_estimators=300, num_leaves=7, verbose=-1).fit(
        X[:350], y[:350], eval_X=(X[350:],), eval_y=(y[350:],),
        callbacks=[early_stopping(5, verbose=False)])
    proxy = roundtrip(model)
    assert 0 < model.best_iteration_ < 300
    _check(model, proxy, ("best_iteration_", "feature_importances_", "n_estimators_",
                          "n_estimators", "num_leaves"))
    assert proxy.best_score_ == {k: dict(v) for k, v in model.best_score_.items()}


def test_missing_attribute_names_what_is_stored(dataset, roundtrip):
    X, y = dataset("iris")
    proxy = roundtrip(LogisticRegression(max_iter=300).fit(X, y))
    with pytest.raises(AttributeError, match=r"no attribute 'support_vectors_'.*coef_.*"
                                             r"intercept_.*parameters: C, "):
        proxy.support_vectors_
    assert not hasattr(proxy, "feature_importances_")
    assert "coef_" in dir(proxy)


def _without_record(data):
    """The file as format 1.3 wrote it: no estimator record section."""
    c = container.parse(data, verify=())
    parts = [(s.kind, bytes(c.payload(s)), 64 if s.kind == L.SECTION_DATA else 8)
             for s in c.sections if s.kind not in (L.SECTION_ESTIMATOR,
                                                   L.SECTION_ESTIMATOR_ZLIB,
                                                   L.SECTION_ESTIMATOR_DATA)]
    return writer.pack_sections(parts, minor=L.MINOR_RULES)


def test_older_files_load_with_fewer_attributes(dataset, tmp_path):
    X, y = dataset("iris")
    model = LogisticRegression(max_iter=300).fit(X, y)
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    assert container.parse(path.read_bytes()).version == "1.5"
    old = tmp_path / "old.mle"
    old.write_bytes(_without_record(path.read_bytes()))
    assert container.parse(old.read_bytes()).version == "1.3"
    proxy = mle.load(old)
    np.testing.assert_array_equal(proxy.predict(X), model.predict(X))
    np.testing.assert_array_equal(proxy.classes_, model.classes_)
    assert proxy.n_features_in_ == 4
    with pytest.raises(AttributeError, match="no estimator record.*before format 1.4"):
        proxy.coef_
    assert proxy.score(X, y) == pytest.approx(model.score(X, y))
    assert "LogisticRegression" in repr(proxy)


def test_hostile_record_is_a_format_error(dataset, tmp_path):
    X, y = dataset("iris")
    path = tmp_path / "m.mle"
    mle.dump(LogisticRegression(max_iter=300).fit(X, y), path)
    c = container.parse(path.read_bytes(), verify=())
    for k, bad in enumerate((b'{"class":"x","attributes":{"coef_":{"tensor":99}}}',
                b'{"class":"x","attributes":{"coef_":{"tensor":0,"shape":[7]}}}',
                b'{"class":"x","attributes":{"coef_":{"array":["<U999999999",["a"],[1]]}}}',
                b'{"class":"x","attributes":{"coef_":{"data":[8,"f8",[4096]]}}}',
                b'{"class":"x","attributes":{"coef_":{"data":[3,"f8",[1]]}}}',
                b'{"class":"x","attributes":{"coef_":{"what":1}}}', b"[1, 2]", b"{")):
        bad_path = tmp_path / f"bad{k}.mle"
        bad_path.write_bytes(container.repack(
            c, replace={L.SECTION_ESTIMATOR_ZLIB: zlib.compress(bad)}))
        proxy = mle.load(bad_path)
        np.testing.assert_array_equal(proxy.predict(X[:3]), [0, 0, 0])  # predictions unaffected
        with pytest.raises((mle.FormatError, AttributeError)):
            proxy.coef_


@pytest.mark.parametrize("packed, message", [
    (b"not a zlib stream", "damaged"),
    (zlib.compress(b'{"class":"x"}')[:-3], "truncated"),
    (zlib.compress(b'{"class":"x"}') + b"tail", "trailing bytes"),
    (zlib.compress(b" " * (L.MAX_ESTIMATOR_JSON + 1)), "inflates beyond the cap"),
])
def test_hostile_compressed_record_is_a_format_error(dataset, tmp_path, packed, message):
    X, y = dataset("iris")
    path = tmp_path / "m.mle"
    mle.dump(LogisticRegression(max_iter=300).fit(X, y), path)
    c = container.parse(path.read_bytes(), verify=())
    bad = tmp_path / "bad.mle"
    bad.write_bytes(container.repack(c, replace={L.SECTION_ESTIMATOR_ZLIB: packed}))
    proxy = mle.load(bad)
    np.testing.assert_array_equal(proxy.predict(X[:3]), [0, 0, 0])
    with pytest.raises(mle.FormatError, match=message):
        proxy.coef_


def test_a_plain_record_of_format_1_4_is_read(dataset, tmp_path):
    """Files of format 1.4 hold the record as plain JSON (section 10)."""
    X, y = dataset("iris")
    model = LogisticRegression(max_iter=300).fit(X, y)
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    c = container.parse(path.read_bytes(), verify=())
    parts = []
    for s in c.sections:
        payload = bytes(c.payload(s))
        if s.kind == L.SECTION_ESTIMATOR_ZLIB:
            parts.append((L.SECTION_ESTIMATOR, zlib.decompress(payload), 8, s.flags))
        else:
            parts.append((s.kind, payload, 64 if s.kind in (L.SECTION_DATA,
                                                            L.SECTION_ESTIMATOR_DATA) else 8,
                          s.flags))
    old = tmp_path / "old.mle"
    old.write_bytes(writer.pack_sections(parts, minor=L.MINOR_ESTIMATOR))
    assert container.parse(old.read_bytes()).version == "1.4"
    proxy = mle.load(old)
    np.testing.assert_array_equal(proxy.coef_, model.coef_)
    assert proxy.get_params()["max_iter"] == 300


def test_small_record_arrays_are_inline_and_the_record_is_compressed(dataset, tmp_path):
    """A record of a small model takes a fraction of its JSON: arrays of up to 64 bytes are
    written inline, and the JSON is stored zlib-compressed when that is smaller."""
    X, y = dataset("iris")
    model = LogisticRegression(max_iter=300).fit(X, y)
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    c = container.parse(path.read_bytes())
    kinds = [s.kind for s in c.sections]
    assert L.SECTION_ESTIMATOR_ZLIB in kinds and L.SECTION_ESTIMATOR not in kinds
    assert L.SECTION_ESTIMATOR_DATA not in kinds  # n_iter_ and classes_ are inline
    sec = next(s for s in c.sections if s.kind == L.SECTION_ESTIMATOR_ZLIB)
    record = json.loads(zlib.decompress(bytes(c.payload(sec))))
    assert record["attributes"]["n_iter_"] == {"array": ["<i4", [int(model.n_iter_[0])], [1]]}
    proxy = mle.load(path)
    assert proxy.n_iter_.dtype == model.n_iter_.dtype and not proxy.n_iter_.flags.writeable
    np.testing.assert_array_equal(proxy.n_iter_, model.n_iter_)


def test_load_and_predict_do_not_read_the_record(dataset, tmp_path, monkeypatch):
    """The record is read on first use of the protocol, never by load or predict."""
    from mle_runtime.runtime import proxies

    X, y = dataset("iris")
    path = tmp_path / "m.mle"
    mle.dump(LogisticRegression(max_iter=300).fit(X, y), path)
    calls = []
    monkeypatch.setattr(proxies, "read_record", lambda native: calls.append(1) or None)
    proxy = mle.load(path, cache=False)
    proxy.predict(X[:1])
    proxy.predict_proba(X[:1])
    assert not hasattr(proxy, "transform")
    assert calls == []
    assert proxy.classes_.tolist() == [0, 1, 2] and calls == []
    with pytest.raises(AttributeError):
        proxy.coef_
    assert calls == [1]
