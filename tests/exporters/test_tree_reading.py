"""Every tree exporter's output against the former readers and packing
(tests/tree_packing_reference.py), byte for byte: the graph and every tensor. The XGBoost
exporter read the JSON model tree by tree, the LightGBM one ``dump_model()``; both now read
their frameworks' faster forms (UBJSON, the text model) for all trees at once, and packing
runs natively."""

import numpy as np
import pandas as pd
import pytest

import tree_packing_reference as ref
from mle_runtime.exporters import export
from mle_runtime.exporters import lightgbm as lgb_exporter
from mle_runtime.exporters import xgboost as xgb_exporter
from mle_runtime.format import writer
from mle_runtime.ir import trees as ir_trees


def _encoded(model):
    graph, _ = export(model)
    blob, offsets, _ = writer.pack_tensors(graph.tensors)
    return writer.encode_json(graph.to_json(offsets)), blob


def _reference_packing(monkeypatch):
    monkeypatch.setattr(ir_trees, "pack", ref.pack)


def _same_as_before(model, monkeypatch, former_reader=None):
    now = _encoded(model)
    with monkeypatch.context() as m:
        _reference_packing(m)
        if former_reader is not None:
            former_reader(m)
        before = _encoded(model)
    assert now[0] == before[0]
    assert now[1] == before[1]


def _data(n=600, k=8, seed=0, nan=0.0):
    """X (with a fraction ``nan`` missing), class labels y (3 classes) and regression
    targets R (two columns), all from the complete X."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, k))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 0.5)
    R = np.stack([X[:, 0] + X[:, 4] ** 2, X[:, 1] - X[:, 2]], axis=1)
    if nan:
        X[rng.random(X.shape) < nan] = np.nan
    return X, y, R


# -- scikit-learn: only the packing changed ------------------------------------------------

def _sklearn_models():
    from sklearn.ensemble import (ExtraTreesRegressor, GradientBoostingClassifier,
                                  HistGradientBoostingClassifier, IsolationForest,
                                  RandomForestClassifier)
    from sklearn.tree import DecisionTreeRegressor

    X, y, R = _data()
    Xn, yn, _ = _data(nan=0.1, seed=1)
    Xc = X.copy()
    Xc[:, 0] = np.random.default_rng(2).integers(0, 12, len(X))
    return [
        RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y),
        RandomForestClassifier(n_estimators=5, random_state=0).fit(Xn, yn),
        ExtraTreesRegressor(n_estimators=10, random_state=0).fit(X, R[:, 0]),
        GradientBoostingClassifier(n_estimators=15, random_state=0).fit(X, y),
        HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(Xn, yn),
        HistGradientBoostingClassifier(max_iter=20, categorical_features=[0],
                                       random_state=0).fit(Xc, y),
        IsolationForest(n_estimators=10, random_state=0).fit(X),
        DecisionTreeRegressor(random_state=0).fit(X, y),
    ]


@pytest.mark.parametrize("index", range(8))
def test_sklearn_trees_pack_as_before(index, monkeypatch):
    _same_as_before(_sklearn_models()[index], monkeypatch)


# -- XGBoost: UBJSON instead of JSON, all trees at once --------------------------------------

def _xgb_former(m):
    m.setattr(xgb_exporter, "_read_model", ref.xgboost_json_model)
    m.setattr(xgb_exporter, "_batch", lambda *a, **k: None)


def _xgb_models():
    import xgboost as xgb

    X, y, R = _data(nan=0.05)
    Xdf = pd.DataFrame(X[:, :4], columns=list("abcd"))
    Xdf["c"] = pd.Categorical(np.random.default_rng(3).integers(0, 9, len(X)))
    stop = xgb.XGBClassifier(n_estimators=60, max_depth=3, early_stopping_rounds=3,
                             random_state=0)
    stop.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])], verbose=False)
    return [
        xgb.XGBClassifier(n_estimators=20, max_depth=4, random_state=0).fit(X, y),
        xgb.XGBRegressor(n_estimators=15, random_state=0, missing=0.5).fit(X, R[:, 0]),
        xgb.XGBClassifier(n_estimators=10, max_depth=3, enable_categorical=True,
                          tree_method="hist", random_state=0).fit(Xdf, y),
        xgb.XGBRegressor(n_estimators=8, tree_method="hist", multi_strategy="multi_output_tree",
                         random_state=0).fit(X, R),
        xgb.XGBClassifier(n_estimators=10, booster="dart", rate_drop=0.3,
                          random_state=0).fit(X, (y > 0).astype(int)),
        stop,
        xgb.XGBRFRegressor(n_estimators=6, random_state=0).fit(X, R[:, 1]),
    ]


@pytest.mark.parametrize("index", range(7))
def test_xgboost_trees_read_as_before(index, monkeypatch):
    model = _xgb_models()[index]
    _same_as_before(model, monkeypatch, _xgb_former)
    _same_as_before(model.get_booster(), monkeypatch, _xgb_former)


def test_xgboost_dart_booster_reads_as_before(monkeypatch):
    import xgboost as xgb

    X, y, R = _data()
    booster = xgb.train({"booster": "dart", "rate_drop": 0.5, "objective": "reg:squarederror"},
                        xgb.DMatrix(X, R[:, 0]), 12)
    _same_as_before(booster, monkeypatch, _xgb_former)


# -- LightGBM: the text model instead of dump_model(), all trees at once ----------------------

def _lgb_former(m):
    def read_model(booster):
        return booster.dump_model(num_iteration=booster.best_iteration), None

    def trees(dump, sets):
        set_index = {}
        out = [ref.lightgbm_convert_tree(info, sets, set_index, lgb_exporter.zeroed_threshold,
                                         lgb_exporter._MISSING)
               for info in dump["tree_info"]]
        for t in out:  # the one intended difference, see test_lightgbm_infinite_thresholds
            t.threshold[t.threshold == 1e300] = np.inf
            t.threshold[t.threshold == -1e300] = -np.inf
        return out

    state = {}

    def read_and_keep(booster):
        dump, _ = read_model(booster)
        state["dump"] = dump
        return dump, None

    m.setattr(lgb_exporter, "read_model", read_and_keep)
    m.setattr(lgb_exporter, "_trees", lambda columns, sets: trees(state["dump"], sets))


def _lgb_models():
    import lightgbm as lgb

    X, y, R = _data(nan=0.05)
    Xz = X.copy()
    Xz[np.abs(Xz) < 0.3] = 0.0
    Xc = X.copy()
    Xc[:, 0] = np.random.default_rng(4).integers(0, 40, len(X))
    Xdf = pd.DataFrame(X[:, :4], columns=list("abcd"))
    Xdf["c"] = pd.Categorical(np.random.default_rng(5).choice(list("pqrstu"), len(X)))
    stop = lgb.LGBMClassifier(n_estimators=80, verbose=-1, random_state=0)
    stop.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])],
             callbacks=[lgb.early_stopping(3, verbose=False)])
    return [
        lgb.LGBMClassifier(n_estimators=20, verbose=-1, random_state=0).fit(X, y),
        lgb.LGBMRegressor(n_estimators=15, verbose=-1, zero_as_missing=True).fit(Xz, R[:, 1]),
        lgb.LGBMRegressor(n_estimators=10, verbose=-1, use_missing=False).fit(X, R[:, 1]),
        lgb.LGBMClassifier(n_estimators=15, verbose=-1, min_data_per_group=5,
                           cat_smooth=1).fit(Xc, y, categorical_feature=[0]),
        lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(Xdf, y),
        lgb.LGBMRegressor(n_estimators=5, verbose=-1, min_child_samples=10_000).fit(X, R[:, 0]),
        stop,
        lgb.LGBMRegressor(n_estimators=10, verbose=-1, boosting_type="rf", subsample=0.7,
                          subsample_freq=1).fit(X, R[:, 0]),
    ]


@pytest.mark.parametrize("index", range(8))
def test_lightgbm_trees_read_as_before(index, monkeypatch):
    model = _lgb_models()[index]
    _same_as_before(model, monkeypatch, _lgb_former)
    _same_as_before(model.booster_, monkeypatch, _lgb_former)


def test_lightgbm_infinite_thresholds_send_infinity_as_lightgbm_does(tmp_path):
    """The text model keeps a threshold of +inf as LightGBM predicts with it; dump_model()
    prints it as 1e300, which sent x = +inf right where LightGBM sends it left."""
    import mle_runtime as mle

    model = _lgb_models()[0]
    text = model.booster_.model_to_string()
    assert any("inf" in line.split() or line.startswith("threshold=inf")
               for line in text.splitlines() if line.startswith("threshold="))
    X, _, _ = _data(nan=0.05)
    X = np.where(np.random.default_rng(0).random(X.shape) < 0.3, np.inf, X)
    mle.dump(model, tmp_path / "m.mle")
    proxy = mle.load(tmp_path / "m.mle")
    assert np.array_equal(proxy.predict(X, raw_score=True), model.predict(X, raw_score=True))
    assert np.array_equal(proxy.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(proxy.predict(X), model.predict(X))


# -- CatBoost: trees too unbalanced to pad use TreeEnsemble (only the packing changed) -------

def test_catboost_nonsymmetric_trees_pack_as_before(monkeypatch):
    from catboost import CatBoostRegressor

    X, y, R = _data(n=400)
    model = CatBoostRegressor(iterations=15, grow_policy="Lossguide", max_leaves=24, depth=12,
                              verbose=0, random_seed=0, allow_writing_files=False,
                              thread_count=1).fit(X, R[:, 0] * 3 + y)
    called = []
    orig = ir_trees.pack
    monkeypatch.setattr(ir_trees, "pack", lambda *a, **k: called.append(1) or orig(*a, **k))
    _encoded(model)
    monkeypatch.undo()
    _same_as_before(model, monkeypatch)


def test_catboost_oblivious_splits_read_as_before(monkeypatch):
    from catboost import CatBoostClassifier

    from mle_runtime.exporters import catboost as cb_exporter

    def former(trees, slots, model_class):  # the former per-split reader
        out = []
        for tree in trees:
            for s in tree.get("splits") or []:
                slot, b = slots[int(s["float_feature_index"])]
                border = np.float32(s["border"])
                j = int(np.searchsorted(b, border))
                assert j < len(b) and b[j] == border
                out.append((slot, j))
        return out

    X, y, _ = _data(n=500, nan=0.05)
    model = CatBoostClassifier(iterations=30, depth=5, verbose=0, random_seed=0,
                               allow_writing_files=False, thread_count=1).fit(X, y)
    _same_as_before(model, monkeypatch,
                    lambda m: m.setattr(cb_exporter, "_oblivious_splits", former))
