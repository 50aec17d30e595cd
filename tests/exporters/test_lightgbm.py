"""LightGBM parity: LGBMClassifier, LGBMRegressor, LGBMRanker and raw Boosters against the real
LightGBM, on scikit-learn's datasets and seeded synthetic data with NaN and categorical columns.

Raw scores are sums of double leaf values added in LightGBM's order, so every comparison here is
bit-exact (``assert_array_equal``): raw scores, probabilities (the same double formulas as
LightGBM's ConvertOutput and its softmax), regression outputs and labels.
"""

import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine

import mle_runtime as mle
from mle_runtime import UnsupportedModelError
from mle_runtime.exporters.lightgbm import ZERO_THRESHOLD, zeroed_threshold
from mle_testing import rules

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

Z = ZERO_THRESHOLD
EDGE_VALUES = np.array([0.0, -0.0, 1e-36, -1e-36, Z, -Z, np.nextafter(Z, 1.0),
                        np.nextafter(-Z, -1.0), 0.5e-35, -0.5e-35, np.nan, np.inf, -np.inf])


def _data(name):
    loader = {"breast_cancer": load_breast_cancer, "iris": load_iris, "wine": load_wine,
              "digits": load_digits, "diabetes": load_diabetes}[name]
    return loader(return_X_y=True)


def _variants(X):
    """(label, input) pairs every parity check runs on."""
    n = len(X)
    yield "float64", X
    yield "float32", np.asarray(X, dtype=np.float32)
    yield "first row", X[:1]
    yield "middle row", X[n // 2:n // 2 + 1]
    yield "float32 row", np.asarray(X[-1:], dtype=np.float32)
    yield "fortran order", np.asfortranarray(X)


def _same(expected, got, what):
    expected = np.asarray(expected)
    assert type(got) is np.ndarray, what
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    np.testing.assert_array_equal(got, expected, err_msg=what)


def _check(model, proxy, X, methods=("predict",), raw=True):
    """Bit-exact parity of each method (and of raw_score=True) on every input variant."""
    for label, data in _variants(X):
        for m in methods:
            _same(getattr(model, m)(data), getattr(proxy, m)(data), f"{m} on {label}")
            if raw:
                _same(getattr(model, m)(data, raw_score=True),
                      getattr(proxy, m)(data, raw_score=True), f"{m}(raw_score) on {label}")


@pytest.fixture
def rt(tmp_path):
    counter = iter(range(10**6))

    def roundtrip(model):
        path = tmp_path / f"m{next(counter)}.mle"
        mle.dump(model, path)
        return mle.load(path)

    return roundtrip


# ----------------------------------------------------------------------------- classifiers


def test_binary_classifier_breast_cancer(rt):
    X, y = _data("breast_cancer")
    model = lgb.LGBMClassifier(n_estimators=15, num_leaves=8, verbose=-1).fit(X, y)
    proxy = rt(model)
    _check(model, proxy, X, ("predict", "predict_proba"))
    np.testing.assert_array_equal(proxy.classes_, model.classes_)
    assert proxy.n_features_in_ == model.n_features_in_ == 30
    assert not hasattr(proxy, "decision_function")
    meta = proxy.metadata
    assert meta["framework"] == "lightgbm" and meta["framework_version"] == lgb.__version__
    assert meta["model_class"] == "lightgbm.LGBMClassifier"
    assert proxy._estimator_type == "classifier" and meta["objective"] == "binary"


@pytest.mark.parametrize("name,objective,n_estimators", [
    ("iris", "multiclass", 10), ("iris", "multiclassova", 10), ("wine", "multiclass", 6),
    ("digits", "multiclass", 3)])
def test_multiclass_classifier(rt, name, objective, n_estimators):
    X, y = _data(name)
    model = lgb.LGBMClassifier(objective=objective, n_estimators=n_estimators, num_leaves=6,
                               verbose=-1).fit(X, y)
    proxy = rt(model)
    _check(model, proxy, X, ("predict", "predict_proba"))
    assert proxy.predict_proba(X).shape == (len(X), len(np.unique(y)))


@pytest.mark.parametrize("classes", [["neg", "pos"], ["a", "bb", "ccc"], [-3, 7, 11]])
def test_class_labels(rt, classes):
    X, y = _data("iris")
    y = np.asarray(classes, dtype=object if isinstance(classes[0], str) else None)[
        np.minimum(y, len(classes) - 1)]
    model = lgb.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1).fit(X, y)
    proxy = rt(model)
    np.testing.assert_array_equal(proxy.classes_, model.classes_)
    got, expected = proxy.predict(X), model.predict(X)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_predict_ties_take_the_first_class(rt):
    """A model whose probabilities are exactly 0.5 (no informative feature): LGBMClassifier's
    argmax over [1 - p, p] gives the first class; so must the proxy."""
    X = np.zeros((40, 2))
    y = np.array([0, 1] * 20)
    model = lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(X, y)
    assert np.all(model.predict_proba(X) == 0.5)
    proxy = rt(model)
    _check(model, proxy, X, ("predict", "predict_proba"))


@pytest.mark.parametrize("sigmoid", [0.7, 0.123456789])
def test_binary_sigmoid_parameter(rt, sigmoid):
    """The objective string keeps sigmoid with 6 digits. Reloaded boosters (what train() and
    fit() leave by default) predict with that rounded value, a booster kept as trained with the
    exact one: each proxy follows its model."""
    X, y = _data("breast_cancer")
    model = lgb.LGBMClassifier(n_estimators=8, num_leaves=6, sigmoid=sigmoid,
                               verbose=-1).fit(X, y)
    _check(model, rt(model), X, ("predict", "predict_proba"))
    params = {"objective": "binary", "sigmoid": sigmoid, "num_leaves": 6, "verbose": -1}
    kept = lgb.train(params, lgb.Dataset(X, y), 8, keep_training_booster=True)
    reloaded = lgb.Booster(model_str=kept.model_to_string())
    for booster in (kept, reloaded):
        _check(booster, rt(booster), X)
    if sigmoid == 0.123456789:
        assert not np.array_equal(reloaded.predict(X), kept.predict(X))


def test_multiclassova_sigmoid_parameter(rt):
    X, y = _data("wine")
    model = lgb.LGBMClassifier(objective="multiclassova", sigmoid=1.7, n_estimators=5,
                               num_leaves=4, verbose=-1).fit(X, y)
    _check(model, rt(model), X, ("predict", "predict_proba"))


def test_cross_entropy_classifier(rt):
    X, y = _data("breast_cancer")
    model = lgb.LGBMClassifier(objective="cross_entropy", n_estimators=6, num_leaves=6,
                               verbose=-1).fit(X, y)
    _check(model, rt(model), X, ("predict", "predict_proba"))


# ----------------------------------------------------------------------------- regressors


REGRESSION_OBJECTIVES = [
    ("regression", {}), ("regression", {"reg_sqrt": True}), ("regression_l1", {}),
    ("regression_l1", {"reg_sqrt": True}), ("huber", {"alpha": 30.0}),
    ("huber", {"reg_sqrt": True}), ("fair", {}), ("quantile", {"alpha": 0.8}), ("mape", {}),
    ("poisson", {}), ("poisson", {"reg_sqrt": True}), ("gamma", {}),
    ("tweedie", {"tweedie_variance_power": 1.3}),
]


@pytest.mark.parametrize("objective,params", REGRESSION_OBJECTIVES,
                         ids=[f"{o}{'-' + '-'.join(p) if p else ''}"
                              for o, p in REGRESSION_OBJECTIVES])
def test_regression_objectives(rt, objective, params):
    X, y = _data("diabetes")
    if params.get("reg_sqrt") and objective != "poisson":
        y = y - 180.0  # negative targets: the signed square matters
    model = lgb.LGBMRegressor(objective=objective, n_estimators=6, num_leaves=6, verbose=-1,
                              **params).fit(X, y)
    proxy = rt(model)
    _check(model, proxy, X)
    assert proxy.metadata["objective"] == objective
    if params.get("reg_sqrt") and objective != "poisson":
        assert np.any(model.predict(X) < 0)


@pytest.mark.parametrize("objective", ["cross_entropy", "cross_entropy_lambda"])
def test_cross_entropy_regressors(rt, objective):
    X, y = _data("diabetes")
    y = (y - y.min()) / (y.max() - y.min())  # labels in [0, 1]
    model = lgb.LGBMRegressor(objective=objective, n_estimators=6, num_leaves=6,
                              verbose=-1).fit(X, y)
    _check(model, rt(model), X)


@pytest.mark.parametrize("objective", ["lambdarank", "rank_xendcg"])
def test_ranker(rt, objective):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 6))
    y = np.clip((X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=300)).round() + 1, 0, 3)
    model = lgb.LGBMRanker(objective=objective, n_estimators=6, num_leaves=6,
                           verbose=-1).fit(X, y.astype(int), group=[30] * 10)
    proxy = rt(model)
    _check(model, proxy, X)
    assert proxy.get_model_info()["estimator_type"] == "ranker"


# ----------------------------------------------------------------------------- raw Booster


@pytest.mark.parametrize("params", [
    {"objective": "binary"}, {"objective": "multiclass", "num_class": 3},
    {"objective": "regression"}, {"objective": "multiclassova", "num_class": 3}])
def test_raw_booster(rt, params):
    X, y = _data("iris")
    if params["objective"] == "binary":
        y = (y > 0).astype(int)
    booster = lgb.train({**params, "num_leaves": 5, "verbose": -1}, lgb.Dataset(X, y), 6)
    proxy = rt(booster)
    _check(booster, proxy, X)
    assert proxy.metadata["model_class"] == "lightgbm.Booster"
    assert not hasattr(proxy, "predict_proba") and not hasattr(proxy, "classes_")


def test_booster_loaded_from_a_model_file(rt, tmp_path):
    X, y = _data("wine")
    model = lgb.LGBMClassifier(n_estimators=4, num_leaves=5, verbose=-1).fit(X, y)
    path = tmp_path / "model.txt"
    model.booster_.save_model(str(path))
    booster = lgb.Booster(model_file=str(path))
    _check(booster, rt(booster), X)


# ----------------------------------------------------------------------------- iterations


def test_best_iteration_from_early_stopping(rt):
    """Booster.predict (and so LGBMModel.predict) uses the first best_iteration iterations by
    default. fit() and train() keep only those trees unless keep_training_booster=True, which
    keeps them all: the proxy must use best_iteration in both cases."""
    X, y = _data("breast_cancer")
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    tr, va = idx[:350], idx[350:]
    stop = [lgb.early_stopping(3, verbose=False)]
    model = lgb.LGBMClassifier(n_estimators=200, learning_rate=0.3, num_leaves=8,
                               verbose=-1).fit(X[tr], y[tr], eval_X=(X[va],), eval_y=(y[va],),
                                               callbacks=stop)
    assert 0 < model.best_iteration_ < 200
    _check(model, rt(model), X, ("predict", "predict_proba"))
    params = {"objective": "multiclass", "num_class": 3, "learning_rate": 0.5, "num_leaves": 4,
              "verbose": -1}
    X, y = _data("wine")
    train = lgb.Dataset(X[::2], y[::2])
    booster = lgb.train(params, train, 200, valid_sets=[lgb.Dataset(X[1::2], y[1::2],
                                                                     reference=train)],
                        callbacks=stop, keep_training_booster=True)
    best, total = booster.best_iteration, booster.num_trees() // 3
    assert 0 < best < total
    assert not np.array_equal(booster.predict(X), booster.predict(X, num_iteration=total))
    _check(booster, rt(booster), X)


@pytest.mark.parametrize("kind", ["regressor", "multiclass"])
def test_random_forest_average_output(rt, kind):
    X, y = _data("diabetes" if kind == "regressor" else "iris")
    cls = lgb.LGBMRegressor if kind == "regressor" else lgb.LGBMClassifier
    model = cls(boosting_type="rf", n_estimators=7, num_leaves=6, bagging_freq=1,
                bagging_fraction=0.6, verbose=-1).fit(X, y)
    assert model.booster_.dump_model()["average_output"]
    methods = ("predict",) if kind == "regressor" else ("predict", "predict_proba")
    _check(model, rt(model), X, methods)


# ----------------------------------------------------------------------------- missing values


def _synthetic(n=600, seed=0, nan_fraction=0.15, zero_fraction=0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[rng.random((n, 5)) < zero_fraction] = 0.0
    y = X[:, 0] + 2 * (X[:, 1] > 0.2) - X[:, 2] * X[:, 3] + rng.normal(scale=0.1, size=n)
    X[rng.random((n, 5)) < nan_fraction] = np.nan
    return X, y


def _splits(dump):
    """Every internal node of the dumped trees."""
    for info in dump["tree_info"]:
        stack = [info["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_feature" in node:
                yield node
                stack += [node["left_child"], node["right_child"]]


def _thresholds(dump):
    """(feature, threshold) of every numerical split."""
    return [(n["split_feature"], float(n["threshold"])) for n in _splits(dump)
            if n["decision_type"] == "<="]


def _missing_types(dump):
    return {(n["missing_type"], n["default_left"]) for n in _splits(dump)}


def _edge_rows(X, dump):
    """Rows putting each split's feature at its threshold and the next doubles either side,
    and every feature at the zero / NaN / infinity edge values."""
    rng = np.random.default_rng(1)
    base = X[rng.integers(len(X), size=1)].copy()
    base[np.isnan(base)] = 0.3
    rows = []
    for f, t in _thresholds(dump):
        for v in (t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)):
            r = X[rng.integers(len(X))].copy()
            r[f] = v
            rows.append(r)
    for f in range(X.shape[1]):
        for v in EDGE_VALUES:
            r = base[0].copy()
            r[f] = v
            rows.append(r)
    return np.asarray(rows)


@pytest.mark.parametrize("setting,expected_kind", [
    ({}, "NaN"), ({"zero_as_missing": True}, "Zero"), ({"use_missing": False}, "None")])
def test_missing_types_and_edge_values(rt, setting, expected_kind):
    X, y = _synthetic()
    model = lgb.LGBMRegressor(n_estimators=10, num_leaves=8, verbose=-1, **setting).fit(X, y)
    dump = model.booster_.dump_model()
    kinds = _missing_types(dump)
    assert expected_kind in {k for k, _ in kinds}
    if expected_kind != "None":
        assert {dl for k, dl in kinds if k == expected_kind} == {False, True}
    E = _edge_rows(X, dump)
    proxy = rt(model)
    _check(model, proxy, np.vstack([X, E]))
    # float32 edges: the nearest float32 values, widened exactly as LightGBM widens them
    _same(model.predict(E.astype(np.float32)), proxy.predict(E.astype(np.float32)),
          "float32 edge rows")


def _edit_first_split(model_str, threshold, decision_type):
    """The model text with the first tree's first split given this threshold and
    decision_type (bit 1: default left; bits 2-3: missing type 0 None, 1 Zero, 2 NaN)."""
    # tree_sizes gives each tree's byte length; without it LightGBM parses the trees in turn
    lines = [line for line in model_str.split("\n") if not line.startswith("tree_sizes=")]
    done = set()
    for i, line in enumerate(lines):
        for key, value in (("threshold=", repr(float(threshold))),
                           ("decision_type=", str(decision_type))):
            if line.startswith(key) and key not in done:
                lines[i] = key + " ".join([value] + line[len(key):].split()[1:])
                done.add(key)
    assert done == {"threshold=", "decision_type="}
    return "\n".join(lines)


@pytest.mark.parametrize("threshold", [0.0, Z, -Z, 0.5e-35, -0.5e-35, np.nextafter(-Z, -1.0),
                                       np.nextafter(Z, 1.0), -1e-36, 1.0, -1.0])
def test_thresholds_near_zero(rt, threshold):
    """LightGBM zeroes inputs with |x| <= kZeroThreshold before the trees see them; thresholds
    at and around that range, with every missing type and default direction, on edge values."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] > 0.3).astype(float) + 0.1 * X[:, 1]
    base = lgb.train({"objective": "regression", "num_leaves": 3, "verbose": -1,
                      "min_data_in_leaf": 5}, lgb.Dataset(X, y), 2).model_to_string()
    probe = np.column_stack([np.r_[EDGE_VALUES, threshold, np.nextafter(threshold, 1.0),
                                   np.nextafter(threshold, -1.0), -1.0, 1.0],
                             np.zeros(len(EDGE_VALUES) + 5)])
    for decision_type in (0, 2, 4, 6, 8, 10):
        booster = lgb.Booster(model_str=_edit_first_split(base, threshold, decision_type))
        proxy = rt(booster)
        _same(booster.predict(probe), proxy.predict(probe), f"decision_type={decision_type}")
        _same(booster.predict(probe, raw_score=True), proxy.predict(probe, raw_score=True),
              f"raw, decision_type={decision_type}")


def test_zeroed_threshold():
    k = Z
    assert zeroed_threshold(0.0) == k and zeroed_threshold(0.5e-35) == k
    assert zeroed_threshold(k) == k and zeroed_threshold(1.0) == 1.0
    below = np.nextafter(-k, -np.inf)
    assert zeroed_threshold(-k) == below and zeroed_threshold(-0.5e-35) == below
    assert zeroed_threshold(below) == below and zeroed_threshold(-1.0) == -1.0
    assert k == float(np.float32(1e-35)) and k != 1e-35


# ----------------------------------------------------------------------------- categorical


CATEGORY_EDGES = [np.nan, 0.0, -0.0, -0.5, -0.99, -1.0, -1.5, 0.5, 1.0, 2.9999, 3.0, 3.7, 7.0,
                  31.0, 32.0, 200.0, 1e10, 2.0**31, 2.0**31 - 1, -2.0**31, -2.0**31 - 1,
                  np.inf, -np.inf, 1e-36, -1e-36]


def _categorical_data(n=800, seed=3, nan=True):
    rng = np.random.default_rng(seed)
    c0 = rng.integers(0, 40, n).astype(np.float64)
    c1 = rng.integers(0, 5, n).astype(np.float64)
    x = rng.normal(size=(n, 2))
    y = (np.isin(c0, [0, 3, 5, 17, 33, 39]) * 2.0 + (c1 == 2) - x[:, 0]
         + rng.normal(scale=0.1, size=n))
    X = np.column_stack([c0, c1, x])
    if nan:
        X[rng.random(X.shape) < 0.08] = np.nan
    return X, y


@pytest.mark.parametrize("nan", [True, False], ids=["nan-in-training", "no-nan"])
def test_categorical_numpy_codes(rt, nan):
    X, y = _categorical_data(nan=nan)
    model = lgb.LGBMRegressor(n_estimators=8, num_leaves=8, min_data_per_group=5,
                              cat_smooth=1.0, max_cat_threshold=64, verbose=-1).fit(
        X, y, categorical_feature=[0, 1])
    dump = model.booster_.dump_model()
    assert any(n["decision_type"] == "==" for n in _splits(dump))
    rows = []
    for f in (0, 1):
        for v in CATEGORY_EDGES:
            r = np.array([3.0, 2.0, 0.1, -0.2])
            r[f] = v
            rows.append(r)
    E = np.asarray(rows)
    proxy = rt(model)
    _check(model, proxy, np.vstack([X, E]))
    _same(model.predict(E.astype(np.float32)), proxy.predict(E.astype(np.float32)),
          "float32 category edges")


def test_categorical_classifier_multiclass(rt):
    X, y = _categorical_data()
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    model = lgb.LGBMClassifier(n_estimators=5, num_leaves=6, min_data_per_group=5,
                               cat_smooth=1.0, verbose=-1).fit(X, labels,
                                                               categorical_feature=[0, 1])
    _check(model, rt(model), X, ("predict", "predict_proba"))


def _frame(n=600, seed=4):
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue", "black"], n)
    size = rng.choice([10, 20, 30], n)
    x = rng.normal(size=n)
    y = (np.isin(colour, ["red", "blue"]) * 2.0 + (size == 20) + x
         + rng.normal(scale=0.1, size=n))
    df = pd.DataFrame({"colour": pd.Categorical(colour), "x": x,
                       "size": pd.Categorical(size), "z": rng.normal(size=n)})
    return df, y


def test_pandas_category_columns(rt):
    df, y = _frame()
    model = lgb.LGBMRegressor(n_estimators=6, num_leaves=6, min_data_per_group=5,
                              cat_smooth=1.0, verbose=-1).fit(df, y)
    proxy = rt(model)
    inputs = rules(proxy)["inputs"]
    assert inputs["categories"] == {"colour": ["black", "blue", "green", "red"],
                                    "size": [10, 20, 30]}
    assert inputs["feature_names"] == ["colour", "x", "size", "z"]
    np.testing.assert_array_equal(proxy.feature_names_in_, model.feature_names_in_)
    assert proxy.n_features_in_ == 4
    _same(model.predict(df), proxy.predict(df), "DataFrame")
    _same(model.predict(df.iloc[:1]), proxy.predict(df.iloc[:1]), "one DataFrame row")
    # categories listed in another order, unseen and missing values
    other = df.iloc[:8].copy()
    other["colour"] = pd.Categorical(["blue", "purple", None, "red", "red", "green", "black",
                                      "blue"], categories=["red", "purple", "blue", "green",
                                                           "black"])
    _same(model.predict(other), proxy.predict(other), "recoded categories")
    # numpy input is taken as category codes already
    codes = df.assign(colour=df["colour"].cat.codes, size=df["size"].cat.codes).to_numpy(
        dtype=np.float64)
    _same(model.predict(codes), proxy.predict(codes), "codes as numpy")


def test_booster_trained_on_a_dataframe(rt):
    df, y = _frame(seed=6)
    booster = lgb.train({"objective": "regression", "num_leaves": 6, "min_data_per_group": 5,
                         "cat_smooth": 1.0, "verbose": -1}, lgb.Dataset(df, y), 5)
    proxy = rt(booster)
    assert rules(proxy)["inputs"]["feature_names"] == ["colour", "x", "size", "z"]
    assert set(rules(proxy)["inputs"]["categories"]) == {"colour", "size"}
    _same(booster.predict(df), proxy.predict(df), "DataFrame")
    _same(booster.predict(df, raw_score=True), proxy.predict(df, raw_score=True), "raw")


def test_small_integer_input(rt):
    """Integer arrays: LightGBM converts them to float32, exact for these values."""
    X, y = _data("diabetes")
    Xi = np.round(X * 400).astype(np.int64)
    model = lgb.LGBMRegressor(n_estimators=5, num_leaves=6, verbose=-1).fit(Xi, y)
    proxy = rt(model)
    _same(model.predict(Xi), proxy.predict(Xi), "int64")
    _same(model.predict(Xi[:3].tolist()), proxy.predict(Xi[:3].tolist()), "list")


def test_dataframe_feature_names(rt):
    X, y = _data("breast_cancer")
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = lgb.LGBMClassifier(n_estimators=5, num_leaves=5, verbose=-1).fit(df, y)
    proxy = rt(model)
    np.testing.assert_array_equal(proxy.feature_names_in_, model.feature_names_in_)
    _same(model.predict_proba(df), proxy.predict_proba(df), "DataFrame")
    _same(model.predict(df.astype(np.float32)), proxy.predict(df.astype(np.float32)),
          "float32 DataFrame")
    # fitted on arrays: LightGBM's own Column_i names are not exposed as feature_names_in_
    plain = rt(lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(X, y))
    assert not hasattr(plain, "feature_names_in_")


# ----------------------------------------------------------------------------- pipelines


@pytest.mark.parametrize("name", ["breast_cancer", "wine"])
def test_pipeline_scaler_classifier(rt, name):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data(name)
    model = make_pipeline(StandardScaler(), lgb.LGBMClassifier(n_estimators=6, num_leaves=6,
                                                               verbose=-1)).fit(X, y)
    proxy = rt(model)
    assert proxy.metadata["summary"] == "Pipeline(StandardScaler, LGBMClassifier)"
    _check(model, proxy, X, ("predict", "predict_proba"))
    np.testing.assert_array_equal(proxy.classes_, model.classes_)


def test_pipeline_imputer_regressor_with_nan(rt):
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    X, y = _synthetic()
    model = make_pipeline(SimpleImputer(strategy="median"), MinMaxScaler(),
                          lgb.LGBMRegressor(n_estimators=6, num_leaves=6, verbose=-1)).fit(X, y)
    _check(model, rt(model), X)


def test_pipeline_with_pandas_categories_is_refused(tmp_path):
    from sklearn.pipeline import make_pipeline

    df, y = _frame()
    model = make_pipeline(lgb.LGBMRegressor(n_estimators=2, min_data_per_group=5,
                                            verbose=-1)).fit(df, y)
    with pytest.raises(UnsupportedModelError, match="pandas category columns"):
        mle.dump(model, tmp_path / "m.mle")


# ----------------------------------------------------------------------------- refusals


def test_linear_trees_are_refused(tmp_path):
    X, y = _data("diabetes")
    model = lgb.LGBMRegressor(linear_tree=True, n_estimators=3, verbose=-1).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="linear_tree=True"):
        mle.dump(model, tmp_path / "m.mle")
    assert not (tmp_path / "m.mle").exists()


def test_custom_objective_is_refused(tmp_path):
    X, y = _data("diabetes")

    def l2(y_true, y_pred):
        return y_pred - y_true, np.ones_like(y_pred)

    model = lgb.LGBMRegressor(objective=l2, n_estimators=3, verbose=-1).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="custom"):
        mle.dump(model, tmp_path / "m.mle")


def test_unknown_objective_is_refused(tmp_path, monkeypatch):
    X, y = _data("diabetes")
    booster = lgb.train({"objective": "regression", "verbose": -1}, lgb.Dataset(X, y), 2)
    text = booster.model_to_string()
    assert "\nobjective=regression\n" in text
    monkeypatch.setattr(lgb.Booster, "model_to_string",
                        lambda self, **kw: text.replace("\nobjective=regression\n",
                                                        "\nobjective=survival_cox\n"))
    with pytest.raises(UnsupportedModelError, match="'survival_cox' is not supported.*"
                                                    "Supported objectives"):
        mle.dump(booster, tmp_path / "m.mle")


def test_subclass_is_refused(tmp_path):
    class MyRegressor(lgb.LGBMRegressor):
        pass

    X, y = _data("diabetes")
    model = MyRegressor(n_estimators=2, verbose=-1).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="subclasses LightGBM's LGBMRegressor"):
        mle.dump(model, tmp_path / "m.mle")


def test_unfitted_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        mle.dump(lgb.LGBMClassifier(), tmp_path / "m.mle")


def test_ordered_category_columns_are_refused(tmp_path):
    df, y = _frame()
    df["level"] = pd.Categorical(np.where(df["x"] > 0, "high", "low"), ordered=True)
    model = lgb.LGBMRegressor(n_estimators=3, min_data_per_group=5, verbose=-1).fit(df, y)
    with pytest.raises(UnsupportedModelError, match="category-dtype column"):
        mle.dump(model, tmp_path / "m.mle")


def test_raw_score_keyword_values(rt):
    X, y = _data("iris")
    proxy = rt(lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y))
    np.testing.assert_array_equal(proxy.predict(X, raw_score=False), proxy.predict(X))
    with pytest.raises(ValueError):
        proxy.predict(X, raw_score="yes")
    assert proxy.predict(X, raw_score=True).shape == (len(X), 3)


def test_supported_models_lists_lightgbm():
    from mle_runtime.exporters import supported_models

    names = supported_models()
    for n in ("LGBMClassifier", "LGBMRegressor", "LGBMRanker", "Booster"):
        assert f"lightgbm.{n}" in names


def test_no_warnings_from_export(tmp_path):
    X, y = _data("iris")
    model = lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mle.dump(model, tmp_path / "m.mle")
