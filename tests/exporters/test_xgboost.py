"""Parity of XGBoost models with their .mle proxies.

Every case fits a real XGBoost model on real or seeded synthetic data, dumps it, loads it and
compares with XGBoost's own prediction on float64 input, the same data as float32, single rows
and (where the model was fitted on one) a DataFrame.

Tolerance: none. XGBoost reads its input as float32, adds float32 leaf values to a float32
base margin in tree order and applies its links in float32; the kernel does the same
(``accumulate="float32"``, the ``*F32`` link ops), so margins, probabilities, predictions and
labels are asserted bit-identical, dtypes included.
"""

import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits, load_iris,
                              load_wine, make_classification, make_regression)

import mle_runtime as mle
from mle_runtime.errors import FormatError, UnsupportedModelError

warnings.filterwarnings("ignore", category=UserWarning, module="xgboost")


def roundtrip(model):
    buf = io.BytesIO()
    mle.dump(model, buf)
    buf.seek(0)
    return mle.load(buf)


def with_nan(X, frac=0.1, seed=0):
    X = np.array(X, dtype=np.float64)
    X[np.random.default_rng(seed).random(X.shape) < frac] = np.nan
    return X


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_array_equal(a, b)


def inputs(X):
    """float64, float32 and single rows of X."""
    X = np.asarray(X, dtype=np.float64)
    yield X
    yield X.astype(np.float32)
    for i in (0, len(X) // 2, len(X) - 1):
        yield X[i:i + 1]


def check_methods(model, proxy, X, methods, margin=True):
    for A in inputs(X):
        for name in methods:
            same(getattr(model, name)(A), getattr(proxy, name)(A))
        if margin:
            same(model.predict(A, output_margin=True), proxy.predict(A, output_margin=True))


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return with_nan(X), y


# --- classifiers -------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [xgb.XGBClassifier, xgb.XGBRFClassifier])
def test_binary_classifier(cls, cancer):
    X, y = cancer
    m = cls(n_estimators=25, max_depth=4, random_state=0).fit(X, y)
    p = roundtrip(m)
    check_methods(m, p, X, ["predict", "predict_proba"])
    same(m.classes_, p.classes_)
    assert p.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_digits])
def test_multiclass_classifier(loader):
    X, y = loader(return_X_y=True)
    m = xgb.XGBClassifier(n_estimators=15, max_depth=3, random_state=0).fit(with_nan(X), y)
    p = roundtrip(m)
    check_methods(m, p, with_nan(X, seed=1), ["predict", "predict_proba"])
    same(m.classes_, p.classes_)


def test_multiclass_softmax_objective():
    X, y = load_wine(return_X_y=True)
    m = xgb.XGBClassifier(n_estimators=10, max_depth=3, objective="multi:softmax").fit(X, y)
    p = roundtrip(m)
    for A in inputs(X):
        same(m.predict(A), p.predict(A))
    assert not hasattr(p, "predict_proba")


def test_labels_at_probability_one_half():
    # a margin of exactly 0 gives probability 0.5 in float32, which XGBoost labels 0
    X = np.array([[0.0], [1.0]] * 10)
    y = np.array([0, 1] * 10)
    m = xgb.XGBClassifier(n_estimators=1, max_depth=1, base_score=0.5,
                          learning_rate=1e-30).fit(X, y)
    p = roundtrip(m)
    same(m.predict_proba(X), p.predict_proba(X))
    same(m.predict(X), p.predict(X))


# --- regressors, objectives -------------------------------------------------------------

REG_OBJECTIVES = ["reg:squarederror", "reg:squaredlogerror", "reg:pseudohubererror",
                  "reg:absoluteerror", "reg:logistic", "reg:gamma", "reg:tweedie",
                  "count:poisson"]


@pytest.mark.parametrize("objective", REG_OBJECTIVES)
def test_regression_objectives(objective):
    X, y = load_diabetes(return_X_y=True)
    if objective == "reg:logistic":
        y = (y - y.min()) / (y.max() - y.min())
    elif objective == "count:poisson":
        y = np.round(y / 10)
    m = xgb.XGBRegressor(n_estimators=20, max_depth=3, objective=objective).fit(with_nan(X), y)
    p = roundtrip(m)
    check_methods(m, p, with_nan(X, seed=2), ["predict"])


def test_quantile_regression_several_quantiles():
    X, y = make_regression(400, 6, noise=5.0, random_state=0)
    m = xgb.XGBRegressor(n_estimators=10, max_depth=3, objective="reg:quantileerror",
                         quantile_alpha=np.array([0.1, 0.5, 0.9])).fit(X, y)
    p = roundtrip(m)
    check_methods(m, p, X, ["predict"])


@pytest.mark.parametrize("objective", ["survival:cox", "survival:aft"])
def test_survival(objective):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    t = np.exp(X[:, 0] + rng.normal(size=300) * 0.3) + 0.1
    d = xgb.DMatrix(X)
    if objective == "survival:cox":
        d.set_label(np.where(rng.random(300) < 0.8, t, -t))
    else:
        d.set_float_info("label_lower_bound", t)
        d.set_float_info("label_upper_bound", np.where(rng.random(300) < 0.8, t, np.inf))
    bst = xgb.train({"objective": objective, "max_depth": 3}, d, num_boost_round=10)
    p = roundtrip(bst)
    for A in inputs(X):
        same(bst.predict(xgb.DMatrix(A)), p.predict(A))
        same(bst.predict(xgb.DMatrix(A), output_margin=True), p.predict(A, output_margin=True))


@pytest.mark.parametrize("strategy", ["one_output_per_tree", "multi_output_tree"])
def test_multi_target_regression(strategy):
    X, Y = make_regression(300, 8, n_targets=3, noise=1.0, random_state=1)
    m = xgb.XGBRegressor(n_estimators=10, max_depth=3, tree_method="hist",
                         multi_strategy=strategy).fit(with_nan(X), Y)
    p = roundtrip(m)
    check_methods(m, p, with_nan(X, seed=3), ["predict"])


def test_random_forest_regressor():
    X, y = load_diabetes(return_X_y=True)
    m = xgb.XGBRFRegressor(n_estimators=20, max_depth=5, random_state=0).fit(X, y)
    check_methods(m, roundtrip(m), X, ["predict"])


def test_dart():
    # the wrapper predicts in place and the Booster through a DMatrix: XGBoost weighs dart
    # trees differently on the two paths, and each proxy matches its own
    X, y = load_diabetes(return_X_y=True)
    m = xgb.XGBRegressor(n_estimators=15, max_depth=3, booster="dart", rate_drop=0.3,
                         random_state=0).fit(X, y)
    check_methods(m, roundtrip(m), X, ["predict"])
    bst = m.get_booster()
    same(bst.predict(xgb.DMatrix(X)), roundtrip(bst).predict(X))


def test_dart_multiclass():
    X, y = load_iris(return_X_y=True)
    m = xgb.XGBClassifier(n_estimators=10, max_depth=2, booster="dart", rate_drop=0.4,
                          random_state=0).fit(X, y)
    check_methods(m, roundtrip(m), X, ["predict", "predict_proba"])


@pytest.mark.parametrize("objective", ["rank:ndcg", "rank:pairwise", "rank:map"])
def test_ranker(objective):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6))
    y = rng.integers(0, 2 if objective == "rank:map" else 4, size=200)
    qid = np.repeat(np.arange(20), 10)
    m = xgb.XGBRanker(n_estimators=10, max_depth=3, objective=objective).fit(X, y, qid=qid)
    check_methods(m, roundtrip(m), X, ["predict"])


# --- raw boosters ------------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    {"objective": "binary:logistic"}, {"objective": "binary:logitraw"},
    {"objective": "binary:hinge"}, {"objective": "multi:softprob", "num_class": 3},
    {"objective": "multi:softmax", "num_class": 3}, {"objective": "reg:squarederror"},
])
def test_raw_booster(params):
    X, y = load_iris(return_X_y=True)
    if params["objective"].startswith("binary"):
        y = (y == 1).astype(int)
    bst = xgb.train({**params, "max_depth": 3}, xgb.DMatrix(with_nan(X), label=y),
                    num_boost_round=8)
    p = roundtrip(bst)
    for A in inputs(with_nan(X, seed=4)):
        same(bst.predict(xgb.DMatrix(A)), p.predict(A))
        same(bst.predict(xgb.DMatrix(A), output_margin=True), p.predict(A, output_margin=True))


def test_booster_predict_rejects_unknown_keywords():
    X, y = load_iris(return_X_y=True)
    bst = xgb.train({"max_depth": 2}, xgb.DMatrix(X, label=y), num_boost_round=2)
    p = roundtrip(bst)
    with pytest.raises(TypeError, match="pred_leaf"):
        p.predict(X, pred_leaf=True)
    with pytest.raises(ValueError, match="output_margin"):
        p.predict(X, output_margin="yes")


# --- missing values, edges ---------------------------------------------------------------

def test_custom_missing_value():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    X[rng.random(X.shape) < 0.15] = -999.0
    m = xgb.XGBClassifier(n_estimators=10, max_depth=3, missing=-999.0).fit(X, y)
    p = roundtrip(m)
    T = np.vstack([X[:50], [[-999.0, np.nan, 0.1, np.inf], [np.nan, -999.0, -np.inf, 0.0]]])
    check_methods(m, p, T, ["predict", "predict_proba"])


def test_custom_missing_value_not_representable_in_float32():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    X[rng.random(X.shape) < 0.2] = 0.1
    m = xgb.XGBClassifier(n_estimators=8, max_depth=3, missing=0.1).fit(X, y)
    p = roundtrip(m)
    T = np.array([[0.1, 0.1, 0.1], [np.float32(0.1), 0.2, 0.0], [0.1000001, 0.3, 0.2]])
    for A in (T, T.astype(np.float32)):
        same(m.predict(A, output_margin=True), p.predict(A, output_margin=True))
        same(m.predict(A), p.predict(A))


def test_split_edges_and_infinity():
    X, y = load_breast_cancer(return_X_y=True)
    m = xgb.XGBClassifier(n_estimators=10, max_depth=4).fit(X, y)
    p = roundtrip(m)
    trees = json.loads(m.get_booster().save_raw("json"))["learner"]["gradient_booster"][
        "model"]["trees"]
    rows = []
    for t in trees[:5]:
        for node, (f, c) in enumerate(zip(t["split_indices"], t["split_conditions"])):
            if t["left_children"][node] == -1:
                continue
            c32 = np.float32(c)
            for v in (c32, np.nextafter(c32, np.float32(-np.inf)),
                      np.nextafter(c32, np.float32(np.inf)), float(c32) + 1e-12,
                      float(c32) - 1e-12):
                row = X[node % len(X)].copy()
                row[f] = v
                rows.append(row)
    E = np.array(rows)
    E[::7, 0] = np.inf
    E[1::7, 1] = -np.inf
    E[2::7, 2] = 1e300  # beyond float32: XGBoost reads it as inf
    same(m.predict(E, output_margin=True), p.predict(E, output_margin=True))
    same(m.predict(E.astype(np.float32), output_margin=True),
         p.predict(E.astype(np.float32), output_margin=True))


def test_early_stopping_uses_best_iteration():
    X, y = make_classification(600, 10, random_state=0)
    m = xgb.XGBClassifier(n_estimators=200, max_depth=4, learning_rate=0.5,
                          early_stopping_rounds=3, eval_metric="logloss")
    m.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])], verbose=False)
    assert m.best_iteration < 199
    p = roundtrip(m)
    check_methods(m, p, X, ["predict", "predict_proba"])
    # the raw booster predicts with every tree, as Booster.predict does
    bst = m.get_booster()
    same(bst.predict(xgb.DMatrix(X)), roundtrip(bst).predict(X))


# --- categorical features -----------------------------------------------------------------

def _categorical_frame(n, seed):
    rng = np.random.default_rng(seed)
    colours = rng.choice(["red", "green", "blue", "cyan", "magenta", "yellow"], n)
    size = rng.choice([3, 1, 4, 15, 9], n)
    df = pd.DataFrame({
        "x": rng.normal(size=n),
        "colour": pd.Categorical(colours),
        "size": pd.Categorical(size),
        "z": rng.normal(size=n),
    })
    df.loc[rng.random(n) < 0.1, "colour"] = np.nan
    df.loc[rng.random(n) < 0.1, "x"] = np.nan
    y = ((df.colour.isin(["red", "blue"])) ^ (df.x > 0.3) | (df["size"] == 15)).astype(int)
    return df, y.to_numpy()


@pytest.mark.parametrize("max_cat_to_onehot", [1, 8])
def test_pandas_categorical(max_cat_to_onehot):
    df, y = _categorical_frame(600, 0)
    m = xgb.XGBClassifier(n_estimators=15, max_depth=4, enable_categorical=True,
                          tree_method="hist", max_cat_to_onehot=max_cat_to_onehot).fit(df, y)
    p = roundtrip(m)
    test, _ = _categorical_frame(200, 1)
    same(m.predict_proba(test), p.predict_proba(test))
    same(m.predict(test), p.predict(test))
    same(m.predict(test.iloc[3:4]), p.predict(test.iloc[3:4]))
    # the same categories in another order (XGBoost re-codes them by value), and extra,
    # unused categories
    shuffled = test.copy()
    shuffled["colour"] = shuffled["colour"].cat.reorder_categories(
        list(reversed(shuffled["colour"].cat.categories)))
    shuffled["colour"] = shuffled["colour"].cat.add_categories(["black"])
    same(m.predict(shuffled, output_margin=True), p.predict(shuffled, output_margin=True))
    # a category never seen in training: XGBoost refuses it ("zzz"; it maps some others, such
    # as "black", to a neighbouring category's code), mle_runtime refuses every one
    for word in ("zzz", "black"):
        unseen = shuffled.copy()
        unseen["colour"] = unseen["colour"].cat.add_categories(["zzz"])
        unseen.loc[unseen.index[:2], "colour"] = word
        if word == "zzz":
            with pytest.raises(xgb.core.XGBoostError, match="not in the training set"):
                m.predict(unseen)
        with pytest.raises(mle.InputError, match=f"did not see in training.*{word}"):
            p.predict(unseen)


def test_numpy_categorical_codes():
    rng = np.random.default_rng(0)
    X = np.c_[rng.integers(0, 40, 800).astype(float), rng.normal(size=800)]
    y = ((X[:, 0] % 3 == 0) ^ (X[:, 1] > 0)).astype(int)
    d = xgb.DMatrix(X, label=y, feature_types=["c", "q"], enable_categorical=True)
    bst = xgb.train({"objective": "binary:logistic", "max_depth": 4, "tree_method": "hist",
                     "max_cat_to_onehot": 1}, d, num_boost_round=10)
    p = roundtrip(bst)
    T = np.c_[np.r_[np.arange(-2, 45), [np.nan, 2.7, 3.2, 1e9, -0.5, 2 ** 24]],
              np.zeros(53)]
    for A in (T, T.astype(np.float32)):
        same(bst.predict(xgb.DMatrix(A, feature_types=["c", "q"], enable_categorical=True),
                         output_margin=True), p.predict(A, output_margin=True))


# --- errors ------------------------------------------------------------------------------

def test_gblinear_refused():
    X, y = load_diabetes(return_X_y=True)
    m = xgb.XGBRegressor(booster="gblinear", n_estimators=3).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="gblinear"):
        mle.dump(m, io.BytesIO())


def test_unfitted_refused():
    with pytest.raises((ValueError, UnsupportedModelError)):
        mle.dump(xgb.XGBClassifier(), io.BytesIO())


def test_hostile_category_set_reference(tmp_path):
    """A categorical node pointing past the category sets is refused at load."""
    df, y = _categorical_frame(300, 0)
    m = xgb.XGBClassifier(n_estimators=3, max_depth=3, enable_categorical=True,
                          tree_method="hist", max_cat_to_onehot=1).fit(df, y)
    from mle_runtime.exporters import export
    from mle_runtime.format import layout as L
    from mle_runtime.format import writer

    graph, meta = export(m)
    node = next(n for n in graph.nodes if n.op == "TreeEnsemble")
    nodes = graph.tensors[node.attrs["nodes"]].view(L.TREE_NODE32_DTYPE).reshape(-1)
    cat = np.flatnonzero(nodes["feature_flags"] & np.uint32(L.TREE_CATEGORICAL))
    assert cat.size
    nodes["threshold"].view(np.uint32)[cat[0]] = 10 ** 6
    path = tmp_path / "bad.mle"
    path.write_bytes(writer.encode(meta, graph))
    with pytest.raises(FormatError, match="category set"):
        mle.load(path)


def test_load_does_not_import_xgboost(tmp_path):
    import subprocess
    import sys

    X, y = load_iris(return_X_y=True)
    path = tmp_path / "m.mle"
    mle.dump(xgb.XGBClassifier(n_estimators=3).fit(X, y), path)
    code = ("import sys, numpy as np, mle_runtime as mle; m = mle.load(sys.argv[1]); "
            "m.predict_proba(np.zeros((1, 4))); print('xgboost' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"
