"""Parity of CatBoost models with their .mle proxies (ObliviousEnsemble kernel).

Every case fits the real CatBoost model on real data (breast_cancer, iris, wine, diabetes) or
seeded synthetic data, dumps it (the exporter reads CatBoost's JSON export), loads it and
compares with CatBoost's own ``predict`` / ``predict_proba`` / ``predict(prediction_type=...)``
on float64 input, the same data as float32, single rows and pandas DataFrames.

Tolerances, stated once:
- raw values (``prediction_type="RawFormulaVal"``, regressors' and rankers' ``predict`` with an
  identity link): BIT-EXACT. CatBoost rounds the input to float32, compares it with float32
  borders, adds the double leaf values tree after tree from 0, then applies
  ``scale * sum + bias``; the kernel does the same operations in the same order, so any
  difference is a bug;
- labels (``predict`` of classifiers): identical values, dtype and shape (a column ``(n, 1)``
  for multiclass models, as CatBoost returns them);
- outputs through exp / log / sigmoid / softmax (probabilities, log-probabilities, the
  exponent, RMSEWithUncertainty's variance): ``atol=1e-12`` and ``rtol=1e-12``. CatBoost uses
  its own vectorised exponent; the differences measured are below 5e-16. That is far inside
  the 1e-6 the project asks for.

Symmetric trees run on the ObliviousEnsemble kernel; trees grown with grow_policy "Depthwise"
or "Lossguide" on TreeEnsemble (float32 thresholds, NaN sent by the nan treatment) followed by
CatBoost's scale and bias: bit-exact as well.

Split semantics checked at their edge values: a value equal to a border (goes to bit 0, since
the test is ``x > border``), the float32 neighbours of a border, float64 values that round to
the border in float32, +-inf, and NaN under each ``nan_mode`` ("Min": below every border,
"Max": above every border, "Forbidden": CatBoost still predicts, comparing NaN as false).
"""

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine

import catboost
import mle_runtime as mle
from mle_runtime import UnsupportedModelError
from mle_testing import rules

TOL = dict(rtol=1e-12, atol=1e-12)
FAST = dict(verbose=0, allow_writing_files=False, thread_count=1, random_seed=0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _data(name):
    if name == "breast_cancer":
        return load_breast_cancer(return_X_y=True)
    if name == "iris":
        return load_iris(return_X_y=True)
    if name == "wine":
        return load_wine(return_X_y=True)
    if name == "diabetes":
        return load_diabetes(return_X_y=True)
    if name == "synthetic_nan":
        rng = np.random.RandomState(7)
        X = rng.randn(400, 6)
        y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 0).astype(np.int64)
        X[rng.rand(*X.shape) < 0.15] = np.nan
        return X, y
    raise KeyError(name)


def _raw(p, X):
    return p.predict(X, prediction_type="RawFormulaVal")


def _variants(X):
    n = X.shape[0]
    yield "float64", X
    yield "float32", X.astype(np.float32)
    yield "first row", X[:1]
    yield "middle row", X[n // 2:n // 2 + 1]
    yield "float32 row", X[n - 1:].astype(np.float32)


def _check_classifier(model, p, X):
    for label, data in _variants(X):
        raw = model.predict(data, prediction_type="RawFormulaVal")
        np.testing.assert_array_equal(_raw(p, data), raw, err_msg=label)
        expected = model.predict(data)
        got = p.predict(data)
        assert got.dtype == expected.dtype, label
        assert got.shape == expected.shape, label
        np.testing.assert_array_equal(got, expected, err_msg=label)
        np.testing.assert_allclose(p.predict_proba(data), model.predict_proba(data), **TOL,
                                   err_msg=label)
        np.testing.assert_allclose(p.predict_log_proba(data), model.predict_log_proba(data),
                                   **TOL, err_msg=label)
        np.testing.assert_allclose(p.predict(data, prediction_type="LogProbability"),
                                   model.predict(data, prediction_type="LogProbability"), **TOL,
                                   err_msg=label)
        np.testing.assert_allclose(p.predict(data, prediction_type="Probability"),
                                   model.predict(data, prediction_type="Probability"), **TOL,
                                   err_msg=label)
        np.testing.assert_array_equal(p.predict(data, prediction_type="Class"), got)


# ------------------------------------------------------------------------------ classifiers


@pytest.mark.parametrize("name,loss", [("breast_cancer", "Logloss"),
                                       ("breast_cancer", "CrossEntropy"),
                                       ("iris", "MultiClass"), ("wine", "MultiClass"),
                                       ("wine", "MultiClassOneVsAll"),
                                       ("synthetic_nan", "Logloss")])
def test_classifier_parity(name, loss, roundtrip):
    X, y = _data(name)
    model = catboost.CatBoostClassifier(iterations=40, depth=5, loss_function=loss, **FAST)
    model.fit(X, y.astype(float) * 0.8 + 0.1 if loss == "CrossEntropy" else y)
    assert _ops(model)[0] == "ObliviousEnsemble"
    p = roundtrip(model)
    _check_classifier(model, p, X)
    np.testing.assert_array_equal(p.classes_, model.classes_)
    assert p.classes_.dtype == model.classes_.dtype
    assert p.n_features_in_ == X.shape[1]
    if loss == "Logloss":
        np.testing.assert_allclose(p.predict(X, prediction_type="Exponent"),
                                   model.predict(X, prediction_type="Exponent"), **TOL)


@pytest.mark.parametrize("labels", ["str", "bool", "float", "int_offset"])
def test_classifier_label_types(labels, roundtrip):
    X, y = _data("wine")
    binary = labels == "bool"
    if binary:
        y = y == 1
    elif labels == "str":
        y = np.array(["class_a", "class_b", "class_c"], dtype=object)[y]
    elif labels == "float":
        y = y * 1.5 - 2.0
    else:
        y = y * 10 + 3
    model = catboost.CatBoostClassifier(iterations=20, depth=4, **FAST).fit(X, y)
    p = roundtrip(model)
    expected = model.predict(X)
    got = p.predict(X)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(p.classes_, model.classes_)
    assert p.classes_.dtype == model.classes_.dtype
    np.testing.assert_allclose(p.predict_proba(X), model.predict_proba(X), **TOL)


@pytest.mark.parametrize("nan_mode", ["Min", "Max", "Forbidden"])
def test_nan_modes(nan_mode, roundtrip):
    X, y = _data("synthetic_nan")
    fit_X = np.nan_to_num(X) if nan_mode == "Forbidden" else X
    model = catboost.CatBoostClassifier(iterations=30, depth=4, nan_mode=nan_mode, **FAST)
    model.fit(fit_X, y)
    p = roundtrip(model)
    # With "Forbidden" CatBoost refuses NaN in training only; at prediction NaN compares false
    # against every border, and the proxy does the same.
    _check_classifier(model, p, X)
    treatments = {"Min": "AsFalse", "Max": "AsTrue", "Forbidden": "AsIs"}
    doc = json.loads(_json_export(model))
    assert {f["nan_value_treatment"] for f in doc["features_info"]["float_features"]} == {
        treatments[nan_mode]}


def _json_export(model):
    import os
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.json")
        model.save_model(path, format="json")
        with open(path) as f:
            return f.read()


@pytest.mark.parametrize("policy", ["SymmetricTree", "Depthwise"])
def test_border_edges(policy, roundtrip):
    """Values at, just below and just above each border (float32 neighbours), float64 values
    that round to the border in float32, +-inf and NaN, against CatBoost bit for bit."""
    X, y = _data("diabetes")
    for nan_mode in ("Min", "Max"):
        model = catboost.CatBoostRegressor(iterations=30, depth=6, nan_mode=nan_mode,
                                           grow_policy=policy, **FAST)
        model.fit(X, y)
        p = roundtrip(model)
        doc = json.loads(_json_export(model))
        rows = []
        base = X[0].copy()
        for ff in doc["features_info"]["float_features"]:
            col = ff["flat_feature_index"]
            for b in ff["borders"][:12]:
                b32 = np.float32(b)
                for v in (float(b32), float(np.nextafter(b32, np.float32(np.inf))),
                          float(np.nextafter(b32, np.float32(-np.inf))),
                          float(b32) + abs(float(b32)) * 1e-12 + 1e-300,
                          float(b32) - abs(float(b32)) * 1e-12 - 1e-300):
                    r = base.copy()
                    r[col] = v
                    rows.append(r)
            for v in (np.inf, -np.inf, np.nan, 1e300, -1e300):
                r = base.copy()
                r[col] = v
                rows.append(r)
        E = np.array(rows)
        np.testing.assert_array_equal(p.predict(E), model.predict(E))
        np.testing.assert_array_equal(p.predict(E.astype(np.float32)),
                                      model.predict(E.astype(np.float32)))
        for i in range(0, len(E), 37):  # single rows
            np.testing.assert_array_equal(p.predict(E[i:i + 1]), model.predict(E[i:i + 1]))


@pytest.mark.parametrize("policy", ["Depthwise", "Lossguide"])
@pytest.mark.parametrize("name,nan_mode", [("wine", "Min"), ("breast_cancer", "Max"),
                                           ("synthetic_nan", "Min"), ("synthetic_nan", "Max"),
                                           ("diabetes", "Min")])
@pytest.mark.parametrize("kernel", ["ObliviousEnsemble", "TreeEnsemble"])
def test_non_symmetric_trees(policy, name, nan_mode, kernel, roundtrip, monkeypatch):
    """grow_policy Depthwise / Lossguide: trees padded to complete binary trees on the
    ObliviousEnsemble kernel (one split per node), or, for trees too unbalanced to pad (forced
    here), a TreeEnsemble node with NaN sent by the nan treatment, then scale and bias. Raw
    values bit-exact either way."""
    from mle_runtime.exporters import catboost as exporter
    if kernel == "TreeEnsemble":
        monkeypatch.setattr(exporter, "_complete_tree", lambda *a: None)
    X, y = _data(name)
    cls = catboost.CatBoostRegressor if name == "diabetes" else catboost.CatBoostClassifier
    model = cls(iterations=25, depth=5, grow_policy=policy, nan_mode=nan_mode, **FAST).fit(X, y)
    p = roundtrip(model)
    nodes = _nodes(model)
    assert nodes[0].op == kernel
    if kernel == "ObliviousEnsemble":
        assert nodes[0].attrs["complete"] is True
    if cls is catboost.CatBoostClassifier:
        _check_classifier(model, p, X)
    else:
        for label, data in _variants(X):
            np.testing.assert_array_equal(p.predict(data), model.predict(data), err_msg=label)


def test_unbalanced_lossguide_trees(roundtrip):
    """Lossguide trees deeper than padding allows fall back to TreeEnsemble; either way the
    raw values are bit-exact."""
    rng = np.random.RandomState(5)
    X = rng.randn(2000, 4)
    y = np.exp(3 * X[:, 0]) + X[:, 1]  # a skewed target grows long chains
    model = catboost.CatBoostRegressor(iterations=15, depth=14, grow_policy="Lossguide",
                                       max_leaves=12, **FAST).fit(X, y)
    assert _ops(model)[0] == "TreeEnsemble"
    p = roundtrip(model)
    np.testing.assert_array_equal(p.predict(X), model.predict(X))
    np.testing.assert_array_equal(p.predict(X[:3]), model.predict(X[:3]))


def _nodes(model):
    from mle_runtime.exporters import export
    graph, _ = export(model)
    return graph.nodes


def _ops(model):
    return [n.op for n in _nodes(model)]


def test_kernel_paths(roundtrip):
    """The kernel's variants against CatBoost: more than 255 borders on a feature (16-bit
    bins), trees deeper than 8 levels (16-bit leaf indices), blocks of 2..15 rows (border
    search instead of counting), and several threads over many blocks."""
    rng = np.random.RandomState(3)
    X = rng.randn(3000, 3)
    y = np.sin(3 * X[:, 0]) + 0.3 * X[:, 1] * X[:, 2] + 0.01 * rng.randn(3000)
    X1 = np.c_[X[:, 0], np.zeros(len(X))]  # one informative feature: all splits use it
    wide = catboost.CatBoostRegressor(iterations=50, depth=8, border_count=2048,
                                      learning_rate=0.5, **FAST)
    wide.fit(X1, y)
    doc = json.loads(_json_export(wide))
    assert max(len(f["borders"]) for f in doc["features_info"]["float_features"]) > 255
    deep = catboost.CatBoostRegressor(iterations=8, depth=11, **FAST).fit(X, y)
    multi = catboost.CatBoostClassifier(iterations=30, depth=10, border_count=512, **FAST)
    multi.fit(X, np.digitize(y, [-0.5, 0.0, 0.5]))
    for model, X in ((wide, X1), (deep, X), (multi, X)):
        p = roundtrip(model)
        expected = model.predict(X, prediction_type="RawFormulaVal")
        for n_threads in (1, 2):
            np.testing.assert_array_equal(_raw(p, X) if n_threads == 1 else
                                          p.predict(X, prediction_type="RawFormulaVal",
                                                    n_threads=2), expected)
        for n in (2, 7, 15, 16, 17, 129):
            np.testing.assert_array_equal(_raw(p, X[:n]), expected[:n])
            np.testing.assert_array_equal(_raw(p, X[:n].astype(np.float32)),
                                          model.predict(X[:n].astype(np.float32),
                                                        prediction_type="RawFormulaVal"))


# ------------------------------------------------------------------------------- regressors

REGRESSION_LOSSES = ["RMSE", "MAE", "Quantile:alpha=0.3", "Expectile:alpha=0.7",
                     "LogLinQuantile", "Poisson", "Tweedie:variance_power=1.5", "MAPE",
                     "Huber:delta=1.0", "RMSEWithUncertainty", "LogCosh", "Lq:q=1.5"]


@pytest.mark.parametrize("loss", REGRESSION_LOSSES)
def test_regressor_losses(loss, roundtrip):
    X, y = _data("diabetes")
    y = y / 100.0
    model = catboost.CatBoostRegressor(iterations=30, depth=4, loss_function=loss, **FAST)
    model.fit(X, y)
    p = roundtrip(model)
    for label, data in _variants(X):
        raw = model.predict(data, prediction_type="RawFormulaVal")
        np.testing.assert_array_equal(_raw(p, data), raw, err_msg=label)
        expected = model.predict(data)
        got = p.predict(data)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        if loss.split(":")[0] in ("Poisson", "Tweedie", "RMSEWithUncertainty"):
            np.testing.assert_allclose(got, expected, **TOL, err_msg=label)
        else:
            np.testing.assert_array_equal(got, expected, err_msg=label)
        if loss == "RMSEWithUncertainty":
            np.testing.assert_allclose(p.predict(data, prediction_type="RMSEWithUncertainty"),
                                       model.predict(data, prediction_type="RMSEWithUncertainty"),
                                       **TOL)
        else:
            np.testing.assert_allclose(p.predict(data, prediction_type="Exponent"),
                                       model.predict(data, prediction_type="Exponent"), **TOL)
    assert not hasattr(p, "predict_proba")


@pytest.mark.parametrize("loss", ["MultiRMSE", "MultiQuantile:alpha=0.1,0.5,0.9", "Cox",
                                  "SurvivalAft"])
def test_other_regression_losses(loss, roundtrip):
    X, y = _data("diabetes")
    Y = {"MultiRMSE": np.c_[y, np.sqrt(y), -y], "Cox": np.where(np.arange(len(y)) % 3, y, -y),
         "SurvivalAft": np.c_[y, y + 10.0]}.get(loss, y)
    model = catboost.CatBoostRegressor(iterations=30, depth=4, loss_function=loss, **FAST)
    model.fit(X, Y)
    p = roundtrip(model)
    for label, data in _variants(X):
        np.testing.assert_array_equal(p.predict(data), model.predict(data), err_msg=label)


def test_pandas_input_and_float32_fit(roundtrip):
    X, y = _data("diabetes")
    cols = [f"f_{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X.astype(np.float32), columns=cols)
    model = catboost.CatBoostRegressor(iterations=30, depth=5, **FAST).fit(df, y)
    p = roundtrip(model)
    np.testing.assert_array_equal(p.predict(df), model.predict(df))
    shuffled = df[cols[::-1]]  # CatBoost matches DataFrame columns by name; so does the proxy
    np.testing.assert_array_equal(p.predict(shuffled), model.predict(shuffled))
    np.testing.assert_array_equal(p.predict(df.astype(np.float64)), model.predict(df))
    assert list(p.feature_names_in_) == cols
    assert rules(p)["inputs"]["feature_names"] == list(model.feature_names_)


def test_model_read_back_from_cbm(tmp_path, roundtrip):
    X, y = _data("iris")
    model = catboost.CatBoostClassifier(iterations=20, depth=3, **FAST).fit(X, y)
    model.save_model(str(tmp_path / "m.cbm"))
    again = catboost.CatBoostClassifier()
    again.load_model(str(tmp_path / "m.cbm"))
    p = roundtrip(again)
    assert p.n_features_in_ == 4
    np.testing.assert_array_equal(_raw(p, X), again.predict(X, prediction_type="RawFormulaVal"))
    np.testing.assert_array_equal(p.predict(X), again.predict(X))
    assert p.predict(X).shape == again.predict(X).shape


# ---------------------------------------------------------------------------------- rankers


@pytest.mark.parametrize("loss", ["YetiRank", "PairLogit", "QueryRMSE", "QuerySoftMax",
                                  "YetiRankPairwise", "LambdaMart", "StochasticFilter"])
def test_ranker(loss, roundtrip):
    X, y = _data("diabetes")
    groups = np.repeat(np.arange(len(y) // 13 + 1), 13)[:len(y)]
    rel = np.digitize(y, np.percentile(y, [25, 50, 75])).astype(float)
    model = catboost.CatBoostRanker(iterations=20, depth=4, loss_function=loss, **FAST)
    model.fit(X, rel, group_id=groups)
    p = roundtrip(model)
    for label, data in _variants(X):
        np.testing.assert_array_equal(p.predict(data), model.predict(data), err_msg=label)
        np.testing.assert_array_equal(_raw(p, data), model.predict(data), err_msg=label)
    assert p.get_model_info()["estimator_type"] == "ranker"


def test_plain_catboost(roundtrip):
    X, y = _data("breast_cancer")
    model = catboost.CatBoost(dict(iterations=20, depth=4, loss_function="Logloss", **FAST))
    model.fit(X, y)
    p = roundtrip(model)
    np.testing.assert_array_equal(p.predict(X), model.predict(X))
    np.testing.assert_allclose(p.predict(X, prediction_type="Exponent"),
                               model.predict(X, prediction_type="Exponent"), **TOL)
    Xr, yr = _data("diabetes")
    model = catboost.CatBoost(dict(iterations=20, depth=4, loss_function="RMSE", **FAST))
    p = roundtrip(model.fit(Xr, yr))
    np.testing.assert_array_equal(p.predict(Xr), model.predict(Xr))


@pytest.mark.parametrize("policy", ["SymmetricTree", "Depthwise"])
def test_scale_and_bias(policy, roundtrip):
    """A model's own scale and bias (set_scale_and_bias) are applied as CatBoost applies them:
    scale * sum + bias, bit for bit."""
    X, y = _data("diabetes")
    model = catboost.CatBoostRegressor(iterations=20, depth=4, grow_policy=policy, **FAST)
    model.fit(X, y)
    model.set_scale_and_bias(0.7310585786, [-3.25])
    assert json.loads(_json_export(model))["scale_and_bias"][0] != 1
    p = roundtrip(model)
    for label, data in _variants(X):
        np.testing.assert_array_equal(p.predict(data), model.predict(data), err_msg=label)
    Xc, yc = _data("iris")
    clf = catboost.CatBoostClassifier(iterations=20, depth=4, grow_policy=policy, **FAST)
    clf.fit(Xc, yc)
    clf.set_scale_and_bias(1.5, [0.5, -1.0, 0.25])
    p = roundtrip(clf)
    _check_classifier(clf, p, Xc)


def test_sum_models(roundtrip):
    X, y = _data("diabetes")
    a = catboost.CatBoostRegressor(iterations=10, depth=3, **FAST).fit(X, y)
    b = catboost.CatBoostRegressor(iterations=15, depth=5, **{**FAST, "random_seed": 5})
    b.fit(X, y)
    total = catboost.sum_models([a, b], weights=[0.3, 0.7])
    p = roundtrip(total)
    np.testing.assert_array_equal(p.predict(X), total.predict(X))
    np.testing.assert_array_equal(p.predict(X[:1]), total.predict(X[:1]))
    assert p.metadata["model_class"] == "catboost.CatBoost"


def test_class_names_order(roundtrip):
    X, y = _data("wine")
    labels = np.array(["c", "a", "b"], dtype=object)[y]
    model = catboost.CatBoostClassifier(iterations=15, depth=3, class_names=["c", "a", "b"],
                                        **FAST).fit(X, labels)
    p = roundtrip(model)
    np.testing.assert_array_equal(p.classes_, model.classes_)
    _check_classifier(model, p, X)


# ------------------------------------------------------------------------------- metadata


def test_metadata_and_keyword_outputs(roundtrip):
    X, y = _data("iris")
    model = catboost.CatBoostClassifier(iterations=10, depth=3, **FAST).fit(X, y)
    p = roundtrip(model)
    meta = p.metadata
    assert meta["framework"] == "catboost"
    assert meta["framework_version"] == catboost.__version__
    assert meta["model_class"] == "catboost.CatBoostClassifier"
    assert p._estimator_type == "classifier"
    assert meta["loss_function"] == "MultiClass"
    assert "inputs" not in rules(p)  # fitted on numpy: CatBoost's names are "0", "1"...
    assert sorted(tuple(k) for k in rules(p)["keywords"]) == sorted([
        ("predict", "prediction_type", "Class", "predict"),
        ("predict", "prediction_type", "RawFormulaVal", "raw"),
        ("predict", "prediction_type", "Probability", "predict_proba"),
        ("predict", "prediction_type", "LogProbability", "predict_log_proba"),
    ])
    with pytest.raises(ValueError):
        p.predict(X, prediction_type="Exponent")  # CatBoost gives no meaningful value here


# -------------------------------------------------------------------------------- refusals


def test_refuses_categorical_features(tmp_path):
    rng = np.random.RandomState(0)
    df = pd.DataFrame({"a": rng.randn(60), "c": rng.choice(["x", "y", "z"], 60)})
    y = (df["a"] > 0).astype(int)
    for one_hot in (1, 255):  # CTR-based and one-hot categorical features
        model = catboost.CatBoostClassifier(iterations=5, depth=2, cat_features=["c"],
                                            one_hot_max_size=one_hot, **FAST).fit(df, y)
        with pytest.raises(UnsupportedModelError, match="categorical features"):
            mle.dump(model, tmp_path / "m.mle")


def test_refuses_text_features(tmp_path):
    rng = np.random.RandomState(0)
    words = np.array(["red apple", "green pear", "blue sky", "red sky", "green apple"])
    df = pd.DataFrame({"a": rng.randn(80), "t": rng.choice(words, 80)})
    y = (df["a"] > 0).astype(int)
    model = catboost.CatBoostClassifier(iterations=5, depth=2, text_features=["t"], **FAST)
    try:
        model.fit(df, y)
    except catboost.CatBoostError as e:  # text features need a newer CPU build in some wheels
        pytest.fail(f"CatBoost could not fit a text model: {e}")
    with pytest.raises(UnsupportedModelError, match="text features"):
        mle.dump(model, tmp_path / "m.mle")


@pytest.mark.parametrize("threshold", [0.7, 0.2, 0.5])
def test_probability_threshold(threshold, roundtrip):
    """set_probability_threshold moves the binary decision: label 1 where raw > logit(t)."""
    X, y = _data("breast_cancer")
    model = catboost.CatBoostClassifier(iterations=20, depth=3, **FAST).fit(X, y)
    model.set_probability_threshold(threshold)
    p = roundtrip(model)
    expected = model.predict(X)
    assert (expected != (model.predict_proba(X)[:, 1] > 0.5)).any() or threshold == 0.5
    _check_classifier(model, p, X)
    np.testing.assert_array_equal(p.predict(X), expected)


class _UserObjective:
    """A user-defined objective (squared error) written in Python."""

    def calc_ders_range(self, approxes, targets, weights):
        return [(t - a, -1.0) for a, t in zip(approxes, targets)]


def test_refuses_unsupported_loss(tmp_path):
    X, y = _data("diabetes")
    model = catboost.CatBoostRegressor(iterations=5, depth=3, loss_function=_UserObjective(),
                                       eval_metric="RMSE", **FAST)
    model.fit(X, y)
    with pytest.raises(UnsupportedModelError,
                       match="with loss function 'PythonUserDefinedPerObject' is not supported"):
        mle.dump(model, tmp_path / "m.mle")


def test_refuses_unfitted(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        mle.dump(catboost.CatBoostClassifier(), tmp_path / "m.mle")


# ------------------------------------------------------------------------- load-time imports

SCRIPT = r"""
import json, sys
import numpy as np
import mle_runtime as mle
model = mle.load(sys.argv[1])
X = np.array(json.loads(sys.argv[2]))
out = {"proba": model.predict_proba(X).tolist(), "predict": model.predict(X).tolist()}
out["imported"] = sorted({m.split(".")[0] for m in sys.modules} & {"catboost", "sklearn",
                                                                   "pandas", "scipy"})
print(json.dumps(out))
"""


def test_load_does_not_import_catboost(tmp_path):
    X, y = _data("iris")
    model = catboost.CatBoostClassifier(iterations=10, depth=3, **FAST).fit(X, y)
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(path), json.dumps(X[:3].tolist())],
                          capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout)
    assert out["imported"] == []
    np.testing.assert_allclose(out["proba"], model.predict_proba(X[:3]), **TOL)
    assert out["predict"] == model.predict(X[:3]).tolist()
