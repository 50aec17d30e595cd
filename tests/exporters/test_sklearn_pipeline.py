"""Pipelines: transformers chained into a final estimator (or ending in a transformer), nested
pipelines, 'passthrough' / None steps, NaN handling by the step scikit-learn would raise from,
and DataFrame input matched by column name."""

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import LinearSVC

import mle_runtime as mle

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Skipping features without any observed values"),
]

PIPELINES = {
    "scaler+logreg": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)),
    "minmax+robust+logreg": lambda: make_pipeline(MinMaxScaler(), RobustScaler(),
                                                  LogisticRegression(max_iter=300)),
    "maxabs+normalizer+linearsvc": lambda: make_pipeline(MaxAbsScaler(), Normalizer(),
                                                         LinearSVC(max_iter=300)),
    "imputer+scaler+sgd(log)": lambda: make_pipeline(
        SimpleImputer(strategy="median"), StandardScaler(),
        SGDClassifier(loss="log_loss", max_iter=50, random_state=0)),
    "scaler+ovr(logreg)": lambda: make_pipeline(
        StandardScaler(), OneVsRestClassifier(LogisticRegression(max_iter=300))),
    "passthrough-first": lambda: Pipeline([("skip", "passthrough"), ("scale", StandardScaler()),
                                           ("clf", LogisticRegression(max_iter=300))]),
    "passthrough-middle": lambda: Pipeline([("scale", MinMaxScaler()), ("skip", "passthrough"),
                                            ("none", None),
                                            ("clf", LogisticRegression(max_iter=300))]),
    "nested": lambda: make_pipeline(
        make_pipeline(SimpleImputer(), make_pipeline(MinMaxScaler(), StandardScaler())),
        LogisticRegression(max_iter=300)),
    "nested-last": lambda: make_pipeline(
        MaxAbsScaler(), make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))),
    "single-step": lambda: make_pipeline(LogisticRegression(max_iter=300)),
}

REGRESSION_PIPELINES = {
    "scaler+ridge": lambda: make_pipeline(StandardScaler(), Ridge()),
    "imputer+robust+sgd": lambda: make_pipeline(SimpleImputer(), RobustScaler(),
                                                SGDRegressor(max_iter=50, random_state=0)),
    "nested+passthrough": lambda: Pipeline([
        ("pre", Pipeline([("a", "passthrough"), ("mm", MinMaxScaler())])),
        ("lr", LinearRegression())]),
}

TRANSFORM_PIPELINES = {
    "imputer+scaler": lambda: make_pipeline(SimpleImputer(), StandardScaler()),
    "minmax+normalizer": lambda: make_pipeline(MinMaxScaler(feature_range=(1, 2)),
                                               Normalizer(norm="l1")),
    "scaler+passthrough-last": lambda: Pipeline([("s", RobustScaler()), ("end", "passthrough")]),
    "nested-transformers": lambda: make_pipeline(
        make_pipeline(MaxAbsScaler(), MinMaxScaler(clip=True)), SimpleImputer()),
}


@pytest.mark.parametrize("data", ["iris", "wine", "breast_cancer", "clf_multiclass"])
@pytest.mark.parametrize("name", list(PIPELINES))
def test_classifier_pipeline_parity(name, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data)
    model = PIPELINES[name]().fit(X, y)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    np.testing.assert_array_equal(proxy.classes_, model.classes_)
    assert proxy.classes_.dtype == model.classes_.dtype
    assert proxy.n_features_in_ == X.shape[1]
    assert proxy.get_model_info()["estimator_type"] == "classifier"


@pytest.mark.parametrize("data", ["diabetes", "regression", "regression_multi3"])
@pytest.mark.parametrize("name", list(REGRESSION_PIPELINES))
def test_regressor_pipeline_parity(name, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data)
    if name == "imputer+robust+sgd" and y.ndim == 2:
        y = y[:, 0]  # SGDRegressor is single-target
    model = REGRESSION_PIPELINES[name]().fit(X, y)
    proxy = roundtrip(model)
    assert assert_parity(model, proxy, X) == ["predict"]


@pytest.mark.parametrize("data", ["iris", "diabetes", "breast_cancer"])
@pytest.mark.parametrize("name", list(TRANSFORM_PIPELINES))
def test_transform_pipeline_parity(name, data, dataset, roundtrip, assert_parity):
    X, _ = dataset(data)
    model = TRANSFORM_PIPELINES[name]().fit(X)
    proxy = roundtrip(model)
    assert assert_parity(model, proxy, X) == ["transform"]
    assert proxy.get_model_info()["estimator_type"] == "transformer"
    assert not hasattr(proxy, "predict")


def test_pipeline_methods_follow_the_final_step(dataset, roundtrip):
    X, y = dataset("iris")
    cases = [
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)),
        make_pipeline(StandardScaler(), LinearSVC(max_iter=300)),
        make_pipeline(StandardScaler(), Ridge()),
        make_pipeline(StandardScaler(), MinMaxScaler()),
        Pipeline([("s", StandardScaler()), ("last", "passthrough")]),
    ]
    for model in cases:
        model.fit(X, y)
        proxy = roundtrip(model)
        for method in ("predict", "predict_proba", "predict_log_proba", "decision_function",
                       "transform", "score_samples"):
            assert hasattr(proxy, method) == hasattr(model, method), (model, method)


def test_nan_in_pipeline_with_imputer_first(dataset, roundtrip, assert_parity):
    X, y = dataset("breast_cancer")
    rng = np.random.RandomState(0)
    Xn = X.copy()
    Xn[rng.rand(*X.shape) < 0.1] = np.nan
    model = make_pipeline(SimpleImputer(), StandardScaler(),
                          LogisticRegression(max_iter=300)).fit(Xn, y)
    proxy = roundtrip(model)
    assert np.isnan(Xn).any()
    assert_parity(model, proxy, Xn, variants=False)
    assert_parity(model, proxy, Xn[:1], variants=False)
    assert_parity(model, proxy, Xn.astype(np.float32), variants=False)
    inf = X[:3].copy()
    inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.predict(inf)
    with pytest.raises(mle.InputError, match="infinity"):
        proxy.predict(inf)


@pytest.mark.parametrize("steps,owner", [
    ([StandardScaler(), LogisticRegression(max_iter=300)], "LogisticRegression"),
    ([MinMaxScaler(), Normalizer(), LogisticRegression(max_iter=300)], "Normalizer"),
    ([SimpleImputer(missing_values=-1.0), LogisticRegression(max_iter=300)], "SimpleImputer"),
    ([RobustScaler(), SimpleImputer(), LogisticRegression(max_iter=300)], None),
], ids=["scaler-then-model", "normalizer", "imputer(-1)", "imputer-after-scaler"])
def test_nan_raised_by_the_step_sklearn_names(steps, owner, dataset, roundtrip):
    X, y = dataset("iris")
    model = make_pipeline(*steps).fit(X, y)
    proxy = roundtrip(model)
    bad = X[:6].copy()
    bad[3, 2] = np.nan
    if owner is None:  # an imputer comes before the first step that refuses NaN
        np.testing.assert_array_equal(proxy.predict(bad), model.predict(bad))
        np.testing.assert_allclose(proxy.predict_proba(bad), model.predict_proba(bad),
                                   rtol=0, atol=1e-9)
        return
    with pytest.raises(ValueError, match=f"NaN(.|\n)*{owner}"):
        model.predict(bad)
    with pytest.raises(mle.InputError, match=f"NaN(.|\n)*{owner}"):
        proxy.predict(bad)


def test_wrong_feature_count_names_first_step(dataset, roundtrip):
    X, y = dataset("iris")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y)
    proxy = roundtrip(model)
    msg = "X has 3 features, but StandardScaler is expecting 4 features as input"
    with pytest.raises(ValueError, match=msg):
        model.predict(X[:, :3])
    with pytest.raises(mle.InputError, match=msg):
        proxy.predict(X[:, :3])
    with pytest.raises(ValueError, match="X has 5 features"):
        proxy.predict_proba(np.hstack([X, X[:, :1]]))


def test_passthrough_first_step_keeps_feature_metadata(dataset, roundtrip):
    X, y = dataset("iris")
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = Pipeline([("skip", "passthrough"), ("scale", StandardScaler()),
                      ("clf", LogisticRegression(max_iter=300))]).fit(df, y)
    proxy = roundtrip(model)
    assert proxy.n_features_in_ == 4
    np.testing.assert_array_equal(proxy.feature_names_in_, ["a", "b", "c", "d"])
    shuffled = df[["d", "b", "a", "c"]]
    np.testing.assert_array_equal(proxy.predict(shuffled), model.predict(df))


# ---------------------------------------------------------------- DataFrame input

COLUMNS = ["sepal length", "sepal width", "petal length", "petal width"]


@pytest.fixture
def iris_df(dataset):
    X, y = dataset("iris")
    return pd.DataFrame(X, columns=COLUMNS), y


@pytest.mark.parametrize("name", ["scaler+logreg", "imputer+scaler+sgd(log)", "nested",
                                  "passthrough-middle"])
def test_dataframe_parity(name, iris_df, roundtrip, assert_same):
    df, y = iris_df
    model = PIPELINES[name]().fit(df, y)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.feature_names_in_, model.feature_names_in_)
    assert proxy.feature_names_in_.dtype == model.feature_names_in_.dtype == object
    shuffled = df[list(reversed(COLUMNS))]
    for method in ("predict", "predict_proba", "decision_function"):
        if not hasattr(model, method):
            continue
        expected = getattr(model, method)(df)
        assert_same(expected, getattr(proxy, method)(df), f"{method} on the DataFrame")
        assert_same(expected, getattr(proxy, method)(shuffled), f"{method}, shuffled columns")
        assert_same(getattr(model, method)(df.iloc[[7]]), getattr(proxy, method)(df.iloc[[7]]),
                    f"{method} on one row")
        assert_same(getattr(model, method)(df.astype(np.float32)),
                    getattr(proxy, method)(df.astype(np.float32)), f"{method} on float32")


def test_dataframe_missing_column_is_named(iris_df, roundtrip):
    df, y = iris_df
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(df, y)
    proxy = roundtrip(model)
    with pytest.raises(mle.InputError, match="petal width") as info:
        proxy.predict(df.drop(columns=["petal width"]))
    assert isinstance(info.value, ValueError)
    renamed = df.rename(columns={"sepal width": "sepal_width"})
    with pytest.raises(ValueError, match="sepal width"):
        proxy.predict_proba(renamed)


def test_dataframe_transform_pipeline(iris_df, roundtrip, assert_same):
    df, y = iris_df
    dfn = df.copy()
    dfn.iloc[::5, 1] = np.nan
    model = make_pipeline(SimpleImputer(), MinMaxScaler()).fit(dfn)
    proxy = roundtrip(model)
    assert_same(model.transform(dfn), proxy.transform(dfn))
    assert_same(model.transform(dfn), proxy.transform(dfn[COLUMNS[::-1]]))


# ---------------------------------------------------------------- integer input and imputers

def test_integer_input_through_most_frequent_imputer(roundtrip, assert_parity):
    # SimpleImputer(most_frequent/constant) keeps int input as int: a pipeline made only of
    # such steps returns ints from transform; a following model converts to float64.
    rng = np.random.RandomState(0)
    X = rng.randint(0, 5, size=(100, 3))
    X[rng.rand(*X.shape) < 0.2] = -1
    y = (X.sum(axis=1) > 5).astype(int)
    only = make_pipeline(SimpleImputer(missing_values=-1, strategy="most_frequent"),
                         SimpleImputer(missing_values=-1, strategy="constant", fill_value=9))
    only.fit(X)
    proxy = roundtrip(only)
    assert only.transform(X).dtype == np.int64
    assert_parity(only, proxy, X)
    assert proxy.transform(X.astype(np.int32)).dtype == np.int32
    clf = make_pipeline(SimpleImputer(missing_values=-1, strategy="most_frequent"),
                        StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y)
    assert_parity(clf, roundtrip(clf), X)


def test_integer_input_refused_by_constant_float_imputer(dataset, roundtrip):
    X, y = dataset("iris")
    model = make_pipeline(SimpleImputer(strategy="constant", fill_value=0.5),
                          LogisticRegression(max_iter=300)).fit(X, y)
    proxy = roundtrip(model)
    Xi = X.astype(np.int64)
    with pytest.raises(ValueError, match="cannot be cast"):
        model.predict(Xi)
    with pytest.raises(mle.InputError, match="cannot be cast"):
        proxy.predict(Xi)
    with pytest.raises(ValueError, match="dtype bool"):
        model.predict(Xi > 2)
    with pytest.raises(mle.InputError, match="dtype bool"):
        proxy.predict(Xi > 2)
    np.testing.assert_array_equal(proxy.predict(X), model.predict(X))


# ---------------------------------------------------------------- unsupported steps

def test_unsupported_step_is_named(dataset, tmp_path):
    X, y = dataset("iris")
    model = make_pipeline(StandardScaler(), KNeighborsClassifier(metric="cosine")).fit(X, y)
    path = tmp_path / "m.mle"
    with pytest.raises(mle.UnsupportedModelError, match="KNeighborsClassifier"):
        mle.dump(model, path)
    assert list(tmp_path.iterdir()) == []


def test_predictor_in_the_middle_is_refused(dataset, tmp_path):
    # scikit-learn itself refuses to fit such a pipeline; a hand-built one is refused at dump.
    X, y = dataset("iris")
    inner = LogisticRegression(max_iter=300).fit(X, y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y)
    model.steps.insert(1, ("mid", inner))
    with pytest.raises(mle.UnsupportedModelError):
        mle.dump(model, tmp_path / "m.mle")
    assert list(tmp_path.iterdir()) == []


def test_summary_lists_the_steps(dataset, roundtrip):
    X, y = dataset("iris")
    model = PIPELINES["nested"]().fit(X, y)
    proxy = roundtrip(model)
    text = repr(proxy)
    for step in ("SimpleImputer", "MinMaxScaler", "StandardScaler", "LogisticRegression"):
        assert step in text
